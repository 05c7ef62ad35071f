"""Configuration: validation against the schema (filling defaults) and the semantic checks a
schema cannot express (cross-references between sections, the spaces each stage uses).

The schema (``workflow/schemas/config.schema.yaml``, shipped inside the package) describes
every key and sets ``additionalProperties: false`` everywhere, so a mistyped key is an error
that names the key and suggests the closest valid one.
"""

from __future__ import annotations

import copy
import difflib
import functools
import importlib.resources
import json
import logging
import os
from pathlib import Path

import numpy as np
import yaml

from .errors import ConfigError

log = logging.getLogger(__name__)

#: keys that were renamed: (section path, old key) -> new key
RENAMED = {(("features",), "dtype"): "compute_dtype", (("brainlink",), "threshold"): "min_cv_r2"}

#: the analyses a config can choose (``analyses``), in pipeline order
ANALYSES = ("embedding", "encoding", "partition", "brainlink")


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
        props = dict(node.get("properties", {}))
        for alt in node.get("oneOf", []) + node.get("anyOf", []):  # an object among alternatives
            props.update(alt.get("properties", {}))
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


#: the key with which a YAML file asks Snakemake to evaluate it as a YTE template
YTE_KEY = "__use_yte__"


def refuse_templating(raw: dict, source=None) -> None:
    """Refuse a config that asks to be evaluated as a YTE template (``__use_yte__``): Snakemake
    would run the Python code in it when it loads the file, so a config would be a program."""
    if isinstance(raw, dict) and YTE_KEY in raw:
        raise ConfigError(
            YTE_KEY,
            "asks Snakemake to evaluate this config as a YTE template, which runs the Python expressions in it "
            "when the file is loaded: a config that can run code is refused.",
            fix=f"remove {YTE_KEY} and write the values out (a config is data).",
            source=source,
        )


def check_config_files(paths) -> None:
    """Read each config file as plain YAML (no templating) and refuse one that asks for YTE
    (:func:`refuse_templating`). The workflow calls it on its --configfile files: Snakemake
    has evaluated them by then and dropped the key, so the config it hands over cannot say."""
    for path in paths:
        try:
            raw = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
        except (OSError, yaml.YAMLError):
            continue  # Snakemake has read it; its own errors stand
        refuse_templating(raw, source=path)


def refuse_retired(config: dict, source=None) -> None:
    """Refuse, with the way forward, a dataset format lre no longer reads."""
    dataset = config.get("dataset") if isinstance(config, dict) else None
    if isinstance(dataset, dict) and dataset.get("format") == "narratives":
        raise ConfigError(
            "dataset.format",
            "narratives is retired: the Narratives derivatives are a BIDS dataset, read by format: bids (in volume "
            "or on the surface, every run of a story a repeat, TR from the sidecars).",
            fix="use format: bids with dataset.bids: {derivatives: derivatives/afni-nosmooth, desc: clean, filters: "
            "{res: native}} and no dataset.narratives section (config/narratives.yaml is the whole config).",
            source=source,
        )


def validate(config: dict, source: str | Path | None = None) -> dict:
    """Validate ``config`` against the schema; return a deep copy with defaults filled in.

    Raises :class:`ConfigError` naming the first offending field.
    """
    refuse_templating(config, source)
    refuse_retired(config, source)
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
                renamed = RENAMED.get((tuple(str(p) for p in path), key))
                close = [renamed] if renamed else difflib.get_close_matches(key, allowed, n=1)
                hints.append(f"'{key}'" + (f" (did you mean '{close[0]}'?)" if close else ""))
            raise ConfigError(
                _field(path),
                f"unknown key {', '.join(hints)}.",
                fix=f"valid keys here: {sorted(allowed)}.",
                source=source,
            )
        message = None
        while err.validator in ("oneOf", "anyOf", "allOf") and err.context and message is None:
            err, message = _alternative(err)
        path = list(err.absolute_path)
        raise ConfigError(_field(path), (message or err.message) + ".", fix=_describe(sch, path), source=source)
    cfg = _fill_data_root(cfg, source)
    if "dataset" in cfg and cfg["dataset"]["format"] == "bids":
        _bids_mask(cfg["dataset"], source)
    cfg["analyses"] = resolve_analyses(cfg, source)
    _semantic_checks(cfg, source)
    return cfg


def _bids_mask(d: dict, source) -> None:
    """A BIDS dataset's mask: none on the surface (every vertex is read), by default the
    derivatives' brain mask in a volume space."""
    from .datasets.bids import default_mask
    from .datasets.geometry import on_surface

    if on_surface(d):
        if d["mask"]:
            raise ConfigError(
                "dataset.mask",
                f"is set, but the runs are on the {d['bids']['space']} surface (dataset.bids.space), whose "
                "vertices are all read: a brain mask selects voxels of volume runs.",
                fix="set dataset.mask: null, or read volume runs (dataset.bids.space, e.g. MNI152NLin2009cAsym).",
                source=source,
            )
    elif not d["mask"]:
        d["mask"] = default_mask(d)


def resolve_analyses(cfg: dict, source=None) -> list[str]:
    """The analyses a config runs (:data:`ANALYSES` order): its ``analyses`` list, each checked
    against the sections it needs, or by default every analysis its sections allow."""
    partition = bool((cfg.get("partition") or {}).get("spaces"))
    has = {
        "embedding": "corpus" in cfg,
        "encoding": "stimuli" in cfg and "dataset" in cfg,
    }
    chosen = cfg.get("analyses")
    if chosen is None:
        out = [a for a in ("embedding", "encoding") if has[a]]
        if has["encoding"] and partition:
            out.append("partition")
        if has["embedding"] and has["encoding"]:
            out.append("brainlink")
        if not out:
            raise ConfigError(
                "analyses",
                "the config has nothing to run: no corpus section (the embedding analysis) and no stimuli and "
                "dataset sections (the encoding analysis).",
                fix="add a corpus section to embed the spaces, or stimuli and dataset sections to fit encoding models.",
                source=source,
            )
        return out
    needs = {
        "embedding": (has["embedding"], "a corpus section (the text the transfer maps are fitted on)"),
        "encoding": (has["encoding"], "stimuli and dataset sections (the stories and the fMRI responses)"),
        "partition": ("encoding" in chosen and partition, "the encoding analysis and partition.spaces"),
        "brainlink": ("embedding" in chosen and "encoding" in chosen, "the embedding and encoding analyses"),
    }
    for analysis in chosen:
        ok, what = needs[analysis]
        if not ok:
            raise ConfigError(
                "analyses",
                f"{analysis!r} needs {what}, which this config does not have.",
                fix=f"add them, or leave {analysis!r} out of analyses.",
                source=source,
            )
    return [a for a in ANALYSES if a in chosen]


def runs(cfg: dict, analysis: str) -> bool:
    """Whether a validated config runs ``analysis`` (one of :data:`ANALYSES`)."""
    if analysis not in ANALYSES:
        raise ValueError(f"unknown analysis {analysis!r}; known: {ANALYSES}")
    return analysis in cfg["analyses"]


def _alternative(err):
    """Of the alternatives of a oneOf that a value fails, the error to report: the first
    problem under an alternative of the value's type ("1 is less than the minimum of 2", not
    "... is not of type 'null'"), or, when the type fits none of them, which types would;
    ``(error, message or None)``."""
    branches: dict = {}
    for e in err.context:
        branches.setdefault(e.relative_schema_path[0], []).append(e)
    fitting = [
        e
        for errs in branches.values()
        if not any(x.validator == "type" and not x.relative_path for x in errs)
        for e in errs
    ]
    if fitting:
        return min(fitting, key=lambda e: len(e.absolute_path)), None
    types = []
    for e in (e for e in err.context if e.validator == "type"):
        for t in [e.validator_value] if isinstance(e.validator_value, str) else e.validator_value:
            if t not in types:
                types.append(t)
    return err, f"{err.instance!r} is not of type {' or '.join(map(repr, types))}"


def _fill_data_root(cfg: dict, source) -> dict:
    """Replace ``{data_root}`` in every string of the config by ``data_root`` (and normalise
    the path, so ``{data_root}/../corpus.txt`` names one file the same way from any
    dataset: configs that share the corpus side then give its jobs the same slices)."""
    root = cfg.get("data_root")
    used = []

    def walk(node, path):
        if isinstance(node, dict):
            return {k: walk(v, path + [k]) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v, path + [i]) for i, v in enumerate(node)]
        if isinstance(node, str) and "{data_root}" in node:
            used.append(_field(path))
            return os.path.normpath(node.replace("{data_root}", str(Path(root).expanduser()))) if root else node
        return node

    out = walk(cfg, [])
    if used and not root:
        raise ConfigError(
            used[0],
            "this path uses {data_root}, but data_root is not set.",
            fix="set data_root: /path/to/the/dataset in the config, or pass --config data_root=/path/to/the/dataset.",
            source=source,
        )
    return out


def _describe(sch: dict, path) -> str | None:
    node, desc = sch, None
    for part in path:
        if "$ref" in node:
            node = _deref(sch, node["$ref"])
        desc = node.get("description") or desc  # an item without its own text: its list's
        props, items = dict(node.get("properties", {})), node.get("items")
        for alt in node.get("oneOf", []) + node.get("anyOf", []):  # an object or a list among alternatives
            props.update(alt.get("properties", {}))
            items = items or alt.get("items")
        if isinstance(part, str) and part in props:
            node = props[part]
        elif isinstance(node.get("additionalProperties"), dict):
            node = node["additionalProperties"]
        elif isinstance(items, dict):
            node = items
        else:
            return None
    if "$ref" in node:
        node = _deref(sch, node["$ref"])
    desc = node.get("description") or (desc if path and isinstance(path[-1], int) else None)
    return " ".join(desc.split()) if desc else None


def _semantic_checks(cfg: dict, source) -> None:
    """Checks a JSON schema cannot express."""
    if "stimuli" in cfg:
        _check_stimuli(cfg["stimuli"], source, bids="dataset" in cfg and cfg["dataset"]["format"] == "bids")
    models = cfg["features"]["models"]
    _check_copies(models, source)
    _check_tests(cfg, source)
    for name, entry in models.items():
        if entry["family"] == "shift" and entry["shift"] == 0:
            raise ConfigError(
                f"features.models.{name}.shift",
                f"a shift of 0 makes {name!r} an exact copy of {entry['of']!r}, whose spaces would then be counted "
                "twice (in the transfer maps, the embedding and the brain link).",
                fix="use shift: 1 (the next word) or another non-zero k, or remove the model.",
                source=source,
            )
        if entry["family"] == "shift":
            seen, cur = {name}, entry["of"]
            while True:
                if cur not in models:
                    raise ConfigError(
                        f"features.models.{name}.of",
                        f"{cur!r} is not a model in features.models.",
                        fix=f"use one of {sorted(models)}.",
                        source=source,
                    )
                if cur in seen:
                    raise ConfigError(f"features.models.{name}.of", "shift models form a cycle.", source=source)
                seen.add(cur)
                if models[cur]["family"] != "shift":
                    break
                cur = models[cur]["of"]


def _check_stimuli(st: dict, source, bids: bool = False) -> None:
    """The stimuli section: path templates with {story}, and where volume times come from
    (``bids``: the dataset's runs give their own, so simulated ones need no count)."""
    if "{story}" not in st["path"]:
        raise ConfigError(
            "stimuli.path",
            f"{st['path']!r} does not contain {{story}}.",
            fix="write the template with {story}, e.g. data/TextGrids/{story}.TextGrid.",
            source=source,
        )
    trt = st["tr_times"]
    if trt["source"] == "file":
        if "path" not in trt or "{story}" not in trt["path"]:
            raise ConfigError(
                "stimuli.tr_times.path",
                "tr_times.source is 'file' but no path template with {story} is given.",
                fix="set stimuli.tr_times.path, e.g. data/trfiles/{story}.tr.",
                source=source,
            )
    elif trt["source"] == "respdict":
        if not trt.get("path"):
            raise ConfigError(
                "stimuli.tr_times.path",
                "tr_times.source is 'respdict' but no respdict.json path is given.",
                fix="set stimuli.tr_times.path, e.g. {data_root}/derivative/respdict.json.",
                source=source,
            )
    else:
        missing = [s for s in st["stories"] if s not in trt["n_trs"]]
        if missing and not bids:
            raise ConfigError(
                "stimuli.tr_times.n_trs",
                f"no number of volumes for {missing}.",
                fix="give n_trs for every story, or use TR files (with a bids dataset, whose runs give their own "
                "volume times, n_trs may be left out).",
                source=source,
            )


#: keys of a model entry that name or colour it without changing its features
_PRESENTATION_KEYS = ("label", "group", "env")


def _check_copies(models: dict, source) -> None:
    """Two models with the same settings would give identical spaces."""
    seen = {}
    for name, entry in models.items():
        key = json.dumps({k: v for k, v in entry.items() if k not in _PRESENTATION_KEYS}, sort_keys=True)
        if key in seen:
            raise ConfigError(
                f"features.models.{name}",
                f"has the same settings as features.models.{seen[key]}, so its spaces would be exact copies of "
                f"those of {seen[key]!r} (counted twice in the transfer maps, the embedding and the brain link).",
                fix="remove one of them, or change what differs (for an untrained control, its seed).",
                source=source,
            )
        seen[key] = name


def _check_tests(cfg: dict, source) -> None:
    """Delays the model can use, and permutation tests that can reach their level."""
    if not runs(cfg, "encoding"):
        return
    enc, bl = cfg["encoding"], cfg["brainlink"]
    delays = enc["delays"]
    if min(delays) < 0:
        raise ConfigError(
            "encoding.delays",
            f"{[d for d in delays if d < 0]} are negative: the model would predict a volume from words heard after "
            "it (it would see the future).",
            fix="use delays >= 0; the hemodynamic response peaks 4-6 s after a word, e.g. [1, 2, 3, 4] at a TR of 2 s.",
            source=source,
        )
    if len(set(delays)) != len(delays):
        raise ConfigError(
            "encoding.delays",
            f"{delays} repeats a delay (the design would have identical columns).",
            fix="list each delay once.",
            source=source,
        )
    trt = cfg["stimuli"]["tr_times"]
    if trt["source"] == "simulated":
        stories = cfg["dataset"]["train_stories"] + cfg["dataset"]["test_stories"]
        short = {s: trt["n_trs"][s] for s in stories if trt["n_trs"].get(s, 10**9) <= max(delays)}
        if short:
            raise ConfigError(
                "encoding.delays",
                f"the longest delay ({max(delays)} volumes) is as long as story(ies) {short} (volumes), which would "
                "see no words at that delay.",
                fix="use shorter delays, or leave those stories out.",
                source=source,
            )
    tests = [("encoding", enc["permutations"], enc["fdr_q"])]
    if runs(cfg, "brainlink"):
        tests.append(("brainlink", bl["permutations"], bl["fdr_q"]))
    for field, n, q in tests:
        floor = 1.0 / (n + 1)
        if floor > q:
            raise ConfigError(
                f"{field}.permutations",
                f"{n} permutations cannot give a p-value below {floor:.3g}, above the level {field}.fdr_q = {q}: "
                "no voxel could ever be significant.",
                fix=f"use at least {int(np.ceil(1 / q)) - 1} permutations (with margin for the FDR correction: "
                f"{int(np.ceil(10 / q))}), or raise {field}.fdr_q.",
                source=source,
            )


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
    partition_spaces(cfg, spaces)
    return cfg


# --------------------------------------------------------------------------- cross-checks


def layout(cfg: dict):
    """The results naming scheme of a validated config (its results folder and corpus root)."""
    from .datasets.geometry import on_surface
    from .paths import Layout

    surface = "dataset" in cfg and on_surface(cfg["dataset"])
    return Layout(cfg["results"], cfg.get("corpus_results") or cfg["results"], surface=surface)


def check_demo_paths(cfg: dict) -> None:
    """With the demo enabled, the stimuli and corpus paths must point at the demo's files."""
    from .paths import Layout

    paths = Layout(cfg["results"])
    want = {}
    if "stimuli" in cfg:
        want["stimuli.path"] = (cfg["stimuli"]["path"], paths["demo_textgrid"])
        want["stimuli.tr_times.path"] = (cfg["stimuli"]["tr_times"].get("path"), paths["demo_trfile"])
        if cfg["stimuli"]["format"] != "textgrid" or cfg["stimuli"]["tr_times"]["source"] != "file":
            raise ConfigError(
                "demo.enabled",
                "the demo writes TextGrids and TR files, so stimuli.format must be "
                "textgrid and stimuli.tr_times.source file.",
                fix="set them, or disable the demo.",
            )
    if "corpus" in cfg:
        want["corpus.path"] = (cfg["corpus"]["path"], paths["demo_corpus"])
    if demo_fmri(cfg):
        d = cfg["dataset"]
        if d["format"] != "lebel2023":
            raise ConfigError(
                "dataset.format",
                "the demo writes its synthetic responses in the lebel2023 layout.",
                fix="set dataset.format: lebel2023, or disable demo.fmri.",
            )
        want["dataset.root"] = (d["root"], paths["demo_root"])
        want["dataset.mask"] = (d["mask"], paths["demo_mask"])
    for field, (have, expected) in want.items():
        if os.path.normpath(have or "") != os.path.normpath(expected):
            raise ConfigError(
                field,
                f"is {have!r} but the demo writes {expected!r}.",
                fix=f"set {field}: {expected} (or disable the demo).",
            )


def demo_fmri(cfg: dict) -> bool:
    """Whether the demo writes synthetic responses (the demo and its fMRI part enabled, and the
    encoding analysis run)."""
    return cfg["demo"]["enabled"] and cfg["demo"]["fmri"]["enabled"] and runs(cfg, "encoding")


def transfer_sources(cfg: dict, names: list[str]) -> list[str]:
    """The transferred spaces that are also encoded (sources), in order."""
    return [n for n in names if n not in cfg["transfer"]["targets_only"]]


def transfer_spaces(cfg: dict, spaces: list) -> list:
    """The spaces that take part in transfer and the embedding (config order, minus exclude and
    minus volume-level precomputed spaces, which have no words to transfer); none when the
    config does not run the embedding analysis."""
    from .features import volume_level

    if not runs(cfg, "embedding"):
        return []

    names = [s.name for s in spaces]
    unknown = [n for n in cfg["transfer"]["exclude"] if n not in names]
    if unknown:
        raise ConfigError(
            "transfer.exclude",
            f"{unknown} are not spaces of this config.",
            fix=f"use names such as {names[:3]} (`python -m lre check` lists them).",
        )
    models = cfg["features"]["models"]
    return [s for s in spaces if s.name not in cfg["transfer"]["exclude"] and not volume_level(models[s.model])]


def check_transfer(cfg: dict, spaces: list) -> None:
    """Cross-checks between the transfer/embedding sections and the resolved spaces (with the
    embedding analysis; without it, those sections are not read)."""
    if not runs(cfg, "embedding"):
        return
    t, e = cfg["transfer"], cfg["embedding"]
    kept = transfer_spaces(cfg, spaces)
    names = [s.name for s in kept]
    by_name = {s.name: s for s in spaces}
    uni = t["universal"]["space"]
    if uni not in by_name or by_name[uni].family != "static":
        raise ConfigError(
            "transfer.universal.space",
            f"{uni!r} is not a static-embedding space of this config.",
            fix=f"use one of {[s.name for s in spaces if s.family == 'static'] or ['(add a static model)']}.",
        )
    if len(kept) < 4:
        raise ConfigError(
            "transfer.exclude",
            f"only {len(kept)} spaces are left for transfer; the embedding's three dimensions need at least 4.",
            fix="add models or exclude fewer spaces.",
        )
    missing = [m for m in e["methods"] if m not in t["methods"]]
    if missing:
        raise ConfigError(
            "embedding.methods",
            f"{missing} are not in transfer.methods.",
            fix="add them to transfer.methods or remove them here.",
        )
    if e["anchor"] not in names:
        raise ConfigError(
            "embedding.anchor",
            f"{e['anchor']!r} is not among the transferred spaces.",
            fix=f"use one of {names[:4]}...",
        )
    if any(m in ("bottleneck", "mlp") for m in t["methods"]):
        from .features import model_dims

        models = cfg["features"]["models"]
        known = {}
        for model in dict.fromkeys(s.model for s in kept):
            known.update({f"{model}.{o}": d for o, d in model_dims(model, models).items()})
        sources = [n for n in names if n not in t["targets_only"]]
        narrow = {n: known[n] for n in sources if known.get(n) is not None and known[n] < t["bottleneck"]}
        if narrow:
            raise ConfigError(
                "transfer.bottleneck",
                f"{t['bottleneck']} latent dimensions are wider than the space(s) "
                + ", ".join(f"{n} ({d} dim{'s' if d > 1 else ''})" for n, d in narrow.items())
                + ", which cannot be compressed to them.",
                fix="list them in transfer.targets_only (decoded from the other spaces, so still embedded) or "
                f"transfer.exclude (still encoded), or lower transfer.bottleneck to {min(narrow.values())}.",
            )
    strays = [n for n in t["targets_only"] if n not in names]
    if strays:
        raise ConfigError(
            "transfer.targets_only",
            f"{strays} are not transferred spaces of this config.",
            fix=f"use names such as {names[:3]} (not in transfer.exclude, not volume-level).",
        )
    if len(names) - len(t["targets_only"]) < 4:
        raise ConfigError(
            "transfer.targets_only", "fewer than 4 spaces are left as sources.", fix="list fewer spaces there."
        )
    if t["universal"]["space"] in t["targets_only"]:
        raise ConfigError(
            "transfer.targets_only",
            "the universal input's space must be a source.",
            fix=f"remove {t['universal']['space']} from the list.",
        )
    if e["n_components"] > len(kept) - 1:
        log.warning(
            "embedding.n_components is %d, but %d transferred spaces give at most %d dimensions; the embedding "
            "keeps %d.",
            e["n_components"],
            len(kept),
            len(kept) - 1,
            len(kept) - 1,
        )
    if isinstance(e["weights"], dict):
        absent = [n for n in names if n not in e["weights"]]
        extra = [n for n in e["weights"] if n not in names]
        if absent or extra:
            raise ConfigError(
                "embedding.weights",
                f"the mapping must give exactly the transferred spaces; missing {absent[:5]}, unknown {extra[:5]}.",
                fix="or use weights: group.",
            )


def encoding_spaces(cfg: dict, spaces: list) -> list:
    """The spaces fitted to the brain (config order); none without the encoding analysis."""
    if not runs(cfg, "encoding"):
        return []
    want = cfg["encoding"]["spaces"]
    if want == "all":
        return list(spaces)
    names = [s.name for s in spaces]
    unknown = [w for w in want if w not in names]
    if unknown:
        raise ConfigError(
            "encoding.spaces",
            f"{unknown} are not spaces of this config.",
            fix=f"use names such as {names[:3]} (`python -m lre check` lists them).",
        )
    return [s for s in spaces if s.name in want]


def partition_spaces(cfg: dict, spaces: list) -> tuple[list[str], list[str]]:
    """``partition``'s baseline and tested spaces, by name (both empty when nothing is tested
    or there is no dataset). Each must be a space of the config; a tested space must be
    encoded (its R^2 alone comes from its encoding result) and not in the baseline."""
    p = cfg.get("partition") or {}
    if not runs(cfg, "partition"):
        return [], []
    names = [s.name for s in spaces]
    encoded = [s.name for s in encoding_spaces(cfg, spaces)]
    for key in ("baseline", "spaces"):
        unknown = [n for n in p[key] if n not in names]
        if unknown:
            raise ConfigError(
                f"partition.{key}",
                f"{unknown} are not spaces of this config.",
                fix=f"use names such as {names[:3]} (`python -m lre check` lists them).",
            )
    not_encoded = [n for n in p["spaces"] if n not in encoded]
    if not_encoded:
        raise ConfigError(
            "partition.spaces",
            f"{not_encoded} are not fitted to the brain (encoding.spaces), and their R^2 alone is needed.",
            fix="add them to encoding.spaces, or leave them out of partition.spaces.",
        )
    both = [n for n in p["spaces"] if n in p["baseline"]]
    if both:
        raise ConfigError(
            "partition.spaces",
            f"{both} are also in partition.baseline: a space has no variance unique beyond itself.",
            fix="test spaces that are not part of the baseline.",
        )
    return list(p["baseline"]), list(p["spaces"])


def check_test_repeats(spec: dict, subject: str, story: str) -> None:
    """``dataset.lebel.test_repeats``: a path template that names one file per repeat."""
    from .datasets.lebel2023 import repeat_labels

    field, template = "dataset.lebel.test_repeats.path", spec["path"]
    paths = []
    for label in repeat_labels(spec):
        try:
            paths.append(template.format(subject=subject, story=story, repeat=label))
        except (KeyError, IndexError, ValueError) as e:
            raise ConfigError(
                field,
                f"{template!r} is not a template of the repeat files ({type(e).__name__}: {e} for repeat {label!r}).",
                fix="use {subject}, {story} and {repeat} (e.g. {repeat:02d} with integer repeats) and no other braces.",
            ) from None
    if len(set(paths)) != len(paths):
        raise ConfigError(
            field,
            f"{template!r} names the same file for different repeats ({paths[0]} ...).",
            fix="put {repeat} in the template, where the repeat's label goes in the file names.",
        )


def check_dataset(cfg: dict, spaces: list) -> None:
    """Cross-checks of the dataset and encoding sections (and the demo's fMRI part), with the
    encoding analysis; of the brain link's, with the brainlink analysis."""
    if not runs(cfg, "encoding"):
        return
    d = cfg["dataset"]
    stories = cfg["stimuli"]["stories"]
    for key in ("train_stories", "test_stories"):
        unknown = [s for s in d[key] if s not in stories]
        if unknown:
            raise ConfigError(
                f"dataset.{key}",
                f"{unknown} are not in stimuli.stories.",
                fix="every story fitted or tested needs its word timings.",
            )
    both = sorted(set(d["train_stories"]) & set(d["test_stories"]))
    if both:
        raise ConfigError(
            "dataset.test_stories",
            f"stories {both} are in both the training and the test set.",
            fix="each story must be in exactly one of them.",
        )
    if d["mask"] and "{subject}" not in d["mask"] and len(d["subjects"]) > 1 and d["format"] == "lebel2023":
        raise ConfigError("dataset.mask", "a lebel2023 mask is per subject; the template needs {subject}.")
    if d["format"] == "lebel2023" and d["lebel"]["test_repeats"]:
        check_test_repeats(d["lebel"]["test_repeats"], d["subjects"][0], d["test_stories"][0])
        if demo_fmri(cfg):
            raise ConfigError(
                "dataset.lebel.test_repeats",
                "the demo writes its test repeats stacked in one file per story, not one file per repeat.",
                fix="leave dataset.lebel.test_repeats null with demo.fmri (the demo's ceiling comes from that file).",
            )
    encoding_spaces(cfg, spaces)
    if runs(cfg, "brainlink"):
        _check_brainlink(cfg, spaces)
    pcx = cfg["brainlink"]["pycortex"]
    from .datasets.geometry import on_surface

    if pcx and on_surface(d):
        raise ConfigError(
            "brainlink.pycortex",
            f"is set, but the runs are on the {d['bids']['space']} surface: pycortex flatmaps are drawn from volume "
            "maps through a subject's transform; surface maps get nilearn's surface figures and views instead.",
            fix="set brainlink.pycortex: null (or read volume runs with dataset.bids.space).",
        )
    for key in ("subject", "xfm") if pcx else ():
        try:
            pcx[key].format(subject="sub")
        except (KeyError, IndexError, ValueError) as e:
            raise ConfigError(
                f"brainlink.pycortex.{key}",
                f"{pcx[key]!r} is not a valid template ({e!r}).",
                fix="use plain text, with {subject} where the dataset's subject goes.",
            ) from None
    if demo_fmri(cfg):
        names = [s.name for s in spaces]
        bad = [p for p in cfg["demo"]["fmri"]["planted"] if p not in names]
        if bad:
            raise ConfigError("demo.fmri.planted", f"{bad} are not spaces of this config.")
        from .features import volume_level

        models = cfg["features"]["models"]
        vol = [s.name for s in spaces if s.name in cfg["demo"]["fmri"]["planted"] and volume_level(models[s.model])]
        if vol:
            raise ConfigError(
                "demo.fmri.planted",
                f"{vol} are volume-level features; the demo plants word-level features, resampled to its volumes.",
                fix="plant word-level spaces.",
            )
        if len(d["test_stories"]) != 1:
            raise ConfigError("dataset.test_stories", "the demo's synthetic dataset repeats exactly one test story.")


def _check_brainlink(cfg: dict, spaces: list) -> None:
    """The brain link leaves one group out at a time (3 groups at least) and links an
    embedding that is computed."""
    linked = {s.group for s in linked_spaces(cfg, spaces)}
    if len(linked) < 3:
        raise ConfigError(
            "encoding.spaces",
            f"the embedded and encoded spaces come from {len(linked)} group(s); "
            "the brain link leaves one group out at a time and needs at least 3.",
            fix="encode and embed spaces of at least three models (or groups), or leave brainlink out of analyses.",
        )
    if cfg["brainlink"]["method"] not in cfg["embedding"]["methods"]:
        raise ConfigError(
            "brainlink.method",
            f"{cfg['brainlink']['method']!r} is not in embedding.methods.",
            fix="link an embedding that is computed.",
        )
    n_dims, n_comp = cfg["brainlink"]["n_dims"], cfg["embedding"]["n_components"]
    if n_dims > n_comp:
        raise ConfigError(
            "brainlink.n_dims",
            f"is {n_dims}, but the embedding keeps {n_comp} dimensions (embedding.n_components).",
            fix=f"use brainlink.n_dims <= {n_comp}, or raise embedding.n_components.",
        )
    if n_dims >= len(linked) - 1:
        raise ConfigError(
            "brainlink.n_dims",
            f"is {n_dims}, but leaving one of the {len(linked)} linked groups out leaves {len(linked) - 1} groups to "
            f"fit {n_dims} coordinates and an intercept: the prediction of the held-out group is underdetermined.",
            fix=f"use brainlink.n_dims <= {max(len(linked) - 2, 0)}, or link spaces of more groups (models).",
        )


def linked_spaces(cfg: dict, spaces: list) -> list:
    """The spaces linked to the brain: embedded and encoded (none without the brainlink
    analysis)."""
    if not runs(cfg, "brainlink"):
        return []
    encoded = encoding_spaces(cfg, spaces)
    return [s for s in transfer_spaces(cfg, spaces) if s in encoded]


def gpu_settings(cfg: dict) -> list[tuple[str, str]]:
    """The config's settings that need a CUDA device, as ``(field, value)``: features.device
    cuda (with a neural model), encoding.backend torch_cuda (with the encoding analysis)."""
    out = []
    neural = any(m["family"] in ("hf", "untrained", "charlm", "flair") for m in cfg["features"]["models"].values())
    if cfg["features"]["device"] == "cuda" and (neural or "mlp" in cfg["transfer"]["methods"]):
        out.append(("features.device", "cuda"))
    if runs(cfg, "encoding") and cfg["encoding"]["backend"] == "torch_cuda":
        out.append(("encoding.backend", "torch_cuda"))
    return out


def check_devices(cfg: dict, cuda: bool | None = None, source=None) -> None:
    """Refuse a GPU-only setting where torch sees no CUDA device (``cuda``: whether it does;
    asked of torch when None): such a run would fail in its first GPU job, its reason in one
    job's log. Call it where the jobs run (a workstation), not on a cluster's login node."""
    wanted = gpu_settings(cfg)
    if not wanted:
        return
    if cuda is None:
        from .encoding.models import cuda_available

        cuda = cuda_available()
    if cuda:
        return
    field, value = wanted[0]
    auto = "auto (CUDA where torch sees a device, else numpy)" if field == "encoding.backend" else "auto or cpu"
    raise ConfigError(
        field,
        f"is {value}, but torch sees no CUDA device on this machine, so the jobs that need it would fail"
        + (f" (also {', '.join(f for f, _ in wanted[1:])})." if len(wanted) > 1 else "."),
        fix=f"use {auto}, or run on a machine with a GPU. On a cluster whose login node has none, the jobs run on "
        "its GPU nodes: run with the cluster's profile (snakemake --profile workflow/profiles/slurm), and "
        "check the config with python -m lre check --cluster.",
        source=source,
    )
