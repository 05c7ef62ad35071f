"""Stimuli: words with times, and the readers for the formats real datasets use.

A *story* is a list of words, each with an onset and offset in seconds (relative to the
start of the sound), plus the acquisition times of the fMRI volumes of its run. A word's
time is the midpoint of its interval. Non-words (silences, noises, bracketed tokens) are
dropped by a configurable list.

Readers
-------
- Praat TextGrid, long and short text formats, UTF-8 or UTF-16 (with or without BOM),
  interval tiers picked by name (:func:`read_textgrid`).
- Gentle ``align.json``; words that Gentle could not align get interpolated times and are
  counted (:func:`read_gentle`).
- Tab-separated ``word, onset, offset`` with a header (:func:`read_tsv`).
- TR files: ``time label`` lines; ``trigger``/``init-trigger`` lines are volume times and an
  optional ``sound-start`` line sets time zero (:func:`read_trfile`), as in the HuthLab
  ``TRFile`` convention; or simulated from ``n_trs, tr, start`` (:func:`simulated_tr_times`).

Every malformed input raises :class:`lre.errors.InputError` naming the file, the line and
the problem.
"""

from __future__ import annotations

import json
import logging
import math
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError

log = logging.getLogger(__name__)

#: Tokens that are not words (compared case-insensitively, after stripping whitespace).
DEFAULT_DROP = (
    "",
    "sp",
    "sil",
    "sentence_start",
    "sentence_end",
    "{lg}",
    "{ns}",
    "{br}",
    "{sl}",
    "{cg}",
    "{ls}",
    "{ig}",
    "{sp}",
    "{breath}",
    "{noise}",
    "{laugh}",
    "<unk>",
    "<sil>",
)

_BRACKETED = re.compile(r"^(\{.*\}|<.*>|\[.*\])$")


@dataclass
class WordTimes:
    """Words with onset/offset times in seconds. ``notes`` records what a reader repaired."""

    words: list[str]
    onsets: np.ndarray
    offsets: np.ndarray
    source: str | None = None
    notes: list[str] = field(default_factory=list)

    def __post_init__(self):
        self.onsets = np.asarray(self.onsets, dtype=np.float64)
        self.offsets = np.asarray(self.offsets, dtype=np.float64)
        if not (len(self.words) == len(self.onsets) == len(self.offsets)):
            raise ValueError("words, onsets and offsets must have the same length")

    @property
    def times(self) -> np.ndarray:
        """Word times: the midpoint of each word's interval."""
        return (self.onsets + self.offsets) / 2.0

    def __len__(self) -> int:
        return len(self.words)


@dataclass
class Story:
    """One story of an fMRI experiment: its words and the volume times of its run."""

    name: str
    words: WordTimes
    tr_times: np.ndarray  #: acquisition times of the volumes, seconds from sound start
    tr: float


_DEFAULT_SET = frozenset(DEFAULT_DROP)


def is_nonword(label: str, drop: Iterable[str] = (), drop_bracketed: bool = True) -> bool:
    """Whether a label is not a word: empty, a default non-word (:data:`DEFAULT_DROP`, which
    always applies: silences and aligner markers are never words), one of ``drop`` (more,
    case-insensitive), or bracketed when ``drop_bracketed``."""
    token = label.strip().lower()
    if token in _DEFAULT_SET or token in {d.strip().lower() for d in drop}:
        return True
    return bool(drop_bracketed and _BRACKETED.match(token))


# --------------------------------------------------------------------------- text decoding


def decode_text(path, data: bytes, encoding: str = "auto", field: str = "stimuli.encoding") -> str:
    """Decode a text file: BOMs are honoured; BOM-less UTF-16 is recognised by its zero bytes.
    ``field`` is the config key that sets the encoding of this kind of file (for the fix)."""
    if encoding != "auto":
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError) as e:
            raise InputError(
                path,
                f"cannot be decoded as {encoding}: {e}.",
                fix=f"set the right `{field}` (auto, utf-8, utf-16, latin-1).",
            ) from None
    if data.startswith(b"\xef\xbb\xbf"):
        return _decode(path, data[3:], "utf-8", field)
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        return _decode(path, data, "utf-16", field)
    head = data[:4000]
    if len(head) >= 4:
        even_zeros = head[0::2].count(0) / max(1, len(head[0::2]))
        odd_zeros = head[1::2].count(0) / max(1, len(head[1::2]))
        if odd_zeros > 0.3 and even_zeros < 0.05:
            return _decode(path, data, "utf-16-le", field)
        if even_zeros > 0.3 and odd_zeros < 0.05:
            return _decode(path, data, "utf-16-be", field)
    return _decode(path, data, "utf-8", field)


def _decode(path, data: bytes, enc: str, field: str = "stimuli.encoding") -> str:
    try:
        return data.decode(enc)
    except UnicodeDecodeError as e:
        line = data[: e.start].count(b"\n") + 1
        raise InputError(
            path,
            f"is not valid {enc} (byte {e.start}).",
            line=line,
            fix=f"save it as UTF-8 or UTF-16, or set `{field}` to its encoding (e.g. latin-1).",
        ) from None


# --------------------------------------------------------------------------- TextGrid


@dataclass
class Interval:
    xmin: float
    xmax: float
    text: str
    line: int = 0


@dataclass
class Tier:
    name: str
    intervals: list[Interval]
    kind: str = "IntervalTier"


@dataclass
class _Tok:
    kind: str  # "num", "str", "flag"
    value: object
    line: int


_TOKEN = re.compile(r'"((?:[^"]|"")*)"|(\S+)', re.S)


def _praat_tokens(path, text: str) -> list[_Tok]:
    """Praat's free text format: numbers, quoted strings and <flags>; anything else is a label."""
    toks: list[_Tok] = []
    line = 1
    pos = 0
    comment_line = 0
    for m in _TOKEN.finditer(text):
        line += text.count("\n", pos, m.start())
        pos = m.start()
        if line == comment_line:
            continue
        if m.group(1) is not None:
            toks.append(_Tok("str", m.group(1).replace('""', '"'), line))
            continue
        word = m.group(2)
        if word.startswith('"'):
            raise InputError(
                path,
                "a quoted text is never closed.",
                line=line,
                fix='every label must be enclosed in double quotes ("...").',
            )
        if word.startswith("!"):  # comment to end of line
            comment_line = line
            continue
        if word in ("<exists>", "<absent>"):
            toks.append(_Tok("flag", word == "<exists>", line))
            continue
        try:
            toks.append(_Tok("num", float(word), line))
        except ValueError:
            continue  # a label such as `xmin`, `=`, `item`, `[1]:`
    return toks


class _Stream:
    def __init__(self, path, toks: list[_Tok]):
        self.path, self.toks, self.i = path, toks, 0

    def _next(self, kind: str, what: str) -> _Tok:
        if self.i >= len(self.toks):
            last = self.toks[-1].line if self.toks else 1
            raise InputError(
                self.path,
                f"ends early: expected {what}.",
                line=last,
                fix="the file is truncated; re-export it from Praat.",
            )
        tok = self.toks[self.i]
        self.i += 1
        if tok.kind != kind:
            raise InputError(
                self.path,
                f"expected {what} but found {tok.value!r}.",
                line=tok.line,
                fix="the TextGrid structure is broken; re-export it from Praat.",
            )
        return tok

    def num(self, what: str) -> tuple[float, int]:
        tok = self._next("num", what)
        return float(tok.value), tok.line

    def str(self, what: str) -> tuple[str, int]:
        tok = self._next("str", what)
        return str(tok.value), tok.line

    def count(self, what: str) -> int:
        value, line = self.num(what)
        if value < 0 or value != int(value):
            raise InputError(self.path, f"{what} must be a non-negative integer, got {value}.", line=line)
        return int(value)


def parse_textgrid(path, text: str) -> list[Tier]:
    """Parse the text of a TextGrid (long or short format) into tiers."""
    if not text.strip():
        raise InputError(path, "is empty.", fix="point the stimuli path at a real TextGrid.")
    s = _Stream(path, _praat_tokens(path, text))
    file_type, line = s.str('File type = "ooTextFile"')
    if file_type != "ooTextFile":
        raise InputError(
            path,
            f"File type is {file_type!r}, not 'ooTextFile'.",
            line=line,
            fix="save the TextGrid from Praat as a text file (long or short).",
        )
    obj, line = s.str('Object class = "TextGrid"')
    if obj != "TextGrid":
        raise InputError(
            path,
            f"Object class is {obj!r}, not 'TextGrid'.",
            line=line,
            fix="point the stimuli path at a TextGrid (in Praat: Save as text file).",
        )
    xmin, _ = s.num("the TextGrid xmin")
    xmax, line = s.num("the TextGrid xmax")
    if xmax < xmin:
        raise InputError(path, f"xmax {xmax} is before xmin {xmin}.", line=line)
    if s.i < len(s.toks) and s.toks[s.i].kind == "flag":
        exists = s.toks[s.i].value
        s.i += 1
        if not exists:
            return []
    n_tiers = s.count("the number of tiers")
    tiers = []
    for _ in range(n_tiers):
        kind, line = s.str('a tier class ("IntervalTier" or "TextTier")')
        name, _ = s.str("a tier name")
        t0, _ = s.num(f"xmin of tier {name!r}")
        t1, _ = s.num(f"xmax of tier {name!r}")
        n = s.count(f"the number of intervals of tier {name!r}")
        items = []
        if kind == "IntervalTier":
            for k in range(n):
                a, line = s.num(f"xmin of interval {k + 1} of tier {name!r}")
                b, _ = s.num(f"xmax of interval {k + 1} of tier {name!r}")
                label, _ = s.str(f"the text of interval {k + 1} of tier {name!r}")
                items.append(Interval(a, b, label, line))
        elif kind == "TextTier":
            for k in range(n):
                a, line = s.num(f"time of point {k + 1} of tier {name!r}")
                label, _ = s.str(f"the mark of point {k + 1} of tier {name!r}")
                items.append(Interval(a, a, label, line))
        else:
            raise InputError(
                path, f"unknown tier class {kind!r}.", line=line, fix='tiers must be "IntervalTier" or "TextTier".'
            )
        tiers.append(Tier(name, items, kind))
    return tiers


def read_textgrid(
    path,
    tier: str | Sequence[str] = "word",
    drop: Iterable[str] = (),
    drop_bracketed: bool = True,
    encoding: str = "auto",
) -> WordTimes:
    """Read the word tier of a Praat TextGrid.

    Parameters
    ----------
    path : TextGrid file (long or short text format; UTF-8 or UTF-16)
    tier : name of the word tier, or several accepted names (the first present is used)
    drop : non-word labels to drop (case-insensitive); empty labels are always dropped
    drop_bracketed : also drop labels in ``{}``, ``<>`` or ``[]``
    encoding : ``auto`` (BOM / zero-byte detection) or a codec name

    Returns
    -------
    WordTimes with one entry per kept interval.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "does not exist.", fix="check the stimuli path template in the config.")
    raw = path.read_bytes()
    if raw.startswith(b"ooBinaryFile"):
        raise InputError(path, "is a binary TextGrid.", fix="open it in Praat and save as a text file.")
    tiers = parse_textgrid(path, decode_text(path, raw, encoding))
    names = [tier] if isinstance(tier, str) else list(tier)
    chosen = next((t for n in names for t in tiers if t.name == n), None)
    if chosen is None:
        raise InputError(
            path,
            f"has no tier named {' or '.join(map(repr, names))}; tiers present: {[t.name for t in tiers]}.",
            fix="set `stimuli.word_tier` to the name of the word tier.",
        )
    same = [k + 1 for k, t in enumerate(tiers) if t.name == chosen.name]
    if len(same) > 1:
        raise InputError(
            path,
            f"has {len(same)} tiers named {chosen.name!r} (tiers {', '.join(map(str, same))}), so which one holds "
            "the words is unclear.",
            fix="rename all but the word tier in Praat (or remove the copies).",
        )
    if chosen.kind != "IntervalTier":
        raise InputError(
            path,
            f"tier {chosen.name!r} is a point tier; words need an interval tier.",
            fix="set `stimuli.word_tier` to an interval tier.",
        )
    return _intervals_to_words(path, chosen.intervals, drop, drop_bracketed)


def _intervals_to_words(path, intervals: list[Interval], drop, drop_bracketed) -> WordTimes:
    tol = 1e-6
    words, on, off = [], [], []
    prev_end = -math.inf
    for iv in intervals:
        if not (math.isfinite(iv.xmin) and math.isfinite(iv.xmax)):
            raise InputError(path, f"interval {iv.text!r} has a non-finite time.", line=iv.line)
        if iv.xmax < iv.xmin - tol:
            raise InputError(
                path,
                f"interval {iv.text!r} ends ({iv.xmax}) before it starts ({iv.xmin}).",
                line=iv.line,
                fix="intervals must have xmin <= xmax.",
            )
        if iv.xmin < prev_end - tol:
            raise InputError(
                path,
                f"interval {iv.text!r} starts at {iv.xmin}, before the previous "
                f"interval ends ({prev_end}): intervals overlap or are out of order.",
                line=iv.line,
                fix="sort the intervals by time and remove overlaps.",
            )
        prev_end = iv.xmax
        if is_nonword(iv.text, drop, drop_bracketed):
            continue
        words.append(iv.text.strip())
        on.append(iv.xmin)
        off.append(iv.xmax)
    return WordTimes(words, np.array(on), np.array(off), source=str(path))


def _praat_str(s: str) -> str:
    return '"' + s.replace('"', '""') + '"'


def _num(x: float) -> str:
    return repr(float(x)) if x != int(x) else str(int(x))


def format_textgrid(tiers: Sequence[Tier], xmin: float, xmax: float, fmt: str = "long") -> str:
    """Text of a TextGrid in Praat's long or short format."""
    if fmt not in ("long", "short"):
        raise ValueError(f"fmt must be 'long' or 'short', not {fmt!r}")
    out = ['File type = "ooTextFile"', 'Object class = "TextGrid"', ""]
    if fmt == "short":
        out += [_num(xmin), _num(xmax), "<exists>", str(len(tiers))]
        for t in tiers:
            out += [_praat_str(t.kind), _praat_str(t.name), _num(xmin), _num(xmax), str(len(t.intervals))]
            for iv in t.intervals:
                if t.kind == "IntervalTier":
                    out += [_num(iv.xmin), _num(iv.xmax), _praat_str(iv.text)]
                else:
                    out += [_num(iv.xmin), _praat_str(iv.text)]
        return "\n".join(out) + "\n"
    out += [f"xmin = {_num(xmin)} ", f"xmax = {_num(xmax)} ", "tiers? <exists> ", f"size = {len(tiers)} ", "item []: "]
    for i, t in enumerate(tiers, 1):
        out += [
            f"    item [{i}]:",
            f"        class = {_praat_str(t.kind)} ",
            f"        name = {_praat_str(t.name)} ",
            f"        xmin = {_num(xmin)} ",
            f"        xmax = {_num(xmax)} ",
        ]
        if t.kind == "IntervalTier":
            out.append(f"        intervals: size = {len(t.intervals)} ")
            for k, iv in enumerate(t.intervals, 1):
                out += [
                    f"        intervals [{k}]:",
                    f"            xmin = {_num(iv.xmin)} ",
                    f"            xmax = {_num(iv.xmax)} ",
                    f"            text = {_praat_str(iv.text)} ",
                ]
        else:
            out.append(f"        points: size = {len(t.intervals)} ")
            for k, iv in enumerate(t.intervals, 1):
                out += [
                    f"        points [{k}]:",
                    f"            number = {_num(iv.xmin)} ",
                    f"            mark = {_praat_str(iv.text)} ",
                ]
    return "\n".join(out) + "\n"


def write_textgrid(
    path, tiers: Sequence[Tier], xmin: float, xmax: float, fmt: str = "long", encoding: str = "utf-8"
) -> None:
    """Write a TextGrid (atomically). ``encoding='utf-16'`` writes a BOM, as Praat does."""
    from ..io import atomic_path

    with atomic_path(path) as tmp:
        tmp.write_bytes(format_textgrid(tiers, xmin, xmax, fmt).encode(encoding))


# --------------------------------------------------------------------------- Gentle


def read_gentle(path, drop: Iterable[str] = (), drop_bracketed: bool = True, encoding: str = "auto") -> WordTimes:
    """Read a Gentle ``align.json``.

    Words whose ``case`` is not ``"success"`` have no times; they get times interpolated
    evenly between their aligned neighbours (at the edges: the mean aligned word duration),
    and the count is reported in ``notes`` and the log.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "does not exist.", fix="check the stimuli path template in the config.")
    try:
        doc = json.loads(decode_text(path, path.read_bytes(), encoding))
    except json.JSONDecodeError as e:
        raise InputError(
            path,
            f"is not valid JSON: {e.msg}.",
            line=e.lineno,
            fix="pass the align.json written by Gentle (this one may be truncated).",
        ) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("words"), list):
        raise InputError(
            path, "has no 'words' list; is it a Gentle align.json?", fix="pass the align.json written by Gentle."
        )
    entries = []
    transcript = doc.get("transcript") if isinstance(doc.get("transcript"), str) else None
    last_offset = None
    for k, w in enumerate(doc["words"]):
        if not isinstance(w, dict) or not isinstance(w.get("word"), str):
            raise InputError(path, f"word entry {k} has no 'word' text.")
        _check_transcript_order(path, k, w, transcript, last_offset)
        if isinstance(w.get("startOffset"), int):
            last_offset = (k, w["startOffset"])
        if is_nonword(w["word"], drop, drop_bracketed):
            continue
        ok = w.get("case") == "success"
        if ok:
            try:
                a, b = float(w["start"]), float(w["end"])
            except (KeyError, TypeError, ValueError):
                raise InputError(
                    path, f"word entry {k} ({w['word']!r}) is marked success but has no numeric 'start'/'end'."
                ) from None
            if b < a:
                raise InputError(path, f"word entry {k} ({w['word']!r}) ends before it starts.")
        else:
            a = b = math.nan
        entries.append((w["word"], a, b))
    if not entries:
        raise InputError(path, "contains no words.", fix="check the transcript given to Gentle.")
    words = [e[0] for e in entries]
    on = np.array([e[1] for e in entries])
    off = np.array([e[2] for e in entries])
    missing = np.isnan(on)
    if missing.all():
        raise InputError(
            path,
            "has no aligned word (every 'case' differs from 'success').",
            fix="re-run Gentle; the audio and transcript may not match.",
        )
    notes = []
    if missing.any():
        _interpolate_gaps(on, off, missing)
        notes.append(
            f"{int(missing.sum())} of {len(words)} words were not aligned by Gentle; their times were interpolated"
        )
        log.warning("%s: %s", path, notes[-1])
    order_bad = np.flatnonzero(np.diff(on) < -1e-6)
    if order_bad.size:
        k = int(order_bad[0]) + 1
        raise InputError(
            path,
            f"word {k} ({words[k]!r}) starts before the previous word.",
            fix="pass Gentle's align.json as it wrote it (its words in time order).",
        )
    return WordTimes(words, on, off, source=str(path), notes=notes)


def _check_transcript_order(path, k: int, w: dict, transcript: str | None, last) -> None:
    """Gentle's words come in transcript order, each the text at its character offsets: a word
    whose offsets go back, or whose text is not the transcript's there, means the word list was
    reordered or edited (and its times would be given to the wrong words)."""
    so, eo = w.get("startOffset"), w.get("endOffset")
    if not isinstance(so, int) or not isinstance(eo, int):
        return
    if last is not None and so < last[1]:
        raise InputError(
            path,
            f"word entry {k} ({w['word']!r}) starts at character {so} of the transcript, before word entry {last[0]} "
            f"(character {last[1]}): the words are not in transcript order.",
            fix="pass Gentle's align.json as it wrote it (its words in transcript order).",
        )
    if transcript is not None and transcript[so:eo] != w["word"]:
        raise InputError(
            path,
            f"word entry {k} is {w['word']!r}, but the transcript has {transcript[so:eo]!r} at its offsets "
            f"({so}-{eo}): the words do not match the transcript.",
            fix="pass Gentle's align.json as it wrote it, for this story's transcript.",
        )


def _interpolate_gaps(on: np.ndarray, off: np.ndarray, missing: np.ndarray) -> None:
    """Fill runs of missing times in place: evenly inside gaps, mean duration at the edges."""
    dur = float(np.mean(off[~missing] - on[~missing])) or 0.3
    n = len(on)
    k = 0
    while k < n:
        if not missing[k]:
            k += 1
            continue
        j = k
        while j < n and missing[j]:
            j += 1
        run = j - k
        left = off[k - 1] if k > 0 else None
        right = on[j] if j < n else None
        if left is None:
            left = max(0.0, right - run * dur)
        if right is None:
            right = left + run * dur
        edges = np.linspace(left, max(left, right), run + 1)
        on[k:j], off[k:j] = edges[:-1], edges[1:]
        k = j


# --------------------------------------------------------------------------- TSV


def read_tsv(path, drop: Iterable[str] = (), drop_bracketed: bool = True, encoding: str = "auto") -> WordTimes:
    """Read a tab-separated file with a header naming ``word``, ``onset`` and ``offset``."""
    path = Path(path)
    if not path.exists():
        raise InputError(path, "does not exist.", fix="check the stimuli path template in the config.")
    lines = decode_text(path, path.read_bytes(), encoding).splitlines()
    if not lines:
        raise InputError(path, "is empty.", fix="a header line `word<TAB>onset<TAB>offset` is required.")
    header = [h.strip().lower() for h in lines[0].split("\t")]
    need = ("word", "onset", "offset")
    absent = [c for c in need if c not in header]
    if absent:
        raise InputError(
            path,
            f"header lacks column(s) {absent}; found {header}.",
            line=1,
            fix="the first line must name the tab-separated columns word, onset, offset.",
        )
    col = {c: header.index(c) for c in need}
    words, on, off = [], [], []
    for i, raw in enumerate(lines[1:], start=2):
        if not raw.strip():
            continue
        cells = raw.split("\t")
        if len(cells) < len(header):
            raise InputError(path, f"has {len(cells)} tab-separated cells, the header has {len(header)}.", line=i)
        try:
            a, b = float(cells[col["onset"]]), float(cells[col["offset"]])
        except ValueError:
            raise InputError(
                path,
                f"onset/offset {cells[col['onset']]!r}/{cells[col['offset']]!r} are not numbers.",
                line=i,
                fix="give onset and offset in seconds.",
            ) from None
        if not (math.isfinite(a) and math.isfinite(b)) or b < a:
            raise InputError(
                path,
                f"bad interval {a}..{b} (offset must be >= onset, both finite).",
                line=i,
                fix="give each word its onset and offset in seconds, offset >= onset.",
            )
        if on and a < on[-1] - 1e-6:
            raise InputError(
                path, f"onset {a} is before the previous word's onset {on[-1]}.", line=i, fix="sort the rows by onset."
            )
        if is_nonword(cells[col["word"]], drop, drop_bracketed):
            continue
        words.append(cells[col["word"]].strip())
        on.append(a)
        off.append(b)
    return WordTimes(words, np.array(on), np.array(off), source=str(path))


# --------------------------------------------------------------------------- TR files

TRIGGER_LABELS = ("trigger", "init-trigger")


def read_trfile(path) -> tuple[np.ndarray, float]:
    """Read a TR file of ``time label`` lines.

    Returns the volume acquisition times (``trigger``/``init-trigger`` lines) relative to the
    ``sound-start`` line when there is one, and the median TR.
    """
    path = Path(path)
    if not path.exists():
        raise InputError(path, "does not exist.", fix="check the TR file path template in the config.")
    times, sound_start = [], 0.0
    for i, raw in enumerate(decode_text(path, path.read_bytes()).splitlines(), start=1):
        if not raw.strip() or raw.lstrip().startswith("#"):
            continue
        parts = raw.split(None, 1)
        try:
            t = float(parts[0])
        except ValueError:
            t = math.nan
        if not math.isfinite(t):
            raise InputError(
                path,
                f"line does not start with a time: {raw.strip()!r}.",
                line=i,
                fix="each line must read `<seconds> <label>`.",
            )
        label = parts[1].strip() if len(parts) > 1 else ""
        if label in TRIGGER_LABELS:
            if times and t <= times[-1]:
                raise InputError(
                    path,
                    f"trigger at {t} s is not after the previous one ({times[-1]} s).",
                    line=i,
                    fix="triggers must be in time order; is this the story's TR file?",
                )
            times.append(t)
        elif label == "sound-start":
            sound_start = t
    if len(times) < 2:
        raise InputError(
            path,
            f"has {len(times)} trigger line(s); at least 2 are needed.",
            fix="volume lines must be labelled 'trigger' (or 'init-trigger').",
        )
    arr = np.array(times) - sound_start
    return arr, float(np.median(np.diff(arr)))


def read_respdict(path) -> dict[str, int]:
    """A ds003020 ``respdict.json``: story -> number of volumes."""
    try:
        with open(path, encoding="utf-8") as f:
            counts = json.load(f)
    except FileNotFoundError:
        raise InputError(path, "does not exist.", fix="check stimuli.tr_times.path (or data_root).") from None
    except json.JSONDecodeError as err:
        raise InputError(path, f"is not valid JSON ({err}).", fix="restore the dataset's respdict.json.") from None
    if not isinstance(counts, dict) or not all(isinstance(v, int) and v > 0 for v in counts.values()):
        raise InputError(
            path, "must map story names to positive volume counts.", fix="restore the dataset's respdict.json."
        )
    return counts


def simulated_tr_times(n_trs: int, tr: float, start: float = 0.0) -> np.ndarray:
    """Volume times ``start + k * tr`` for ``k = 0 .. n_trs - 1`` (seconds from sound start)."""
    if n_trs < 1 or tr <= 0:
        raise ValueError(f"need n_trs >= 1 and tr > 0, got n_trs={n_trs}, tr={tr}")
    return start + np.arange(n_trs) * float(tr)


def format_trfile(tr_times: Sequence[float], sound_start: float | None = None, sound_stop: float | None = None) -> str:
    lines = []
    events = [(t, "trigger") for t in tr_times]
    if sound_start is not None:
        events.append((sound_start, "sound-start"))
    if sound_stop is not None:
        events.append((sound_stop, "sound-stop"))
    for t, label in sorted(events, key=lambda e: (e[0], e[1] != "sound-start")):
        lines.append(f"{t:.4f} {label}")
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------- plain text

_EDGE_PUNCT = "\"'`.,;:!?()[]{}<>«»“”‘’—–-…*/\\"


def text_to_words(text: str) -> list[str]:
    """Split running text into words: whitespace tokens with edge punctuation stripped.

    Inner apostrophes, hyphens, colons and periods stay (``don't``, ``south-west``,
    ``4:00pm``, ``U.S``); tokens made only of punctuation are dropped.
    """
    words = []
    for tok in text.split():
        w = tok.strip(_EDGE_PUNCT)
        if w and any(ch.isalnum() for ch in w):
            words.append(w)
    return words
