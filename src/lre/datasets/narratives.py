"""Narratives (Nastase et al. 2021, OpenNeuro ds002345): BIDS NIfTI BOLD runs, a brain
mask, Gentle ``align.json`` word timings, and the story's onset in the run.

Layout (paths are templates in ``dataset.narratives``)::

    bold:   <root>/derivatives/afni-nosmooth/sub-{subject}/func/
            sub-{subject}_task-{story}_space-MNI152NLin2009cAsym_res-native_desc-clean_bold.nii.gz
    events: <root>/sub-{subject}/func/sub-{subject}_task-{story}_events.tsv   (optional)
    mask:   dataset.mask (a NIfTI with the same grid as the BOLD runs)

A volume's mid-time relative to the story is ``k * TR + TR / 2 - onset``. The onset comes
from ``narratives.onsets`` (seconds, per story) or, when absent there, from the first
``onset`` of the events file. ``narratives.trim`` volumes are dropped at both ends.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputError
from . import NONFINITE_MASK_FIX, Run, first_onset, nonfinite_voxels

#: the dataset section of the config this loader reads (dataset.narratives)
SETTINGS = "narratives"

#: what to do about a test story with a single repeat (no noise ceiling)
SINGLE_REPEAT_FIX = (
    "this loader reads one run per subject and story, so its test stories have no repeats; a noise ceiling "
    "needs a story heard several times (the lebel2023 format reads repeats with dataset.lebel.test_repeats)."
)


def bold_path(dcfg: dict, subject: str, story: str) -> Path:
    return Path(dcfg["root"]) / dcfg["narratives"]["bold"].format(subject=subject, story=story)


def events_path(dcfg: dict, subject: str, story: str) -> Path:
    return Path(dcfg["root"]) / dcfg["narratives"]["events"].format(subject=subject, story=story)


def files(dcfg: dict, subject: str, story: str) -> list[str]:
    """The files :func:`load_run` reads for ``subject`` and ``story`` (the events file only
    when ``narratives.onsets`` has no onset for the story)."""
    out = [str(bold_path(dcfg, subject, story))]
    if story not in dcfg["narratives"]["onsets"]:
        out.append(str(events_path(dcfg, subject, story)))
    return out


def story_onset(dcfg: dict, subject: str, story: str) -> float:
    nar = dcfg["narratives"]
    if story in nar["onsets"]:
        return float(nar["onsets"][story])
    path = events_path(dcfg, subject, story)
    if not path.exists():
        raise InputError(
            path,
            f"is missing and dataset.narratives.onsets has no onset for {story!r}.",
            fix="give the onset (seconds from the first volume) in dataset.narratives.onsets.",
        )
    return first_onset(path)


def shape(dcfg: dict, subject: str, story: str, mask: np.ndarray | None = None) -> tuple[int, int, int] | None:
    """``(repeats, volumes, voxels)`` of the run :func:`load_run` returns, from the NIfTI
    header and the mask (None while the file does not exist)."""
    import nibabel as nib

    path = bold_path(dcfg, subject, story)
    if not path.exists() or mask is None:
        return None
    n = nib.load(str(path)).shape[3]
    trim = int(dcfg["narratives"]["trim"])
    return 1, n - 2 * trim, int(mask.sum())


def load_run(
    dcfg: dict, subject: str, story: str, mask: np.ndarray | None = None, affine: np.ndarray | None = None
) -> Run:
    """In-mask responses of one run and the mid-times of its volumes (``mask``, ``affine``:
    the brain mask the voxels are taken from, on the runs' grid)."""
    if mask is None:
        raise ConfigError(
            "dataset.mask",
            "narratives runs are NIfTI volumes; a mask selects their voxels.",
            fix="set dataset.mask to a brain mask in the runs' space.",
        )
    import nibabel as nib

    path = bold_path(dcfg, subject, story)
    if not path.exists():
        raise InputError(
            path,
            f"is missing: no BOLD run of {subject} for {story}.",
            fix="download it (datalad get) or fix dataset.narratives.bold.",
        )
    img = nib.load(str(path))
    if img.ndim != 4:
        raise InputError(path, f"is {img.ndim}-D; a BOLD run must be 4-D.")
    if img.shape[:3] != mask.shape or not np.allclose(img.affine, affine, atol=1e-3):
        raise InputError(
            path,
            f"grid {img.shape[:3]} / affine differ from the mask's {mask.shape}.",
            fix="use a mask in the BOLD runs' space (same shape and affine).",
        )
    tr = float(dcfg["narratives"]["tr"])
    header_tr = float(img.header.get_zooms()[3]) if len(img.header.get_zooms()) > 3 else tr
    if header_tr > 0 and abs(header_tr - tr) > 1e-3:
        raise InputError(
            path,
            f"its header gives TR {header_tr} s but dataset.narratives.tr is {tr} s.",
            fix="set dataset.narratives.tr to the runs' TR.",
        )
    data = np.asarray(img.dataobj, dtype=np.float32)
    from .volume import voxels_of

    ts = voxels_of(data, mask, dcfg["voxel_order"])  # (voxels, volumes)
    n = ts.shape[1]
    trim = int(dcfg["narratives"]["trim"])
    times = np.arange(n) * tr + tr / 2.0 - story_onset(dcfg, subject, story)
    keep = slice(trim, n - trim if trim else n)
    out = ts.T[keep]
    bad = nonfinite_voxels(out)
    if bad.any() and dcfg.get("nonfinite", "error") != "drop":
        raise InputError(
            path,
            f"has non-finite values in {int(bad.sum())} voxels of the mask (first, in mask order: "
            f"{np.flatnonzero(bad)[:5].tolist()}).",
            fix=NONFINITE_MASK_FIX,
        )
    return Run(out[None], times[keep], str(path))
