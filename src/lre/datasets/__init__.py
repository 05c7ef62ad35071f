"""fMRI datasets: loaders that give, per subject and story, the responses and the times of
their volumes; and the synthetic dataset with planted ground truth.

Each loader module (registered in :data:`LOADERS`) provides ``SETTINGS`` (the section of
``dataset`` it reads), ``SINGLE_REPEAT_FIX`` (what the user can do when a test story has one
repeat, hence no noise ceiling), ``files(dcfg, subject, story)``, the files it reads (the
workflow asks it, so missing data fails before any job), ``load_run(dcfg, subject, story,
mask, affine)``, which returns a :class:`Run`, and ``shape(dcfg, subject, story, mask)``, the
``(repeats, volumes, voxels)`` of that run read from the files' headers (None while a file
does not exist; the encoding jobs' memory requests are sized from it). How a dataset's
files are laid out and trimmed is its own business (``lebel2023``, ``narratives``); the
encoding stage only sees responses and volume times.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError

LOADERS = {"lebel2023": "lre.datasets.lebel2023", "narratives": "lre.datasets.narratives"}


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


def loader(fmt: str):
    if fmt not in LOADERS:
        raise ConfigError("dataset.format", f"unknown dataset format {fmt!r}.", fix=f"use one of {sorted(LOADERS)}.")
    return importlib.import_module(LOADERS[fmt])


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
    settings = loader(d["format"]).SETTINGS
    tr, field = float(d[settings]["tr"]), f"dataset.{settings}.tr"
    stories = d["train_stories"] + d["test_stories"]
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
