"""Noise ceilings: the same ceiling from repeats stored stacked or one file per repeat, and
no ceiling at all from a single repeat (as in the ds003020 derivative), which the ceiling
file, its map and figure, the summaries, the performance figure, the space table, the
recovery check and lre.results each say in words."""

import csv
import json
import logging
import shutil

import h5py
import nibabel as nib
import numpy as np
import pytest
from test_encoding import FMRI, LEBEL, fake_stories

from lre import io, timing
from lre.brainlink.stage import run_space_table
from lre.datasets import lebel2023, synthetic
from lre.datasets.stage import run_recovery
from lre.encoding import models
from lre.encoding import stage as enc
from lre.features import store
from lre.paths import Layout
from lre.results import Results

SUBJECT = "s01"
SPACES = ["net.L1", "net.L3", "rnd.vec"]
REPEATS = "derivative/repeats/{subject}/{story}_run-{repeat}.hf5"


@pytest.fixture(scope="module")
def stories():
    return fake_stories(np.random.default_rng(0), n_stories=3, n_words=800)


def write_subject(root, docs, feats, repeats: int) -> dict:
    """One synthetic subject in the LeBel layout under ``root`` (its test story ``s2`` with
    ``repeats`` repeats, stacked in one file); the dataset slice of a job that reads it."""
    stories = list(docs.stories)
    io.write_json(lebel2023.respdict_path(root), synthetic.respdict(docs, stories, LEBEL))
    synthetic.make_subject(
        SUBJECT,
        stories,
        "s2",
        docs,
        feats,
        dict(FMRI, repeats=repeats),
        LEBEL,
        3,
        {s: lebel2023.response_path(root, SUBJECT, s) for s in stories},
        root / "mask.nii.gz",
        root / "truth.h5",
        root / "gradient.nii.gz",
    )
    return {
        "format": "lebel2023",
        "root": str(root),
        "mask": str(root / "mask.nii.gz"),
        "voxel_order": "c",
        "train_stories": ["s0", "s1"],
        "test_stories": ["s2"],
        "lebel": dict(LEBEL, test_repeats=None),
    }


def ceiling_job(dcfg: dict) -> dict:
    train = dcfg["train_stories"] if dcfg.get("nonfinite") == "drop" else []  # as lre.jobs.noise_ceiling_job
    return {"stage": "noise-ceiling", "subject": SUBJECT, "dataset": dict(dcfg, train_stories=train)}


def run_ceiling(dcfg: dict, results) -> dict:
    """The noise-ceiling command into ``results`` (lre's layout); its three outputs."""
    lay = Layout(results)
    out = {k: lay.path(f"noise_ceiling{k}", subject=SUBJECT) for k in ("", "_nii", "_png")}
    enc.run_noise_ceiling(ceiling_job(dcfg), out[""], out["_nii"], out["_png"])
    return out


def test_ceiling_from_repeat_files_equals_the_ceiling_from_the_stacked_repeats(tmp_path, stories):
    """The test story's four repeats, once stacked in one file and once one file per repeat
    (dataset.lebel.test_repeats), give the same ceiling: the closed form on the z-scored
    repeats, close to the ceiling planted in the synthetic data."""
    docs, feats = stories
    stacked = write_subject(tmp_path / "stacked", docs, feats, repeats=4)
    shutil.copytree(tmp_path / "stacked", tmp_path / "split")
    test_file = lebel2023.response_path(tmp_path / "split", SUBJECT, "s2")
    with h5py.File(test_file, "r") as f:
        reps = f["data"][()]
    assert reps.shape[0] == 4
    for k, rep in enumerate(reps, start=1):
        path = tmp_path / "split" / REPEATS.format(subject=SUBJECT, story="s2", repeat=k)
        path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(path, "w") as f:
            f["data"] = rep
    test_file.unlink()  # the repeat files are all there is of the test story
    split = dict(stacked, root=str(tmp_path / "split"), lebel=dict(LEBEL, test_repeats={"path": REPEATS, "repeats": 4}))

    a = run_ceiling(stacked, tmp_path / "a")
    b = run_ceiling(split, tmp_path / "b")
    ca, cb = enc.read_ceiling(a[""]), enc.read_ceiling(b[""])
    assert ca["status"] == cb["status"] == "ok" and ca["repeats"] == cb["repeats"] == 4
    assert ca["label"] == "from 4 repeats"
    np.testing.assert_array_equal(ca["ceiling"], cb["ceiling"])
    expect = models.noise_ceiling(np.stack([timing.zscore(r) for r in reps]))
    np.testing.assert_allclose(ca["ceiling"], expect, atol=1e-6)
    planted = synthetic.read_truth(tmp_path / "stacked" / "truth.h5")["planted_ceiling"]
    assert np.corrcoef(ca["ceiling"], planted)[0, 1] > 0.8
    np.testing.assert_array_equal(nib.load(a["_nii"]).get_fdata(), nib.load(b["_nii"]).get_fdata())
    assert (tmp_path / "b" / "encoding" / SUBJECT / "noise_ceiling.png").stat().st_size > 10_000


def encode(dcfg: dict, docs, feats, results) -> dict:
    """Fit the spaces of :data:`SPACES` for the subject (lre's encode command); the job."""
    lay = Layout(results)
    fpath = results / "features" / "net.h5"
    fpath.parent.mkdir(parents=True, exist_ok=True)
    arrays = {s: [feats[s][d].astype(np.float32) for d in docs.stories] for s in SPACES}
    store.write(fpath, "net", "test", docs, arrays, io.provenance({"stage": "features", "model": "net"}))
    job = {
        "stage": "encode",
        "seed": 0,
        "subject": SUBJECT,
        "spaces": SPACES,
        "dataset": dcfg,
        "encoding": {
            "delays": [1, 2, 3, 4],
            "alphas": [0.01, 1.0, 100.0, 10_000.0],
            "cv_folds": 2,
            "cv_chunk": 40,
            "backend": "numpy",
            "solver": "lean",
            "permutations": 50,
            "permutation_block": 10,
            "fdr_q": 0.05,
        },
        "runtime": {"n_targets_batch": None},
    }
    enc.run_encode(job, {s: fpath for s in SPACES}, {s: lay.path("encoding", subject=SUBJECT, space=s) for s in SPACES})
    return job


def downstream(dcfg: dict, docs, feats, results) -> dict:
    """Everything after the noise ceiling: encoding, the subject's summary, the performance
    figure, the space table and the recovery check, as the rules chain them."""
    lay = Layout(results)
    ceiling = run_ceiling(dcfg, results)
    enc_job = encode(dcfg, docs, feats, results)
    spaces = [
        {"name": s, "model": "net", "family": "test", "group": s.split(".")[0], "output": s.split(".")[1]}
        for s in SPACES
    ]
    hashes = {s: io.config_hash(enc_job) for s in SPACES}
    scores = {s: lay.path("encoding", subject=SUBJECT, space=s) for s in SPACES}
    summary_job = {
        "stage": "encoding-summary",
        "subject": SUBJECT,
        "spaces": spaces,
        "top_voxels": 20,
        "top_voxels_by": "auto",
        "expects": {"scores": hashes, "ceiling": io.config_hash(ceiling_job(dcfg))},
    }
    summary = lay.path("encoding_summary", subject=SUBJECT)
    enc.run_summary(summary_job, scores, ceiling[""], summary)
    rows_job = {"spaces": spaces, "expects": {"rows": {SUBJECT: hashes}}}
    enc.run_performance_figure(dict(rows_job, stage="performance-figure"), {SUBJECT: summary}, lay["performance_png"])
    run_space_table(dict(rows_job, stage="space-table"), lay["space_table"], summaries={SUBJECT: summary})
    recovery_job = {"subject": SUBJECT, "controls": ["rnd.vec"], "expects": {}}
    run_recovery(recovery_job, dcfg["root"] + "/truth.h5", ceiling[""], scores, lay.path("recovery", subject=SUBJECT))
    with open(summary, newline="") as f:
        rows = list(csv.DictReader(f))
    with open(lay["space_table"], newline="") as f:
        table = list(csv.DictReader(f))
    recovery = json.loads(open(lay.path("recovery", subject=SUBJECT)).read())
    return {"ceiling": ceiling, "rows": rows, "table": table, "recovery": recovery, "scores": scores}


def test_summaries_give_the_ceiling_of_each_spaces_top_voxels(tmp_path, stories):
    """With repeats, the summary's headline is the mean test r of the 20 voxels of highest
    noise ceiling (the same voxels for every space, named in the column), beside the mean
    over all voxels and the mean ceiling of those voxels; the space table carries them."""
    docs, feats = stories
    dcfg = write_subject(tmp_path / "ds", docs, feats, repeats=4)
    out = downstream(dcfg, docs, feats, tmp_path / "results")
    ceiling = enc.read_ceiling(out["ceiling"][""])["ceiling"]
    top = np.argsort(-ceiling, kind="stable")[:20]  # chosen by the ceiling, not by any test r
    for row, cell in zip(out["rows"], out["table"]):
        r = enc.read_scores(out["scores"][row["space"]])["scores"]
        assert float(row["mean_r_top20_by_ceiling"]) == pytest.approx(r[top].mean(), abs=1e-5)
        assert float(row["mean_r"]) == pytest.approx(r.mean(), abs=1e-5)
        assert float(row["ceiling_top20"]) == pytest.approx(ceiling[top].mean(), abs=1e-5)
        assert row["ceiling"] == "from 4 repeats"
        assert cell["space"] == row["space"] and cell["top_ceiling_s01"] == row["ceiling_top20"]
        assert cell["top_r_s01"] == row["mean_r_top20_by_ceiling"] and cell["mean_r_s01"] == row["mean_r"]
        assert cell["top_voxels_s01"] == "20 voxels by noise ceiling"
    best = max(out["rows"], key=lambda row: float(row["mean_r_top20_by_ceiling"]))
    assert best["space"] != "rnd.vec" and float(best["ceiling_top20"]) >= float(best["mean_r_top20_by_ceiling"]) - 0.05
    assert out["recovery"]["ceiling"] == "from 4 repeats" and out["recovery"]["ceiling_correlation"] > 0.8
    res = Results(tmp_path / "results")
    np.testing.assert_array_equal(res.noise_ceiling(SUBJECT), ceiling)
    assert res.map(SUBJECT, "noise_ceiling") == res.path("noise_ceiling_nii", subject=SUBJECT)


def test_a_single_repeat_gives_no_ceiling_and_every_consumer_says_so(tmp_path, stories, caplog):
    """A test story with one repeat: one warning that names the subject, the story and the
    fix; no ceiling dataset (status "single repeat"), no zero map (NaN, described as no
    ceiling), a figure that says so; empty ceiling cells beside "none (1 repeat)" in the
    summary and the space table, a performance figure without ceiling ticks, a recovery
    check whose ceiling correlation is null, and lre.results giving None."""
    docs, feats = stories
    dcfg = write_subject(tmp_path / "ds", docs, feats, repeats=1)
    with caplog.at_level(logging.INFO):
        out = downstream(dcfg, docs, feats, tmp_path / "results")
    warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING and "ceiling" in r.getMessage()]
    assert len(warnings) == 1, warnings  # said once, in the noise-ceiling job
    (warning,) = warnings
    assert warning.startswith("s01: NO NOISE CEILING. The test story 's2' has a single repeat (")
    assert "preprocessed_data/s01/s2.hf5" in warning and "status 'single repeat'" in warning
    assert "ceiling: none (1 repeat)" in warning and "Fix: the ds003020 derivative stores" in warning
    assert "preprocess each repeat run of the test story" in warning
    assert "dataset.lebel.test_repeats" in warning and "docs/datasets.md" in warning

    with h5py.File(out["ceiling"][""], "r") as f:
        assert "ceiling" not in f
        assert f.attrs["status"] == "single repeat" and f.attrs["repeats"] == 1
        assert "single repeat" in f.attrs["note"]
    img = nib.load(out["ceiling"]["_nii"])
    assert np.isnan(img.get_fdata()).all()  # no value anywhere: not a map of zeros
    assert b"NO noise ceiling" in img.header["descrip"].tobytes()
    assert (tmp_path / "results" / "encoding" / SUBJECT / "noise_ceiling.png").stat().st_size > 5_000

    assert [r["space"] for r in out["rows"]] == SPACES
    for row, cell in zip(out["rows"], out["table"]):
        assert row["ceiling_top20"] == "" and row["ceiling"] == "none (1 repeat)"
        # without a ceiling, each space's 20 voxels of highest cross-validated score
        result = enc.read_scores(out["scores"][row["space"]])
        top = np.argsort(-result["cv_scores"].astype(np.float64), kind="stable")[:20]
        assert float(row["mean_r_top20_by_cv"]) == pytest.approx(result["scores"][top].mean(), abs=1e-5)
        assert cell["top_ceiling_s01"] == "none (1 repeat)" and cell["top_r_s01"] == row["mean_r_top20_by_cv"]
        assert cell["top_voxels_s01"] == "20 voxels by cross-validated score"
    assert (tmp_path / "results" / "encoding" / "performance.png").stat().st_size > 10_000
    assert any("draws no noise ceiling for s01 (test story: 1 repeat)" in r.getMessage() for r in caplog.records)
    assert out["recovery"]["ceiling"] == "none (1 repeat)" and out["recovery"]["ceiling_correlation"] is None
    assert out["recovery"]["recovered"] > 0.5  # the rest of the check still runs

    res = Results(tmp_path / "results")
    assert res.noise_ceiling(SUBJECT) is None and res.map(SUBJECT, "noise_ceiling") is None
    info = res.ceiling(SUBJECT)
    assert info["status"] == "single repeat" and info["label"] == "none (1 repeat)" and info["repeats"] == 1


def test_a_ceiling_file_of_zeros_from_an_older_lre_reads_as_no_ceiling(tmp_path):
    """Before, a single repeat gave a file of zeros (repeats = 1): it is read as no ceiling."""
    path = tmp_path / "noise_ceiling.h5"
    with io.h5_atomic(path) as f:
        io.h5_set_json(f, "provenance", io.provenance({"stage": "noise-ceiling", "subject": SUBJECT}))
        f["ceiling"] = np.zeros(5, np.float32)
        f.attrs["repeats"] = 1
    info = enc.read_ceiling(path)
    assert info["ceiling"] is None and info["label"] == "none (1 repeat)"


def test_nonfinite_voxels_are_refused_or_dropped_leaving_every_other_voxel_as_it_was(tmp_path, stories, caplog):
    """A ds003020-layout subject with a NaN voxel in a training story and an infinite one in a
    test repeat: refused by default, naming the file and the option; with
    ``dataset.nonfinite: drop`` the two voxels are NaN in every result and map, the summary
    counts them, and every other voxel's scores and ceiling equal those of the clean data."""
    from lre.errors import InputError

    docs, feats = stories
    clean = write_subject(tmp_path / "clean", docs, feats, repeats=3)
    out_clean = downstream(clean, docs, feats, tmp_path / "results_clean")
    spoiled = write_subject(tmp_path / "ds", docs, feats, repeats=3)
    for story, index, value in (("s0", (5, 3), np.nan), ("s2", (1, 7, 11), np.inf)):
        path = lebel2023.response_path(spoiled["root"], SUBJECT, story)
        with h5py.File(path, "r+") as f:
            data = f["data"][()]
            data[index] = value
            f["data"][...] = data
    with pytest.raises(InputError, match=r"s0\.hf5.*non-finite values in 1 voxels.*dataset\.nonfinite: drop"):
        encode(spoiled, docs, feats, tmp_path / "refused")
    spoiled["nonfinite"] = "drop"
    with caplog.at_level(logging.WARNING):
        out = downstream(spoiled, docs, feats, tmp_path / "results")
    assert "2 of" in caplog.text and "left out of every fit" in caplog.text
    dropped = np.zeros(len(enc.read_ceiling(out["ceiling"][""])["ceiling"]), bool)
    dropped[[3, 11]] = True
    ceiling, ceiling_clean = (enc.read_ceiling(o["ceiling"][""])["ceiling"] for o in (out, out_clean))
    assert np.isnan(ceiling[dropped]).all()
    np.testing.assert_allclose(ceiling[~dropped], ceiling_clean[~dropped], rtol=1e-5, atol=1e-6)
    mask = nib.load(spoiled["mask"]).get_fdata() != 0
    for space, row in zip(SPACES, out["rows"]):
        s, c = enc.read_scores(out["scores"][space]), enc.read_scores(out_clean["scores"][space])
        for key in ("scores", "r2", "cv_scores", "pvalues"):
            assert np.isnan(s[key][dropped]).all(), key
            np.testing.assert_allclose(s[key][~dropped], c[key][~dropped], rtol=1e-4, atol=1e-5, err_msg=key)
        assert not s["significant"][dropped].any() and s["attrs"]["dropped_voxels"] == 2
        assert row["dropped_voxels"] == "2"
        assert float(row["mean_r"]) == pytest.approx(s["scores"][~dropped].mean(), abs=1e-5)
    vol = nib.load(out["ceiling"]["_nii"]).get_fdata()
    assert np.isnan(vol[mask]).sum() == 2  # NaN in the map where the voxels were dropped
