"""Which voxels a summary averages, chosen from data its score does not use.

Averaging each space's voxels of highest test r, chosen by that same test r, biases every
space upward: on the demo a random control scored 0.10 that way (of ~1,800 voxels, its 200
best are those where noise happened to line up with its prediction). lre chooses the voxels
from data that the test score does not use:

- ``ceiling``: the noise ceiling (:func:`lre.encoding.noise_ceiling`), measured from how much
  the test story's repeats agree, without any model; the same voxels for every space;
- ``cv``: the space's cross-validated score on the training stories (``cv_scores`` of its
  encoding result: minus the mean validation error of the z-scored responses, so
  :func:`cv_r2` is about the cross-validated R^2), voxels per space.

A model's prediction does not depend on the test story's responses, so a selection made from
the repeats' agreement or from the training stories leaves a control that predicts nothing at
zero on average, and reports each space's performance where the data allow it.
"""

from __future__ import annotations

import numpy as np

#: the ways to choose voxels, and how tables and figures name them
BASES = {"ceiling": "noise ceiling", "cv": "cross-validated score"}


def choose_basis(choice: str, has_ceiling: bool) -> str:
    """The basis of a subject's selection: ``choice`` (``auto``, ``ceiling`` or ``cv``), with
    ``auto`` the noise ceiling where the subject has one and the cross-validated score
    otherwise. Raises ValueError when ``ceiling`` is asked for and there is none."""
    if choice == "auto":
        return "ceiling" if has_ceiling else "cv"
    if choice not in BASES:
        raise ValueError(f"unknown voxel selection {choice!r}; use auto or one of {sorted(BASES)}")
    if choice == "ceiling" and not has_ceiling:
        raise ValueError("voxels chosen by the noise ceiling, but there is none (the test story has a single repeat)")
    return choice


def top_voxels(n: int, basis: str, ceiling: np.ndarray | None = None, cv_scores: np.ndarray | None = None):
    """Indices of the ``n`` voxels with the highest selection score, best first (ties in
    voxel order).

    Parameters
    ----------
    n : how many (all voxels when there are fewer)
    basis : ``ceiling`` or ``cv``
    ceiling : array of shape (n_voxels,), the noise ceiling (basis ``ceiling``)
    cv_scores : array of shape (n_voxels,), a space's cross-validated scores (basis ``cv``)

    Returns
    -------
    array of shape (min(n, n_voxels),) of voxel indices
    """
    score = {"ceiling": ceiling, "cv": cv_scores}.get(basis)
    if score is None:
        raise ValueError(f"voxels chosen by {basis!r} need its scores")
    score = np.nan_to_num(np.asarray(score, dtype=np.float64), nan=-np.inf)
    return np.argsort(-score, kind="stable")[:n]


def cv_r2(cv_scores: np.ndarray) -> np.ndarray:
    """About the cross-validated R^2 from the solvers' scores (minus the mean squared
    validation error of responses z-scored per story, whose variance is 1): ``1 + score``."""
    return 1.0 + np.asarray(cv_scores, dtype=np.float64)


def describe(n: int, basis: str) -> str:
    """How a table names a selection, e.g. "200 voxels by noise ceiling"."""
    return f"{n} voxels by {BASES[basis]}"
