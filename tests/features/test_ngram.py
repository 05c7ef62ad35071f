"""Word surprisal from an n-gram model (family ngram, read with pocketsphinx): on a small ARPA
model, equal to the model's backoff computed here from the ARPA text; on the English trigram
model that ships with pocketsphinx, low for function words and lower for real text than for
the same words shuffled."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lre.errors import MissingModelError
from lre.features import ngram
from lre.stimuli.demo import lee_corpus_path

TEXT = "the cat sat on the mat\nthe dog sat on the log\nthe cat ate the fish\n"


def arpa_model(path) -> None:
    from pocketsphinx.lm import ArpaBoLM

    lm = ArpaBoLM(text=TEXT, add_start=True)
    lm.compute()
    with open(path, "w") as f:
        lm.write(f)


def read_arpa(path) -> dict:
    """(words) -> (log10 p, log10 backoff) of every n-gram of an ARPA file."""
    table, n = {}, 0
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if line.startswith("\\") and line.endswith("-grams:"):
            n = int(line[1])
        elif n and line and not line.startswith("\\"):
            parts = line.split()
            table[tuple(parts[1 : 1 + n])] = (float(parts[0]), float(parts[1 + n]) if len(parts) > 1 + n else 0.0)
    return table


def backoff_log10(table: dict, words: tuple) -> float:
    """log10 p(words[-1] | words[:-1]) with Katz backoff."""
    if words in table:
        return table[words][0]
    return table.get(words[:-1], (0.0, 0.0))[1] + backoff_log10(table, words[1:])


def test_surprisal_is_the_models_backoff_probability_of_each_word_given_the_two_before(tmp_path):
    arpa_model(tmp_path / "small.arpa")
    table = read_arpa(tmp_path / "small.arpa")
    entry = {"family": "ngram", "source": str(tmp_path / "small.arpa"), "oov_bits": 30.0}
    words = ["The", "cat", "sat", "on", "the", "fish,", "zebra", "ate", "the", "mat"]
    feats, info = ngram.extract("ng", entry, [words], {}, {})
    got = feats["surprisal"][0][:, 0]
    # the histories: two <s> first; the unknown "zebra" cuts the history of the words after it
    contexts = [("<s>", "<s>"), ("<s>", "the"), ("the", "cat"), ("cat", "sat"), ("sat", "on"), ("on", "the")]
    contexts += [None, (), ("ate",), ("ate", "the")]
    for i, (w, context) in enumerate(zip(words, contexts)):
        if context is None:  # not in the model: oov_bits
            assert got[i] == 30.0
            continue
        expected = -backoff_log10(table, (*context, w.lower().strip(","))) / math.log10(2.0)
        assert got[i] == pytest.approx(expected, abs=2e-3), (i, w)
    assert info["unknown_words"] == 1 and info["order"] == 3


def test_the_english_trigram_model_knows_function_words_and_real_word_order():
    words = lee_corpus_path().read_text(encoding="utf-8").split()[:3000]
    entry = {"family": "ngram", "source": ngram.PACKAGED, "oov_bits": 21.0}
    shuffled = list(np.random.default_rng(0).permutation(words))
    real = ngram.extract("ng", entry, [words], {}, {})[0]["surprisal"][0]
    shuffled_bits = ngram.extract("ng", entry, [shuffled], {}, {})[0]["surprisal"][0]
    known = np.array([ngram.lookup(w) in ("the", "of", "to", "and") for w in words])
    print(
        f"mean surprisal {real.mean():.2f} bits on 3,000 words of news text, {shuffled_bits.mean():.2f} shuffled; "
        f"{real[known].mean():.2f} on the, of, to, and"
    )
    assert real.mean() < shuffled_bits.mean() - 2.0
    assert real[known].mean() < 4.0


def test_a_source_that_is_not_a_model_is_refused(tmp_path):
    with pytest.raises(MissingModelError, match=r"neither 'pocketsphinx-en-us' nor an n-gram model file"):
        ngram.model_path(str(tmp_path / "none.lm"), "features.models.ng.source")
    (tmp_path / "bad.arpa").write_text("not a model\n")
    with pytest.raises(MissingModelError, match=r"bad.arpa is not an n-gram model pocketsphinx can read"):
        ngram.load(tmp_path / "bad.arpa", "features.models.ng.source")
