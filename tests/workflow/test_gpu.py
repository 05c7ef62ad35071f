"""The GPU paths give the CPU's answers: feature extraction, the encoding solvers on
himalaya's torch_cuda backend, and the MLP encoder.

These need a CUDA device and are skipped without one (the reason says so); `bench/gpu.sh`
runs them, with the benchmarks, on a GPU machine.
"""

import numpy as np
import pytest
from conftest import MINILM

from lre import encoding, transfer
from lre.features import hf

torch = pytest.importorskip("torch")
pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device (run bench/gpu.sh there)"),
]


def settings(device, dtype="float32"):
    return {"threads": 2, "device": device, "batch_size": 16, "compute_dtype": dtype, "seed": 0}


ENTRIES = {
    "causal": dict(
        family="untrained",
        tokenizer=MINILM,
        layers="all",
        context_tokens=32,
        word_vector="last",
        attention="auto",
        seed=3,
        config=dict(model_type="gpt2", n_layer=2, n_embd=64, n_head=2, n_positions=128),
    ),
    "bidirectional": dict(
        family="hf", source=MINILM, layers="all", context_tokens=24, word_vector="last", attention="auto"
    ),
}


def test_auto_device_is_cuda():
    assert hf.pick_device("auto") == "cuda"


@pytest.mark.parametrize("kind", list(ENTRIES))
def test_features_on_cuda_equal_the_cpu(kind, words):
    cpu, _ = hf.extract("m", ENTRIES[kind], words, settings("cpu"), {})
    gpu, info = hf.extract("m", ENTRIES[kind], words, settings("cuda"), {})
    assert info["device"] == "cuda"
    for out in cpu:
        for a, b in zip(cpu[out], gpu[out]):
            assert a.shape == b.shape and b.dtype == np.float32
            np.testing.assert_allclose(b, a, atol=1e-4 * max(1.0, np.abs(a).max()))


def test_bfloat16_features_stay_close_to_float32(words):
    a, _ = hf.extract("m", ENTRIES["bidirectional"], words, settings("cuda"), {})
    b, _ = hf.extract("m", ENTRIES["bidirectional"], words, settings("cuda", "bfloat16"), {})
    for out in a:
        x, y = np.concatenate(a[out]).ravel(), np.concatenate(b[out]).ravel()
        assert np.corrcoef(x, y)[0, 1] > 0.99, out


@pytest.mark.parametrize("solver", ["lean", "himalaya"])
def test_encoding_on_cuda_equals_numpy(rng, solver):
    n, p, v, n_test = 240, 50, 80, 60
    X = rng.normal(size=(n + n_test, p)).astype(np.float32)
    Y = X @ (rng.normal(size=(p, v)) * rng.uniform(0, 0.3, size=v)) + rng.normal(size=(n + n_test, v))
    Y = Y.astype(np.float32)
    cv = encoding.story_folds([60, 60, 60, 60])
    alphas = np.logspace(-1, 5, 8)
    ref = encoding.fit_and_score(X[:n], Y[:n], X[n:], Y[n:], alphas, cv=cv, backend="numpy", solver=solver)
    gpu = encoding.fit_and_score(X[:n], Y[:n], X[n:], Y[n:], alphas, cv=cv, backend="torch_cuda", solver=solver)
    assert np.isclose(gpu["alphas"], ref["alphas"]).mean() >= 0.98
    np.testing.assert_allclose(gpu["scores"], ref["scores"], atol=2e-3)
    assert isinstance(gpu["scores"], np.ndarray)


def test_mlp_encoder_on_cuda_learns(rng):
    U = rng.normal(size=(600, 30))
    Y = np.tanh(U @ rng.normal(size=(30, 6)) / 3) ** 2
    Y = (Y - Y.mean(0)) / Y.std(0)
    folds = np.arange(480) % 3
    mlp = {"hidden": 32, "epochs": 40, "patience": 5, "lr": 3e-3, "weight_decay": 0.0, "batch_size": 64}
    settings_ = {"method": "mlp", "bottleneck": 3, "alphas": [1e-2, 1, 100], "mlp": mlp}
    res = transfer.encode_space(U[:480], U[480:], Y[:480], Y[480:], folds, settings_, seed=1, device="cuda")
    assert res["latent_test"].shape == (120, 3) and res["test_r2"] > 0.1
