"""Configuration: validation against the schema (filling defaults), semantic checks, and the
per-job slices that rules hand to the stage commands.

The schema (``workflow/schemas/config.schema.yaml``, shipped inside the package) describes
every key and sets ``additionalProperties: false`` everywhere, so a mistyped key is an error
that names the key and suggests the closest valid one.
"""

from __future__ import annotations

import copy
import os
import difflib
import functools
import importlib.resources
from pathlib import Path

import yaml

from .errors import ConfigError, LreError


@functools.lru_cache(maxsize=1)
def schema() -> dict:
    text = importlib.resources.files("lre").joinpath("config.schema.yaml").read_text(encoding="utf-8")
    return yaml.safe_load(text)


def _validator_with_defaults():
    import jsonschema

    base = jsonschema.Draft7Validator
    validate_properties = base.VALIDATORS["properties"]

    def properties_with_defaults(validator, properties, instance, sch):
        if isinstance(instance, dict):
            for prop, sub in properties.items():
                if isinstance(sub, dict) and "default" in sub and prop not in instance:
                    instance[prop] = copy.deepcopy(sub["default"])
        yield from validate_properties(validator, properties, instance, sch)

    return jsonschema.validators.extend(base, {"properties": properties_with_defaults})


def _field(path) -> str:
    return ".".join(str(p) for p in path) or "<top level>"


def _allowed_keys(sch: dict, path, root: dict) -> list[str]:
    """Property names allowed at ``path`` (follows properties / additionalProperties / $ref)."""
    node = sch
    for part in path:
        if "$ref" in node:
            node = _deref(root, node["$ref"])
        props = node.get("properties", {})
        if isinstance(part, str) and part in props:
            node = props[part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        else:
            return []
    if "$ref" in node:
        node = _deref(root, node["$ref"])
    return list(node.get("properties", {}))


def _deref(root: dict, ref: str) -> dict:
    node = root
    for part in ref.lstrip("#/").split("/"):
        node = node[part]
    return node


def validate(config: dict, source: str | Path | None = None) -> dict:
    """Validate ``config`` against the schema; return a deep copy with defaults filled in.

    Raises :class:`ConfigError` naming the first offending field.
    """
    cfg = copy.deepcopy(config)
    sch = schema()
    validator = _validator_with_defaults()(sch)
    errors = sorted(validator.iter_errors(cfg), key=lambda e: (len(e.absolute_path), list(map(str, e.absolute_path))))
    if errors:
        err = errors[0]
        path = list(err.absolute_path)
        if err.validator == "additionalProperties":
            allowed = _allowed_keys(sch, path, sch)
            unknown = sorted(set(err.instance) - set(allowed)) if isinstance(err.instance, dict) else []
            hints = []
            for key in unknown:
                close = difflib.get_close_matches(key, allowed, n=1)
                hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
            raise ConfigError(_field(path), f"unknown key {', '.join(hints)}.",
                              fix=f"valid keys here: {sorted(allowed)}.", source=source)
        if err.validator in ("oneOf", "anyOf", "allOf") and err.context:
            err = min(err.context, key=lambda e: len(e.absolute_path))
            path = path + list(err.absolute_path)
        raise ConfigError(_field(path), err.message + ".", fix=_describe(sch, path), source=source)
    cfg = _fill_data_root(cfg, source)
    _semantic_checks(cfg, source)
    return cfg


def _fill_data_root(cfg: dict, source) -> dict:
    """Replace ``{data_root}`` in every string of the config by ``data_root``."""
    root = cfg.get("data_root")
    used = []

    def walk(node, path):
        if isinstance(node, dict):
            return {k: walk(v, path + [k]) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, path + [i]) for i, v in enumerate(node)]
        if isinstance(node, str) and "{data_root}" in node:
            used.append(_field(path))
            return node.replace("{data_root}", str(Path(root).expanduser())) if root else node
        return node

    out = walk(cfg, [])
    if used and not root:
        raise ConfigError(used[0], "this path uses {data_root}, but data_root is not set.",
                          fix="set data_root: /path/to/the/dataset in the config, or pass "
                          "--config data_root=/path/to/the/dataset.", source=source)
    return out


def _describe(sch: dict, path) -> str | None:
    node, desc = sch, None
    for part in path:
        if "$ref" in node:
            node = _deref(sch, node["$ref"])
        desc = node.get("description") or desc  # an item without its own text: its list's
        props = node.get("properties", {})
        if isinstance(part, str) and part in props:
            node = props[part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        elif isinstance(node.get("items"), dict):
            node = node["items"]
        else:
            return None
    if "$ref" in node:
        node = _deref(sch, node["$ref"])
    desc = node.get("description") or (desc if path and isinstance(path[-1], int) else None)
    return " ".join(desc.split()) if desc else None


def _semantic_checks(cfg: dict, source) -> None:
    """Checks a JSON schema cannot express."""
    st = cfg["stimuli"]
    if "{story}" not in st["path"]:
        raise ConfigError("stimuli.path", f"{st['path']!r} does not contain {{story}}.",
                          fix="write the template with {story}, e.g. data/TextGrids/{story}.TextGrid.", source=source)
    trt = st["tr_times"]
    if trt["source"] == "file":
        if "path" not in trt or "{story}" not in trt["path"]:
            raise ConfigError("stimuli.tr_times.path", "tr_times.source is 'file' but no path template with "
                              "{story} is given.", fix="set stimuli.tr_times.path, e.g. data/trfiles/{story}.tr.",
                              source=source)
    elif trt["source"] == "respdict":
        if not trt.get("path"):
            raise ConfigError("stimuli.tr_times.path", "tr_times.source is 'respdict' but no respdict.json path is "
                              "given.", fix="set stimuli.tr_times.path, e.g. {data_root}/derivative/respdict.json.",
                              source=source)
    else:
        missing = [s for s in st["stories"] if s not in trt["n_trs"]]
        if missing:
            raise ConfigError("stimuli.tr_times.n_trs", f"no number of volumes for {missing}.",
                              fix="give n_trs for every story, or use TR files.", source=source)
    models = cfg["features"]["models"]
    for name, entry in models.items():
        if entry["family"] == "shift":
            seen, cur = {name}, entry["of"]
            while True:
                if cur not in models:
                    raise ConfigError(f"features.models.{name}.of", f"{cur!r} is not a model in features.models.",
                                      fix=f"use one of {sorted(models)}.", source=source)
                if cur in seen:
                    raise ConfigError(f"features.models.{name}.of", "shift models form a cycle.", source=source)
                seen.add(cur)
                if models[cur]["family"] != "shift":
                    break
                cur = models[cur]["of"]


def load(path: str | Path, check_models: bool = True) -> dict:
    """Read a YAML config file, validate it, and (by default) check every model is available."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("<file>", f"{path} does not exist.") from None
    except yaml.YAMLError as e:
        raise ConfigError("<file>", f"{path} is not valid YAML: {e}") from None
    if not isinstance(raw, dict):
        raise ConfigError("<top level>", f"{path} must hold a mapping of keys.", source=path)
    cfg = validate(raw, source=path)
    from .features import check_models as _check
    from .features import resolve_spaces

    if check_models:
        _check(cfg["features"]["models"])
    spaces = resolve_spaces(cfg["features"]["models"])
    check_transfer(cfg, spaces)
    check_dataset(cfg, spaces)
    return cfg


# --------------------------------------------------------------------------- paths and jobs


def results_path(cfg: dict, *parts: str) -> str:
    """The one place where output paths are built."""
    return str(Path(cfg["results"], *parts))


def stimuli_job(cfg: dict) -> dict:
    """The config slice that determines the stimuli stage's output."""
    return {"stage": "stimuli", "stimuli": cfg["stimuli"], "corpus": cfg["corpus"]}


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


def features_env(entry: dict) -> str:
    """The conda env (workflow/envs/<env>.yaml) of a model's features rule."""
    from .features import catalogue

    if entry.get("env"):
        return entry["env"]
    if entry["family"] == "flair":
        return "legacy"
    if entry["family"] == "hf":
        known = catalogue.lookup(entry["source"])
        return known.env if known else "extract"
    if entry["family"] == "untrained" and "config" in entry:
        return catalogue.LEGACY_MODEL_TYPES.get(entry["config"].get("model_type"), "extract")
    return "extract"


def runtime_settings(cfg: dict) -> dict:
    """Settings that change where and how fast a job runs, not its numbers."""
    feats = cfg["features"]
    return {"device": feats["device"], "threads": feats["threads"]}


def demo_job(cfg: dict) -> dict:
    text = {k: v for k, v in cfg["demo"].items() if k != "fmri"}  # the stimuli part only
    return {"stage": "demo", "demo": text, "stories": cfg["stimuli"]["stories"], "seed": cfg["seed"]}


def check_demo_paths(cfg: dict, paths: dict) -> None:
    """With the demo enabled, the stimuli and corpus paths must point at the demo's files."""
    want = {"stimuli.path": (cfg["stimuli"]["path"], paths["demo_textgrid"]),
            "stimuli.tr_times.path": (cfg["stimuli"]["tr_times"].get("path"), paths["demo_trfile"]),
            "corpus.path": (cfg["corpus"]["path"], paths["demo_corpus"])}
    if cfg["stimuli"]["format"] != "textgrid" or cfg["stimuli"]["tr_times"]["source"] != "file":
        raise ConfigError("demo.enabled", "the demo writes TextGrids and TR files, so stimuli.format must be "
                          "textgrid and stimuli.tr_times.source file.", fix="set them, or disable the demo.")
    if "dataset" in cfg and cfg["demo"]["fmri"]["enabled"]:
        d = cfg["dataset"]
        if d["format"] != "lebel2023":
            raise ConfigError("dataset.format", "the demo writes its synthetic responses in the lebel2023 layout.",
                              fix="set dataset.format: lebel2023, or disable demo.fmri.")
        want["dataset.root"] = (d["root"], paths["demo_root"])
        want["dataset.mask"] = (d["mask"], paths["demo_mask"])
    for field, (have, expected) in want.items():
        if os.path.normpath(have or "") != os.path.normpath(expected):
            raise ConfigError(field, f"is {have!r} but the demo writes {expected!r}.",
                              fix=f"set {field}: {expected} (or disable the demo).")


# --------------------------------------------------------------------------- transfer and embedding

SPLIT_KEYS = ("universal", "test_fraction", "cv_folds")


def transfer_spaces(cfg: dict, spaces: list) -> list:
    """The spaces that take part in transfer and the embedding (config order, minus exclude)."""
    names = [s.name for s in spaces]
    unknown = [n for n in cfg["transfer"]["exclude"] if n not in names]
    if unknown:
        raise ConfigError("transfer.exclude", f"{unknown} are not spaces of this config.",
                          fix=f"use names such as {names[:3]} (`python -m lre check` lists them).")
    return [s for s in spaces if s.name not in cfg["transfer"]["exclude"]]


def check_transfer(cfg: dict, spaces: list) -> None:
    """Cross-checks between the transfer/embedding sections and the resolved spaces."""
    t, e = cfg["transfer"], cfg["embedding"]
    kept = transfer_spaces(cfg, spaces)
    names = [s.name for s in kept]
    by_name = {s.name: s for s in spaces}
    uni = t["universal"]["space"]
    if uni not in by_name or by_name[uni].family != "static":
        raise ConfigError("transfer.universal.space", f"{uni!r} is not a static-embedding space of this config.",
                          fix=f"use one of {[s.name for s in spaces if s.family == 'static'] or ['(add a static model)']}.")
    if len(kept) < 4:
        raise ConfigError("transfer.exclude", f"only {len(kept)} spaces are left for transfer; the embedding's "
                          "three dimensions need at least 4.", fix="add models or exclude fewer spaces.")
    missing = [m for m in e["methods"] if m not in t["methods"]]
    if missing:
        raise ConfigError("embedding.methods", f"{missing} are not in transfer.methods.",
                          fix="add them to transfer.methods or remove them here.")
    if e["anchor"] not in names:
        raise ConfigError("embedding.anchor", f"{e['anchor']!r} is not among the transferred spaces.",
                          fix=f"use one of {names[:4]}...")
    if isinstance(e["weights"], dict):
        absent = [n for n in names if n not in e["weights"]]
        extra = [n for n in e["weights"] if n not in names]
        if absent or extra:
            raise ConfigError("embedding.weights", f"the mapping must give exactly the transferred spaces; "
                              f"missing {absent[:5]}, unknown {extra[:5]}.", fix="or use weights: group.")


def _space_dicts(spaces) -> list[dict]:
    from dataclasses import asdict

    return [asdict(s) for s in spaces]


def _upstream(cfg: dict, spaces) -> dict:
    from .provenance import model_of, upstream

    return upstream(cfg, [model_of(s) for s in spaces])


def transfer_prepare_job(cfg: dict) -> dict:
    return {"stage": "transfer-prepare", "seed": cfg["seed"], "transfer": {k: cfg["transfer"][k] for k in SPLIT_KEYS},
            "upstream": _upstream(cfg, [cfg["transfer"]["universal"]["space"]])}


def _split_expected(cfg: dict) -> dict:
    """The config hash that the transfer split and universal input must record."""
    from .io import config_hash

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
    from .io import config_hash

    expects = _split_expected(cfg)
    expects["encoders"] = {s: config_hash(encoder_job(cfg, method, s)) for s in sources}
    return {"stage": "transfer-decode", "seed": cfg["seed"], "method": method, "space": space, "sources": sources,
            "transfer": {k: t[k] for k in SPLIT_KEYS + ("alphas", "bottleneck")}, "upstream": _upstream(cfg, [space]),
            "expects": expects}


def gather_job(cfg: dict, stage: str, spaces: list[str], method: str | None = None) -> dict:
    """Stack the per-space results of a transfer method (``method``) or of direct transfer."""
    from .io import config_hash

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


def embedding_job(cfg: dict, method: str, spaces: list) -> dict:
    from .io import config_hash

    mse = config_hash(gather_job(cfg, "transfer-gather", [sp.name for sp in spaces], method))
    return {"stage": "embedding", "method": method, "spaces": _space_dicts(spaces), "embedding": cfg["embedding"],
            "expects": {"mse": mse}}


def compare_job(cfg: dict, spaces: list) -> dict:
    """Compare the space-by-space matrices: what each input file must record (by method label)."""
    from .io import config_hash

    names = [sp.name for sp in spaces]
    expects = {f"affinity ({m})": config_hash(embedding_job(cfg, m, spaces)) for m in cfg["embedding"]["methods"]}
    methods = cfg["transfer"]["methods"]
    if "direct" in methods:
        expects["direct R^2"] = config_hash(gather_job(cfg, "direct-gather", names))
    for m in ("cka", "rsa"):
        if m in methods:
            expects[m.upper()] = config_hash(similarity_job(cfg, names))
    return {"stage": "compare", "spaces": _space_dicts(spaces), "expects": {"matrices": expects}}


# --------------------------------------------------------------------------- dataset and encoding


def encoding_spaces(cfg: dict, spaces: list) -> list:
    """The spaces fitted to the brain (config order)."""
    want = cfg["encoding"]["spaces"]
    if want == "all":
        return list(spaces)
    names = [s.name for s in spaces]
    unknown = [w for w in want if w not in names]
    if unknown:
        raise ConfigError("encoding.spaces", f"{unknown} are not spaces of this config.",
                          fix=f"use names such as {names[:3]} (`python -m lre check` lists them).")
    return [s for s in spaces if s.name in want]


def check_dataset(cfg: dict, spaces: list) -> None:
    """Cross-checks of the dataset and encoding sections (and the demo's fMRI part)."""
    if "dataset" not in cfg:
        return
    d = cfg["dataset"]
    stories = cfg["stimuli"]["stories"]
    for key in ("train_stories", "test_stories"):
        unknown = [s for s in d[key] if s not in stories]
        if unknown:
            raise ConfigError(f"dataset.{key}", f"{unknown} are not in stimuli.stories.",
                              fix="every story fitted or tested needs its word timings.")
    both = sorted(set(d["train_stories"]) & set(d["test_stories"]))
    if both:
        raise ConfigError("dataset.test_stories", f"stories {both} are in both the training and the test set.",
                          fix="each story must be in exactly one of them.")
    if d["format"] == "narratives" and not d["mask"]:
        raise ConfigError("dataset.mask", "narratives runs are NIfTI volumes; a mask selects their voxels.",
                          fix="set dataset.mask to a brain mask in the runs' space.")
    if d["mask"] and "{subject}" not in d["mask"] and len(d["subjects"]) > 1 and d["format"] == "lebel2023":
        raise ConfigError("dataset.mask", "a lebel2023 mask is per subject; the template needs {subject}.")
    encoding_spaces(cfg, spaces)
    linked = {s.group for s in transfer_spaces(cfg, spaces) if s in encoding_spaces(cfg, spaces)}
    if len(linked) < 3:
        raise ConfigError("encoding.spaces", f"the embedded and encoded spaces come from {len(linked)} group(s); "
                          "the brain link leaves one group out at a time and needs at least 3.",
                          fix="encode and embed spaces of at least three models (or groups).")
    if cfg["brainlink"]["method"] not in cfg["embedding"]["methods"]:
        raise ConfigError("brainlink.method", f"{cfg['brainlink']['method']!r} is not in embedding.methods.",
                          fix="link an embedding that is computed.")
    pcx = cfg["brainlink"]["pycortex"]
    for key in ("subject", "xfm") if pcx else ():
        try:
            pcx[key].format(subject="sub")
        except (KeyError, IndexError, ValueError) as e:
            raise ConfigError(f"brainlink.pycortex.{key}", f"{pcx[key]!r} is not a valid template ({e!r}).",
                              fix="use plain text, with {subject} where the dataset's subject goes.") from None
    if cfg["demo"]["enabled"] and cfg["demo"]["fmri"]["enabled"]:
        names = [s.name for s in spaces]
        bad = [p for p in cfg["demo"]["fmri"]["planted"] if p not in names]
        if bad:
            raise ConfigError("demo.fmri.planted", f"{bad} are not spaces of this config.")
        if len(d["test_stories"]) != 1:
            raise ConfigError("dataset.test_stories", "the demo's synthetic dataset repeats exactly one test story.")


def demo_fmri_job(cfg: dict) -> dict:
    d = cfg["dataset"]
    return {"stage": "demo-fmri", "seed": cfg["seed"], "fmri": cfg["demo"]["fmri"], "lebel": d["lebel"],
            "subjects": d["subjects"], "stories": d["train_stories"] + d["test_stories"],
            "test_story": d["test_stories"][0], "upstream": _upstream(cfg, cfg["demo"]["fmri"]["planted"])}


ENCODING_KEYS = ("delays", "alphas", "cv_folds", "cv_chunk", "backend", "solver", "permutations",
                 "permutation_block", "fdr_q")


def encoding_job(cfg: dict, subject: str, spaces: list[str]) -> dict:
    """What determines the scores of ``spaces`` for ``subject`` (not threads, batching, job sizes)."""
    e = cfg["encoding"]
    return {"stage": "encode", "seed": cfg["seed"], "subject": subject, "spaces": spaces,
            "dataset": cfg["dataset"], "encoding": {k: e[k] for k in ENCODING_KEYS},
            "runtime": {"n_targets_batch": e["n_targets_batch"]}, "upstream": _upstream(cfg, spaces)}


def noise_ceiling_job(cfg: dict, subject: str) -> dict:
    return {"stage": "noise-ceiling", "subject": subject, "dataset": cfg["dataset"]}


def encoding_chunks(cfg: dict, names: list[str]) -> list[list[str]]:
    """The encoded spaces, cut into jobs of encoding.spaces_per_job."""
    k = cfg["encoding"]["spaces_per_job"]
    return [names[i:i + k] for i in range(0, len(names), k)]


def score_hashes(cfg: dict, subject: str, spaces: list | None = None) -> dict[str, str]:
    """space -> the config hash its encoding results of ``subject`` must record (``spaces``:
    all spaces of the config, resolved here when not given)."""
    from .features import resolve_spaces
    from .io import config_hash

    spaces = resolve_spaces(cfg["features"]["models"]) if spaces is None else spaces
    names = [sp.name for sp in encoding_spaces(cfg, spaces)]
    out = {}
    for chunk in encoding_chunks(cfg, names):
        h = config_hash(encoding_job(cfg, subject, chunk))
        out.update({n: h for n in chunk})
    return out


def recovery_job(cfg: dict, subject: str, spaces: list) -> dict:
    """(Demo) one subject's fits against the planted truth."""
    from .io import config_hash

    return {"stage": "recovery", "subject": subject, "spaces": [s.name for s in spaces],
            "controls": [s.name for s in spaces if s.family == "random"],
            "expects": {"scores": score_hashes(cfg, subject), "truth": config_hash(demo_fmri_job(cfg)),
                        "ceiling": config_hash(noise_ceiling_job(cfg, subject))}}


def brainlink_check_job(cfg: dict, subject: str, spaces: list) -> dict:
    """(Demo) one subject's brain link against the planted gradient."""
    from .io import config_hash

    return {"stage": "brainlink-check", "subject": subject, "spaces": [s.name for s in spaces],
            "expects": {"scores": score_hashes(cfg, subject), "truth": config_hash(demo_fmri_job(cfg)),
                        "brainlink": config_hash(brainlink_job(cfg, subject, spaces))}}


def performance_figure_job(cfg: dict, spaces: list) -> dict:
    """Every space's encoding performance per subject, from the encoding summaries (each row
    records the config hash of the encoding result it summarises)."""
    return {"stage": "performance-figure", "subjects": cfg["dataset"]["subjects"], "spaces": _space_dicts(spaces),
            "expects": {"rows": {s: score_hashes(cfg, s) for s in cfg["dataset"]["subjects"]}}}


def encoding_summary_job(cfg: dict, subject: str, spaces: list) -> dict:
    return {"stage": "encoding-summary", "subject": subject, "spaces": _space_dicts(spaces),
            "top_voxels": cfg["encoding"]["top_voxels"], "expects": {"scores": score_hashes(cfg, subject)}}


def brainlink_job(cfg: dict, subject: str, spaces: list) -> dict:
    from .features import resolve_spaces
    from .io import config_hash

    method = cfg["brainlink"]["method"]
    every = resolve_spaces(cfg["features"]["models"])
    expects = {"scores": score_hashes(cfg, subject, every),
               "embedding": config_hash(embedding_job(cfg, method, transfer_spaces(cfg, every)))}
    return {"stage": "brainlink", "seed": cfg["seed"], "subject": subject,
            "brainlink": {k: v for k, v in cfg["brainlink"].items() if k != "pycortex"},
            "dataset": cfg["dataset"], "spaces": _space_dicts(spaces), "expects": expects}


def flatmap_job(cfg: dict, subject: str, spaces: list) -> dict:
    """Flatmaps of one subject's brain-link maps (``brainlink.pycortex``)."""
    from .io import config_hash

    return {"stage": "flatmap", "subject": subject, "pycortex": cfg["brainlink"]["pycortex"],
            "dataset": {k: cfg["dataset"][k] for k in ("mask", "voxel_order")},
            "expects": {"brainlink": config_hash(brainlink_job(cfg, subject, spaces))}}


def space_table_job(cfg: dict, spaces: list) -> dict:
    """One row per space of ``spaces`` (all spaces of the config)."""
    from .io import config_hash

    method = cfg["brainlink"]["method"]
    return {"stage": "space-table", "spaces": _space_dicts(spaces), "subjects": cfg["dataset"]["subjects"],
            "expects": {"embedding": config_hash(embedding_job(cfg, method, transfer_spaces(cfg, spaces))),
                        "rows": {s: score_hashes(cfg, s, spaces) for s in cfg["dataset"]["subjects"]}}}


# --------------------------------------------------------------------------- job sizes

BYTES_PER_WORD = 60  #: a word in the documents file (strings, times), measured on the demo


def _model_width(entry: dict) -> tuple[int, int]:
    """(hidden size, number of spaces) of a model, from its config when it is on disk."""
    from .features import catalogue
    from .features.hf import _architecture

    if entry["family"] == "flair":
        known = catalogue.lookup(entry["source"])
        return (known.hidden if known else 2048), 1
    if entry["family"] not in ("hf", "untrained"):
        return 128, 6
    try:
        arch = _architecture("model", entry) or {}
    except LreError:
        arch = {}
    width = int(arch.get("hidden_size") or arch.get("n_embd") or arch.get("d_model") or 1024)
    layers = entry["layers"]
    n = len(layers) if layers != "all" else int(arch.get("num_hidden_layers") or arch.get("n_layer")
                                                 or arch.get("encoder_layers") or 24) + 1
    return width, n


def features_mem_mb(entry: dict, documents_mb: float) -> int:
    """Memory of one model's extraction job: weights and buffers, plus the features of every
    word (float64 sums while extracting, float32 when written)."""
    words = documents_mb * 1e6 / BYTES_PER_WORD
    width, n = _model_width(entry)
    neural = entry["family"] in ("hf", "untrained", "flair")
    return int((3000 if neural else 1500) + words * width * n * 12 / 1e6)


def features_runtime_min(entry: dict, documents_mb: float) -> int:
    """Minutes for one model's extraction at a conservative CPU speed (100 words/s for
    bidirectional windows, 2,000 otherwise), at least 10."""
    words = documents_mb * 1e6 / BYTES_PER_WORD
    speed = 100 if entry["family"] in ("hf", "untrained", "tagger", "flair") else 2000
    return int(max(10, 2 * words / speed / 60))
