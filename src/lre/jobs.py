"""Every job's config slice, in pipeline order.

A rule hands its job a JSON slice of the config (``--job``); Snakemake reruns the job when
the slice changes, and the job records the slice and its hash in every file it writes
(:func:`lre.io.provenance`). A slice holds the config keys its job reads and what it
expects of its inputs (``upstream``: the features jobs of the feature files it reads;
``expects``: the config hashes of lre's other files it reads), which the stage checks
with :mod:`lre.provenance` before it uses them.

This module only builds slices; it reads the validated config and never the files.
"""

from __future__ import annotations

from dataclasses import asdict

from .config import encoding_spaces, transfer_spaces
from .features import model_of, resolve_spaces
from .io import config_hash
from .provenance import STIMULI_REF


def _space_dicts(spaces) -> list[dict]:
    return [asdict(s) for s in spaces]


def _resolve(cfg: dict) -> list:
    return resolve_spaces(cfg["features"]["models"])


# --------------------------------------------------------------------------- stimuli


def demo_job(cfg: dict) -> dict:
    """The demo's stimuli (text, timings); its fMRI part has jobs of its own."""
    text = {k: v for k, v in cfg["demo"].items() if k != "fmri"}
    return {"stage": "demo", "demo": text, "stories": cfg["stimuli"]["stories"], "seed": cfg["seed"]}


def stimuli_job(cfg: dict) -> dict:
    """The config slice that determines the stimuli stage's output."""
    return {"stage": "stimuli", "stimuli": cfg["stimuli"], "corpus": cfg["corpus"]}


# --------------------------------------------------------------------------- features


def features_job(cfg: dict, model: str) -> dict:
    """The config slice that determines one model's features."""
    feats = cfg["features"]
    entry = feats["models"][model]
    job = {"stage": "features", "model": model, "entry": {k: v for k, v in entry.items() if k != "env"},
           "settings": {k: feats[k] for k in ("dtype", "batch_size")},
           "seed": cfg["seed"], "stimuli": stimuli_job(cfg)}
    if entry["family"] == "shift":
        job["of"] = features_job(cfg, entry["of"])
    return job


def upstream(cfg: dict, models) -> dict:
    """What a job that reads the feature files of ``models`` expects them to record (the
    stimuli job, shared by all of them, is stored once)."""
    stimuli = stimuli_job(cfg)

    def strip(job):
        job = dict(job)
        if job.get("stimuli") == stimuli:
            job["stimuli"] = STIMULI_REF
        if "of" in job:
            job["of"] = strip(job["of"])
        return job

    return {"stimuli": stimuli, "features": {m: strip(features_job(cfg, m)) for m in sorted(set(models))}}


def _upstream(cfg: dict, spaces) -> dict:
    return upstream(cfg, [model_of(s) for s in spaces])


# --------------------------------------------------------------------------- transfer

SPLIT_KEYS = ("universal", "test_fraction", "cv_folds")


def transfer_prepare_job(cfg: dict) -> dict:
    return {"stage": "transfer-prepare", "seed": cfg["seed"], "transfer": {k: cfg["transfer"][k] for k in SPLIT_KEYS},
            "upstream": _upstream(cfg, [cfg["transfer"]["universal"]["space"]])}


def _split_expected(cfg: dict) -> dict:
    """The config hash that the transfer split and universal input must record."""
    return {"split": config_hash(transfer_prepare_job(cfg))}


def encoder_job(cfg: dict, method: str, space: str) -> dict:
    t = cfg["transfer"]
    settings = {k: t[k] for k in SPLIT_KEYS + ("alphas", "bottleneck")}
    settings["method"] = method
    if method == "mlp":
        settings["mlp"] = t["mlp"]
    return {"stage": "transfer-encode", "seed": cfg["seed"], "space": space, "transfer": settings,
            "upstream": _upstream(cfg, [space]), "expects": _split_expected(cfg)}


def decoder_job(cfg: dict, method: str, space: str, sources: list[str]) -> dict:
    t = cfg["transfer"]
    expects = _split_expected(cfg)
    expects["encoders"] = {s: config_hash(encoder_job(cfg, method, s)) for s in sources}
    return {"stage": "transfer-decode", "seed": cfg["seed"], "method": method, "space": space, "sources": sources,
            "transfer": {k: t[k] for k in SPLIT_KEYS + ("alphas", "bottleneck")}, "upstream": _upstream(cfg, [space]),
            "expects": expects}


def gather_job(cfg: dict, stage: str, spaces: list[str], method: str | None = None) -> dict:
    """Stack the per-space results of a transfer method (``method``) or of direct transfer."""
    if stage == "transfer-gather":
        return {"stage": stage, "spaces": spaces, "method": method,
                "expects": {"decoders": {t: config_hash(decoder_job(cfg, method, t, spaces)) for t in spaces}}}
    return {"stage": stage, "spaces": spaces,
            "expects": {"direct": {s: config_hash(direct_job(cfg, s, spaces)) for s in spaces}}}


def direct_job(cfg: dict, space: str, targets: list[str]) -> dict:
    t = cfg["transfer"]
    return {"stage": "transfer-direct", "seed": cfg["seed"], "space": space, "targets": targets,
            "transfer": {k: t[k] for k in SPLIT_KEYS + ("alphas",)}, "upstream": _upstream(cfg, [space] + targets),
            "expects": _split_expected(cfg)}


def similarity_job(cfg: dict, spaces: list[str]) -> dict:
    t = cfg["transfer"]
    return {"stage": "similarity", "seed": cfg["seed"], "spaces": spaces,
            "methods": [m for m in t["methods"] if m in ("cka", "rsa")],
            "transfer": {k: t[k] for k in SPLIT_KEYS + ("rsa_words",)}, "upstream": _upstream(cfg, spaces),
            "expects": _split_expected(cfg)}


# --------------------------------------------------------------------------- embedding


def embedding_job(cfg: dict, method: str, spaces: list) -> dict:
    mse = config_hash(gather_job(cfg, "transfer-gather", [sp.name for sp in spaces], method))
    return {"stage": "embedding", "method": method, "spaces": _space_dicts(spaces), "embedding": cfg["embedding"],
            "expects": {"mse": mse}}


def compare_job(cfg: dict, spaces: list) -> dict:
    """Compare the space-by-space matrices: what each input file must record (by method label)."""
    names = [sp.name for sp in spaces]
    expects = {f"affinity ({m})": config_hash(embedding_job(cfg, m, spaces)) for m in cfg["embedding"]["methods"]}
    methods = cfg["transfer"]["methods"]
    if "direct" in methods:
        expects["direct R^2"] = config_hash(gather_job(cfg, "direct-gather", names))
    for m in ("cka", "rsa"):
        if m in methods:
            expects[m.upper()] = config_hash(similarity_job(cfg, names))
    # the matrices in the order the rule passes their files (a list: JSON keeps its order)
    inputs = [{"name": label, "dataset": "affinity" if label.startswith("affinity") else "r2"
               if label == "direct R^2" else label.lower()} for label in expects]
    return {"stage": "compare", "spaces": _space_dicts(spaces), "inputs": inputs, "expects": {"matrices": expects}}


# --------------------------------------------------------------------------- the demo's fMRI data


def demo_fmri_job(cfg: dict) -> dict:
    d = cfg["dataset"]
    return {"stage": "demo-fmri", "seed": cfg["seed"], "fmri": cfg["demo"]["fmri"], "lebel": d["lebel"],
            "subjects": d["subjects"], "stories": d["train_stories"] + d["test_stories"],
            "test_story": d["test_stories"][0], "upstream": _upstream(cfg, cfg["demo"]["fmri"]["planted"])}


# --------------------------------------------------------------------------- encoding

ENCODING_KEYS = ("delays", "alphas", "cv_folds", "cv_chunk", "backend", "solver", "permutations",
                 "permutation_block", "fdr_q")


def encoding_chunks(cfg: dict, names: list[str]) -> list[list[str]]:
    """The encoded spaces, cut into jobs of encoding.spaces_per_job."""
    k = cfg["encoding"]["spaces_per_job"]
    return [names[i:i + k] for i in range(0, len(names), k)]


def encoding_job(cfg: dict, subject: str, spaces: list[str]) -> dict:
    """What determines the scores of ``spaces`` for ``subject`` (not threads, batching, job sizes)."""
    e = cfg["encoding"]
    return {"stage": "encode", "seed": cfg["seed"], "subject": subject, "spaces": spaces,
            "dataset": cfg["dataset"], "encoding": {k: e[k] for k in ENCODING_KEYS},
            "runtime": {"n_targets_batch": e["n_targets_batch"]}, "upstream": _upstream(cfg, spaces)}


def noise_ceiling_job(cfg: dict, subject: str) -> dict:
    return {"stage": "noise-ceiling", "subject": subject, "dataset": cfg["dataset"]}


def score_hashes(cfg: dict, subject: str, spaces: list | None = None) -> dict[str, str]:
    """space -> the config hash its encoding results of ``subject`` must record (``spaces``:
    all spaces of the config, resolved here when not given)."""
    spaces = _resolve(cfg) if spaces is None else spaces
    names = [sp.name for sp in encoding_spaces(cfg, spaces)]
    out = {}
    for chunk in encoding_chunks(cfg, names):
        h = config_hash(encoding_job(cfg, subject, chunk))
        out.update({n: h for n in chunk})
    return out


def encoding_summary_job(cfg: dict, subject: str, spaces: list) -> dict:
    return {"stage": "encoding-summary", "subject": subject, "spaces": _space_dicts(spaces),
            "top_voxels": cfg["encoding"]["top_voxels"], "expects": {"scores": score_hashes(cfg, subject)}}


def performance_figure_job(cfg: dict, spaces: list) -> dict:
    """Every space's encoding performance per subject, from the encoding summaries (each row
    records the config hash of the encoding result it summarises)."""
    return {"stage": "performance-figure", "subjects": cfg["dataset"]["subjects"], "spaces": _space_dicts(spaces),
            "expects": {"rows": {s: score_hashes(cfg, s) for s in cfg["dataset"]["subjects"]}}}


def recovery_job(cfg: dict, subject: str, spaces: list) -> dict:
    """(Demo) one subject's fits against the planted truth."""
    return {"stage": "recovery", "subject": subject, "spaces": [s.name for s in spaces],
            "controls": [s.name for s in spaces if s.family == "random"],
            "expects": {"scores": score_hashes(cfg, subject), "truth": config_hash(demo_fmri_job(cfg)),
                        "ceiling": config_hash(noise_ceiling_job(cfg, subject))}}


# --------------------------------------------------------------------------- brain link


def brainlink_job(cfg: dict, subject: str, spaces: list) -> dict:
    method = cfg["brainlink"]["method"]
    every = _resolve(cfg)
    expects = {"scores": score_hashes(cfg, subject, every),
               "embedding": config_hash(embedding_job(cfg, method, transfer_spaces(cfg, every)))}
    return {"stage": "brainlink", "seed": cfg["seed"], "subject": subject,
            "brainlink": {k: v for k, v in cfg["brainlink"].items() if k != "pycortex"},
            "dataset": cfg["dataset"], "spaces": _space_dicts(spaces), "expects": expects}


def flatmap_job(cfg: dict, subject: str, spaces: list) -> dict:
    """Flatmaps of one subject's brain-link maps (``brainlink.pycortex``)."""
    return {"stage": "flatmap", "subject": subject, "pycortex": cfg["brainlink"]["pycortex"],
            "dataset": {k: cfg["dataset"][k] for k in ("mask", "voxel_order")},
            "expects": {"brainlink": config_hash(brainlink_job(cfg, subject, spaces))}}


def brainlink_check_job(cfg: dict, subject: str, spaces: list) -> dict:
    """(Demo) one subject's brain link against the planted gradient."""
    return {"stage": "brainlink-check", "subject": subject, "spaces": [s.name for s in spaces],
            "expects": {"scores": score_hashes(cfg, subject), "truth": config_hash(demo_fmri_job(cfg)),
                        "brainlink": config_hash(brainlink_job(cfg, subject, spaces))}}


def space_table_job(cfg: dict, spaces: list) -> dict:
    """One row per space of ``spaces`` (all spaces of the config)."""
    method = cfg["brainlink"]["method"]
    return {"stage": "space-table", "spaces": _space_dicts(spaces), "subjects": cfg["dataset"]["subjects"],
            "expects": {"embedding": config_hash(embedding_job(cfg, method, transfer_spaces(cfg, spaces))),
                        "rows": {s: score_hashes(cfg, s, spaces) for s in cfg["dataset"]["subjects"]}}}
