"""fMRI datasets: loaders that give, per subject and story, the responses and the times of
their volumes; and the synthetic dataset with planted ground truth.

Each loader module (registered in :data:`LOADERS`) provides ``SETTINGS`` (the section of
``dataset`` it reads), ``SINGLE_REPEAT_FIX`` (what the user can do when a test story has one
repeat, hence no noise ceiling), ``files(dcfg, subject, story)``, the files it reads (the
workflow asks it, so missing data fails before any job), ``load_run(dcfg, subject, story,
mask, affine)``, which returns a :class:`Run`, and ``shape(dcfg, subject, story, mask)``, the
``(repeats, volumes, voxels)`` of that run read from the files' headers (None while a file
does not exist; the encoding jobs' memory requests are sized from it). How a dataset's
files are laid out and trimmed is its own business (``bids``, ``lebel2023``); the
encoding stage only sees responses and volume times.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, InputError

LOADERS = {"bids": "lre.datasets.bids", "lebel2023": "lre.datasets.lebel2023"}


@dataclass
class Run:
    """One story heard by one subject.

    Attributes
    ----------
    data : array of shape (n_repeats, n_volumes, n_voxels), float32
    times : array of shape (n_volumes,), the (mid-)time of each volume in seconds from the
        story's sound start, where the word times live
    source : the file(s) it came from
    """

    data: np.ndarray
    times: np.ndarray
    source: str

    @property
    def n_repeats(self) -> int:
        return self.data.shape[0]


#: the fix a loader's refusal of non-finite responses gives (and, where a mask selects the
#: voxels, :data:`NONFINITE_MASK_FIX`)
NONFINITE_FIX = (
    "set dataset.nonfinite: drop to leave those voxels out of every fit (their results and maps are NaN), or fix "
    "the preprocessing."
)
NONFINITE_MASK_FIX = NONFINITE_FIX[:-1] + ", or leave them out of the brain mask (dataset.mask)."


def nonfinite_voxels(data: np.ndarray) -> np.ndarray:
    """Voxels (last axis) with a NaN or infinite value anywhere in ``data``, (n_voxels,) bool."""
    return ~np.isfinite(data.reshape(-1, data.shape[-1])).all(0)


def first_onset(path) -> float:
    """The first ``onset`` of a BIDS ``events.tsv`` (seconds from the run's first volume)."""
    import csv

    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f, delimiter="\t"))
    if not rows or "onset" not in rows[0]:
        raise InputError(
            path, "has no 'onset' column or no event.", line=1, fix="a BIDS events.tsv starts with onset, duration."
        )
    try:
        return float(rows[0]["onset"])
    except ValueError:
        raise InputError(path, f"onset {rows[0]['onset']!r} is not a number.", line=2) from None


def loader(fmt: str):
    if fmt not in LOADERS:
        raise ConfigError("dataset.format", f"unknown dataset format {fmt!r}.", fix=f"use one of {sorted(LOADERS)}.")
    return importlib.import_module(LOADERS[fmt])


def in_mni_space(dcfg: dict) -> bool:
    """Whether the dataset's volumes are in an MNI template space (so maps can also be
    projected on the fsaverage surface): the space of its runs (``dataset.bids.space``),
    never its format's name."""
    return dcfg["format"] == "bids" and dcfg["bids"]["space"].startswith("MNI")


def subject_files(dcfg: dict, subject: str) -> list[str]:
    """Every file one subject's jobs read: each story's files and the mask."""
    mod = loader(dcfg["format"])
    out = []
    for story in dcfg["train_stories"] + dcfg["test_stories"]:
        out += [f for f in mod.files(dcfg, subject, story) if f not in out]
    if dcfg["mask"]:
        out.append(dcfg["mask"].format(subject=subject))
    return out


def run_shapes(dcfg: dict, subject: str) -> dict[str, tuple[int, int, int]] | None:
    """``{story: (repeats, volumes, voxels)}`` of every training and test run of ``subject``,
    from the files' headers (None while any of them, or the mask, does not exist yet)."""
    from pathlib import Path

    mod = loader(dcfg["format"])
    mask = None
    if dcfg["mask"]:
        path = dcfg["mask"].format(subject=subject)
        if not Path(path).exists():
            return None
        from .volume import load_mask

        mask = load_mask(path)[0]
    out = {}
    for story in dcfg["train_stories"] + dcfg["test_stories"]:
        out[story] = mod.shape(dcfg, subject, story, mask)
        if out[story] is None:
            return None
    return out


def check_tr(cfg: dict) -> None:
    """The dataset's repetition time must be the one the stories' volume times give (their TR
    files, or ``stimuli.tr_times.tr``): the responses' volume times come from the former, the
    words are placed against the latter, and a disagreement shifts one against the other
    more with every volume. TR files that do not exist yet (the demo writes its own) are
    skipped. Raises ConfigError naming both."""
    from pathlib import Path

    from ..stimuli.readers import read_trfile

    if "dataset" not in cfg or "stimuli" not in cfg:
        return
    d, trt = cfg["dataset"], cfg["stimuli"]["tr_times"]
    stories = d["train_stories"] + d["test_stories"]
    if d["format"] == "bids":
        _check_bids_tr(d, trt, stories)
        return
    settings = loader(d["format"]).SETTINGS
    tr, field = float(d[settings]["tr"]), f"dataset.{settings}.tr"
    if trt["source"] == "file":
        found = []
        for story in stories:
            path = trt["path"].format(story=story)
            if Path(path).exists():
                found.append((story, path, read_trfile(path)[1]))
    else:
        found = [(s, "stimuli.tr_times.tr", float(trt["tr"])) for s in stories]
    for story, where, stim_tr in found:
        if abs(stim_tr - tr) > 0.01 * tr:
            raise ConfigError(
                field,
                f"is {tr:g} s, but the volume times of story {story!r} ({where}) are {stim_tr:g} s apart: the words "
                "would be placed against other volume times than the responses'.",
                fix=f"set {field} to the scanner's repetition time, or check that the stories' volume times "
                "(stimuli.tr_times) belong to this dataset.",
            )


def _check_bids_tr(d: dict, trt: dict, stories: list[str]) -> None:
    """:func:`check_tr` for a BIDS dataset, whose TR is in its sidecars (the first subject's
    first run of each story; skipped while the dataset is not there); and, as the index is
    at hand, that every subject has each story's runs, events and confounds, and that the
    mesh of surface runs is at hand."""
    from pathlib import Path

    from ..stimuli.readers import read_trfile
    from . import surface

    bids = loader("bids")
    space = d["bids"]["space"]
    if surface.is_surface(space) and not surface.mesh_available(space):  # its maps are drawn on it
        raise ConfigError(
            "dataset.bids.space",
            f"is {space}, whose mesh nilearn does not hold here (the maps' figures and views are drawn on it).",
            fix=surface.mesh_fix(space),
        )
    if not (Path(d["root"]).expanduser() / "dataset_description.json").is_file():
        return
    for subject in d["subjects"]:
        for story in stories:
            bids.files(d, subject, story)
    for story in stories:
        run = bids.runs_of(d, d["subjects"][0], story)[0]
        tr = bids.repetition_time(d, run)
        if trt["source"] == "file":
            path = trt["path"].format(story=story)
            if not Path(path).exists():
                continue
            where, stim_tr = path, read_trfile(path)[1]
        else:
            where, stim_tr = "stimuli.tr_times.tr", float(trt["tr"])
        if abs(stim_tr - tr) > 0.01 * tr:
            raise InputError(
                run.path,
                f"its sidecar gives RepetitionTime {tr:g} s, but the volume times of story {story!r} ({where}) are "
                f"{stim_tr:g} s apart: the words would be placed against other volume times than the responses'.",
                fix="check that the stories' volume times (stimuli.tr_times) belong to this dataset, or use "
                f"stimuli.tr_times: {{source: simulated, tr: {tr:g}}}.",
            )
