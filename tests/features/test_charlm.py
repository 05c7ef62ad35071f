"""The character-level LSTM (family charlm, textgenrnn's pretrained network): its weights
converted from Keras' cuDNN layout predict English text, its features equal a separate numpy
computation of the network, and a word's features never see the words after it."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from lre.errors import ConfigError
from lre.features import charlm
from lre.stimuli.demo import lee_corpus_path


@pytest.fixture(scope="module")
def network():
    weights, vocab = charlm.load_weights("textgenrnn", "source")
    return charlm.Network(weights), vocab


def lee_words(n: int, skip: int = 0) -> list[str]:
    return lee_corpus_path().read_text(encoding="utf-8").split()[skip : skip + n]


def test_the_network_predicts_english_text_far_better_than_character_frequencies(network):
    """2.38 bits per character on 400 words of news text, where the characters' own
    frequencies give 4.40: the converted weights are those of a working language model (read
    in the stored layout they give about 100)."""
    net, vocab = network
    words = lee_words(400)
    text = " ".join(words)
    bits = charlm.read_document(net, vocab, words, 40, surprisal=True)["surprisal"]
    per_char = float(bits.sum()) / len(text)
    _, counts = np.unique(list(text), return_counts=True)
    p = counts / counts.sum()
    unigram = float(-(p * np.log2(p)).sum())
    print(f"textgenrnn: {per_char:.2f} bits per character; character frequencies: {unigram:.2f}")
    assert per_char < 2.6 and unigram > 4.0


def reference(folder, text: str, positions: np.ndarray, context: int) -> dict:
    """The network computed step by step in numpy from the HDF5 file, for windows ending
    before each of ``positions``: L1, L2, attention and the next character's log2 p."""
    import json

    vocab = json.loads((folder / "textgenrnn_vocab.json").read_text(encoding="utf-8"))
    with h5py.File(folder / "textgenrnn_weights.hdf5", "r") as f:
        emb = f["embedding/embedding/embeddings:0"][()].astype(np.float64)
        layers = []
        for layer in (1, 2):
            g = f[f"rnn_{layer}/rnn_{layer}"]
            k, r, b = g["kernel:0"][()], g["recurrent_kernel:0"][()], g["bias:0"][()]
            n_in = k.shape[0]
            # cuDNN: per gate, the stored input-kernel block's values in row-major order are the
            # kernel's in column-major order; the recurrent block is stored transposed
            blocks = [k[:, j * 128 : (j + 1) * 128] for j in range(4)]
            k = np.concatenate([blk.ravel(order="C").reshape(n_in, 128, order="F") for blk in blocks], 1)
            r = np.concatenate([r[:, j * 128 : (j + 1) * 128].T for j in range(4)], 1)
            layers.append((k.astype(np.float64), r.astype(np.float64), (b[:512] + b[512:]).astype(np.float64)))
        att_w = f["attention/attention/attention_W:0"][()][:, 0].astype(np.float64)
        out_k, out_b = f["output/output/kernel:0"][()].astype(np.float64), f["output/output/bias:0"][()]
    ids = [vocab.get(c, 0) for c in text]
    result = {"L1": [], "L2": [], "attention": [], "log2p": []}
    sigmoid = lambda z: 1.0 / (1.0 + np.exp(-z))  # noqa: E731
    for pos in positions:
        window = [0] * max(0, context - pos) + ids[max(0, pos - context) : pos]
        x = emb[window]
        seq = [x]
        for k, r, b in layers:
            h, c, hs = np.zeros(128), np.zeros(128), []
            for t in range(context):
                i, fg, g, o = np.split(seq[-1][t] @ k + h @ r + b, 4)
                c = sigmoid(fg) * c + sigmoid(i) * np.tanh(g)
                h = sigmoid(o) * np.tanh(c)
                hs.append(h)
            seq.append(np.array(hs))
        full = np.concatenate(seq, 1)
        a = np.exp(full @ att_w - (full @ att_w).max())
        avg = (full * (a / a.sum())[:, None]).sum(0)
        z = avg @ out_k + out_b
        logp = z - z.max() - np.log(np.exp(z - z.max()).sum())
        result["L1"].append(seq[1][-1])
        result["L2"].append(seq[2][-1])
        result["attention"].append(avg)
        result["log2p"].append(logp[ids[pos]] / np.log(2.0) if pos < len(ids) else np.nan)
    return {key: np.array(v) for key, v in result.items()}


def test_features_and_surprisal_equal_a_separate_numpy_computation(network):
    net, vocab = network
    words = ["Hundreds", "of", "people", "have", "been", "forced", "to", "vacate", "their", "homes"]
    feats = charlm.read_document(net, vocab, words, 40, surprisal=True)
    text, starts, ends = charlm.document_text(words)
    folder = charlm.package_dir("textgenrnn", "source")
    ref = reference(folder, text, ends, 40)
    for key in ("L1", "L2", "attention"):
        np.testing.assert_allclose(feats[key], ref[key], atol=2e-5, err_msg=key)
    # a word's surprisal: its space and characters, each given what comes before it
    first = np.maximum(starts - 1, 0)
    per_char = reference(folder, text, np.arange(len(text)), 40)["log2p"]
    expected = [-per_char[a:b].sum() for a, b in zip(first, ends)]
    np.testing.assert_allclose(feats["surprisal"][:, 0], expected, rtol=1e-4)
    assert feats["surprisal"][words.index("vacate"), 0] > feats["surprisal"][words.index("been"), 0]


def test_a_words_features_never_see_the_words_after_it(network):
    net, vocab = network
    words = lee_words(60, skip=500)
    other = words[:30] + lee_words(30, skip=900)
    a = charlm.read_document(net, vocab, words, 40, surprisal=True)
    b = charlm.read_document(net, vocab, other, 40, surprisal=True)
    for key in a:
        np.testing.assert_array_equal(a[key][:30], b[key][:30], err_msg=key)
        assert not np.allclose(a[key][30:], b[key][30:]), key


def test_a_window_longer_than_the_network_can_use_is_refused():
    entry = {"family": "charlm", "source": "textgenrnn", "context_chars": 400, "surprisal": False}
    with pytest.raises(ConfigError, match=r"context_chars.*trained on windows of 40"):
        charlm.check("clm", entry, {})
    with pytest.raises(ConfigError, match=r"unknown character LM 'charnn'"):
        charlm.check("clm", dict(entry, source="charnn", context_chars=40), {})


def test_the_untrained_twin_has_the_same_shapes_random_weights_and_predicts_nothing():
    """Its features have the trained network's shapes; its weights come from the seed (the same
    seed, the same features); as a language model it is no better than chance over 465
    characters (about log2 465 = 8.9 bits per character, far from the trained 2.4)."""
    words = lee_words(200)
    entry = {"family": "charlm", "source": "textgenrnn", "context_chars": 40, "untrained": True}
    twin, info = charlm.extract("clm_untrained", entry, [words], {"seed": 3}, {})
    again, _ = charlm.extract("clm_untrained", entry, [words], {"seed": 3}, {})
    other, _ = charlm.extract("clm_untrained", entry, [words], {"seed": 4}, {})
    trained, _ = charlm.extract("clm", dict(entry, untrained=False), [words], {"seed": 3}, {})
    for key in ("L1", "L2", "attention"):
        assert twin[key][0].shape == trained[key][0].shape
        np.testing.assert_array_equal(twin[key][0], again[key][0])
        assert not np.allclose(twin[key][0], other[key][0]) and not np.allclose(twin[key][0], trained[key][0])
    assert info["untrained"] and info["seed"] == 3
    weights, vocab = charlm.load_weights("textgenrnn", "source")
    net = charlm.Network(charlm.random_weights(weights, 3, "clm_untrained"))
    bits = charlm.read_document(net, vocab, words, 40, surprisal=True)["surprisal"].sum() / len(" ".join(words))
    print(f"untrained twin: {bits:.2f} bits per character")
    assert bits > 8.0
    with pytest.raises(ConfigError, match=r"untrained network predicts no language"):
        charlm.check("clm_untrained", dict(entry, surprisal=True), {})
