"""Variance partitioning with banded ridge: how much of a voxel's response a tested space
explains beyond a low-level baseline (word rate, word length, phoneme rate, articulatory
features), and how much the two share.

Two bands, each with its own penalty per voxel. Ridge on the stacked design
``[sqrt(g) X_base, sqrt(1 - g) X_space]`` with penalty ``alpha`` is ridge on the bands with
penalties ``alpha / g`` (baseline) and ``alpha / (1 - g)`` (tested space); a grid of band
weights ``g`` times the penalty grid gives every voxel its pair of penalties, chosen by the
same cross-validation as the encoding models (minus the mean squared validation error over
folds, the first best winning). This is himalaya's ``BandedRidgeCV`` with its random search
given the band weights as an explicit list (``solver_params={"n_iter": gammas}``), computed
with the lean solver once per band weight (:func:`banded_ridge_cv`;
:func:`himalaya_banded_ridge_cv` is the reference it is tested against).

On the held-out story, with ``R2_joint``, ``R2_base`` (the baseline alone) and ``R2_space``
(the tested space alone, its encoding result):

- unique variance of the space: ``R2_joint - R2_base``;
- shared by the two: ``R2_base + R2_space - R2_joint`` (the set-theoretic rule).
"""

from __future__ import annotations

import warnings

import numpy as np

from ..errors import ConfigError
from .models import lean_ridge_cv, set_backend, test_scores


def band_gammas(weights) -> np.ndarray:
    """The band weights ``(baseline, tested space)`` for each weight ``w`` of the tested space:
    rows ``(1 - w, w)``, shape (n_weights, 2)."""
    w = np.asarray(weights, dtype=np.float64)
    if w.ndim != 1 or len(w) == 0 or np.any(w <= 0) or np.any(w >= 1):
        raise ConfigError(
            "partition.band_weights",
            f"the tested space's band weights must lie strictly between 0 and 1, got {w.tolist()}.",
            fix="use weights such as [0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98].",
        )
    return np.stack([1.0 - w, w], axis=1)


def _stack(bands, gamma) -> np.ndarray:
    return np.hstack([np.sqrt(g, dtype=np.float32) * np.asarray(X, dtype=np.float32) for X, g in zip(bands, gamma)])


def banded_ridge_cv(
    bands_train, Y_train, bands_test, alphas, gammas, cv, n_targets_batch: int | None = None, progress=None
) -> dict:
    """Banded ridge with one penalty per band per voxel, chosen by cross-validation.

    Parameters
    ----------
    bands_train : list of K arrays of shape (n_train, p_k), the bands' training designs
    Y_train : array of shape (n_train, n_voxels)
    bands_test : list of K arrays of shape (n_test, p_k)
    alphas : penalties, shape (n_alphas,)
    gammas : band weights, shape (n_gammas, K), each row positive (on the simplex for
        himalaya's convention); penalty of band k is ``alpha / gamma_k``
    cv : list of ``(train_indices, validation_indices)`` (:func:`lre.encoding.story_folds`)
    progress : optional callable ``progress(i, n)`` after each band weight

    Returns
    -------
    dict with ``prediction`` (n_test, n_voxels), ``alphas`` (n_voxels,), ``gammas`` (n_voxels, K),
    ``penalties`` (n_voxels, K: ``alpha / gamma_k``) and ``cv_scores`` (n_voxels,)
    """
    gammas = np.asarray(gammas, dtype=np.float64)
    n_vox = Y_train.shape[1]
    best = np.full(n_vox, -np.inf)
    pred = np.zeros((bands_test[0].shape[0], n_vox))
    alpha = np.zeros(n_vox)
    which = np.zeros(n_vox, dtype=int)
    for i, gamma in enumerate(gammas):
        p, a, s = lean_ridge_cv(
            _stack(bands_train, gamma), Y_train, _stack(bands_test, gamma), alphas, cv, n_targets_batch
        )
        better = s > best  # the first best band weight wins, as in himalaya's search
        best[better], pred[:, better], alpha[better], which[better] = s[better], p[:, better], a[better], i
        if progress is not None:
            progress(i + 1, len(gammas))
    chosen = gammas[which]
    return {
        "prediction": pred,
        "alphas": alpha,
        "gammas": chosen,
        "penalties": alpha[:, None] / chosen,
        "cv_scores": best,
    }


def himalaya_banded_ridge_cv(bands_train, Y_train, bands_test, alphas, gammas, cv) -> dict:
    """himalaya's ``BandedRidgeCV`` (random search given ``gammas`` as its list of band weights,
    an intercept, the same folds and penalties): the reference :func:`banded_ridge_cv` matches.
    Returns ``prediction``, ``alphas``, ``gammas`` and ``cv_scores`` as :func:`banded_ridge_cv`."""
    from himalaya.backend import get_backend
    from himalaya.ridge import BandedRidgeCV

    bk = get_backend()
    widths = np.cumsum([0] + [X.shape[1] for X in bands_train])
    groups = np.concatenate([np.full(widths[k + 1] - widths[k], k) for k in range(len(bands_train))])
    params = {"n_iter": np.asarray(gammas, dtype=np.float32), "alphas": np.asarray(alphas), "progress_bar": False}
    model = BandedRidgeCV(groups=groups, solver_params=params, cv=cv, fit_intercept=True)
    X = np.hstack([np.asarray(X, dtype=np.float32) for X in bands_train])
    Xt = np.hstack([np.asarray(X, dtype=np.float32) for X in bands_test])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # its note on n_samples < n_features
        model.fit(X, np.asarray(Y_train, dtype=np.float32))
    deltas = np.asarray(bk.to_numpy(model.deltas_), dtype=np.float64)  # log(gamma / alpha), (K, v)
    ratio = np.exp(deltas)  # gamma_k / alpha
    alpha = 1.0 / ratio.sum(0)  # the gammas sum to one
    return {
        "prediction": np.asarray(bk.to_numpy(model.predict(Xt)), dtype=np.float64),
        "alphas": alpha,
        "gammas": (ratio * alpha).T,
        "cv_scores": np.asarray(bk.to_numpy(model.cv_scores_), dtype=np.float64).max(0),
    }


def partition(r2_joint: np.ndarray, r2_base: np.ndarray, r2_space: np.ndarray) -> dict:
    """Per voxel: the tested space's unique variance ``R2_joint - R2_base`` and the variance it
    shares with the baseline ``R2_base + R2_space - R2_joint`` (arrays of shape (v,))."""
    return {"unique": r2_joint - r2_base, "shared": r2_base + r2_space - r2_joint}


def fit_partition(
    base_train,
    space_train,
    Y_train,
    base_test,
    space_test,
    Y_test,
    alphas,
    weights,
    cv,
    backend: str = "numpy",
    n_targets_batch: int | None = None,
    progress=None,
) -> dict:
    """The joint banded model of a baseline and a tested space, scored on the test story.

    ``Y_test`` is (n_test, v) or (repeats, n_test, v); ``weights`` are the tested band's
    weights (:func:`band_gammas`). Returns :func:`banded_ridge_cv`'s dict with ``scores``
    (test r), ``r2`` and ``repeat_scores`` of the joint model added."""
    set_backend(backend)
    Y_test = np.asarray(Y_test)
    repeats = Y_test if Y_test.ndim == 3 else Y_test[None]
    res = banded_ridge_cv(
        [base_train, space_train],
        np.asarray(Y_train, dtype=np.float32),
        [base_test, space_test],
        alphas,
        band_gammas(weights),
        cv,
        n_targets_batch,
        progress,
    )
    res["scores"], res["r2"], res["repeat_scores"] = test_scores(res["prediction"], repeats)
    return res
