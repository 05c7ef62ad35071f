"""fMRI datasets: loaders that give, per subject and story, the responses and the times of
their volumes; and the synthetic dataset with planted ground truth.

A loader returns :class:`Run` objects; how a dataset's files are laid out and trimmed is its
own business (``lebel2023``, ``narratives``), the encoding stage only sees responses and
volume times.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np

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
        raise ValueError(f"unknown dataset format {fmt!r}; valid: {sorted(LOADERS)}")
    return importlib.import_module(LOADERS[fmt])
