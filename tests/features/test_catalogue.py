"""Every architecture class of the paper's catalogue, offline: a tiny randomly initialised
model of each class (built from a config) is extracted as the catalogue describes it
(causal or bidirectional, layer count, width), never sees later words, and the hub id ->
family / environment mapping holds without the network."""

import numpy as np
import pytest
from conftest import MINILM

from lre import resources
from lre.errors import MissingModelError
from lre.features import catalogue, check_models, hf, resolve_spaces

SETTINGS = {"threads": 2, "device": "cpu", "batch_size": 8, "compute_dtype": "float32", "seed": 0}

#: a tiny config of every transformers architecture class in the catalogue (2 blocks, d=32)
TINY = {
    "gpt2": dict(n_layer=2, n_embd=32, n_head=2, n_positions=128),
    "bert": dict(
        num_hidden_layers=2, hidden_size=32, num_attention_heads=2, intermediate_size=64, max_position_embeddings=128
    ),
    "albert": dict(
        num_hidden_layers=2,
        hidden_size=32,
        num_attention_heads=2,
        intermediate_size=64,
        embedding_size=16,
        max_position_embeddings=128,
    ),
    "marian": dict(
        encoder_layers=2,
        decoder_layers=1,
        d_model=32,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=64,
        decoder_ffn_dim=64,
        max_position_embeddings=128,
        decoder_start_token_id=0,
    ),
}


def tiny_entry(model_type, **kw):
    entry = dict(
        family="untrained",
        tokenizer=MINILM,
        layers="all",
        context_tokens=24,
        word_vector="last",
        attention="auto",
        seed=1,
        config=dict(model_type=model_type, **TINY[model_type]),
    )
    entry.update(kw)
    return entry


def test_every_catalogued_architecture_class_is_covered_here_or_in_the_legacy_tests():
    types = {m.model_type for m in catalogue.HUB.values() if m.family == "hf"}
    assert types == set(TINY) | set(catalogue.LEGACY_MODEL_TYPES)


@pytest.mark.parametrize("model_type", sorted(TINY))
def test_tiny_model_of_each_class_reads_as_catalogued_and_never_sees_later_words(model_type, words):
    known = [m for m in catalogue.HUB.values() if m.model_type == model_type]
    t = 30
    a = [words[0]]
    b = [words[0][:t] + ["zebra", "quantum"] * 15]
    fa, info = hf.extract("m", tiny_entry(model_type), a, SETTINGS, {})
    fb, _ = hf.extract("m", tiny_entry(model_type), b, SETTINGS, {})
    assert info["attention"] == known[0].attention
    assert list(fa) == ["L0", "L1", "L2"]
    for out in fa:
        assert fa[out][0].shape == (len(a[0]), 32) and fa[out][0].dtype == np.float32
        np.testing.assert_allclose(fa[out][0][:t], fb[out][0][:t], atol=1e-5)
    assert np.abs(fa["L2"][0][t : t + 20] - fb["L2"][0][t : t + 20]).max() > 1e-3  # later words do change


def test_hub_ids_plan_offline_from_the_catalogue():
    """An uncached hub model of the catalogue resolves its spaces with no network."""
    models = {
        "gpt2": {"family": "hf", "source": "openai-community/gpt2"},
        "en_zh": {"family": "hf", "source": "Helsinki-NLP/opus-mt-en-zh"},
        "pos": {"family": "flair", "source": "flair/pos-english"},
    }
    entries = {
        k: dict(v, layers="all", context_tokens=256, word_vector="last", attention="auto")
        if v["family"] == "hf"
        else dict(v, context_words=64)
        for k, v in models.items()
    }
    names = [s.name for s in resolve_spaces(entries)]
    assert names == [f"gpt2.L{i}" for i in range(13)] + [f"en_zh.L{i}" for i in range(7)] + ["pos.tags"]
    assert resources.features_env(entries["gpt2"]) == "extract" and resources.features_env(entries["pos"]) == "legacy"
    assert resources.features_env({"family": "hf", "source": "transfo-xl/transfo-xl-wt103"}) == "legacy"
    assert resources.features_env(tiny_entry("gpt2")) == "extract"


def test_missing_legacy_dependencies_name_the_environment_to_install():
    """Here (transformers 5, no flair) Flair and Transformer-XL refuse with the fix."""
    txl = dict(
        family="untrained",
        tokenizer=MINILM,
        layers="all",
        context_tokens=16,
        word_vector="last",
        attention="auto",
        config=dict(model_type="transfo-xl", d_model=32, n_layer=2),
    )
    flair = dict(family="flair", source="flair/pos-english", context_words=16)
    for entry in (txl, flair):
        missing = check_models({"m": entry}, collect=True)
        assert len(missing) == 1
        msg = str(missing[0][1])
        assert "workflow/envs/legacy.yaml" in msg and "pip install -e '.[legacy]'" in msg
        with pytest.raises(MissingModelError):
            check_models({"m": entry})
