"""A space made elsewhere (family precomputed, one NPZ file per document) through the whole
pipeline: transfer, the embedding, the encoding models (it drives the synthetic voxels), the
brain link and the tables; and two bad inputs refused by the run with the file, the document
and the counts."""

import csv
import zlib

import numpy as np
import pytest
import yaml
from conftest import run_snakemake, small_config

from lre.results import Results
from lre.stimuli import documents

DIM = 8


def word_vectors(words: list[str]) -> np.ndarray:
    """A made-up word embedding: each word's vector seeded by the word, so it carries lexical
    identity the way a static embedding does."""
    return np.stack([np.random.default_rng(zlib.crc32(w.lower().encode())).normal(size=DIM) for w in words])


def write_features(root, docs, drop=None, short=None):
    """One NPZ per document under ``root/{set}/{document}.npz``; ``drop``: a (set, document)
    left out; ``short``: one whose last row is left out."""
    for set_, name, words in docs.items():
        if (set_, name) == drop:
            continue
        words = list(words)
        rows = word_vectors(words)[: -1 if (set_, name) == short else None]
        path = root / set_ / f"{name}.npz"
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez(path, features=rows.astype(np.float32), words=np.array(words))


def read_documents(tmp_path):
    docs = documents.read(tmp_path / "results/stimuli/stories.h5")
    docs.corpus = documents.read(tmp_path / "results/stimuli/corpus.h5").corpus
    return docs


def config_with(tmp_path, folder: str) -> dict:
    cfg = small_config()
    cfg["features"]["models"]["mine"] = {
        "family": "precomputed",
        "path": str(tmp_path / folder / "{set}" / "{document}.npz"),
        "dim": DIM,
    }
    cfg["demo"]["fmri"]["planted"] = ["lexical.word_rate", "lexical.articulatory", "mine.vec", "gpt2_untrained.L2"]
    return cfg


def run(tmp_path, cfg, name, *targets):
    (tmp_path / name).write_text(yaml.safe_dump(cfg, sort_keys=False))
    return run_snakemake(["--cores", "2", *targets, "--configfile", name], tmp_path)


@pytest.mark.slow
def test_a_precomputed_space_runs_through_the_whole_pipeline_and_bad_files_are_refused(tmp_path):
    cfg = config_with(tmp_path, "mine")
    # the documents first: the user's features are made on lre's words
    proc = run(tmp_path, cfg, "c.yaml", "results/stimuli/stories.h5", "results/stimuli/corpus.h5")
    assert proc.returncode == 0, proc.stderr[-3000:]
    docs = read_documents(tmp_path)
    write_features(tmp_path / "mine", docs)
    proc = run(tmp_path, cfg, "c.yaml")
    assert proc.returncode == 0, proc.stderr[-5000:]

    res = Results(tmp_path / "results")
    emb = res.embedding("bottleneck")
    assert "mine.vec" in emb["spaces"]  # transferred and embedded like any space
    with open(tmp_path / "results/summary.csv", newline="") as f:
        rows = {r["space"]: r for r in csv.DictReader(f)}
    mine = float(rows["mine.vec"]["top_r_sa"])
    assert rows["mine.vec"]["family"] == "precomputed" and rows["mine.vec"]["dim1"] != ""
    # it drives a quarter of the synthetic voxels: no space predicts them better, and most of
    # the voxels planted with it are won by it
    best = max(rows.values(), key=lambda r: float(r["top_r_sa"]))
    assert best["space"] == "mine.vec", {k: r["top_r_sa"] for k, r in rows.items()}
    recovered = res.checks("sa")["recovery"]["recovered_by_planted_space"]["mine.vec"]
    assert recovered >= 0.5, recovered
    assert "mine.vec" in res.brainlink("sa")["spaces"]
    assert res.scores("sa", "mine.vec")["scores"].shape == res.scores("sa", "glove.vec")["scores"].shape

    # bad input 1: a story's file missing
    first = next(iter(docs.stories))
    write_features(tmp_path / "missing", docs, drop=("stories", first))
    proc = run(tmp_path, config_with(tmp_path, "missing"), "c_missing.yaml", "--keep-going")
    assert proc.returncode != 0
    log = (tmp_path / "results/logs/features/stories/mine.log").read_text()
    n_words = len(docs.stories[first].words.words)
    assert f"missing/stories/{first}.npz" in log and "does not exist" in log, log[-2000:]
    assert f"document stories/{first} ({n_words} words)" in log, log[-2000:]

    # bad input 2: a corpus document one row short
    doc = next(iter(docs.corpus))
    write_features(tmp_path / "short", docs, short=("corpus", doc))
    proc = run(tmp_path, config_with(tmp_path, "short"), "c_short.yaml", "--keep-going")
    assert proc.returncode != 0
    log = (tmp_path / "results/logs/features/corpus/mine.log").read_text()
    n_words = len(docs.corpus[doc])
    assert f"short/corpus/{doc}.npz" in log, log[-2000:]
    assert f"has {n_words - 1} rows but the document has {n_words} words" in log, log[-2000:]
    print(
        f"mine.vec: top-voxel r {mine:.3f}, {recovered:.0%} of its planted voxels won; "
        f"refused: {first} missing, {doc} one row short"
    )
