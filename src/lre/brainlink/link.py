"""The brain link: the embedding predicts each voxel's encoding performance across spaces.

``R[space, voxel]`` is the test correlation of every space's encoding model. A *group* is a
model, or the models that share a ``group`` key in the config (e.g. the sizes of one
network); it is not a code family (``features.models.<name>.family``). Per voxel:

- **embedding model**: ``R[:, v]`` is regressed on the spaces' embedding coordinates (first
  ``d`` dimensions, with an intercept) with leave-one-group-out cross-validation (a group's
  spaces are predicted from the other groups only, so siblings cannot vouch for each
  other); the score is the correlation between predicted and actual performance across
  spaces;
- **baselines** scored the same way: *group mean* (a held-out group is predicted by the
  mean performance of the training groups, each group counting once) and a *random
  embedding* (i.i.d. normal coordinates of the same dimension, seeded). Leaving a group out
  makes any "mean of the others" predictor anticorrelated with the truth (a group that
  performs well is predicted from the others, which perform worse), so the group mean is
  strongly negative here; it shows the floor the held-out scheme sets;
- **leave-one-space-out** scores of all three, where the group mean becomes the mean of a
  space's siblings: how much the embedding knows beyond group membership;
- **null**: the same score with the spaces' coordinates permuted (seeded); one-sided
  p-values, Benjamini-Hochberg FDR;
- **principal-dimension map**: the correlation across spaces between ``R[:, v]`` and the
  first coordinate, for voxels whose best space reaches ``threshold`` (NaN elsewhere). The
  first dimension's sign is fixed by the embedding's anchor (positive there).
"""

from __future__ import annotations

import numpy as np

from ..encoding.models import correlation, fdr_bh


def logo_predict(coords: np.ndarray, R: np.ndarray, groups: list[str]) -> np.ndarray:
    """Leave-one-group-out least-squares predictions of ``R`` from ``coords`` (+ intercept).

    Parameters
    ----------
    coords : array of shape (n_spaces, d)
    R : array of shape (n_spaces, n_voxels)
    groups : group of each space (a model, or its ``group`` key): spaces that share it are held out together

    Returns
    -------
    array of shape (n_spaces, n_voxels)
    """
    grp = np.asarray(groups)
    X = np.hstack([np.ones((len(coords), 1)), coords])
    pred = np.empty_like(R, dtype=np.float64)
    for f in np.unique(grp):
        test = grp == f
        B, *_ = np.linalg.lstsq(X[~test], R[~test], rcond=None)
        pred[test] = X[test] @ B
    return pred


def loso_predict(coords: np.ndarray, R: np.ndarray) -> np.ndarray:
    """Leave-one-space-out least-squares predictions of ``R`` from ``coords`` (+ intercept)."""
    X = np.hstack([np.ones((len(coords), 1)), coords])
    pred = np.empty_like(R, dtype=np.float64)
    for i in range(len(coords)):
        keep = np.arange(len(coords)) != i
        B, *_ = np.linalg.lstsq(X[keep], R[keep], rcond=None)
        pred[i] = X[i] @ B
    return pred


def sibling_mean_predict(R: np.ndarray, groups: list[str]) -> np.ndarray:
    """Each space predicted by the mean of the other spaces of its group (leave one space
    out); a group of one by the mean of all other spaces."""
    grp = np.asarray(groups)
    pred = np.empty_like(R, dtype=np.float64)
    for i in range(len(grp)):
        sib = grp == grp[i]
        sib[i] = False
        pred[i] = R[sib].mean(0) if sib.any() else np.delete(R, i, axis=0).mean(0)
    return pred


def group_mean_predict(R: np.ndarray, groups: list[str]) -> np.ndarray:
    """Each held-out group predicted by the mean of the other groups' mean performance."""
    grp = np.asarray(groups)
    names = np.unique(grp)
    means = np.stack([R[grp == f].mean(0) for f in names])  # (n_groups, n_voxels)
    pred = np.empty_like(R, dtype=np.float64)
    for i, f in enumerate(names):
        pred[grp == f] = np.delete(means, i, axis=0).mean(0)
    return pred


def principal_map(coords1: np.ndarray, R: np.ndarray, threshold: float) -> np.ndarray:
    """Correlation across spaces of each voxel's performance with the first coordinate."""
    m = correlation(np.repeat(coords1[:, None], R.shape[1], axis=1), R)
    m[R.max(0) < threshold] = np.nan
    return m


def link(
    coords: np.ndarray, R: np.ndarray, groups: list[str], n_dims: int, n_perm: int, seed, threshold: float, fdr_q: float
) -> dict:
    """The whole brain link for one subject (see the module docstring).

    Returns a dict of per-voxel arrays: ``score``, ``group_mean``, ``random_embedding``
    (leave-one-group-out), the same three with leave-one-space-out (``*_loso``; there the
    group mean is the mean of a space's siblings), ``pvalues``, ``significant``,
    ``principal``.
    """
    rng = np.random.default_rng(seed)
    C = coords[:, :n_dims]
    score = correlation(logo_predict(C, R, groups), R)
    fm = correlation(group_mean_predict(R, groups), R)
    random_coords = rng.standard_normal(C.shape)
    rand = correlation(logo_predict(random_coords, R, groups), R)
    loso = {
        "score_loso": correlation(loso_predict(C, R), R),
        "group_mean_loso": correlation(sibling_mean_predict(R, groups), R),
        "random_embedding_loso": correlation(loso_predict(random_coords, R), R),
    }
    exceed = np.zeros(R.shape[1])
    for _ in range(n_perm):
        perm = rng.permutation(len(C))
        exceed += correlation(logo_predict(C[perm], R, groups), R) >= score - 1e-12
    pvalues = (1.0 + exceed) / (1.0 + n_perm)
    return {
        "score": score,
        "group_mean": fm,
        "random_embedding": rand,
        **loso,
        "pvalues": pvalues,
        "significant": fdr_bh(pvalues, fdr_q),
        "principal": principal_map(coords[:, 0], R, threshold),
    }
