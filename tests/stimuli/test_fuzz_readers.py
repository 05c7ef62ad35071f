"""Property tests of the stimulus readers (hypothesis): random valid files round-trip, and
random corruptions of them either still read or raise lre's own error type, never another
exception."""

import json
import string
import tempfile
from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lre import stimuli
from lre.errors import LreError

SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])

letters = string.ascii_letters + "'-.,éüßø\"0123456789"
word = st.text(alphabet=letters, min_size=1, max_size=8).filter(lambda w: w.strip() == w and not stimuli.is_nonword(w))


@st.composite
def timed_words(draw):
    words = draw(st.lists(word, min_size=1, max_size=15))
    durations = draw(st.lists(st.integers(1, 2000), min_size=len(words), max_size=len(words)))
    gaps = draw(st.lists(st.integers(0, 800), min_size=len(words), max_size=len(words)))
    onsets, offsets, t = [], [], draw(st.integers(0, 3000))
    for d, g in zip(durations, gaps):
        t += g
        onsets.append(t / 1000)
        offsets.append((t + d) / 1000)
        t += d
    return words, np.array(onsets), np.array(offsets)


def textgrid_bytes(words, on, off, fmt, encoding):
    ivs, t = [], 0.0
    for w, a, b in zip(words, on, off):  # silences between words, as aligners write them
        if a > t:
            ivs.append(stimuli.Interval(t, a, "sp"))
        ivs.append(stimuli.Interval(a, b, w))
        t = b
    tiers = [stimuli.Tier("word", ivs)]
    return stimuli.format_textgrid(tiers, 0.0, t + 1.0, fmt).encode(encoding)


def gentle_bytes(words, on, off):
    return json.dumps(
        {
            "transcript": " ".join(words),
            "words": [
                {"word": w, "case": "success", "start": a, "end": b, "alignedWord": w.lower()}
                for w, a, b in zip(words, on, off)
            ],
        }
    ).encode()


def tsv_bytes(words, on, off):
    return ("word\tonset\toffset\n" + "".join(f"{w}\t{a}\t{b}\n" for w, a, b in zip(words, on, off))).encode()


def read(kind, data: bytes, suffix):
    with tempfile.TemporaryDirectory() as d:
        path = Path(d) / f"story{suffix}"
        path.write_bytes(data)
        if kind == "textgrid":
            return stimuli.read_textgrid(path, "word")
        if kind == "gentle":
            return stimuli.read_gentle(path)
        if kind == "tsv":
            return stimuli.read_tsv(path)
        return stimuli.read_trfile(path)


@SETTINGS
@given(timed_words(), st.sampled_from(["long", "short"]), st.sampled_from(["utf-8", "utf-16", "utf-16-le"]))
def test_textgrids_round_trip(tw, fmt, encoding):
    words, on, off = tw
    got = read("textgrid", textgrid_bytes(words, on, off, fmt, encoding), ".TextGrid")
    assert got.words == words
    np.testing.assert_allclose(got.onsets, on, atol=1e-9)
    np.testing.assert_allclose(got.offsets, off, atol=1e-9)


@SETTINGS
@given(timed_words())
def test_gentle_and_tsv_round_trip(tw):
    words, on, off = tw
    for kind, data, suffix in (
        ("gentle", gentle_bytes(words, on, off), ".json"),
        ("tsv", tsv_bytes(words, on, off), ".tsv"),
    ):
        got = read(kind, data, suffix)
        assert got.words == words, kind
        np.testing.assert_allclose(got.onsets, on, atol=1e-9)
        np.testing.assert_allclose(got.offsets, off, atol=1e-9)


@SETTINGS
@given(st.integers(2, 40), st.integers(500, 3000), st.integers(-20000, 20000))
def test_tr_files_round_trip(n, tr_ms, start_ms):
    times = np.arange(n) * tr_ms / 1000 + start_ms / 1000
    got, tr = read("tr", stimuli.format_trfile(times, sound_start=0.0).encode(), ".tr")
    np.testing.assert_allclose(got, times, atol=1e-4)
    assert abs(tr - tr_ms / 1000) < 1e-4


@st.composite
def corruption(draw, data: bytes):
    """A random edit of ``data``: truncate, delete a span, insert bytes, or overwrite bytes."""
    n = len(data)
    op = draw(st.sampled_from(["truncate", "delete", "insert", "overwrite", "swap_digit"]))
    i = draw(st.integers(0, max(n - 1, 0)))
    if op == "truncate":
        return data[:i]
    if op == "delete":
        return data[:i] + data[i + draw(st.integers(1, 40)) :]
    junk = draw(
        st.binary(min_size=1, max_size=12)
        | st.sampled_from([b"nan", b"inf", b"-1e309", b'"', b"\n", b"\t", b"{", b"]", b"\x00", b"\xff\xfe", b"-"])
    )
    if op == "insert":
        return data[:i] + junk + data[i:]
    if op == "overwrite":
        return data[:i] + junk + data[i + len(junk) :]
    digits = [k for k, c in enumerate(data) if chr(c).isdigit()]
    if not digits:
        return data[:i]
    k = draw(st.sampled_from(digits))
    return data[:k] + draw(st.sampled_from([b"x", b"-", b"9999", b"", b"."])) + data[k + 1 :]


def read_or_refuse(kind, data, suffix) -> str:
    """ "refused" (lre's own error) or "read" (then the result must be usable); any other
    exception propagates and fails the test."""
    try:
        got = read(kind, data, suffix)
    except LreError:
        return "refused"
    # what reads must be usable: finite, ordered times
    if kind == "tr":
        times, tr = got
        assert np.isfinite(times).all() and np.all(np.diff(times) > 0) and np.isfinite(tr)
    else:
        assert np.isfinite(got.onsets).all() and np.isfinite(got.offsets).all()
        assert np.all(got.offsets >= got.onsets) and len(got.words) == len(got.onsets)
    return "read"


@SETTINGS
@given(timed_words(), st.sampled_from(["long", "short"]), st.data())
def test_corrupted_textgrids_read_or_raise_lre_errors(tw, fmt, data):
    words, on, off = tw
    bad = data.draw(corruption(textgrid_bytes(words, on, off, fmt, "utf-8")))
    assert read_or_refuse("textgrid", bad, ".TextGrid") in ("read", "refused")


@SETTINGS
@given(timed_words(), st.sampled_from(["gentle", "tsv"]), st.data())
def test_corrupted_gentle_and_tsv_read_or_raise_lre_errors(tw, kind, data):
    words, on, off = tw
    good = gentle_bytes(words, on, off) if kind == "gentle" else tsv_bytes(words, on, off)
    assert read_or_refuse(kind, data.draw(corruption(good)), ".json" if kind == "gentle" else ".tsv") in (
        "read",
        "refused",
    )


@SETTINGS
@given(st.integers(2, 30), st.data())
def test_corrupted_tr_files_read_or_raise_lre_errors(n, data):
    good = stimuli.format_trfile(np.arange(n) * 2.0 - 10.0, sound_start=0.0).encode()
    assert read_or_refuse("tr", data.draw(corruption(good)), ".tr") in ("read", "refused")


silence = st.sampled_from(list(stimuli.DEFAULT_DROP) + ["SP", " sil ", "{NS}", "<UNK>"])


@SETTINGS
@given(
    timed_words(),
    st.lists(silence, min_size=1, max_size=6),
    st.lists(word, max_size=3),
    st.sampled_from(["long", "short"]),
)
def test_silences_are_never_words_whatever_the_drop_list(tw, silences, extra_drop, fmt):
    """A user's drop_tokens adds to the defaults: silences, empty labels and aligner markers
    never come back as words, and the user's own tokens go too."""
    words, on, off = tw
    ivs, t = [], 0.0
    for k, (w, a, b) in enumerate(zip(words, on, off)):
        ivs.append(stimuli.Interval(t, a, silences[k % len(silences)]) if a > t else None)
        ivs.append(stimuli.Interval(a, b, w))
        t = b
    tiers = [stimuli.Tier("word", [iv for iv in ivs if iv is not None])]
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "s.TextGrid"
        p.write_bytes(stimuli.format_textgrid(tiers, 0.0, t + 1.0, fmt).encode("utf-8"))
        got = stimuli.read_textgrid(p, drop=extra_drop, drop_bracketed=False)
    dropped = {x.lower() for x in extra_drop}
    assert got.words == [w for w in words if w.lower() not in dropped]
    assert not any(stimuli.is_nonword(w) for w in got.words)


@SETTINGS
@given(timed_words(), st.integers(0, 3), st.sampled_from(["long", "short"]))
def test_a_second_tier_with_the_word_tiers_name_is_refused(tw, where, fmt):
    words, on, off = tw
    ivs = [stimuli.Interval(a, b, w) for w, a, b in zip(words, on, off)]
    tiers = [stimuli.Tier("phone", ivs), stimuli.Tier("word", ivs)]
    tiers.insert(min(where, len(tiers)), stimuli.Tier("word", ivs[:1]))
    with tempfile.TemporaryDirectory() as d:
        p = Path(d) / "s.TextGrid"
        p.write_bytes(stimuli.format_textgrid(tiers, 0.0, float(off[-1]) + 1.0, fmt).encode("utf-8"))
        try:
            stimuli.read_textgrid(p)
        except LreError as e:
            assert "2 tiers named 'word'" in str(e)
        else:
            raise AssertionError("two word tiers were accepted")
