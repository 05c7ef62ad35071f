"""Job sizing and placement: memory, run time and the conda environment of each job,
estimated from the config and the size of its inputs (the rules ask for these)."""

from __future__ import annotations

from .errors import LreError


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
    n = (
        len(layers)
        if layers != "all"
        else int(arch.get("num_hidden_layers") or arch.get("n_layer") or arch.get("encoder_layers") or 24) + 1
    )
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
