"""WordLlama (family tokens): a word's vector is WordLlama's own embedding of the word, read
from the package's safetensors table and tokenizer file without its code."""

from __future__ import annotations

import numpy as np

from lre.features import tokens

WORDS = [["The", "king", "and", "the", "queen", "ate", "a", "carrot"], ["unbelievably", "don't", "king"]]


def test_each_word_is_wordllamas_own_embedding_of_it():
    from pathlib import Path

    import wordllama
    from wordllama import WordLlama

    feats, info = tokens.extract("wl", {"family": "tokens", "source": "wordllama"}, WORDS, {}, {})
    reference = WordLlama.load(cache_dir=Path(wordllama.__file__).parent, disable_download=True)
    for doc, got in zip(WORDS, feats["vec"]):
        np.testing.assert_allclose(got, reference.embed(doc, norm=False), rtol=1e-5, atol=1e-6)
    assert info["table"] == [32000, 256] and info["doc_vocabulary_size"] == 10


def test_related_words_are_closer_than_unrelated_ones():
    feats, _ = tokens.extract("wl", {"family": "tokens", "source": "wordllama"}, [["king", "queen", "carrot"]], {}, {})
    king, queen, carrot = (v / np.linalg.norm(v) for v in feats["vec"][0])
    print(f"cosine king-queen {king @ queen:.3f}, king-carrot {king @ carrot:.3f}")
    assert king @ queen > king @ carrot + 0.1
