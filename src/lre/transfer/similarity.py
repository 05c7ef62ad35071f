"""Representational similarity of feature spaces without transfer maps: linear CKA and RSA.

Both are computed on the same held-out words as the transfer test set, from z-scored
features, as comparisons for the transfer-based affinity.
"""

from __future__ import annotations

import numpy as np


def linear_cka(spaces: list[np.ndarray]) -> np.ndarray:
    """Linear CKA between every pair (Kornblith et al. 2019), feature-space form.

    ``CKA(X, Y) = ||Xc^T Yc||_F^2 / (||Xc^T Xc||_F ||Yc^T Yc||_F)`` with column-centred
    X, Y of shape (n, p_x), (n, p_y).

    Returns
    -------
    array of shape (S, S), symmetric, ones on the diagonal
    """
    Xs = [np.asarray(X, dtype=np.float64) - np.mean(X, axis=0) for X in spaces]
    self_norm = np.array([np.linalg.norm(X.T @ X) for X in Xs])
    S = len(Xs)
    out = np.eye(S)
    for i in range(S):
        for j in range(i + 1, S):
            v = np.linalg.norm(Xs[i].T @ Xs[j]) ** 2 / (self_norm[i] * self_norm[j])
            out[i, j] = out[j, i] = v
    return out


def rdm(X: np.ndarray) -> np.ndarray:
    """Representational dissimilarities: Euclidean distances between the rows (condensed).

    Euclidean rather than correlation distance, so one-dimensional spaces are defined too.
    """
    from scipy.spatial.distance import pdist  # imported where used: every transfer job imports this module

    return pdist(np.asarray(X, dtype=np.float64), metric="euclidean")


def rsa(spaces: list[np.ndarray], n_words: int, seed: int) -> np.ndarray:
    """Spearman correlation between the RDMs of every pair, on ``n_words`` rows drawn (seeded).

    Returns
    -------
    array of shape (S, S), symmetric, ones on the diagonal
    """
    from scipy.stats import rankdata

    n = spaces[0].shape[0]
    idx = np.sort(np.random.default_rng(seed).choice(n, size=min(n_words, n), replace=False))
    ranks = []
    for X in spaces:
        r = rankdata(rdm(X[idx]))
        r -= r.mean()
        ranks.append(r / np.linalg.norm(r))
    R = np.array(ranks)
    return np.clip(R @ R.T, -1.0, 1.0)
