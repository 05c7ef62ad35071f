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
    if entry["family"] == "precomputed":
        return int(entry["dim"]), 1, 0
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
    word until they write them (their spaces are narrow), except ``precomputed``, which reads
    and writes one document at a time.
    """
    settings = settings or {}
    words = documents_mb * 1e6 / BYTES_PER_WORD
    width, n, blocks = _model_shape(entry)
    if entry["family"] in ("hf", "untrained"):
        held = min(words, max(int(settings.get("chunk_words") or 2048), longest_words or 0))
        return streamed_mem_mb(width, n, blocks, held, int(settings.get("batch_tokens") or 4096))
    if entry["family"] == "precomputed":  # streams: one document read, checked and written at a time
        return int(1500 + (longest_words or words) * width * 12 / 1e6)
    neural = entry["family"] == "flair"
    return int((3000 if neural else 1500) + words * width * n * 12 / 1e6)


def features_runtime_min(entry: dict, documents_mb: float) -> int:
    """Minutes for one model's extraction at a conservative CPU speed (100 words/s for
    bidirectional windows and the character LSTM, which reads a window per character for its
    surprisal; 2,000 otherwise), at least 10."""
    words = documents_mb * 1e6 / BYTES_PER_WORD
    speed = 100 if entry["family"] in ("hf", "untrained", "tagger", "flair", "charlm") else 2000
    return int(max(10, 2 * words / speed / 60))


#: MB of an encoding job before any data: the interpreter, NumPy, SciPy, h5py, scikit-learn
#: and himalaya, and the BLAS threads' buffers (235 MB measured after importing them and one
#: 2,000 x 2,000 product on 2 threads)
ENCODING_BASE_MB = 300
#: share added to an encoding job's estimate (what :func:`encoding_mem_mb` does not count)
ENCODING_HEADROOM = 0.2
#: MB asked for while the responses' shapes are unknown (in a dry run, before the dataset's
#: files exist, as the demo's are made in the run)
ENCODING_UNKNOWN_MB = 2000


def encoding_mem_mb(
    runs: dict[str, tuple[int, int, int]],
    test_stories: list[str],
    columns: int,
    n_targets_batch: int | None = None,
    n_spaces: int = 1,
    n_alphas: int = 10,
    fold_rows: list[int] | None = None,
) -> int:
    """Memory of one encoding job (MB), from the shapes of what it holds.

    Parameters
    ----------
    runs : story -> (repeats, volumes, voxels) of each run the job loads
    test_stories : which of ``runs`` are the test stories (the others are training stories)
    columns : the widest space's design columns (dims x delays)
    n_targets_batch : ``encoding.n_targets_batch`` (voxels per solver batch; None: all)
    n_spaces : spaces fitted by the job (each keeps the last one's prediction while it fits)
    n_alphas : penalties in ``encoding.alphas``
    fold_rows : the validation rows of each cross-validation fold (None: 5 equal folds)

    With ``N`` training and ``T`` test volumes, ``V`` voxels, ``p`` columns, ``m = min(N,
    p)``, ``A`` penalties, folds of ``n_f`` validation rows (the largest ``n_v``) and batches
    of ``B`` voxels (bytes; ``lre.encoding.models.lean_ridge_cv``): the job holds every run
    once in float32 (``4 V`` per volume and repeat; the training runs are z-scored story by
    story into one array, each freed once copied, the test repeats in place), and on top of
    that the largest of, in turn:

    - loading: one story's z-scoring in float64 and its copy (``32 n V`` for the longest
      story's ``n`` volumes);
    - fitting, beside the design (``4 N p``): the basis (the centred design, the float64
      Gram matrix, its eigenvectors and LAPACK's workspace: ``4 N p + 36 m^2``), or the fit
      of the batches: what it keeps (the eigenbasis ``Z`` and the test rows in it, every
      fold's inverses, the float64 test prediction: ``4 N m + 4 T m + s A sum n_f^2 + 8 T V``,
      ``s`` = 4 bytes, 8 when ``p > N``) and one batch (the centred responses, their
      projection, the stacked validation rows and their product, three residual-sized
      temporaries: ``4 A n_v m + 4 B (N + m + A n_v) + 3 s B n_v``); or the scoring (the
      float64 prediction, mean test response, a repeat, and the centred copies and products
      of the correlations: ``56 T V``).

    A job of several spaces also keeps the previous space's prediction (``8 T V``). The
    request is that sum and :data:`ENCODING_HEADROOM` more, for what it leaves out (the
    allocator's fragmentation, small arrays, the BLAS threads' buffers); bench/rehearsal.py
    compares it with a full-size job's peak.
    """
    v = max(r[2] for r in runs.values())
    n = sum(r[1] for s, r in runs.items() if s not in test_stories)
    t = sum(r[1] for s, r in runs.items() if s in test_stories)
    held = 4 * v * sum(r[0] * r[1] for r in runs.values())
    loading = 32 * max(r[1] for r in runs.values()) * v
    b = min(n_targets_batch or v, v)
    p, m = columns, min(n, columns)
    folds = fold_rows or [-(-n // 5)] * 5
    nv, a = max(folds), n_alphas
    s = 4 if p <= n else 8
    basis = 4 * n * p + 36 * m * m
    kept = 4 * n * m + 4 * t * m + s * a * sum(f * f for f in folds) + 8 * t * v
    batch = 4 * a * nv * m + 4 * b * (n + m + a * nv) + 3 * s * b * nv
    scoring = 56 * t * v
    fitting = 4 * n * p + max(basis, kept + batch, scoring) + (8 * t * v if n_spaces > 1 else 0)
    return int((1 + ENCODING_HEADROOM) * (ENCODING_BASE_MB + (held + max(loading, fitting)) / 1e6))


def encoding_job_mem_mb(job: dict, models: dict, joint: bool = False) -> int:
    """:func:`encoding_mem_mb` of an encoding job (``lre.jobs.encoding_job``; ``models``: the
    config's ``features.models``): the runs' shapes from the dataset's file headers, the
    widest space's dims (1,024 where the family cannot tell before extracting) times the
    delays; :data:`ENCODING_UNKNOWN_MB` while the dataset's files do not exist yet. With
    ``joint``, a partitioning job (``lre.jobs.partition_job``): its design is the baseline's
    spaces side by side with the widest tested space."""
    from .datasets import run_shapes
    from .features import model_dims, model_of

    d = job["dataset"]
    runs = run_shapes(d, job["subject"])
    if runs is None:
        return ENCODING_UNKNOWN_MB
    from .encoding.models import story_folds

    def width(s):
        return model_dims(model_of(s), models).get(s[len(model_of(s)) + 1 :]) or 1024

    widths = [width(s) for s in job["spaces"]]
    if joint:
        widths = [max(widths) + sum(width(s) for s in job["partition"]["baseline"])]
    e = job["encoding"]
    lengths = [runs[s][1] for s in d["train_stories"] if s in runs]
    folds = [len(va) for _, va in story_folds(lengths, e["cv_chunk"], e["cv_folds"])] if lengths else None
    return encoding_mem_mb(
        runs,
        d["test_stories"],
        max(widths) * len(e["delays"]),
        job["runtime"]["n_targets_batch"],
        len(job["spaces"]),
        len(e["alphas"]),
        folds,
    )
