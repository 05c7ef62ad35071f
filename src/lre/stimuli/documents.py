"""The documents every feature space is computed on: the transfer corpus and the stories.

The ``stimuli`` stage reads the stories through the configured readers, the ``corpus``
stage the corpus text; each writes one HDF5 file of the same layout, holding its own set
(the corpus side lives apart so that several datasets can share it)::

    /corpus/<doc>/words                      utf-8 strings
    /stories/<story>/words, onsets, offsets  words and their times (s from sound start)
    /stories/<story>/tr_times                volume acquisition times (s from sound start)
    attrs: provenance (JSON)

Features are computed per document, so context never crosses a document boundary.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import io, provenance
from ..errors import InputError
from . import readers

log = logging.getLogger(__name__)


@dataclass
class Documents:
    corpus: dict[str, list[str]] = field(default_factory=dict)
    stories: dict[str, readers.Story] = field(default_factory=dict)

    def items(self):
        """``(set, name, words)`` for every document, corpus first, in stored order."""
        for name, words in self.corpus.items():
            yield "corpus", name, words
        for name, story in self.stories.items():
            yield "stories", name, story.words.words

    def n_words(self) -> dict[str, int]:
        return {
            "corpus": sum(len(w) for w in self.corpus.values()),
            "stories": sum(len(s.words) for s in self.stories.values()),
        }


#: the transfer split needs a test document and at least two training folds
MIN_CORPUS_DOCUMENTS = 3


def read_corpus(path, max_words: int | None = None, encoding: str = "auto") -> dict[str, list[str]]:
    """One document per non-empty line of a text file (UTF-8 unless ``encoding`` says
    otherwise), split into words."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "does not exist.", fix="set corpus.path to a text file with one document per line.")
    docs: dict[str, list[str]] = {}
    total = 0
    text = readers.decode_text(path, path.read_bytes(), encoding, field="corpus.encoding")
    lines = [ln for ln in text.splitlines() if ln.strip()]
    width = max(4, len(str(len(lines))))
    for k, line in enumerate(lines):
        if max_words is not None and total >= max_words:
            break
        words = readers.text_to_words(line)
        if words:
            docs[f"doc{k:0{width}d}"] = words
            total += len(words)
    if not docs:
        raise InputError(path, "contains no words.", fix="the corpus needs at least one line of text.")
    if len(docs) < MIN_CORPUS_DOCUMENTS:
        n = sum(len(w) for w in docs.values())
        raise InputError(
            path,
            f"holds {len(docs)} line(s) of text ({n} words), but each line of the corpus is one document, and the "
            f"transfer maps split whole documents into a test set and cross-validation folds (at least "
            f"{MIN_CORPUS_DOCUMENTS} documents).",
            fix="put each document (an article, a chapter, a story) on a line of its own.",
        )
    return docs


def read_story(name: str, st: dict) -> readers.Story:
    """Read one story's words and volume times as the ``stimuli`` config says."""
    path = st["path"].format(story=name)
    kw = dict(drop=st["drop_tokens"], drop_bracketed=st["drop_bracketed"])
    if st["format"] == "textgrid":
        words = readers.read_textgrid(path, tier=st["word_tier"], encoding=st["encoding"], **kw)
    elif st["format"] == "gentle":
        words = readers.read_gentle(path, encoding=st["encoding"], **kw)
    else:
        words = readers.read_tsv(path, encoding=st["encoding"], **kw)
    if len(words) == 0:
        raise InputError(
            path,
            f"story {name!r} has no words after dropping non-word tokens.",
            fix="check stimuli.word_tier and stimuli.drop_tokens.",
        )
    trt = st["tr_times"]
    if trt["source"] == "file":
        tr_times, tr = readers.read_trfile(trt["path"].format(story=name))
    elif trt["source"] == "respdict":  # the HuthLab convention: respdict[story] volumes every tr from start
        tr = float(trt["tr"])
        counts = readers.read_respdict(trt["path"])
        if name not in counts:
            raise InputError(
                trt["path"],
                f"has no entry for story {name!r}.",
                fix="check stimuli.stories against the dataset's respdict.json.",
            )
        tr_times = readers.simulated_tr_times(int(counts[name]), tr, float(trt["start"]))
    else:
        tr, start = float(trt["tr"]), float(trt["start"])
        # a story without n_trs (a bids dataset gives its runs' volume times itself): enough volumes for its words
        n = trt["n_trs"].get(name) or int(np.ceil((words.offsets[-1] - start) / tr)) + 1
        tr_times = readers.simulated_tr_times(int(n), tr, start)
    if words.offsets[-1] > tr_times[-1] + tr:
        raise InputError(
            path,
            f"story {name!r} ends at {words.offsets[-1]:.1f} s but its last volume is at {tr_times[-1]:.1f} s.",
            fix="check that the TR file belongs to this story.",
        )
    spoken = float(words.offsets[-1] - words.onsets[0])
    scanned = float(tr_times[-1] + tr - tr_times[0])
    if spoken < st["min_coverage"] * scanned:
        raise InputError(
            path,
            f"story {name!r}: its words span {spoken:.1f} s of a {scanned:.1f} s scan "
            f"({100 * spoken / scanned:.0f} %, below stimuli.min_coverage = {100 * st['min_coverage']:.0f} %), so "
            "most volumes would see no words.",
            fix="check that the word timings and the TR file belong to this story (and the word tier), or lower "
            "stimuli.min_coverage.",
        )
    for note in words.notes:
        log.warning("story %s: %s", name, note)
    return readers.Story(name, words, tr_times, tr)


def input_files(job: dict) -> list[str]:
    """The files a documents job (:func:`lre.jobs.stimuli_job` or :func:`lre.jobs.corpus_job`)
    reads: each story's timings and TR file and the respdict, or the corpus (their content
    hashes go into the documents file's provenance)."""
    files = []
    if "stimuli" in job:
        st = job["stimuli"]
        files = [st["path"].format(story=s) for s in st["stories"]]
        trt = st["tr_times"]
        if trt["source"] == "file":
            files += [trt["path"].format(story=s) for s in st["stories"]]
        elif trt["source"] == "respdict":
            files.append(trt["path"])
    if "corpus" in job:
        files.append(job["corpus"]["path"])
    return [f for f in dict.fromkeys(files) if Path(f).exists()]


def build(job: dict) -> Documents:
    """Read the stories (a ``stimuli`` job) or the corpus (a ``corpus`` job)."""
    docs = Documents()
    if "stimuli" in job:
        st = job["stimuli"]
        docs.stories = {name: read_story(name, st) for name in st["stories"]}
    if "corpus" in job:
        c = job["corpus"]
        docs.corpus = read_corpus(c["path"], c["max_words"], c["encoding"])
    return docs


def write(path, docs: Documents, record: dict) -> None:
    """Write the documents file; ``record`` is its provenance (:func:`lre.io.provenance`)."""
    with io.h5_atomic(path) as f:
        io.h5_set_json(f, "provenance", record)
        g = f.create_group("corpus", track_order=True)
        for name, words in docs.corpus.items():
            io.h5_write_strings(g.create_group(name), "words", words)
        g = f.create_group("stories", track_order=True)
        for name, story in docs.stories.items():
            s = g.create_group(name)
            io.h5_write_strings(s, "words", story.words.words)
            s["onsets"] = story.words.onsets
            s["offsets"] = story.words.offsets
            s["tr_times"] = np.asarray(story.tr_times, dtype=np.float64)
            s.attrs["tr"] = float(story.tr)
            s.attrs["source"] = story.words.source or ""


def read_provenance(path) -> dict | None:
    """The provenance record of a documents file (None when it has none)."""
    with io.h5_open(path) as f:
        return provenance.h5_provenance(f)


def longest(path) -> int | None:
    """Words in the longest document of a documents file (None when it does not exist yet:
    a job's memory is sized before the stimuli stage has run in a dry run)."""
    path = Path(path)
    if not path.exists():
        return None
    with io.h5_open(path) as f:
        return max(
            (len(g["words"]) for set_ in ("corpus", "stories") if set_ in f for g in f[set_].values()), default=0
        )


def read(path) -> Documents:
    path = Path(path)
    if not path.exists():
        raise InputError(path, "does not exist.", fix="run the stimuli stage first (snakemake ... stimuli).")
    docs = Documents()
    with io.h5_open(path) as f:
        provenance.expect_kind(path, provenance.h5_provenance(f), ("stimuli", "corpus"), "documents file")
        for name, g in f.get("corpus", {}).items():
            docs.corpus[name] = io.h5_read_strings(g["words"])
        for name, g in f.get("stories", {}).items():
            words = readers.WordTimes(
                io.h5_read_strings(g["words"]), g["onsets"][()], g["offsets"][()], source=g.attrs.get("source") or None
            )
            docs.stories[name] = readers.Story(name, words, g["tr_times"][()], float(g.attrs["tr"]))
    return docs


def corpus_overlap(stories: dict[str, list[str]], corpus: dict[str, list[str]], n: int = 8) -> dict[str, tuple]:
    """For each story, the share of its word ``n``-grams (lower case) that the corpus holds, and
    the corpus document holding most of them: ``{story: (share, document or None)}``. A story
    copied into the transfer corpus shares nearly all of them; two texts that merely share
    phrases, few."""
    found: dict[tuple, str] = {}
    for doc, words in corpus.items():
        low = [w.lower() for w in words]
        for i in range(len(low) - n + 1):
            found.setdefault(tuple(low[i : i + n]), doc)
    out = {}
    for story, words in stories.items():
        low = [w.lower() for w in words]
        grams = [tuple(low[i : i + n]) for i in range(len(low) - n + 1)]
        docs = [found[g] for g in grams if g in found]
        share = len(docs) / len(grams) if grams else 0.0
        out[story] = (share, max(set(docs), key=docs.count) if docs else None)
    return out
