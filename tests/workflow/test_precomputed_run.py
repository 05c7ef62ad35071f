"""A space made elsewhere (family precomputed, one NPZ file per document) through the whole
pipeline: transfer, the embedding, the encoding models (it drives the synthetic voxels), the
brain link and the tables; a volume-level space (one file per story, a row per fMRI volume)
added to the finished run; and bad inputs refused by the run with the file, the document or
story, and the counts."""

import csv
import re
import zlib

import numpy as np
import pytest
import yaml
from conftest import run_snakemake, small_config

from lre import config, timing
from lre.encoding.stage import Subject
from lre.features.store import FeatureFile
from lre.jobs import dataset_slice
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


def write_volume_features(root, docs, cfg_path, subject, word_times, short=None):
    """The made-up word vectors of each story resampled to the subject's volumes, as lre itself
    would resample them, one NPZ per story under ``root/{story}.npz`` (``short``: a story whose
    last volume is left out)."""
    cfg = config.load(cfg_path)
    subj = Subject(dataset_slice(cfg), subject)
    root.mkdir(parents=True, exist_ok=True)
    for name, story in docs.stories.items():
        vectors = word_vectors(list(story.words.words))
        rows = timing.lanczos_resample(vectors, word_times[name], subj.runs[name].times)
        np.savez(root / f"{name}.npz", features=rows[: -1 if name == short else None].astype(np.float32))


def planned_jobs(stdout: str) -> dict[str, int]:
    """``rule: count`` from a dry run's job table."""
    table = stdout.split("Job stats:")[1].split("total")[0]
    return {m[0]: int(m[1]) for m in re.findall(r"^(\w+)\s+(\d+)$", table, flags=re.M)}


def with_volume(cfg: dict, folder) -> dict:
    """``cfg`` with a volume-level precomputed model ``vol``, one NPZ per story in ``folder``."""
    out = {**cfg, "features": {**cfg["features"], "models": dict(cfg["features"]["models"])}}
    out["features"]["models"]["vol"] = {
        "family": "precomputed",
        "level": "volume",
        "path": str(folder / "{story}.npz"),
        "dim": DIM,
    }
    return out


def run(tmp_path, cfg, name, *targets):
    (tmp_path / name).write_text(yaml.safe_dump(cfg, sort_keys=False))
    return run_snakemake(["--cores", "2", *targets, "--configfile", name], tmp_path)


@pytest.mark.slow
def test_a_precomputed_space_runs_through_the_whole_pipeline_and_bad_files_are_refused(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # the config's paths are relative to the run
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

    # a volume-level space added to the finished run: mine.vec's words resampled to sa's
    # volumes elsewhere, so its design is mine.vec's and so are its scores. Only its own jobs
    # and the tables and views over all spaces are planned: no corpus features, no transfer,
    # no embedding, no brain link (it has no words, so no place in the embedding)
    word_times = FeatureFile(tmp_path / "results/features/stories/mine.h5").times()
    write_volume_features(tmp_path / "vol", docs, tmp_path / "c.yaml", "sa", word_times)
    vcfg = with_volume(cfg, tmp_path / "vol")
    (tmp_path / "c_vol.yaml").write_text(yaml.safe_dump(vcfg, sort_keys=False))
    dry = run_snakemake(["--cores", "2", "-n", "--configfile", "c_vol.yaml"], tmp_path)
    assert dry.returncode == 0, dry.stderr[-3000:]
    jobs = planned_jobs(dry.stdout)
    assert jobs.get("features") == 1 and "corpus_features" not in jobs, jobs
    assert not [r for r in jobs if r.startswith(("transfer", "direct", "embedding", "similarity", "brainlink"))], jobs
    proc = run(tmp_path, vcfg, "c_vol.yaml")
    assert proc.returncode == 0, proc.stderr[-5000:]
    vol, word = res.scores("sa", "vol.vec"), res.scores("sa", "mine.vec")
    np.testing.assert_allclose(vol["scores"], word["scores"], atol=1e-4)
    assert "vol.vec" not in res.embedding("bottleneck")["spaces"]
    assert "vol.vec" not in res.brainlink("sa")["spaces"]
    with open(tmp_path / "results/summary.csv", newline="") as f:
        rows_vol = {r["space"]: r for r in csv.DictReader(f)}
    assert rows_vol["vol.vec"]["family"] == "precomputed" and rows_vol["vol.vec"]["dim1"] == ""
    assert rows_vol["vol.vec"]["top_r_sa"] == rows_vol["mine.vec"]["top_r_sa"], (
        rows_vol["vol.vec"],
        rows_vol["mine.vec"],
    )

    # bad input: a story's volume-level file one volume short, refused by the encoding job
    test_story = vcfg["dataset"]["test_stories"][0]
    write_volume_features(tmp_path / "vol_short", docs, tmp_path / "c.yaml", "sa", word_times, short=test_story)
    proc = run(tmp_path, with_volume(cfg, tmp_path / "vol_short"), "c_vol_short.yaml", "--keep-going")
    assert proc.returncode != 0
    n_vol = len(Subject(dataset_slice(config.load(tmp_path / "c.yaml")), "sa").runs[test_story].times)
    logs = "".join(p.read_text() for p in (tmp_path / "results/logs").rglob("*vol*.log"))
    assert f"vol_short/{test_story}.npz" in logs, logs[-2000:]
    assert f"story {test_story} has {n_vol - 1} rows of volume-level features" in logs, logs[-2000:]
    assert f"sa's responses to it have {n_vol} volumes" in logs, logs[-2000:]

    # a word-level bad input: a story's file missing
    first = next(iter(docs.stories))
    write_features(tmp_path / "missing", docs, drop=("stories", first))
    proc = run(tmp_path, config_with(tmp_path, "missing"), "c_missing.yaml", "--keep-going")
    assert proc.returncode != 0
    log = (tmp_path / "results/logs/features/stories/mine.log").read_text()
    n_words = len(docs.stories[first].words.words)
    assert f"missing/stories/{first}.npz" in log and "does not exist" in log, log[-2000:]
    assert f"document stories/{first} ({n_words} words)" in log, log[-2000:]

    # another: a corpus document one row short
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
        f"refused: {first} missing, {doc} one row short; vol.vec (volume level): top-voxel r "
        f"{float(rows_vol['vol.vec']['top_r_sa']):.3f}, jobs planned when added {jobs}, refused: "
        f"{test_story} {n_vol - 1} of {n_vol} volumes"
    )
