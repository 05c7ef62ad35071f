"""``precomputed``: features made elsewhere, at the words or at the fMRI volumes (family ``precomputed``).

A lab's own features (another model, a hand-annotated feature set, a lab's parser) enter lre
as one space, ``<model>.<output>``, and take part in the transfer maps, the embedding, the
encoding and the brain link like any other. The entry names where they are (``path``), their
width (``dim``) and optionally the output's name (``output``, default ``vec``).

``path`` is either

- a template with ``{set}`` and ``{document}``: one file per document, ``{set}`` being
  ``corpus`` (the transfer corpus) or ``stories`` (the stories), ``{document}`` the
  document's name as lre's documents file gives it (a story's name for the stories). Each
  file is ``.h5`` / ``.hdf5`` / ``.hf5`` with a dataset ``features``, or ``.npz`` with an array
  ``features``, of shape ``(n_words, dim)``, and optionally ``words`` (the words, to align
  on); or
- one ``.h5`` / ``.hdf5`` / ``.hf5`` / ``.npz`` file with one array per document named
  ``<set>/<document>`` (and optionally ``<set>/<document>.words``).

What is read is checked against lre's documents: every document present, one row per word
(and the same words, case-insensitively, when the file gives them), rank 2, ``dim`` columns,
real values finite in float32 (no NaN or infinity, nothing beyond float32's range), no
extreme outlier row (a sentinel for a missing value), and only what the file itself stores
(no external link, virtual dataset or object array: :mod:`lre.datafiles`). Each failure is an
error naming the file, the document and the row or both counts.

With ``level: volume`` the features are already at the fMRI volumes (an audio envelope,
motion energy, a model's features downsampled elsewhere): one array per story of shape
``(n_volumes, dim)``, one row per volume of the story's responses as lre loads them (after
the dataset's trimming), which skips the resampling. ``path`` is a template with
``{story}`` (a file per story, array ``features``), or one file with one array per story
named by the story. Such a space is encoded (and may be a partition baseline) but takes no
part in transfer and the embedding, which work on words: it has no corpus features, no
place in the embedding and so no brain link. The features job checks each story's presence,
rank, width and values; the encoding job checks its number of rows against the subject's
volumes (:func:`check_volumes`).
"""

from __future__ import annotations

import glob
import os

import numpy as np

from ..datafiles import check_outlier_rows, h5_array, npz_array, real_float32
from ..errors import ConfigError, InputError
from . import model_field

KEYS = ("path", "dim", "output", "level")
LEVELS = ("word", "volume")
H5_SUFFIXES = (".h5", ".hdf5", ".hf5")
SUFFIXES = H5_SUFFIXES + (".npz",)


def outputs(name: str, entry: dict, models: dict) -> list[str]:
    return [entry.get("output", "vec")]


def dims(name: str, entry: dict, models: dict) -> dict[str, int | None]:
    return {outputs(name, entry, models)[0]: int(entry["dim"])}


def level(entry: dict) -> str:
    """``word`` (one row per word of each document) or ``volume`` (one row per fMRI volume of each story)."""
    return entry.get("level", "word")


def is_template(path: str) -> bool:
    return "{set}" in path or "{document}" in path or "{story}" in path


def check(name: str, entry: dict, models: dict) -> None:
    """Refuse a path that cannot name the documents, a missing single file, a wrong suffix."""
    field = model_field(name, "path")
    path = entry.get("path")
    if not path:
        raise ConfigError(field, "a precomputed model needs the path of its features.", fix="set path (docs: README).")
    out = entry.get("output", "vec")
    if not out or "." in out or "/" in out:
        raise ConfigError(
            model_field(name, "output"), f"{out!r} is not a valid output name.", fix="use a name without '.' or '/'."
        )
    if level(entry) not in LEVELS:
        raise ConfigError(
            model_field(name, "level"), f"{level(entry)!r} is not a level.", fix=f"use one of {list(LEVELS)}."
        )
    if level(entry) == "volume":
        if "{set}" in path or "{document}" in path:
            raise ConfigError(
                field,
                f"{path!r} names {{set}} or {{document}}, but volume-level features exist for the stories "
                "only, one array per story.",
                fix="use {story} (e.g. features/{story}.npz), or one file holding an array per story.",
            )
    elif "{story}" in path:
        raise ConfigError(
            field,
            f"{path!r} names {{story}}, but word-level features need the corpus too.",
            fix="use {set} and {document} (e.g. features/{set}/{document}.h5), or set level: volume "
            "for features at the fMRI volumes.",
        )
    elif is_template(path) and not ("{set}" in path and "{document}" in path):
        raise ConfigError(
            field,
            f"{path!r} names one of {{set}} and {{document}} but not both; a file per document needs both.",
            fix="use e.g. features/{set}/{document}.h5, or one file holding every document.",
        )
    if not path.endswith(SUFFIXES):
        raise ConfigError(field, f"{path!r} is neither HDF5 nor NPZ.", fix=f"use a file ending in one of {SUFFIXES}.")
    if not is_template(path) and not os.path.isfile(path):
        raise InputError(path, "does not exist.", fix=f"write the features there, or point {field} at them.")


def input_files(entry: dict, part: str) -> list[str]:
    """The files a job on ``part`` (corpus or stories) reads, as far as they can be known
    before the documents exist: the single file, or the per-document files present."""
    path = entry["path"]
    if not is_template(path):
        return [path]
    if level(entry) == "volume":
        return sorted(glob.glob(path.replace("{story}", "*"))) if part == "stories" else []
    return sorted(glob.glob(path.replace("{set}", part).replace("{document}", "*")))


def _read(path: str, key: str, words_key: str | None):
    """``(features, words or None)`` from one file, or None when it lacks ``key``; only what
    is stored in the file itself (:mod:`lre.datafiles`)."""
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:
            if key not in z.files:
                return None
            words = npz_array(z, words_key, path) if words_key is not None and words_key in z.files else None
            return npz_array(z, key, path), None if words is None else [str(w) for w in words]
    import h5py

    with h5py.File(path, "r") as f:
        if key not in f:
            return None
        words = h5_array(f, words_key, path) if words_key is not None and words_key in f else None
        if words is not None:
            words = [w.decode() if isinstance(w, bytes) else str(w) for w in words]
        return np.asarray(h5_array(f, key, path)), words


def _read_checked(path: str, file: str, key: str, words_key: str | None, what: str, file_fix: str, naming: str):
    """``_read`` of one document's or story's array, refusing a missing file (a ``path``
    template's), an unreadable one and a missing array, each naming ``what`` it should hold."""
    if is_template(path) and not os.path.isfile(file):
        raise InputError(file, f"does not exist: {what}.", fix=file_fix)
    try:
        got = _read(file, key, words_key)
    except InputError:  # what the file holds, said by lre.datafiles
        raise
    except (OSError, ValueError) as err:
        raise InputError(file, "cannot be read as HDF5 or NPZ.", fix="write it with h5py or numpy.savez.") from err
    if got is None:
        raise InputError(
            file, f"has no array {key!r}: {what}.", fix="add it" + (f" ({naming})." if key != "features" else ".")
        )
    return got


def _check_array(a: np.ndarray, file: str, where: str, name: str, dim: int, rows: str) -> None:
    """Rank 2, ``dim`` columns (values: :func:`_checked_values`)."""
    if a.ndim != 2:
        raise InputError(
            file,
            f"{where} has rank {a.ndim} (shape {a.shape}); features are ({rows}, dims), rank 2.",
            fix=f"store one row per {rows[:-1]}.",
        )
    if a.shape[1] != dim:
        raise InputError(
            file,
            f"{where} has {a.shape[1]} columns; {model_field(name, 'dim')} says {dim}.",
            fix=f"set dim: {a.shape[1]}, or write {dim} columns.",
        )


def _checked_values(a: np.ndarray, file: str, where: str, row_name) -> np.ndarray:
    """``a`` as float32, real, finite after the cast and without an extreme outlier row
    (:mod:`lre.datafiles`), each refusal naming the row."""
    out = real_float32(a, file, where, row_name)
    check_outlier_rows(out, file, where, row_name)
    return out


def read_story_volumes(entry: dict, name: str, story: str) -> tuple[np.ndarray, str]:
    """One story's volume-level features (``level: volume``), checked for presence, rank,
    width and values; returns ``(array float32 (n_volumes, dim), file)``. The number of rows
    is checked against a subject's volumes by :func:`check_volumes`."""
    path, dim = entry["path"], int(entry["dim"])
    file, key = (path.replace("{story}", story), "features") if is_template(path) else (path, story)
    a, _ = _read_checked(
        path,
        file,
        key,
        None,
        f"model {name}'s volume-level features of story {story}",
        file_fix=f"write one file per story at {path}, one row per fMRI volume.",
        naming="one array per story, named by the story",
    )
    where = f"story {story} ({key})"
    _check_array(a, file, where, name, dim, "volumes")
    return _checked_values(a, file, where, lambda row: f"volume {row}"), file


def check_volumes(features: np.ndarray, file: str, story: str, subject: str, n_volumes: int, source: str) -> None:
    """Volume-level features have one row per volume of the subject's responses to the story."""
    if features.shape[0] != n_volumes:
        raise InputError(
            file,
            f"story {story} has {features.shape[0]} rows of volume-level features, but {subject}'s responses to it "
            f"have {n_volumes} volumes ({source}, as lre loads them, after the dataset's trimming).",
            fix="write one row per volume of the responses as loaded (trim the features as the dataset's loader "
            "trims the responses), or use word-level features (level: word), which lre resamples.",
        )


def read_document(entry: dict, name: str, set_: str, doc: str, words: list[str]) -> tuple[np.ndarray, str]:
    """One document's features, checked against its words; returns ``(array float32, file)``."""
    path = entry["path"]
    dim = int(entry["dim"])
    if is_template(path):
        file, key, words_key = path.replace("{set}", set_).replace("{document}", doc), "features", "words"
    else:
        file, key, words_key = path, f"{set_}/{doc}", f"{set_}/{doc}.words"
    a, file_words = _read_checked(
        path,
        file,
        key,
        words_key,
        f"model {name}'s features of document {set_}/{doc} ({len(words)} words)",
        file_fix=f"write one file per document at {path}, {{set}} being corpus or stories.",
        naming="one array per document, named <set>/<document>",
    )
    where = f"document {set_}/{doc} ({key})"
    _check_array(a, file, where, name, dim, "words")
    if a.shape[0] != len(words):
        raise InputError(
            file,
            f"{where} has {a.shape[0]} rows but the document has {len(words)} words.",
            fix="make one row per word of lre's documents (lre.results or the documents file list them).",
        )
    a = _checked_values(a, file, where, lambda row: f"word {words[row]!r}")
    if file_words is not None:
        if len(file_words) != len(words):
            raise InputError(
                file,
                f"{where}: its words list has {len(file_words)} words but the document has {len(words)}.",
                fix="store the document's words, one per row.",
            )
        for i, (w, v) in enumerate(zip(file_words, words)):
            if w.lower() != v.lower():
                raise InputError(
                    file,
                    f"{where}: word {i} is {w!r} in the file but {v!r} in the document; the rows are "
                    "not aligned to lre's words.",
                    fix="make the features from lre's documents' words (the same tokenisation).",
                )
    return a, file


def extract_stream(name: str, entry: dict, docs: list[list[str]], settings: dict, inputs: dict):
    """Per document, ``{output: (n_words, dim) float32}``; ``info`` records the files' hashes."""
    from .. import io

    names = inputs["documents"]
    out = outputs(name, entry, {})[0]
    files: dict[str, str] = {}
    story_files: dict[str, str] = {}
    info = {"path": entry["path"], "dim": int(entry["dim"]), "level": level(entry), "files_sha256": files}
    if level(entry) == "volume":
        corpus = [doc for set_, doc in names if set_ != "stories"]
        if corpus:
            raise ConfigError(
                model_field(name, "level"),
                f"volume-level features exist for the stories only, but this job reads {len(corpus)} corpus "
                "documents (transfer needs word-level features).",
                fix="leave the space out of transfer (lre does so for volume-level spaces).",
            )
        info["story_files"] = story_files

    def stream():
        for (set_, doc), words in zip(names, docs):
            if level(entry) == "volume":
                a, file = read_story_volumes(entry, name, doc)
                story_files[doc] = file
            else:
                a, file = read_document(entry, name, set_, doc, words)
            if file not in files:
                files[file] = io.file_sha256(file)
            yield {out: a}

    return stream(), info


def extract(name: str, entry: dict, docs: list[list[str]], settings: dict, inputs: dict):
    """Every document's features at once (:func:`extract_stream`, materialised)."""
    per_doc, info = extract_stream(name, entry, docs, settings, inputs)
    out = outputs(name, entry, {})[0]
    return {out: [d[out] for d in per_doc]}, info
