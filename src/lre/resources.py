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


def _model_shape(entry: dict) -> tuple[int, int, int]:
    """(hidden size, number of spaces, number of blocks) of a model, from its config when it
    is on disk (conservative guesses otherwise)."""
    from .features import catalogue
    from .features.hf import _architecture
    from .features.sources import hidden_size, n_hidden_layers

    if entry["family"] == "flair":
        known = catalogue.lookup(entry["source"])
        return (known.hidden if known else 2048), 1, 1
    if entry["family"] not in ("hf", "untrained"):
        return 128, 6, 0
    try:
        arch = _architecture("model", entry) or {}
    except LreError:
        arch = {}
    width = hidden_size(arch) or 1024
    try:
        blocks = n_hidden_layers(arch, "model")
    except LreError:
        blocks = 24
    layers = entry["layers"]
    n = len(layers) if layers != "all" else blocks + 1
    return width, n + int(bool(entry.get("surprisal"))), blocks


def streamed_mem_mb(width: int, n_spaces: int, blocks: int, held_words: float, batch_tokens: int) -> int:
    """MB of a streaming extraction: Python and torch, float32 weights (``12 d^2`` per block
    and a 50,000-word embedding), one batch's hidden states (twice) and one group's features
    (float64 sums and the float32 copy)."""
    weights = (12 * width**2 * blocks + 50_000 * width) * 4
    batch = 2 * batch_tokens * width * (blocks + 1) * 4
    return int(1500 + (weights + batch + held_words * width * n_spaces * 12) / 1e6)


def features_mem_mb(
    entry: dict, documents_mb: float, settings: dict | None = None, longest_words: int | None = None
) -> int:
    """Memory of one model's extraction job.

    Neural models (``hf``, ``untrained``) stream: a job holds the weights (float32, about
    ``12 d^2`` per block plus a 50,000-word embedding), the hidden states of one batch of
    windows (``batch_tokens`` x d x layers, twice for the forward pass), and the features of
    one group of documents (``features.chunk_words`` words, or the longest document when it is
    longer; float64 sums while extracting): set by the model, the batch and the longest
    document, not by the number of words. The other families hold the features of every
    word until they write them (their spaces are narrow).
    """
    settings = settings or {}
    words = documents_mb * 1e6 / BYTES_PER_WORD
    width, n, blocks = _model_shape(entry)
    if entry["family"] in ("hf", "untrained"):
        held = min(words, max(int(settings.get("chunk_words") or 2048), longest_words or 0))
        return streamed_mem_mb(width, n, blocks, held, int(settings.get("batch_tokens") or 4096))
    neural = entry["family"] == "flair"
    return int((3000 if neural else 1500) + words * width * n * 12 / 1e6)


def features_runtime_min(entry: dict, documents_mb: float) -> int:
    """Minutes for one model's extraction at a conservative CPU speed (100 words/s for
    bidirectional windows, 2,000 otherwise), at least 10."""
    words = documents_mb * 1e6 / BYTES_PER_WORD
    speed = 100 if entry["family"] in ("hf", "untrained", "tagger", "flair") else 2000
    return int(max(10, 2 * words / speed / 60))
