"""A small synthetic BIDS dataset with fMRIPrep-style derivatives and a planted driver.

Four stories (BIDS tasks), two subjects; the test story was heard three times (three runs).
The raw dataset has each run's (tiny) BOLD file, its sidecar with RepetitionTime and
TaskName, and its events.tsv (the story starts at a per-story onset). The derivatives
(``derivatives/fmriprep``) have each run preprocessed in MNI152NLin2009cAsym (desc-preproc),
a confounds file per run, and each subject's anatomical brain mask in that space; with
``surface``, each run on the fsaverage5 surface too (fMRIPrep's
``space-fsaverage5_hemi-L_bold.func.gii`` and its ``hemi-R`` sibling, one data array per
volume).

The planted driver: in the "signal" voxels (the front half of the brain; on the surface,
the vertices in the front third of each hemisphere's sphere), each run's
response is the story's word rate (words starting in each volume) through a fixed
hemodynamic response (delays of 1-4 volumes), plus noise; a confound (``trans_x``, a slow
drift) is added to every voxel. The word timings are written as TSV files for the stimuli
section. Everything is seeded.
"""

from __future__ import annotations

import json
from pathlib import Path

import nibabel as nib
import numpy as np

TR = 2.0
STORIES = {"alpha": 1, "bravo": 1, "charlie": 1, "delta": 3}  # story -> runs (delta: the test story)
ONSETS = {"alpha": 4.0, "bravo": 6.0, "charlie": 4.0, "delta": 8.0}
SUBJECTS = ("01", "02")
SPACE = "MNI152NLin2009cAsym"
SURFACE = "fsaverage5"
GRID = (6, 7, 5)
WEIGHTS = (0.0, 0.6, 1.0, 0.7, 0.3)  # response at delays 0..4 volumes to one word
VOCAB = "the a story of time river light stone house voice garden window morning paper wind".split()


def brain(shape=GRID) -> np.ndarray:
    """An ellipsoid brain mask on the grid."""
    idx = np.indices(shape).astype(float)
    centre = (np.array(shape) - 1) / 2.0
    return (((idx - centre[:, None, None, None]) / (np.array(shape)[:, None, None, None] / 2.0)) ** 2).sum(0) <= 1.0


def signal_voxels(mask: np.ndarray) -> np.ndarray:
    """The planted voxels, (mask voxels,) bool: those in the front half (y above the middle)."""
    y = np.indices(mask.shape)[1][mask]
    return y >= mask.shape[1] // 2


def surface_signal() -> np.ndarray:
    """The planted vertices of both hemispheres (left then right), (2 * 10242,) bool: the
    front of each hemisphere (y on fsaverage5's sphere above 30 of its radius 100)."""
    from nilearn import datasets

    sphere = datasets.load_fsaverage(SURFACE)["sphere"]
    return np.concatenate([sphere.parts[h].coordinates[:, 1] > 30.0 for h in ("left", "right")])


def _gifti(path: Path, series: np.ndarray) -> None:
    """One hemisphere's run, (n_vertices, n_volumes), one data array per volume (fMRIPrep)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = [
        nib.gifti.GiftiDataArray(col.astype(np.float32), intent="NIFTI_INTENT_TIME_SERIES", datatype="float32")
        for col in series.T
    ]
    nib.save(nib.gifti.GiftiImage(darrays=arrays), str(path))


def story_words(rng, n_volumes: int, onset: float) -> list[tuple[str, float, float]]:
    """(word, onset, offset) of a story heard from ``onset`` s into a run of ``n_volumes``,
    with a speech rate that changes slowly (bursts and pauses), ending 3 volumes early."""
    words, t, end = [], 0.0, (n_volumes - 3) * TR - onset
    while t < end:
        rate = 1.0 + 1.5 * (np.sin(t / 9.0) + 1.0) * rng.uniform(0.3, 1.0)
        dur = rng.uniform(0.15, 0.35)
        words.append((str(rng.choice(VOCAB)), round(t, 3), round(t + dur, 3)))
        t += dur + rng.exponential(1.0 / rate)
    return words


def word_rate(words, n_volumes: int, onset: float) -> np.ndarray:
    counts = np.zeros(n_volumes)
    for _, a, _ in words:
        k = int((a + onset) // TR)
        if 0 <= k < n_volumes:
            counts[k] += 1
    return counts


def _json(path: Path, obj) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2) + "\n")


def _nifti(path: Path, data: np.ndarray, affine: np.ndarray, tr: float | None = None) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    img = nib.Nifti1Image(data.astype(np.float32), affine)
    if tr is not None:
        img.header.set_zooms((3.0, 3.0, 3.0, tr))
        img.header.set_xyzt_units("mm", "sec")
    else:
        img.header.set_xyzt_units("mm")
    nib.save(img, str(path))


def write(root: Path, seed: int = 0, n_volumes: dict | None = None, noise: float = 1.0, surface: bool = False) -> dict:
    """Write the dataset under ``root`` (raw BIDS) and ``root/derivatives/fmriprep`` (with
    ``surface``, the runs on fsaverage5 too); the stories' word timings under
    ``root/stimuli/<story>.tsv``. Returns what a test needs: ``mask``, ``signal`` (planted
    voxels among the mask's), ``surface_signal`` (planted vertices, with ``surface``),
    ``words`` per story."""
    rng = np.random.default_rng(seed)
    srng = np.random.default_rng([seed, 1])  # the surface's noise: the volume's data are the same either way
    vsignal = surface_signal() if surface else None
    n_volumes = dict({"alpha": 90, "bravo": 80, "charlie": 85, "delta": 70}, **(n_volumes or {}))
    mask = brain()
    signal = signal_voxels(mask)
    affine = np.array([[3.0, 0, 0, -9.0], [0, 3.0, 0, -12.0], [0, 0, 3.0, -6.0], [0, 0, 0, 1]])
    deriv = root / "derivatives" / "fmriprep"
    _json(
        root / "dataset_description.json",
        {
            "Name": "lre synthetic listening",
            "BIDSVersion": "1.9.0",
            "DatasetType": "raw",
            "License": "CC0",
            "Authors": ["lre tests"],
        },
    )
    (root / "README").write_text("A synthetic naturalistic-listening dataset written by lre's tests.\n")
    (root / "participants.tsv").write_text("participant_id\n" + "".join(f"sub-{s}\n" for s in SUBJECTS))
    _json(root / "participants.json", {"participant_id": {"Description": "subject label"}})
    _json(
        deriv / "dataset_description.json",
        {
            "Name": "lre synthetic listening, preprocessed",
            "BIDSVersion": "1.9.0",
            "DatasetType": "derivative",
            "GeneratedBy": [{"Name": "lre-tests"}],
        },
    )
    words = {s: story_words(rng, n_volumes[s], ONSETS[s]) for s in STORIES}
    (root / "stimuli").mkdir(parents=True, exist_ok=True)
    for story, ws in words.items():
        (root / "stimuli" / f"{story}.tsv").write_text(
            "word\tonset\toffset\n" + "".join(f"{w}\t{a}\t{b}\n" for w, a, b in ws)
        )
        _json(root / f"task-{story}_bold.json", {"TaskName": story, "RepetitionTime": TR})
    for sub in SUBJECTS:
        _nifti(deriv / f"sub-{sub}" / "anat" / f"sub-{sub}_space-{SPACE}_desc-brain_mask.nii.gz", mask, affine)
        gain = rng.uniform(0.5, 1.0, size=int(signal.sum()))
        vgain = srng.uniform(0.5, 1.0, size=int(vsignal.sum())) if surface else None
        for story, runs in STORIES.items():
            n = n_volumes[story]
            rate = word_rate(words[story], n, ONSETS[story])
            driven = np.convolve(rate, WEIGHTS)[:n]
            driven = (driven - driven.mean()) / driven.std()
            for run in range(1, runs + 1):
                ent = f"sub-{sub}_task-{story}" + (f"_run-{run}" if runs > 1 else "")
                func = root / f"sub-{sub}" / "func"
                _nifti(func / f"{ent}_bold.nii.gz", rng.normal(size=mask.shape + (n,)), affine, TR)
                (func / f"{ent}_events.tsv").write_text(
                    f"onset\tduration\ttrial_type\n{ONSETS[story]}\t{(n - 3) * TR - ONSETS[story]:.1f}\tstory\n"
                )
                drift = np.cumsum(rng.normal(size=n))
                drift -= drift.mean()
                y = noise * rng.normal(size=(n, int(mask.sum())))
                y[:, signal] += driven[:, None] * gain
                y += 2.0 * drift[:, None]
                y += 100.0  # a BOLD baseline
                vol = np.zeros(mask.shape + (n,), dtype=np.float32)
                vol[mask] = y.T
                dfunc = deriv / f"sub-{sub}" / "func"
                _nifti(dfunc / f"{ent}_space-{SPACE}_desc-preproc_bold.nii.gz", vol, affine, TR)
                _json(
                    dfunc / f"{ent}_space-{SPACE}_desc-preproc_bold.json",
                    {"RepetitionTime": TR, "SkullStripped": False},
                )
                if surface:
                    v = noise * srng.normal(size=(n, len(vsignal)))
                    v[:, vsignal] += driven[:, None] * vgain
                    v += 2.0 * drift[:, None] + 100.0
                    half = len(vsignal) // 2
                    for hemi, part in (("L", v[:, :half]), ("R", v[:, half:])):
                        _gifti(dfunc / f"{ent}_hemi-{hemi}_space-{SURFACE}_bold.func.gii", part.T)
                    _json(dfunc / f"{ent}_hemi-L_space-{SURFACE}_bold.json", {"RepetitionTime": TR})
                conf = ["trans_x\tframewise_displacement"]
                conf += [f"{d:.6f}\t" + ("n/a" if k == 0 else f"{abs(rng.normal()):.4f}") for k, d in enumerate(drift)]
                (dfunc / f"{ent}_desc-confounds_timeseries.tsv").write_text("\n".join(conf) + "\n")
    return {"mask": mask, "signal": signal, "surface_signal": vsignal, "words": words, "affine": affine}


def config(root: Path, results: str = "results", space: str = SPACE) -> dict:
    """An encoding-only config for the dataset (in ``space``: its MNI volumes, or ``fsaverage5``
    for its surface runs): the lexical controls and a random one."""
    return {
        "analyses": ["encoding"],
        "seed": 0,
        "results": results,
        "stimuli": {
            "stories": list(STORIES),
            "format": "tsv",
            "path": str(root / "stimuli" / "{story}.tsv"),
            "tr_times": {"source": "simulated", "tr": TR},
        },
        "features": {
            "models": {
                "lexical": {"family": "lexical", "label": "Lexical"},
                "random": {"family": "random", "label": "Random", "dim": 16},
            }
        },
        "dataset": {
            "format": "bids",
            "root": str(root),
            "subjects": list(SUBJECTS),
            "train_stories": ["alpha", "bravo", "charlie"],
            "test_stories": ["delta"],
            "bids": {"confounds": ["trans_x"], "space": space},
        },
        "encoding": {"permutations": 50, "delays": [1, 2, 3, 4]},
    }
