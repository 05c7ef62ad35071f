"""Feature files: one HDF5 file per model, holding all of its spaces.

Layout::

    attrs: provenance (JSON), model, family, spaces (JSON list of space names)
    /docs/<set>/<doc>/words          the words, 1:1 with the rows of every matrix
    /docs/stories/<story>/times      word times (s from sound start; midpoints)
    /spaces/<space>/<set>/<doc>      float32 (n_words, dim); with attrs level = volume
                                     (precomputed volume-level features) (n_volumes, dim), stories only

``<set>`` is ``corpus`` (the transfer corpus) or ``stories`` (the fMRI stimuli). A model has
one file per set: the corpus' under the corpus root (shared by datasets), the stories' under
the results folder; the other set's groups are there and empty.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import io, provenance
from ..errors import InputError
from ..stimuli.documents import Documents

SETS = ("corpus", "stories")


#: the rows of a feature file's arrays: one per word (every family), or one per fMRI volume
WORD, VOLUME = "word", "volume"


def write(path, model: str, family: str, docs: Documents, feats: dict[str, list[np.ndarray]], provenance: dict) -> None:
    """Write one model's spaces. ``feats`` maps space name -> one array per document of ``docs``."""
    per_doc = ({space: arrays[k] for space, arrays in feats.items()} for k in range(len(list(docs.items()))))
    write_stream(path, model, family, docs, list(feats), per_doc, lambda: provenance)


def write_stream(
    path, model: str, family: str, docs: Documents, spaces: list[str], per_doc, provenance, level: str = WORD
) -> None:
    """Write one model's spaces document by document, as ``per_doc`` yields them.

    Parameters
    ----------
    docs : the documents, in the order ``per_doc`` follows
    spaces : the space names, in order
    per_doc : iterable giving, per document, ``{space: float32 (n_words, dim)}``
    provenance : a function returning the provenance record, called after the last document
        (so it can hold what the extraction learnt on the way)
    level : ``word`` (a row per word) or ``volume`` (a row per fMRI volume of each story)
    """
    items = list(docs.items())
    with io.h5_atomic(path) as f:
        f.attrs["model"] = model
        f.attrs["family"] = family
        f.attrs["level"] = level
        io.h5_set_json(f, "spaces", list(spaces))
        dg = f.create_group("docs", track_order=True)
        for set_ in SETS:
            dg.create_group(set_, track_order=True)
        for set_, name, words in items:
            g = dg[set_].create_group(name)
            io.h5_write_strings(g, "words", words)
            if set_ == "stories":
                g["times"] = docs.stories[name].words.times
        sg = f.create_group("spaces", track_order=True)
        groups = {space: sg.create_group(space, track_order=True) for space in spaces}
        for space in spaces:
            for set_ in SETS:
                groups[space].create_group(set_, track_order=True)
        n = 0
        for (set_, name, _), arrays in zip(items, per_doc):
            for space in spaces:
                data = np.ascontiguousarray(arrays[space], dtype=np.float32)
                groups[space][set_].create_dataset(name, data=data)
            n += 1
        if n != len(items):
            raise ValueError(f"{path}: {n} documents of features for {len(items)} documents")
        io.h5_set_json(f, "provenance", provenance())


class FeatureFile:
    """Read access to a feature file (opened per call, so it is safe to keep around)."""

    def __init__(self, path, expect: dict | None = None):
        """``expect``: the features job the file must record (see :mod:`lre.provenance`)."""
        self.path = Path(path)
        if not self.path.exists():
            raise InputError(self.path, "does not exist.", fix="run the features stage for this model first.")
        with self._open() as f:
            provenance.expect_kind(self.path, provenance.h5_provenance(f), "features", "feature file")
            if "spaces" not in f.attrs or "spaces" not in f:
                raise InputError(
                    self.path,
                    "is not a feature file (it has no spaces).",
                    fix="pass a feature file of the features stage (results/features/{corpus,stories}/<model>.h5).",
                )
            self.provenance = io.h5_get_json(f, "provenance")
            self.spaces = io.h5_get_json(f, "spaces")
            self.model = str(f.attrs["model"])
            self.family = str(f.attrs["family"])
            self.level = str(f.attrs.get("level", WORD))
        provenance.check(self.path, self.provenance, expect, "feature file")

    def _open(self):
        return io.h5_open(self.path)

    def _check_space(self, space: str) -> None:
        if space not in self.spaces:
            raise InputError(
                self.path,
                f"has no space {space!r}; it holds {self.spaces}.",
                fix="re-run the features stage with the current config.",
            )

    def sets(self) -> list[str]:
        """The sets of documents this file holds features of (``corpus``, ``stories``)."""
        with self._open() as f:
            return [set_ for set_ in SETS if len(f["docs"].get(set_, {}))]

    def _check_set(self, f, set_: str) -> None:
        if not len(f["docs"].get(set_, {})):
            other = "corpus" if set_ == "stories" else "stories"
            raise InputError(
                self.path,
                f"holds no {set_} documents (it holds the {other} features of {self.model}).",
                fix=f"pass the file of the {set_} features (features/{set_}/{self.model}.h5).",
            )

    def load(self, space: str, set_: str) -> dict[str, np.ndarray]:
        """``{doc: float32 (n_words, dim)}`` for one space and one set, in stored order."""
        self._check_space(space)
        with self._open() as f:
            self._check_set(f, set_)
            return {name: ds[()] for name, ds in f["spaces"][space][set_].items()}

    def words(self, set_: str) -> dict[str, list[str]]:
        with self._open() as f:
            self._check_set(f, set_)
            return {name: io.h5_read_strings(g["words"]) for name, g in f["docs"][set_].items()}

    def times(self) -> dict[str, np.ndarray]:
        """Word times of every story."""
        with self._open() as f:
            self._check_set(f, "stories")
            return {name: g["times"][()] for name, g in f["docs"]["stories"].items()}


def summary_rows(paths) -> list[dict]:
    """One row per space of the given feature files (a model's corpus and stories files
    make one row): sizes, dims and where it came from."""
    rows: dict[str, dict] = {}
    for path in paths:
        ff = FeatureFile(path)
        info = ff.provenance.get("model_info", {})
        arch = info.get("architecture") or {}
        source = (
            info.get("source")
            or arch.get("source")
            or (f"random {arch['inline']['model_type']}" if "inline" in arch else "")
            or info.get("of")
            or ""
        )
        part = ff.provenance.get("job", {}).get("part", "")
        with ff._open() as f:
            n_words = {set_: sum(g["words"].shape[0] for g in f["docs"][set_].values()) for set_ in SETS}
            for space in ff.spaces:
                first = next(ds for set_ in SETS for ds in f["spaces"][space][set_].values())
                row = rows.setdefault(
                    space,
                    {
                        "space": space,
                        "model": ff.model,
                        "family": ff.family,
                        "dim": int(first.shape[1]),
                        "corpus_words": 0,
                        "story_words": 0,
                        "source": source,
                        "corpus_config_hash": "",
                        "stories_config_hash": "",
                    },
                )
                row["corpus_words"] += n_words["corpus"]
                row["story_words"] += n_words["stories"]
                if part in SETS:
                    row[f"{part}_config_hash"] = ff.provenance["config_hash"]
    return list(rows.values())


def write_summary(paths, out_csv) -> None:
    """The table of all spaces (CSV), as shown in the report."""
    import csv
    import io as _io

    rows = summary_rows(paths)
    buf = _io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    io.write_text(out_csv, buf.getvalue())
