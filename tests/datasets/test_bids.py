"""BIDS datasets (dataset.format: bids): a synthetic dataset with fMRIPrep-style derivatives
(tests/bids_data.py) read with pybids, checked by the official BIDS validator, and run end to
end with a planted word-level driver recovered."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import bids_data
import numpy as np
import pytest
import yaml
from conftest import ROOT, run_snakemake

from lre import config
from lre.datasets import bids, check_tr, in_mni_space, run_shapes, volume
from lre.features import resolve_spaces


@pytest.fixture
def dataset(tmp_path):
    bids._layout.cache_clear()
    info = bids_data.write(tmp_path / "ds")
    raw = bids_data.config(tmp_path / "ds")
    return tmp_path / "ds", raw, info


def load(dcfg, story, subject="01"):
    mask, affine = volume.load_mask(dcfg["mask"].format(subject=subject))
    return bids.load_run(dcfg, subject, story, mask, affine)


def test_every_run_of_a_task_is_a_repeat_with_its_sidecar_tr_events_onset_and_the_derivatives_mask(dataset):
    root, raw, info = dataset
    dcfg = config.validate(raw)["dataset"]
    # the mask defaults to the derivatives' anatomical brain mask in the space
    assert dcfg["mask"] == str(
        root / "derivatives/fmriprep/sub-{subject}/anat/sub-{subject}_space-MNI152NLin2009cAsym_desc-brain_mask.nii.gz"
    )
    n_vox = int(info["mask"].sum())
    # volume counts come from the files: nothing typed per story
    assert run_shapes(dcfg, "01") == {
        "alpha": (1, 90, n_vox),
        "bravo": (1, 80, n_vox),
        "charlie": (1, 85, n_vox),
        "delta": (3, 70, n_vox),
    }
    run = load(dcfg, "delta")
    assert run.data.shape == (3, 70, n_vox) and run.data.dtype == np.float32
    assert run.source.count("task-delta_run-") == 3
    # volume k's mid-time from the story's start: k * TR + TR / 2 - onset (onset 8 s from events.tsv)
    np.testing.assert_allclose(run.times[:3], [2.0 * 0 + 1.0 - 8.0, 2.0 + 1.0 - 8.0, 4.0 + 1.0 - 8.0])
    # an onset in the config wins over the events; trim drops volumes at both ends
    raw["dataset"]["bids"].update(onsets={"delta": 2.0}, trim=3)
    trimmed = load(config.validate(raw)["dataset"], "delta")
    assert trimmed.data.shape == (3, 64, n_vox)
    np.testing.assert_allclose(trimmed.times[0], 3 * 2.0 + 1.0 - 2.0)
    check_tr(config.validate(raw))  # the sidecars' TR (2 s) agrees with the stimuli's
    assert in_mni_space(dcfg)
    assert not in_mni_space(dict(dcfg, bids=dict(dcfg["bids"], space="T1w")))


def test_the_confounds_are_regressed_out_of_each_run(dataset):
    """Every voxel carries the confound trans_x (a drift, twice the noise's size): regressed
    out, the noise voxels no longer correlate with it; left in (detrending alone), they do."""
    root, raw, info = dataset
    confounds = np.loadtxt(
        root / "derivatives/fmriprep/sub-01/func/sub-01_task-alpha_desc-confounds_timeseries.tsv",
        skiprows=1,
        usecols=0,
    )
    noise = ~info["signal"]

    def corr_with_drift(dcfg):
        y = load(dcfg, "alpha").data[0][:, noise]
        y = (y - y.mean(0)) / y.std(0)
        d = (confounds - confounds.mean()) / confounds.std()
        return float(np.abs(d @ y / len(d)).mean())

    assert corr_with_drift(config.validate(raw)["dataset"]) < 0.05
    raw["dataset"]["bids"]["confounds"] = []
    assert corr_with_drift(config.validate(raw)["dataset"]) > 0.5


def test_a_story_maps_to_a_task_of_another_name(dataset, tmp_path):
    root, raw, _ = dataset
    raw["stimuli"]["stories"] = ["first", "bravo", "charlie", "delta"]
    raw["dataset"]["train_stories"] = ["first", "bravo", "charlie"]
    (root / "stimuli" / "first.tsv").write_text((root / "stimuli" / "alpha.tsv").read_text())
    raw["stimuli"]["path"] = str(root / "stimuli" / "{story}.tsv")
    unmapped = config.validate(raw)["dataset"]
    with pytest.raises(Exception, match=r"task-first .*this subject's tasks in the dataset are \['alpha'"):
        bids.files(unmapped, "01", "first")
    raw["dataset"]["bids"]["tasks"] = {"first": "alpha"}
    assert load(config.validate(raw)["dataset"], "first").data.shape[1] == 90


def test_filters_cannot_set_what_lre_sets_itself(dataset):
    _, raw, _ = dataset
    raw["dataset"]["bids"]["filters"] = {"space": "T1w", "res": "2"}
    with pytest.raises(Exception, match=r"dataset.bids.filters.*\['space'\].*dataset.bids.space"):
        bids.files(config.validate(raw)["dataset"], "01", "alpha")


def validator() -> str | None:
    """The BIDS validator (npm package bids-validator): on PATH, or where .ci/run installs it."""
    local = ROOT / ".ci" / "node" / "node_modules" / ".bin" / "bids-validator"
    return shutil.which("bids-validator") or (str(local) if local.exists() else None)


def test_the_synthetic_dataset_passes_the_bids_validator(tmp_path):
    """The official validator (bids-validator, npm) finds no error in the raw dataset (the
    derivatives are not validated: it checks raw BIDS)."""
    tool = validator()
    if tool is None:
        if os.environ.get("CI"):
            pytest.fail("CI must run the BIDS validator: .ci/run installs it (npm install bids-validator)")
        pytest.skip("the BIDS validator is not installed (npm install --prefix .ci/node bids-validator@1.15.0)")
    bids_data.write(tmp_path / "ds")
    proc = subprocess.run([tool, str(tmp_path / "ds"), "--json"], capture_output=True, text=True, timeout=300)
    report = json.loads(proc.stdout)
    errors = report["issues"]["errors"]
    warnings = sorted(w["key"] for w in report["issues"]["warnings"])
    print(
        f"bids-validator: {len(errors)} errors; warnings: {warnings}; summary: {report['summary']['totalFiles']} files"
    )
    assert proc.returncode == 0 and errors == [], errors
    assert sorted(report["summary"]["tasks"]) == sorted(bids_data.STORIES)
    assert report["summary"]["subjects"] == list(bids_data.SUBJECTS)


def driver_recovered(r: dict, ceiling: np.ndarray, sig: np.ndarray, unit: str) -> str:
    """Check that the word rate (the planted driver) predicts the planted columns ``sig`` near
    their noise ceiling and nothing elsewhere, and that the random control scores about zero
    there; return the line that says so."""
    word, rand = r["lexical.word_rate"], r["random.vec"]
    assert word[sig].mean() > 0.6
    assert word[sig].mean() > 0.85 * ceiling[sig].mean()
    assert abs(word[~sig].mean()) < 0.05
    assert abs(rand[~sig].mean()) < 0.05
    return (
        f"word rate r = {word[sig].mean():.3f} on the {int(sig.sum())} planted {unit} (noise ceiling "
        f"{ceiling[sig].mean():.3f}), {word[~sig].mean():+.3f} on the {int((~sig).sum())} others; random control "
        f"{rand[~sig].mean():+.3f} there"
    )


@pytest.mark.slow
def test_a_bids_dataset_runs_end_to_end_and_recovers_the_planted_driver(tmp_path):
    """The encoding analysis on the synthetic BIDS dataset (volume, MNI space, confounds
    regressed out, a three-run test story): the word rate, the planted driver, predicts the
    planted voxels near their noise ceiling and nothing elsewhere; the random control scores
    about zero outside them; the report and maps are written."""
    import h5py

    info = bids_data.write(tmp_path / "ds")
    cfg = bids_data.config(tmp_path / "ds")
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = run_snakemake(["--cores", "2", "--configfile", "c.yaml"], tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    out = tmp_path / "results"
    sig = info["signal"]
    lines = []
    for sub in bids_data.SUBJECTS:
        with h5py.File(out / "encoding" / sub / "noise_ceiling.h5") as f:
            ceiling = f["ceiling"][()]
            assert f.attrs["repeats"] == 3
        r = {}
        for space in ("lexical.word_rate", "random.vec"):
            with h5py.File(out / "encoding" / sub / f"{space}.h5") as f:
                r[space] = f["scores"][()]
            assert (out / "encoding" / sub / f"{space}_r.nii.gz").exists()
        lines.append(f"sub-{sub}: " + driver_recovered(r, ceiling, sig, "voxels"))
    print("\n".join(lines))
    assert (out / "report.html").exists() and (out / "summary.csv").exists()
    # the viewer follows the data's space (MNI): the maps are also drawn on the fsaverage surface
    assert list((out / "viewer").glob("*surface*.html"))


@pytest.mark.slow
def test_surface_runs_run_to_the_brain_link_with_gifti_maps_per_hemisphere(tmp_path):
    """The same dataset's runs on fsaverage5 (both hemispheres' GIfTI, no mask), through every
    analysis with the small config's networks embedded from the demo's corpus: the word rate
    predicts the planted vertices near their noise ceiling and nothing elsewhere; the brain
    link finds the planted vertices reliable; every map is a GIfTI file per hemisphere
    (10,242 vertices each) equal to the results it maps; the figures show the surface and
    the interactive views are nilearn's view_surf."""
    import nibabel as nib
    from conftest import small_config

    from lre.results import Results
    from lre.stimuli.demo import lee_corpus_path

    info = bids_data.write(tmp_path / "ds", surface=True)
    lines = lee_corpus_path().read_text(encoding="utf-8").splitlines()[:40]
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n")
    small = small_config()
    cfg = bids_data.config(tmp_path / "ds", space="fsaverage5")
    del cfg["analyses"]  # every analysis the sections allow
    cfg["features"]["models"] = dict(small["features"]["models"], random=cfg["features"]["models"]["random"])
    cfg["corpus"] = {"path": str(tmp_path / "corpus.txt")}
    for section in ("transfer", "embedding", "brainlink"):
        cfg[section] = small[section]
    cfg["transfer"]["exclude"] = cfg["transfer"]["exclude"] + ["random.vec"]  # a brain control only
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = run_snakemake(["--cores", "2", "--configfile", "c.yaml"], tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    out, sig = tmp_path / "results", info["surface_signal"]
    res = Results(out)
    lines = []
    for sub in bids_data.SUBJECTS:
        ceiling = res.noise_ceiling(sub)
        r = {space: res.scores(sub, space)["scores"] for space in ("lexical.word_rate", "random.vec")}
        link = res.brainlink(sub)
        reliable = np.asarray(link["reliable"], bool)
        for kind, values in (
            ("lexical.word_rate", r["lexical.word_rate"]),
            ("noise_ceiling", ceiling),
            ("principal", link["principal"]),
        ):
            left = res.map(sub, kind)
            assert left.name.endswith("_hemi-L.func.gii"), left
            halves = [nib.load(str(p)).darrays[0].data for p in (left, str(left).replace("hemi-L", "hemi-R"))]
            assert [len(h) for h in halves] == [10242, 10242]
            np.testing.assert_allclose(np.concatenate(halves), values, rtol=1e-6, equal_nan=True)
        lines.append(
            f"sub-{sub}: {driver_recovered(r, ceiling, sig, 'vertices')}; brain link: "
            f"{int(reliable[sig].sum())} planted vertices reliable, {int(reliable[~sig].sum())} others"
        )
        assert reliable[sig].mean() > 0.9 and reliable[~sig].mean() < 0.4
        for png in ("encoding/{s}/noise_ceiling.png", "brainlink/{s}_principal.png", "brainlink/{s}_score.png"):
            assert (out / png.format(s=sub)).stat().st_size > 50_000, png  # four views of the surface
        for kind in ("best_r", "principal", "score"):
            view = (out / "viewer" / f"{sub}_{kind}.html").read_text()
            assert "plotly" in view.lower() and "view: left" in view.lower().replace("'", ""), kind
    print("\n".join(lines))
    assert not list(out.rglob("*.nii.gz"))  # nothing pretends to be a volume
    assert not list((out / "viewer").glob("*surface*.html"))  # the data are on the surface already
    assert (out / "report.html").exists()


def test_surface_settings_that_cannot_hold_are_refused(dataset, monkeypatch, tmp_path):
    """A mask for surface runs, pycortex flatmaps of surface data, a mesh nilearn does not hold
    (with how to get it), a space with no files, and the retired narratives format."""
    from lre.datasets import surface
    from lre.errors import ConfigError, InputError

    _, raw, _ = dataset
    raw["dataset"]["bids"]["space"] = "fsaverage5"
    raw["dataset"]["mask"] = "m.nii.gz"
    with pytest.raises(ConfigError, match=r"dataset.mask.*fsaverage5 surface.*dataset.mask: null"):
        config.validate(raw)
    raw["dataset"]["mask"] = None
    assert config.validate(raw)["dataset"]["mask"] is None
    flat = config.validate(dict(raw, brainlink={"pycortex": {"subject": "{subject}", "xfm": "xfm"}}))
    with pytest.raises(ConfigError, match=r"brainlink.pycortex.*fsaverage5 surface.*nilearn's surface figures"):
        config.check_dataset(flat, resolve_spaces(flat["features"]["models"]))
    # no surface derivatives were written: the error names the spaces there are
    with pytest.raises(InputError, match=r"space-fsaverage5 without desc \(hemi-L .func.gii\).*MNI152NLin2009cAsym"):
        bids.files(config.validate(raw)["dataset"], "01", "alpha")
    raw["dataset"]["bids"]["space"] = "fsaverage6"
    monkeypatch.setattr("nilearn.datasets.get_data_dirs", lambda *a, **k: [str(tmp_path / "empty")])
    assert surface.mesh_available("fsaverage5") and not surface.mesh_available("fsaverage6")
    with pytest.raises(ConfigError, match=r"fsaverage6, whose mesh.*load_fsaverage\('fsaverage6'\)"):
        check_tr(config.validate(raw))
    with pytest.raises(InputError, match=r"has 10242 vertices per hemisphere, but space fsaverage6 has 40962"):
        surface.check_vertices("x_hemi-L.func.gii", 10242, "fsaverage6")
    narratives = dict(raw, dataset=dict(raw["dataset"], format="narratives"))
    with pytest.raises(ConfigError, match=r"narratives is retired.*format: bids.*afni-nosmooth"):
        config.validate(narratives)


@pytest.mark.slow
def test_a_bids_dataset_with_the_embedding_runs_to_the_brain_link(tmp_path):
    """Every analysis on the synthetic BIDS dataset: the small config's networks (lexical
    controls, GloVe, an untrained GPT-2) embedded from a corpus of the demo's source text,
    encoding models on the BIDS runs, variance partitioning and the brain link. One voxel of
    sub-01 is NaN in one run (dataset.nonfinite: drop): it is NaN in every result and
    counted in the summary, and the rest runs as if it were not there."""
    import csv

    import nibabel as nib
    from conftest import small_config

    from lre.results import Results
    from lre.stimuli.demo import lee_corpus_path

    info = bids_data.write(tmp_path / "ds")
    nan_voxel = int(np.flatnonzero(info["signal"])[0])  # a planted voxel, in mask order
    run = next((tmp_path / "ds/derivatives/fmriprep/sub-01/func").glob("*task-bravo*_bold.nii.gz"))
    img = nib.load(str(run))
    data = np.asarray(img.dataobj)
    data[tuple(np.argwhere(info["mask"])[nan_voxel])][10] = np.nan
    nib.save(nib.Nifti1Image(data, img.affine, img.header), str(run))
    lines = lee_corpus_path().read_text(encoding="utf-8").splitlines()[:40]
    (tmp_path / "corpus.txt").write_text("\n".join(lines) + "\n")
    small = small_config()
    cfg = bids_data.config(tmp_path / "ds")
    del cfg["analyses"]  # every analysis the sections allow
    cfg["features"] = small["features"]
    cfg["corpus"] = {"path": str(tmp_path / "corpus.txt")}
    for section in ("transfer", "embedding", "brainlink"):
        cfg[section] = small[section]
    cfg["partition"] = {"spaces": ["glove.vec"], "band_weights": [0.1, 0.5, 0.9]}
    cfg["dataset"]["nonfinite"] = "drop"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = run_snakemake(["--cores", "2", "--configfile", "c.yaml"], tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    res = Results(tmp_path / "results")
    dropped = np.zeros_like(info["signal"])
    dropped[nan_voxel] = True
    with open(tmp_path / "results" / "encoding" / "01" / "summary.csv", newline="") as f:
        assert {row["dropped_voxels"] for row in csv.DictReader(f)} == {"1"}
    assert np.isnan(res.scores("01", "glove.vec")["scores"][dropped]).all()
    assert np.isnan(res.noise_ceiling("01")[dropped]).all()
    assert np.isnan(res.partition("01", "glove.vec")["unique"][dropped]).all()
    for sub in bids_data.SUBJECTS:
        link = res.brainlink(sub)
        reliable = np.asarray(link["reliable"], bool)
        if sub == "01":
            assert not reliable[dropped].any() and np.isnan(link["score"][dropped]).all()
        kept = ~dropped if sub == "01" else np.ones_like(dropped)
        signal, others = info["signal"] & kept, ~info["signal"] & kept
        print(
            f"sub-{sub}: {int(reliable[signal].sum())} of {int(signal.sum())} planted voxels reliably predicted, "
            f"{int(reliable[others].sum())} of {int(others.sum())} others"
        )
        # best CV R^2 of 13 spaces >= brainlink.min_cv_r2 (0.01) on 255 training volumes:
        # some noise voxels pass by chance
        assert reliable[signal].mean() > 0.9 and reliable[others].mean() < 0.4
        assert np.isfinite(np.asarray(link["principal"])[reliable]).all()
    assert (tmp_path / "results" / "report.html").exists()
