"""Transformer-XL and Flair in the legacy environment (transformers < 5, flair): tiny randomly
initialised models built from configs, extracted by lre inside that environment.

The environment is ./.venv-legacy (`./install.sh --legacy`) or $LRE_LEGACY_PYTHON. Without it
these tests are skipped with that reason; in CI (CI=true) they fail instead.
"""

import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
from conftest import MINILM, ROOT

PROBE = """
import json, sys
import numpy as np
import torch
from lre.features import flair as lflair, hf

words = json.load(open(sys.argv[1]))
out = {}
settings = {"threads": 1, "device": "cpu", "batch_size": 8, "compute_dtype": "float32", "seed": 0}
txl = dict(family="untrained", tokenizer=%(minilm)r, layers="all", context_tokens=16, word_vector="last",
           attention="auto", seed=3, config=dict(model_type="transfo-xl", d_model=32, d_embed=32, n_head=2,
           d_head=16, d_inner=64, n_layer=2, cutoffs=[], div_val=1, mem_len=0))
for k, doc in enumerate(words):
    f, info = hf.extract("txl", txl, [doc], settings, {})
    assert info["attention"] == "causal" and info["model_type"] == "transfo-xl", info
    for name, arrays in f.items():
        out[f"txl_{name}_{k}"] = arrays[0]

from flair.data import Dictionary
from flair.models import LanguageModel, SequenceTagger
from flair.embeddings import FlairEmbeddings
torch.manual_seed(0)
chars = Dictionary()
for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,'-\\n":
    chars.add_item(c)
LanguageModel(chars, is_forward_lm=True, hidden_size=16, nlayers=1, embedding_size=8).save(sys.argv[2] + "/lm.pt")
tags = Dictionary(add_unk=False)
for t in ["DT", "NN", "VBD", "IN", "JJ"]:
    tags.add_item(t)
SequenceTagger(hidden_size=8, embeddings=FlairEmbeddings(sys.argv[2] + "/lm.pt"), tag_dictionary=tags,
               tag_type="pos", use_crf=False).save(sys.argv[2] + "/tagger.pt")
for kind, src in (("embeddings", "lm.pt"), ("tagger", "tagger.pt")):
    entry = dict(family="flair", source=sys.argv[2] + "/" + src, kind=kind, context_words=8)
    lflair.check("f", entry, {})
    for k, doc in enumerate(words):
        f, info = lflair.extract("f", entry, [doc], settings, {})
        (name, arrays), = f.items()
        out[f"{kind}_{k}"] = arrays[0]
        if kind == "tagger":
            assert info["tags"] == ["DT", "NN", "VBD", "IN", "JJ"], info
np.savez(sys.argv[2] + "/out.npz", **out)
"""


@pytest.fixture(scope="module")
def legacy(words, tmp_path_factory):
    python = Path(os.environ.get("LRE_LEGACY_PYTHON") or ROOT / ".venv-legacy" / "bin" / "python")
    if not python.exists():
        reason = f"the legacy environment is not installed ({python}; run ./install.sh --legacy)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must test Flair and Transformer-XL")
        pytest.skip(reason)
    tmp = tmp_path_factory.mktemp("legacy")
    t = 40
    docs = [words[0], words[0][:t] + ["zebra", "quantum", "banana"] * 10]
    (tmp / "words.json").write_text(json.dumps(docs))
    (tmp / "probe.py").write_text(PROBE % {"minilm": MINILM})
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [str(python), str(tmp / "probe.py"), str(tmp / "words.json"), str(tmp)],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    return dict(np.load(tmp / "out.npz")), docs, t


def test_transformer_xl_reads_causally_with_every_layer(legacy):
    out, docs, t = legacy
    for layer in ("L0", "L1", "L2"):
        a, b = out[f"txl_{layer}_0"], out[f"txl_{layer}_1"]
        assert a.shape == (len(docs[0]), 32) and a.dtype == np.float32 and np.isfinite(a).all()
        np.testing.assert_allclose(a[:t], b[:t], atol=1e-5)
    assert np.abs(out["txl_L2_0"][t : t + 20] - out["txl_L2_1"][t : t + 20]).max() > 1e-3


def test_flair_embeddings_are_the_language_models_state_and_causal(legacy):
    out, docs, t = legacy
    a, b = out["embeddings_0"], out["embeddings_1"]
    assert a.shape == (len(docs[0]), 16) and np.isfinite(a).all()
    np.testing.assert_allclose(a[:t], b[:t], atol=1e-5)
    assert np.abs(a[t : t + 20] - b[t : t + 20]).max() > 1e-4
    assert np.abs(a[1:] - a[:-1]).max(1).min() > 0  # every word gets its own state


def test_flair_tagger_gives_a_tag_distribution_per_word_from_its_causal_window(legacy):
    out, docs, t = legacy
    a, b = out["tagger_0"], out["tagger_1"]
    assert a.shape == (len(docs[0]), 5)
    np.testing.assert_allclose(a.sum(1), 1.0, atol=1e-5)
    np.testing.assert_allclose(a[:t], b[:t], atol=1e-5)
