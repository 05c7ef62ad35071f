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

from .config import demo_fmri, encoding_spaces, linked_spaces, partition_spaces, runs, transfer_sources, transfer_spaces
from .datasets import in_mni_space, loader
from .datasets.geometry import has_maps
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
    stories = cfg["stimuli"]["stories"] if "stimuli" in cfg else []  # none: the corpus only
    return {"stage": "demo", "demo": text, "stories": stories, "seed": cfg["seed"]}


def stimuli_job(cfg: dict) -> dict:
    """The config slice that determines the stories' documents file (word and volume times)."""
    return {"stage": "stimuli", "stimuli": cfg["stimuli"]}


def corpus_job(cfg: dict) -> dict:
    """The config slice that determines the corpus' documents file: the corpus section
    alone, so that dataset configs with the same corpus share it (``corpus_results``)."""
    return {"stage": "corpus", "corpus": cfg["corpus"]}


#: the two sets of documents: where the features of each come from
PARTS = ("corpus", "stories")


def documents_job(cfg: dict, part: str) -> dict:
    """The documents job of one set (``corpus`` or ``stories``)."""
    if part not in PARTS:
        raise ValueError(f"part must be one of {PARTS}, not {part!r}")
    return corpus_job(cfg) if part == "corpus" else stimuli_job(cfg)


def corpus_side_job(cfg: dict) -> dict | None:
    """Everything the corpus side of a run (its root, ``corpus_results``) is made from: the
    corpus, the corpus features of the transferred models, the transfer and embedding
    settings, the spaces and the seed; with the demo, the demo's settings (its corpus is made
    from them). Two runs sharing a corpus root must agree on it (None without the embedding
    analysis: such a run has no corpus side)."""
    if not runs(cfg, "embedding"):
        return None
    tspaces = transfer_spaces(cfg, _resolve(cfg))
    models = sorted({s.model for s in tspaces} | {model_of(cfg["transfer"]["universal"]["space"])})
    return {
        "corpus": cfg["corpus"],
        "seed": cfg["seed"],
        "features": {m: features_job(cfg, m, "corpus")["entry"] for m in models},
        "feature_settings": features_job(cfg, models[0], "corpus")["settings"],
        "spaces": [s.name for s in tspaces],
        "transfer": cfg["transfer"],
        "embedding": cfg["embedding"],
        "demo": demo_job(cfg) if cfg["demo"]["enabled"] else None,
    }


def corpus_check_job(cfg: dict) -> dict:
    """The check that the transfer corpus does not hold the fMRI stories (both documents files)."""
    return {
        "stage": "corpus-check",
        "ngram": 8,
        "max_share": 0.5,
        "expects": {"documents": config_hash(stimuli_job(cfg)), "corpus": config_hash(corpus_job(cfg))},
    }


# --------------------------------------------------------------------------- features


def features_job(cfg: dict, model: str, part: str) -> dict:
    """The config slice that determines one model's features on one set of documents (the
    corpus' features depend on the corpus section, not on the dataset)."""
    feats = cfg["features"]
    entry = feats["models"][model]
    job = {
        "stage": "features",
        "part": part,
        "model": model,
        "entry": {k: v for k, v in entry.items() if k != "env"},
        "settings": {k: feats[k] for k in ("compute_dtype", "batch_size")},
        "seed": cfg["seed"],
        "stimuli": documents_job(cfg, part),
    }
    if entry["family"] == "shift":
        job["of"] = features_job(cfg, entry["of"], part)
    return job


def upstream(cfg: dict, models, part: str) -> dict:
    """What a job that reads the feature files of ``models`` (on the ``part`` documents)
    expects them to record (the documents job, shared by all of them, is stored once)."""
    stimuli = documents_job(cfg, part)

    def strip(job):
        job = dict(job)
        if job.get("stimuli") == stimuli:
            job["stimuli"] = STIMULI_REF
        if "of" in job:
            job["of"] = strip(job["of"])
        return job

    return {"stimuli": stimuli, "features": {m: strip(features_job(cfg, m, part)) for m in sorted(set(models))}}


def _upstream(cfg: dict, spaces, part: str = "corpus") -> dict:
    return upstream(cfg, [model_of(s) for s in spaces], part)


# --------------------------------------------------------------------------- transfer

SPLIT_KEYS = ("universal", "test_fraction", "cv_folds")


def transfer_prepare_job(cfg: dict) -> dict:
    return {
        "stage": "transfer-prepare",
        "seed": cfg["seed"],
        "transfer": {k: cfg["transfer"][k] for k in SPLIT_KEYS},
        "upstream": _upstream(cfg, [cfg["transfer"]["universal"]["space"]]),
    }


def _split_expected(cfg: dict) -> dict:
    """The config hash that the transfer split and universal input must record."""
    return {"split": config_hash(transfer_prepare_job(cfg))}


def chunks(names: list[str], per_job: int) -> dict[str, list[str]]:
    """Spaces as jobs, by name: one per model (its spaces share a feature file), a model with
    more than ``per_job`` spaces cut into pieces (``<model>_1``, ``<model>_2``, ...). Adding a
    model adds jobs and changes none."""
    by_model: dict[str, list[str]] = {}
    for n in names:
        by_model.setdefault(model_of(n), []).append(n)
    out = {}
    for model, spaces in by_model.items():
        pieces = [spaces[i : i + per_job] for i in range(0, len(spaces), per_job)]
        for i, piece in enumerate(pieces, start=1):
            out[model if len(pieces) == 1 else f"{model}_{i}"] = piece
    return out


def transfer_chunks(cfg: dict, names: list[str]) -> dict[str, list[str]]:
    """The transferred spaces as jobs (per model, at most transfer.spaces_per_job each)."""
    return chunks(names, cfg["transfer"]["spaces_per_job"])


def _chunk_of(cfg: dict, space: str, names: list[str]) -> list[str]:
    return next(c for c in transfer_chunks(cfg, names).values() if space in c)


def encoder_job(cfg: dict, method: str, spaces: list[str]) -> dict:
    """The encoders of ``spaces`` (one model's, or a piece of them)."""
    t = cfg["transfer"]
    settings = {k: t[k] for k in SPLIT_KEYS + ("alphas", "bottleneck")}
    settings["method"] = method
    if method == "mlp":
        settings["mlp"] = t["mlp"]
    return {
        "stage": "transfer-encode",
        "seed": cfg["seed"],
        "spaces": spaces,
        "transfer": settings,
        "upstream": _upstream(cfg, spaces),
        "expects": _split_expected(cfg),
    }


def encoder_hashes(cfg: dict, method: str, sources: list[str]) -> dict[str, str]:
    """source space -> the config hash its encoder file must record."""
    out = {}
    for chunk in transfer_chunks(cfg, sources).values():
        h = config_hash(encoder_job(cfg, method, chunk))
        out.update({n: h for n in chunk})
    return out


def decoder_job(cfg: dict, method: str, spaces: list[str], sources: list[str]) -> dict:
    """The decoders of the targets ``spaces`` from every source's latent."""
    t = cfg["transfer"]
    expects = _split_expected(cfg)
    expects["encoders"] = encoder_hashes(cfg, method, sources)
    return {
        "stage": "transfer-decode",
        "seed": cfg["seed"],
        "method": method,
        "spaces": spaces,
        "sources": sources,
        "transfer": {k: t[k] for k in SPLIT_KEYS + ("alphas", "bottleneck")},
        "upstream": _upstream(cfg, spaces),
        "expects": expects,
    }


def gather_job(cfg: dict, stage: str, spaces: list[str], method: str | None = None) -> dict:
    """Stack the per-space results of a transfer method (``method``) or of direct transfer:
    ``spaces`` are every transferred space (the targets); the sources are those of them
    that are encoded."""
    sources = transfer_sources(cfg, spaces)
    if stage == "transfer-gather":
        hashes = {}
        for chunk in transfer_chunks(cfg, spaces).values():
            h = config_hash(decoder_job(cfg, method, chunk, sources))
            hashes.update({n: h for n in chunk})
        return {"stage": stage, "spaces": spaces, "sources": sources, "method": method, "expects": {"decoders": hashes}}
    hashes = {}
    for chunk in transfer_chunks(cfg, sources).values():
        h = config_hash(direct_job(cfg, chunk, spaces))
        hashes.update({n: h for n in chunk})
    return {"stage": stage, "spaces": spaces, "sources": sources, "expects": {"direct": hashes}}


def direct_job(cfg: dict, spaces: list[str], targets: list[str]) -> dict:
    """Ridge from each full source space of ``spaces`` to every target."""
    t = cfg["transfer"]
    return {
        "stage": "transfer-direct",
        "seed": cfg["seed"],
        "spaces": spaces,
        "targets": targets,
        "transfer": {k: t[k] for k in SPLIT_KEYS + ("alphas",)},
        "upstream": _upstream(cfg, list(spaces) + list(targets)),
        "expects": _split_expected(cfg),
    }


def similarity_job(cfg: dict, spaces: list[str]) -> dict:
    t = cfg["transfer"]
    return {
        "stage": "similarity",
        "seed": cfg["seed"],
        "spaces": spaces,
        "methods": [m for m in t["methods"] if m in ("cka", "rsa")],
        "transfer": {k: t[k] for k in SPLIT_KEYS + ("rsa_words",)},
        "upstream": _upstream(cfg, spaces),
        "expects": _split_expected(cfg),
    }


# --------------------------------------------------------------------------- embedding


def embedding_job(cfg: dict, method: str, spaces: list) -> dict:
    mse = config_hash(gather_job(cfg, "transfer-gather", [sp.name for sp in spaces], method))
    settings = {k: v for k, v in cfg["embedding"].items() if k != "methods"}
    return {
        "stage": "embedding",
        "method": method,
        "spaces": _space_dicts(spaces),
        "sources": transfer_sources(cfg, [sp.name for sp in spaces]),
        "embedding": settings,
        "expects": {"mse": mse},
    }


def compared(cfg: dict) -> list[str]:
    """The labels of the space-by-space matrices the comparison puts side by side, in order:
    each embedding's affinity, then direct R^2, CKA and RSA where transfer.methods has them
    (none without the embedding analysis)."""
    if not runs(cfg, "embedding"):
        return []
    methods = cfg["transfer"]["methods"]
    labels = [f"affinity ({m})" for m in cfg["embedding"]["methods"]]
    labels += ["direct R^2"] if "direct" in methods else []
    return labels + [m.upper() for m in ("cka", "rsa") if m in methods]


def compare_job(cfg: dict, spaces: list) -> dict:
    """Compare the space-by-space matrices: what each input file must record (by method label)."""
    names = [sp.name for sp in spaces]
    expects = {}
    for label in compared(cfg):
        if label.startswith("affinity"):
            job = embedding_job(cfg, label[len("affinity (") : -1], spaces)
        elif label == "direct R^2":
            job = gather_job(cfg, "direct-gather", names)
        else:
            job = similarity_job(cfg, names)
        expects[label] = config_hash(job)
    # the matrices in the order the rule passes their files (a list: JSON keeps its order)
    inputs = [
        {
            "name": label,
            "dataset": "affinity" if label.startswith("affinity") else "r2" if label == "direct R^2" else label.lower(),
        }
        for label in expects
    ]
    return {
        "stage": "compare",
        "spaces": _space_dicts(spaces),
        "sources": transfer_sources(cfg, names),
        "inputs": inputs,
        "expects": {"matrices": expects},
    }


# --------------------------------------------------------------------------- the demo's fMRI data


def demo_respdict_job(cfg: dict) -> dict:
    """The demo's respdict.json: each story's volume count, from the documents file."""
    d = cfg["dataset"]
    return {
        "stage": "demo-respdict",
        "stories": d["train_stories"] + d["test_stories"],
        "lebel": d["lebel"],
        "expects": {"documents": config_hash(stimuli_job(cfg))},
    }


def demo_fmri_job(cfg: dict, subject: str) -> dict:
    """One subject's synthetic responses and planted truth (seeded by the seed and the subject)."""
    d = cfg["dataset"]
    return {
        "stage": "demo-fmri",
        "seed": cfg["seed"],
        "subject": subject,
        "fmri": cfg["demo"]["fmri"],
        "lebel": d["lebel"],
        "stories": d["train_stories"] + d["test_stories"],
        "test_story": d["test_stories"][0],
        "upstream": _upstream(cfg, cfg["demo"]["fmri"]["planted"], "stories"),
    }


# --------------------------------------------------------------------------- encoding

ENCODING_KEYS = (
    "delays",
    "alphas",
    "cv_folds",
    "cv_chunk",
    "backend",
    "solver",
    "permutations",
    "permutation_block",
    "fdr_q",
)


def dataset_slice(cfg: dict, train: bool = True) -> dict:
    """The dataset keys a job that loads responses reads: the loader's settings, the mask and
    the stories (not the subjects: a job is for one subject, named in the job)."""
    d = cfg["dataset"]
    out = {k: d[k] for k in ("format", "root", "mask", "voxel_order", "test_stories")}
    if d["nonfinite"] != "error":  # the default leaves the jobs (and their hashes) as they were
        out["nonfinite"] = d["nonfinite"]
    settings = loader(d["format"]).SETTINGS
    out[settings] = d[settings]
    out["train_stories"] = d["train_stories"] if train else []
    return out


def encoding_chunks(cfg: dict, names: list[str]) -> dict[str, list[str]]:
    """The encoded spaces as jobs (per model, at most encoding.spaces_per_job each; see
    :func:`chunks`)."""
    return chunks(names, cfg["encoding"]["spaces_per_job"])


def encoding_job(cfg: dict, subject: str, spaces: list[str]) -> dict:
    """What determines the scores of ``spaces`` for ``subject`` (not threads or job sizes)."""
    e = cfg["encoding"]
    return {
        "stage": "encode",
        "seed": cfg["seed"],
        "subject": subject,
        "spaces": spaces,
        "dataset": dataset_slice(cfg),
        "encoding": {k: e[k] for k in ENCODING_KEYS},
        "runtime": {"n_targets_batch": e["n_targets_batch"]},
        "upstream": _upstream(cfg, spaces, "stories"),
    }


def noise_ceiling_job(cfg: dict, subject: str) -> dict:
    # with dataset.nonfinite: drop, the job also scans the training runs for the voxels to drop
    train = cfg["dataset"]["nonfinite"] == "drop"
    return {"stage": "noise-ceiling", "subject": subject, "dataset": dataset_slice(cfg, train=train)}


def score_hashes(cfg: dict, subject: str, spaces: list | None = None, only=None) -> dict[str, str]:
    """space -> the config hash its encoding results of ``subject`` must record (``spaces``:
    all spaces of the config, resolved here when not given; ``only``: the names a job reads,
    so that another space's encoding changing does not change the job)."""
    spaces = _resolve(cfg) if spaces is None else spaces
    names = [sp.name for sp in encoding_spaces(cfg, spaces)]
    out = {}
    for chunk in encoding_chunks(cfg, names).values():
        h = config_hash(encoding_job(cfg, subject, chunk))
        out.update({n: h for n in chunk if only is None or n in only})
    return out


def encoding_summary_job(cfg: dict, subject: str, spaces: list) -> dict:
    """One subject's table of every space's scores, beside the noise ceiling of their top voxels."""
    return {
        "stage": "encoding-summary",
        "subject": subject,
        "spaces": _space_dicts(spaces),
        "top_voxels": cfg["encoding"]["top_voxels"],
        "top_voxels_by": cfg["encoding"]["top_voxels_by"],
        "expects": {
            "scores": score_hashes(cfg, subject),
            "ceiling": config_hash(noise_ceiling_job(cfg, subject)),
        },
    }


def performance_figure_job(cfg: dict, spaces: list) -> dict:
    """Every space's encoding performance per subject, from the encoding summaries (each row
    records the config hash of the encoding result it summarises)."""
    return {
        "stage": "performance-figure",
        "subjects": cfg["dataset"]["subjects"],
        "spaces": _space_dicts(spaces),
        "expects": {"rows": {s: score_hashes(cfg, s) for s in cfg["dataset"]["subjects"]}},
    }


def recovery_job(cfg: dict, subject: str, spaces: list) -> dict:
    """(Demo) one subject's fits against the planted truth."""
    return {
        "stage": "recovery",
        "subject": subject,
        "spaces": [s.name for s in spaces],
        "controls": [s.name for s in spaces if s.family == "random"],
        "expects": {
            "scores": score_hashes(cfg, subject),
            "truth": config_hash(demo_fmri_job(cfg, subject)),
            "ceiling": config_hash(noise_ceiling_job(cfg, subject)),
        },
    }


def partition_job(cfg: dict, subject: str) -> dict:
    """One subject's variance partitioning: the baseline alone and each tested space joined to
    it (``designs``: every space whose features the job reads, baseline first)."""
    spaces = _resolve(cfg)
    baseline, tested = partition_spaces(cfg, spaces)
    e = cfg["encoding"]
    designs = baseline + tested
    job = {
        "stage": "partition",
        "subject": subject,
        "spaces": tested,
        "designs": designs,
        "dataset": dataset_slice(cfg),
        "encoding": {k: e[k] for k in ENCODING_KEYS},
        "partition": {"baseline": baseline, "band_weights": cfg["partition"]["band_weights"]},
        "top_voxels": e["top_voxels"],
        "top_voxels_by": e["top_voxels_by"],
        "runtime": {"n_targets_batch": e["n_targets_batch"]},
        "upstream": _upstream(cfg, designs, "stories"),
        "expects": {
            "scores": score_hashes(cfg, subject, spaces, only=tested),
            "ceiling": config_hash(noise_ceiling_job(cfg, subject)),
        },
    }
    if demo_fmri(cfg):
        job["expects"]["truth"] = config_hash(demo_fmri_job(cfg, subject))
    return job


# --------------------------------------------------------------------------- brain link


def brainlink_job(cfg: dict, subject: str, spaces: list) -> dict:
    method = cfg["brainlink"]["method"]
    every = _resolve(cfg)
    expects = {
        "scores": score_hashes(cfg, subject, every, only={sp.name for sp in spaces}),
        "embedding": config_hash(embedding_job(cfg, method, transfer_spaces(cfg, every))),
    }
    return {
        "stage": "brainlink",
        "seed": cfg["seed"],
        "subject": subject,
        "brainlink": {k: v for k, v in cfg["brainlink"].items() if k != "pycortex"},
        "dataset": map_slice(cfg),
        "spaces": _space_dicts(spaces),
        "expects": expects,
    }


def map_slice(cfg: dict) -> dict:
    """What a job that writes or draws maps needs of the dataset section: where the response
    columns live (a mask and its voxel order, or a BIDS surface space)."""
    d = cfg["dataset"]
    out = {k: d[k] for k in ("format", "mask", "voxel_order")}
    if d["format"] == "bids":
        out["bids"] = {"space": d["bids"]["space"]}
    return out


def flatmap_job(cfg: dict, subject: str, spaces: list) -> dict:
    """Flatmaps of one subject's brain-link maps (``brainlink.pycortex``)."""
    return {
        "stage": "flatmap",
        "subject": subject,
        "pycortex": cfg["brainlink"]["pycortex"],
        "dataset": {k: cfg["dataset"][k] for k in ("mask", "voxel_order")},
        "expects": {"brainlink": config_hash(brainlink_job(cfg, subject, spaces))},
    }


def brainlink_check_job(cfg: dict, subject: str, spaces: list) -> dict:
    """(Demo) one subject's brain link against the planted gradient."""
    return {
        "stage": "brainlink-check",
        "subject": subject,
        "spaces": [s.name for s in spaces],
        "expects": {
            "scores": score_hashes(cfg, subject, only={sp.name for sp in spaces}),
            "truth": config_hash(demo_fmri_job(cfg, subject)),
            "brainlink": config_hash(brainlink_job(cfg, subject, spaces)),
        },
    }


def space_table_method(cfg: dict) -> str | None:
    """The embedding whose coordinates the space table lists: the linked one with the brain
    link, else the first embedded one (None without the embedding analysis)."""
    if not runs(cfg, "embedding"):
        return None
    return cfg["brainlink"]["method"] if runs(cfg, "brainlink") else cfg["embedding"]["methods"][0]


def space_table_job(cfg: dict, spaces: list) -> dict:
    """One row per space of ``spaces`` (all spaces of the config): what the analyses the config
    runs give each (coordinates, encoding performance, brain-link table, unique variance)."""
    method = space_table_method(cfg)
    linked = linked_spaces(cfg, spaces)
    subjects = cfg["dataset"]["subjects"] if runs(cfg, "encoding") else []
    expects = {}
    if method is not None:
        expects["embedding"] = config_hash(embedding_job(cfg, method, transfer_spaces(cfg, spaces)))
    if subjects:
        expects["rows"] = {s: score_hashes(cfg, s, spaces) for s in subjects}
    if runs(cfg, "brainlink"):
        expects["brainlinks"] = {s: config_hash(brainlink_job(cfg, s, linked)) for s in subjects}
    if runs(cfg, "partition"):
        expects["partitions"] = {s: config_hash(partition_job(cfg, s)) for s in subjects}
    return {"stage": "space-table", "spaces": _space_dicts(spaces), "subjects": subjects, "expects": expects}


# --------------------------------------------------------------------------- interactive views

#: the brain maps the interactive views show, per subject
VIEWER_MAPS = ("principal", "score", "best_r")


def viewer_embedding_job(cfg: dict, method: str, spaces: list) -> dict:
    """The embedding's 3-D view; with a dataset, each space's mean top-voxel r over the
    subjects (from the encoding summaries) in its hover text."""
    every = _resolve(cfg)
    subjects = cfg["dataset"]["subjects"] if runs(cfg, "encoding") else []
    return {
        "stage": "embedding-viewer",
        "method": method,
        "spaces": _space_dicts(spaces),
        "subjects": subjects,
        "expects": {
            "embedding": config_hash(embedding_job(cfg, method, transfer_spaces(cfg, every))),
            "rows": {s: score_hashes(cfg, s, every) for s in subjects},
        },
    }


def viewer_maps(cfg: dict) -> list[str]:
    """The maps of each subject's interactive views: each voxel's best test r, and with the
    brain link its principal-dimension and score maps."""
    return list(VIEWER_MAPS) if runs(cfg, "brainlink") else ["best_r"]


def viewer_maps_job(cfg: dict, subject: str, spaces: list) -> dict:
    """One subject's interactive maps (:func:`viewer_maps`); on fsaverage too for MNI-space
    data."""
    every = _resolve(cfg)
    expects = {"scores": score_hashes(cfg, subject, every)}
    if runs(cfg, "brainlink"):
        expects["brainlink"] = config_hash(brainlink_job(cfg, subject, linked_spaces(cfg, every)))
    return {
        "stage": "interactive-maps",
        "subject": subject,
        "spaces": [s.name for s in encoding_spaces(cfg, every)],
        "maps": viewer_maps(cfg),
        "surface": in_mni_space(cfg["dataset"]),
        "dataset": map_slice(cfg),
        "expects": expects,
    }


# --------------------------------------------------------------------------- the report


def report_job(cfg: dict, flatmaps: bool = False) -> dict:
    """The run's report: what each analysis the config runs made, by section (``flatmaps``:
    whether the brain link drew pycortex flatmaps)."""
    every = _resolve(cfg)
    embed, encode = runs(cfg, "embedding"), runs(cfg, "encoding")
    methods = cfg["embedding"]["methods"] if embed else []
    return {
        "stage": "report",
        "analyses": cfg["analyses"],
        "results": cfg["results"],
        "corpus_results": cfg.get("corpus_results") or cfg["results"],
        "config_hash": config_hash(cfg),
        "spaces": len(every),
        "methods": methods,
        "viewer": embed and cfg["embedding"]["n_components"] >= 3,
        "comparison": len(compared(cfg)) > 1,
        "subjects": cfg["dataset"]["subjects"] if encode else [],
        "maps": encode and has_maps(cfg["dataset"]),
        "viewer_maps": viewer_maps(cfg) if encode and has_maps(cfg["dataset"]) else [],
        "demo": demo_fmri(cfg),
        "flatmaps": flatmaps and runs(cfg, "brainlink"),
    }
