"""A synthetic fMRI dataset with planted ground truth, in the LeBel (ds003020) layout.

Subjects hear the demo stories. Each subject has a 3-D volume (``grid`` voxels of
``voxel_size`` mm, a real affine) with an ellipsoid brain mask of a few thousand voxels.
Along the posterior-anterior axis runs a low-to-high gradient: the spaces of ``planted``
(ordered from low level, e.g. phonemes and word rate, to high level, e.g. deep layers) sit
at evenly spaced positions, and each signal voxel is driven by the one or two planted spaces
around its position, weighted by its distance to them, through random weights. The drive
is the Lanczos-resampled, z-scored features passed through the canonical double-gamma HRF
(not the FIR model the fit uses). Gaussian noise is added with a per-voxel level that sets
its noise ceiling on the averaged test story; some voxels are pure noise. The test story is
heard ``repeats`` times with independent noise.

Each subject is made on its own (:func:`make_subject`, seeded by the config's seed and the
subject's name), so adding a subject changes no other subject's data. The planted truth is
written beside the data and never read by the fit; :func:`recovery` compares fitted
results with it.
"""

from __future__ import annotations

import logging
import math
import zlib

import numpy as np

from .. import io, timing
from ..errors import ConfigError
from .volume import save_nifti, to_volume

log = logging.getLogger(__name__)


def canonical_hrf(tr: float, length: float = 32.0) -> np.ndarray:
    """SPM's canonical double-gamma HRF sampled every ``tr`` seconds, peak normalised to 1:
    ``t^5 e^-t / 5! - t^15 e^-t / (6 * 15!)``."""
    t = np.arange(0.0, length, tr)
    h = t**5 * np.exp(-t) / math.factorial(5) - t**15 * np.exp(-t) / (6 * math.factorial(15))
    return h / h.max()


def brain_mask(grid, rng: np.random.Generator) -> np.ndarray:
    """An ellipsoid filling most of the grid (radii jittered per subject)."""
    nx, ny, nz = grid
    r = np.array([nx, ny, nz]) * (0.46 + 0.03 * rng.uniform(-1, 1, 3))
    c = (np.array(grid) - 1) / 2.0
    x, y, z = np.meshgrid(*(np.arange(n) for n in grid), indexing="ij")
    return ((x - c[0]) / r[0]) ** 2 + ((y - c[1]) / r[1]) ** 2 + ((z - c[2]) / r[2]) ** 2 <= 1.0


def affine_for(grid, voxel_size: float) -> np.ndarray:
    """RAS affine with the grid centred near the origin of MNI space."""
    A = np.diag([voxel_size, voxel_size, voxel_size, 1.0])
    A[:3, 3] = -(np.array(grid) - 1) / 2.0 * voxel_size + np.array([0.0, -18.0, 18.0])
    return A


def drive(
    features: dict[str, np.ndarray], word_times: np.ndarray, vol_times: np.ndarray, hrf: np.ndarray
) -> dict[str, np.ndarray]:
    """Per space: resampled, z-scored features convolved with the HRF, (n_volumes, dim)."""
    out = {}
    for name, F in features.items():
        X = timing.zscore(timing.lanczos_resample(F, word_times, vol_times))
        conv = np.zeros_like(X)
        for lag, h in enumerate(hrf):
            if lag < len(X):
                conv[lag:] += h * X[: len(X) - lag]
        out[name] = conv
    return out


def plant(n_vox: int, gradient: np.ndarray, planted: list[str], fmri: dict, rng: np.random.Generator) -> dict:
    """Which spaces drive each voxel, with which weights, and its target noise ceiling.

    The planted spaces sit at evenly spaced positions of the gradient; a voxel between two
    positions is driven by both, with weights interpolating linearly (one space at exactly
    its position), so the drive changes smoothly along the gradient.
    """
    K = len(planted)
    is_signal = rng.uniform(size=n_vox) >= fmri["noise_fraction"]
    pos = np.clip(gradient + rng.normal(0, fmri["gradient_jitter"], n_vox), 0, 1) * (K - 1)
    lower = np.minimum(np.floor(pos).astype(int), K - 2)
    frac = pos - lower
    weights = np.zeros((K, n_vox))
    weights[lower, np.arange(n_vox)] = 1.0 - frac
    weights[lower + 1, np.arange(n_vox)] = frac
    weights[:, ~is_signal] = 0.0
    primary = np.where(is_signal, np.where(frac > 0.5, lower + 1, lower), -1)
    other = np.where(frac > 0.5, lower, lower + 1)
    secondary = np.where(is_signal & (np.minimum(frac, 1 - frac) >= fmri["min_weight"]), other, -1)
    lo, hi = fmri["ceiling"]
    ceiling = np.where(is_signal, rng.uniform(lo, hi, n_vox), 0.0)
    return {
        "is_signal": is_signal,
        "primary": primary,
        "secondary": secondary,
        "mix": weights,
        "target_ceiling": ceiling,
    }


def _check_timing(docs, stories: list[str], lebel: dict) -> None:
    tr = float(lebel["tr"])
    for story in stories:
        st = docs.stories[story]
        expect = np.arange(len(st.tr_times)) * tr - float(lebel["start_time"])
        if abs(st.tr - tr) > 1e-6 or not np.allclose(st.tr_times, expect, atol=1e-6):
            raise ConfigError(
                "demo.lead_in",
                f"story {story!r}: its volumes start {-st.tr_times[0]} s before the "
                f"sound every {st.tr} s, but dataset.lebel says {lebel['start_time']} s every {tr} s.",
                fix="make demo.lead_in equal dataset.lebel.start_time and demo.tr equal dataset.lebel.tr.",
            )


def respdict(docs, stories: list[str], lebel: dict) -> dict[str, int]:
    """``{story: n}`` as ds003020's ``respdict.json`` gives it: the volumes of each run plus
    the ``pad`` the HuthLab convention drops (see :mod:`lre.datasets.lebel2023`)."""
    _check_timing(docs, stories, lebel)
    return {story: len(docs.stories[story].tr_times) + int(lebel["pad"]) for story in stories}


def subject_seed(seed: int, subject: str) -> list[int]:
    """The random stream of one subject: the config's seed and the subject's name, so a
    subject's data do not depend on which other subjects there are."""
    return [int(seed), zlib.crc32(subject.encode())]


def make_subject(
    subject: str,
    stories: list[str],
    test_story: str,
    docs,
    features: dict,
    fmri: dict,
    lebel: dict,
    seed: int,
    responses: dict,
    mask_path,
    truth_path,
    gradient_path,
    record: dict | None = None,
) -> dict:
    """Write one subject's synthetic responses (LeBel layout), brain mask and planted truth.

    Parameters
    ----------
    docs : :class:`lre.stimuli.documents.Documents` with the stories (word times, volume times)
    features : {space: {story: (n_words, dim) array}} of the planted spaces
    fmri : the ``demo.fmri`` config; lebel : the ``dataset.lebel`` conventions
    seed : the config's seed (combined with the subject's name, :func:`subject_seed`)
    responses : story -> response file to write (``.hf5``, dataset ``lebel.key``)
    mask_path, truth_path, gradient_path : the mask NIfTI, the truth HDF5 and the gradient NIfTI to write
    record : provenance stored in the truth file (:func:`lre.io.provenance` of the job)

    Returns ``{"n_voxels": ..., "n_signal": ...}``.
    """
    planted = list(fmri["planted"])
    missing = [s for s in planted if s not in features]
    if missing:
        raise ConfigError("demo.fmri.planted", f"{missing} have no features.", fix="plant spaces of this config.")
    _check_timing(docs, stories, lebel)
    tr, pad = float(lebel["tr"]), int(lebel["pad"])
    hrf = canonical_hrf(tr)
    drives = {}
    for story in stories:
        st = docs.stories[story]
        n = len(st.tr_times)
        vol_mid = st.tr_times + tr / 2.0
        keep = slice(pad + int(lebel["trim"]), n - int(lebel["trim"]))
        d = drive({s: features[s][story] for s in planted}, st.words.times, vol_mid, hrf)
        drives[story] = {s: v[keep] for s, v in d.items()}
    rng = np.random.default_rng(subject_seed(seed, subject))
    grid = tuple(fmri["grid"])
    mask = brain_mask(grid, rng)
    affine = affine_for(grid, float(fmri["voxel_size"]))
    order = "c"
    ijk = np.stack(np.nonzero(mask), axis=1)  # c order = boolean indexing
    y = ijk[:, 1].astype(float)
    gradient = (y - y.min()) / max(y.max() - y.min(), 1.0)
    n_vox = len(ijk)
    truth = plant(n_vox, gradient, planted, fmri, rng)
    weights = {}
    for s in planted:
        dim = drives[stories[0]][s].shape[1]
        weights[s] = rng.normal(size=(dim, n_vox)) / np.sqrt(dim)
    # the signal of every voxel: its planted spaces, weighted by its position on the gradient
    mix = truth["mix"]
    signal = {st: sum(drives[st][s] @ (weights[s] * mix[k]) for k, s in enumerate(planted)) for st in stories}
    train = [s for s in stories if s != test_story]
    scale = np.concatenate([signal[s] for s in train]).std(0)
    scale[scale == 0] = 1.0
    R = int(fmri["repeats"])
    c = truth["target_ceiling"]
    # noise variance so that the mean of R repeats has the target ceiling: c^2 = 1 / (1 + s2 / R)
    sigma = np.where(truth["is_signal"], np.sqrt(R * (1.0 / np.maximum(c, 1e-6) ** 2 - 1.0)), 1.0)
    for story in stories:
        s = signal[story] / scale
        reps = R if story == test_story else 1
        data = np.stack([s + sigma * rng.standard_normal(s.shape) for _ in range(reps)]).astype(np.float32)
        with io.h5_atomic(responses[story]) as f:
            f.create_dataset(lebel["key"], data=data if reps > 1 else data[0])
    test_signal = signal[test_story] / scale
    S = test_signal.var(0)
    planted_ceiling = np.where(truth["is_signal"], np.sqrt(S / (S + sigma**2 / R)), 0.0)
    save_nifti(mask_path, mask.astype(np.float32), affine, "lre synthetic brain mask")
    save_nifti(gradient_path, to_volume(gradient, mask, order), affine, "planted low-to-high gradient")
    with io.h5_atomic(truth_path) as f:
        if record is not None:
            io.h5_set_json(f, "provenance", record)
        io.h5_write_strings(f, "planted", planted)
        for key, val in {
            **truth,
            "gradient": gradient,
            "sigma": sigma,
            "planted_ceiling": planted_ceiling,
            "ijk": ijk,
        }.items():
            f[key] = val
    log.info("subject %s: %d voxels (%d signal)", subject, n_vox, int(truth["is_signal"].sum()))
    return {"n_voxels": int(n_vox), "n_signal": int(truth["is_signal"].sum())}


def read_truth(path, job: dict | None = None) -> dict:
    """A subject's planted truth; with ``job``, it must be the truth the job expects."""
    from .. import provenance

    with io.h5_open(path) as f:
        if job is not None:
            provenance.check_h5(path, f, job.get("expects", {}).get("truth"), job, "planted truth")
        out = {k: f[k][()] for k in f if k != "planted"}
        out["planted"] = io.h5_read_strings(f["planted"])
    return out


def _neighbours(space: str) -> set[str]:
    """A layer space and its immediate neighbours (``m.L3`` -> ``m.L2``, ``m.L3``, ``m.L4``)."""
    model, _, out = space.partition(".")
    if out.startswith("L") and out[1:].isdigit():
        k = int(out[1:])
        return {f"{model}.L{j}" for j in (k - 1, k, k + 1) if j >= 0}
    return {space}


def recovery(
    truth: dict, spaces: list[str], scores: np.ndarray, ceiling: np.ndarray | None, controls: list[str]
) -> dict:
    """Compare fitted results with the planted truth.

    Parameters
    ----------
    scores : array of shape (n_spaces, n_voxels), test r of every space
    ceiling : fitted noise ceiling per voxel; None when there is none (one test repeat)
    controls : spaces of random features

    Returns a dict with the share of signal voxels whose best space is planted (or a layer
    neighbour of a planted one), the correlation between fitted and planted ceilings (None
    without a fitted ceiling), and the mean r of each control space.
    """
    planted = truth["planted"]
    sig = np.flatnonzero(truth["is_signal"])
    best = scores[:, sig].argmax(0)
    hits = 0
    for j, v in enumerate(sig):
        ok = _neighbours(planted[truth["primary"][v]])
        if truth["secondary"][v] >= 0:
            ok |= _neighbours(planted[truth["secondary"][v]])
        hits += spaces[best[j]] in ok
    per_level = {}
    for k, name in enumerate(planted):
        vs = np.flatnonzero(truth["is_signal"] & (truth["primary"] == k))
        if len(vs):
            won = [spaces[i] for i in scores[:, vs].argmax(0)]
            per_level[name] = float(np.mean([w in _neighbours(name) for w in won]))
    return {
        "recovered": hits / max(len(sig), 1),
        "n_signal": int(len(sig)),
        "recovered_by_planted_space": per_level,
        "ceiling_correlation": None if ceiling is None else float(np.corrcoef(ceiling, truth["planted_ceiling"])[0, 1]),
        "control_mean_r": {c: float(scores[spaces.index(c)].mean()) for c in controls if c in spaces},
    }
