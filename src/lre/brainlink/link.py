"""The brain link: the embedding predicts each voxel's encoding performance across spaces.

``R[space, voxel]`` is the test correlation of every space's encoding model. Per voxel:

- **embedding model**: ``R[:, v]`` is regressed on the spaces' embedding coordinates (first
  ``d`` dimensions, with an intercept) with leave-one-family-out cross-validation (a family's
  spaces are predicted from the other families only, so siblings cannot vouch for each
  other); the score is the correlation between predicted and actual performance across
  spaces;
- **baselines** scored the same way: *family mean* (a held-out family is predicted by the
  mean performance of the training families, each family counting once) and a *random
  embedding* (i.i.d. normal coordinates of the same dimension, seeded). Leaving a family out
  makes any "mean of the others" predictor anticorrelated with the truth (a family that
  performs well is predicted from the others, which perform worse), so the family mean is
  strongly negative here; it shows the floor the held-out scheme sets;
- **leave-one-space-out** scores of all three, where the family mean becomes the mean of a
  space's siblings: how much the embedding knows beyond family membership;
- **null**: the same score with the spaces' coordinates permuted (seeded); one-sided
  p-values, Benjamini-Hochberg FDR;
- **principal-dimension map**: the correlation across spaces between ``R[:, v]`` and the
  first coordinate, for voxels whose best space reaches ``threshold`` (NaN elsewhere). The
  first dimension's sign is fixed by the embedding's anchor (positive there).
"""

from __future__ import annotations

import numpy as np

from ..encoding.models import correlation, fdr_bh


def lofo_predict(coords: np.ndarray, R: np.ndarray, families: list[str]) -> np.ndarray:
    """Leave-one-family-out least-squares predictions of ``R`` from ``coords`` (+ intercept).

    Parameters
    ----------
    coords : array of shape (n_spaces, d)
    R : array of shape (n_spaces, n_voxels)
    families : family label of each space

    Returns
    -------
    array of shape (n_spaces, n_voxels)
    """
    fam = np.asarray(families)
    X = np.hstack([np.ones((len(coords), 1)), coords])
    pred = np.empty_like(R, dtype=np.float64)
    for f in np.unique(fam):
        test = fam == f
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


def sibling_mean_predict(R: np.ndarray, families: list[str]) -> np.ndarray:
    """Each space predicted by the mean of the other spaces of its family (leave one space
    out); a family of one by the mean of all other spaces."""
    fam = np.asarray(families)
    pred = np.empty_like(R, dtype=np.float64)
    for i in range(len(fam)):
        sib = fam == fam[i]
        sib[i] = False
        pred[i] = R[sib].mean(0) if sib.any() else np.delete(R, i, axis=0).mean(0)
    return pred


def family_mean_predict(R: np.ndarray, families: list[str]) -> np.ndarray:
    """Each held-out family predicted by the mean of the other families' mean performance."""
    fam = np.asarray(families)
    names = np.unique(fam)
    means = np.stack([R[fam == f].mean(0) for f in names])          # (n_families, n_voxels)
    pred = np.empty_like(R, dtype=np.float64)
    for i, f in enumerate(names):
        pred[fam == f] = np.delete(means, i, axis=0).mean(0)
    return pred


def principal_map(coords1: np.ndarray, R: np.ndarray, threshold: float) -> np.ndarray:
    """Correlation across spaces of each voxel's performance with the first coordinate."""
    m = correlation(np.repeat(coords1[:, None], R.shape[1], axis=1), R)
    m[R.max(0) < threshold] = np.nan
    return m


def link(coords: np.ndarray, R: np.ndarray, families: list[str], n_dims: int, n_perm: int, seed,
         threshold: float, fdr_q: float) -> dict:
    """The whole brain link for one subject (see the module docstring).

    Returns a dict of per-voxel arrays: ``score``, ``family_mean``, ``random_embedding``
    (leave-one-family-out), the same three with leave-one-space-out (``*_loso``; there the
    family mean is the mean of a space's siblings), ``pvalues``, ``significant``,
    ``principal``.
    """
    rng = np.random.default_rng(seed)
    C = coords[:, :n_dims]
    score = correlation(lofo_predict(C, R, families), R)
    fm = correlation(family_mean_predict(R, families), R)
    random_coords = rng.standard_normal(C.shape)
    rand = correlation(lofo_predict(random_coords, R, families), R)
    loso = {"score_loso": correlation(loso_predict(C, R), R),
            "family_mean_loso": correlation(sibling_mean_predict(R, families), R),
            "random_embedding_loso": correlation(loso_predict(random_coords, R), R)}
    exceed = np.zeros(R.shape[1])
    for _ in range(n_perm):
        perm = rng.permutation(len(C))
        exceed += correlation(lofo_predict(C[perm], R, families), R) >= score - 1e-12
    pvalues = (1.0 + exceed) / (1.0 + n_perm)
    return {"score": score, "family_mean": fm, "random_embedding": rand, **loso, "pvalues": pvalues,
            "significant": fdr_bh(pvalues, fdr_q), "principal": principal_map(coords[:, 0], R, threshold)}
