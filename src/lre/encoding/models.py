"""Voxelwise encoding models (HuthLab conventions, himalaya solvers).

Per subject and space: word features are Lanczos-resampled to the volume times, trimmed,
z-scored per story and delayed (FIR, 1..4 TRs); ridge regression with one penalty per voxel
chosen by cross-validation that keeps stories (or 40-TR chunks) together; the model is
scored on the held-out story by Pearson r per voxel (against the mean over repeats when the
test story was heard several times), with R^2 and a noise ceiling from the repeats.

Solvers: himalaya's ``RidgeCV`` when there are fewer features than training samples, else
``KernelRidgeCV``; on the numpy, torch or torch_cuda backend.
"""

from __future__ import annotations

import logging
import time
import warnings

import numpy as np

from .. import timing
from ..errors import ConfigError, LreError

log = logging.getLogger(__name__)

BACKENDS = ("numpy", "torch", "torch_cuda")


def cuda_available() -> bool:
    """Whether torch is installed here and sees a CUDA device."""
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


def resolve_backend(name: str) -> str:
    """A backend name as it runs here: ``auto`` is torch_cuda where torch sees a CUDA device,
    else numpy; any other name is itself."""
    if name == "auto":
        return "torch_cuda" if cuda_available() else "numpy"
    return name


def set_backend(name: str):
    """Select himalaya's backend (``auto``: :func:`resolve_backend`), refusing clearly when it
    cannot run here."""
    from himalaya.backend import set_backend as _set

    name = resolve_backend(name)
    if name not in BACKENDS:
        raise ConfigError("encoding.backend", f"unknown backend {name!r}.", fix=f"use auto or one of {BACKENDS}.")
    if name == "torch_cuda":
        import torch

        if not torch.cuda.is_available():
            raise ConfigError(
                "encoding.backend",
                "torch_cuda was requested but torch sees no CUDA device.",
                fix="use backend numpy or torch here, or run on a GPU node.",
            )
    return _set(name, on_error="raise")


def story_folds(lengths: list[int], chunk: int = 40, max_folds: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    """Cross-validation splits that keep stories together.

    With at least two training stories, stories are dealt to ``min(n_stories, max_folds)``
    folds (each validation fold is whole stories); with one story, its rows are cut into
    ``chunk``-row blocks dealt to folds in turn, so no fold validates on rows adjacent to
    its own training rows more than at block edges.

    Returns a list of ``(train_indices, validation_indices)``.
    """
    starts = np.concatenate([[0], np.cumsum(lengths)])
    n = int(starts[-1])
    fold = np.empty(n, dtype=int)
    if len(lengths) >= 2:
        k = min(len(lengths), max_folds)
        for s in range(len(lengths)):
            fold[starts[s] : starts[s + 1]] = s % k
    else:
        k = min(max_folds, n // chunk)
        if k < 2:
            raise ConfigError(
                "encoding.cv_chunk",
                f"a single training story of {n} volumes makes fewer than two "
                f"{chunk}-volume chunks for cross-validation.",
                fix="use a smaller cv_chunk or more training stories.",
            )
        fold[:] = (np.arange(n) // chunk) % k
    idx = np.arange(n)
    return [(idx[fold != f], idx[fold == f]) for f in range(k)]


def correlation(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Pearson r per column of two (n, v) arrays (0 where either column is constant)."""
    a = a - a.mean(0)
    b = b - b.mean(0)
    den = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    return np.divide((a * b).sum(0), den, out=np.zeros(a.shape[1]), where=den > 0)


def noise_ceiling(repeats: np.ndarray) -> np.ndarray:
    """Highest correlation any model could reach with the mean of R repeats, per voxel.

    With ``y_r = s + n_r`` (independent noise), the signal variance is ``S = (R var(mean) -
    mean_r var(y_r)) / (R - 1)`` and the ceiling ``sqrt(S / var(mean))``, clipped to [0, 1]
    (Schoppe et al. 2016).

    Parameters
    ----------
    repeats : array of shape (R, n_times, n_voxels), R >= 2
    """
    R = repeats.shape[0]
    if R < 2:
        raise ValueError("a noise ceiling needs at least two repeats")
    var_mean = repeats.mean(0, dtype=np.float64).var(0)
    mean_var = repeats.var(1, dtype=np.float64).mean(0)
    S = (R * var_mean - mean_var) / (R - 1)
    return np.sqrt(np.clip(np.divide(S, var_mean, out=np.zeros_like(S), where=var_mean > 0), 0.0, 1.0))


def _complement_folds(folds, n: int) -> None:
    """The lean solver's folds must each train on every row it does not validate on."""
    for i, (tr, va) in enumerate(folds):
        if len(va) == 0 or len(tr) + len(va) != n or len(np.union1d(tr, va)) != n:
            raise LreError(
                f"cross-validation fold {i} trains on {len(tr)} and validates on {len(va)} of {n} "
                "rows; the lean solver needs folds whose training rows are all the other rows "
                "(as encoding.story_folds and KFold make). Fix: pass such folds, or use "
                "solver='himalaya' (encoding.solver: himalaya)."
            )


def _weighted_gram(bk, A, weights):
    """``A diag(weights) A^T`` as a NumPy array whose LOWER triangle is valid (the upper may
    be garbage): BLAS syrk on ``A diag(sqrt(weights))`` with the numpy backend (half a
    product's work), a product on the others. ``weights``: a non-negative NumPy vector of
    A's dtype, or None for ones."""
    if weights is not None:
        A = A * bk.asarray(np.sqrt(weights))[None, :]
    if bk.name != "numpy":
        return np.asarray(bk.to_numpy(bk.matmul(A, bk.transpose(A, (1, 0)))))
    from scipy.linalg import blas

    A = np.asarray(A)
    syrk = blas.get_blas_funcs("syrk", (A,))
    return syrk(1.0, A, lower=1)


def _spd_inverse(L: np.ndarray) -> np.ndarray:
    """Inverse of a symmetric positive-definite matrix from its LOWER triangle, through its
    Cholesky factor (LAPACK potrf and potri: half the work of a general inverse)."""
    from scipy.linalg import lapack

    potrf, potri = lapack.get_lapack_funcs(("potrf", "potri"), (L,))
    c, info = potrf(L, lower=1, clean=0)
    if info == 0:
        inv, info = potri(c, lower=1, overwrite_c=1)
    if info != 0:  # not positive definite in this precision: the general inverse, in float64
        full = np.tril(L) + np.tril(L, -1).T
        return np.linalg.inv(full.astype(np.float64)).astype(L.dtype)
    return np.tril(inv) + np.tril(inv, -1).T


def lean_flops(n: int, p: int, n_test: int, fold_sizes, n_alphas: int, n_voxels: int) -> dict:
    """Floating-point operations of :func:`lean_ridge_cv`'s matrix products, by part, from the
    shapes (``2 m k n`` per ``(m x k) @ (k x n)`` product; ``r = min(n, p)``): the Gram matrix
    and the eigenbasis (once), the validation operators (per fold and penalty, once), and per
    voxel the projection, every fold's stacked validation product and residual solves, and the
    refit. The eigendecomposition itself is not counted."""
    r = min(n, p)
    primal = p <= n
    basis = 2 * n * p * r + (2 * n * p * r if primal else 0) + 2 * n_test * p * (r if primal else n)
    if not primal:
        basis += 2 * n_test * n * r
    operators = sum(2 * n_alphas * v * v * r for v in fold_sizes)
    per_voxel = 2 * n * r + sum(2 * n_alphas * v * (r + v) for v in fold_sizes) + 2 * n_test * r
    return {
        "basis": float(basis),
        "operators": float(operators),
        "voxels": float(per_voxel) * n_voxels,
        "total": float(basis + operators + per_voxel * n_voxels),
    }


def lean_ridge_cv(
    X_train, Y_train, X_test, alphas, cv, n_targets_batch: int | None = None, timings: dict | None = None
):
    """Voxelwise ridge with a per-voxel penalty chosen by cross-validation, lean version.

    The same model and selection rule as himalaya's ``RidgeCV`` / ``KernelRidgeCV`` with
    ``fit_intercept=True`` and their default score (minus the mean squared validation error,
    averaged over folds; the first best penalty wins), computed with less work:

    - ONE eigendecomposition, of the centred design's smaller Gram matrix on all training
      rows, ``Q diag(lam) Q^T``; with ``Z = Xc Q`` (primal, ``p <= n``) or ``Z = Q`` (dual),
      the fit's hat matrix for penalty ``a`` is ``H_a = 11^T / n + Z diag(w_a) Z^T``, with
      ``w_a = 1 / (lam + a)`` (primal) or ``lam / (lam + a)`` (dual);
    - every fold from that one fit: a model fitted without the validation rows ``V`` (and its
      own intercept) leaves on them the residuals ``(I - H_a[V, V])^{-1} e_a[V]``, where
      ``e_a = Yc - Z diag(w_a) Z^T Yc`` are the full fit's residuals (the block form of the
      leave-out identity of penalised least squares), so no fold needs a factorisation of
      its own; the small ``|V| x |V|`` inverses are taken once per fold and penalty (by
      Cholesky; float32 in the primal, float64 in the dual);
    - per batch of voxels one projection ``B = Z^T Yc``, then per fold ONE float32 product
      of every penalty's validation rows stacked, ``[Z_V diag(w_1); ...; Z_V diag(w_A)] @ B``,
      and each penalty's residual solve; the refit predicts the test story from the same
      ``B`` with each voxel's chosen penalty, ``Zt @ (B / (lam + a_voxel))``, in the same pass.

    Runs on the current himalaya backend (numpy, torch, torch_cuda). The folds must each train
    on all the rows they do not validate on (:func:`story_folds`, KFold). ``timings``, when
    given a dict, receives the wall seconds of its parts: ``basis`` (the Gram matrix, the
    eigendecomposition, ``Z``), ``operators`` (the fold matrices) and ``voxels`` (every
    batch's products, solves and refit), the parts :func:`lean_flops` counts.

    Returns ``(prediction (n_test, v), best_alphas (v,), cv_scores (v,))`` as NumPy arrays.
    """
    from himalaya.backend import get_backend

    bk = get_backend()
    alphas = np.asarray(alphas, dtype=np.float64)
    n, p = X_train.shape
    n_vox = Y_train.shape[1]
    step = n_targets_batch or n_vox
    folds = [(np.asarray(tr), np.asarray(va)) for tr, va in cv]
    _complement_folds(folds, n)
    n_alphas = len(alphas)

    clock = [time.perf_counter()]

    def lap(part):
        now = time.perf_counter()
        if timings is not None:
            timings[part] = timings.get(part, 0.0) + now - clock[0]
        clock[0] = now

    X = np.asarray(X_train, dtype=np.float32)
    mu = X.mean(0, dtype=np.float64).astype(np.float32)
    Xc = bk.asarray(X - mu)
    Xtc = bk.asarray(np.asarray(X_test, dtype=np.float32) - mu)
    primal = p <= n
    if primal:
        G = _weighted_gram(bk, bk.transpose(Xc, (1, 0)), None)  # lower triangle
    else:  # float64: the constant's direction must keep its zero eigenvalue (see below)
        Xc64 = bk.asarray(Xc, dtype="float64")
        G = bk.matmul(Xc64, bk.transpose(Xc64, (1, 0)))
        del Xc64
    if bk.name == "numpy":  # LAPACK syevd through NumPy: the fastest eigh here
        lam, Q = np.linalg.eigh(np.asarray(G, dtype=np.float64), UPLO="L")
    else:
        lam, Q = bk.eigh(bk.asarray(G, dtype="float64"))
        lam = bk.to_numpy(lam)
    del G
    lam = np.clip(np.asarray(lam, dtype=np.float64), 0, None)
    Q = bk.asarray(Q, dtype="float32")
    if primal:
        Z = bk.matmul(Xc, Q)
        Zt = bk.matmul(Xtc, Q)
        w = 1.0 / (lam[None, :] + alphas[:, None])  # H_a = J + Z diag(w_a) Z^T
    else:
        Z = Q
        Zt = bk.matmul(bk.matmul(Xtc, bk.transpose(Xc, (1, 0))), Q)
        # Q is complete, so I - H_a = Q diag(a / (lam + a)) Q^T - J: the residuals and the
        # fold matrices come without the cancellation of subtracting a near-interpolating
        # fit (which costs float32 digits when the penalty is small and p > n)
        w = alphas[:, None] / (lam[None, :] + alphas[:, None])
    del Xc, Xtc, Q
    w32 = bk.asarray(w.astype(np.float32))

    # In the primal (p <= n) the fold matrices are well conditioned (a fold's rows have small
    # leverage) and float32 serves; in the dual they are formed, inverted and applied in
    # float64: with p > n and a small penalty, I - H_a[V, V] has eigenvalues near a / (lam_max
    # + a), and float32 would cost the selection its ties (scores off by 1e-4).
    solve_dtype = "float32" if primal else "float64"

    def inverses(va):
        """``(I - H_a[V, V])^{-1}`` for every penalty ``a``, shape (A, |V|, |V|)."""
        ZV = Z[bk.asarray(va)]
        ZV = ZV if primal else bk.asarray(ZV, dtype="float64")
        wa = w.astype(solve_dtype)
        eye = np.eye(len(va), dtype=solve_dtype)
        out = []
        for a in range(n_alphas):
            ZWZ = _weighted_gram(bk, ZV, wa[a])  # lower triangle
            L = (eye - ZWZ if primal else ZWZ) - np.asarray(1.0 / n, dtype=solve_dtype)
            out.append(_spd_inverse(L))
        return bk.asarray(np.stack(out))

    lap("basis")
    ops = [(bk.asarray(va), inverses(va)) for _, va in folds]
    lap("operators")
    scores = np.zeros((n_alphas, n_vox))
    best_idx = np.zeros(n_vox, dtype=int)
    pred = np.zeros((Zt.shape[0], n_vox), dtype=np.float64)

    # Each batch of voxels is a function call: its arrays are freed when it returns, before
    # the next batch's are made.
    def batch(b):
        Y = bk.asarray(np.asarray(Y_train[:, b : b + step], dtype=np.float32))
        ybar = bk.sum(Y, 0) / n
        Yc = Y - ybar
        del Y
        B = bk.matmul(bk.transpose(Z, (1, 0)), Yc)
        for va, Linv in ops:
            nv = len(va)
            ZV = Z[va]
            stacked = (ZV[None, :, :] * w32[:, None, :]).reshape(n_alphas * nv, ZV.shape[1])
            E = bk.matmul(stacked, B)
            del stacked
            YV = Yc[va] if primal else None
            for a in range(n_alphas):
                Ea = E[a * nv : (a + 1) * nv]
                R = bk.matmul(Linv[a], YV - Ea if primal else bk.asarray(Ea, dtype="float64"))
                scores[a, b : b + step] -= bk.to_numpy(bk.sum(R * R, 0)) / nv / len(folds)
                del R
            del E
        idx = np.argmax(scores[:, b : b + step], axis=0)
        best_idx[b : b + step] = idx
        shrink = bk.asarray((1.0 / (lam[:, None] + alphas[idx][None, :])).astype(np.float32))
        pred[:, b : b + step] = bk.to_numpy(bk.matmul(Zt, shrink * B) + ybar)

    for b in range(0, n_vox, step):
        batch(b)
    lap("voxels")
    return pred, alphas[best_idx], scores[best_idx, np.arange(n_vox)]


def himalaya_ridge_cv(X_train, Y_train, X_test, alphas, cv, n_targets_batch: int | None = None):
    """himalaya's ``RidgeCV`` (fewer features than samples) or ``KernelRidgeCV`` (otherwise) on
    the current backend, with a per-voxel penalty; the reference the lean solver matches.

    Returns ``(prediction (n_test, v), best_alphas (v,), cv_scores (v,))`` as NumPy arrays.
    """
    from himalaya.backend import get_backend
    from himalaya.kernel_ridge import KernelRidgeCV
    from himalaya.ridge import RidgeCV

    bk = get_backend()
    params = {"n_targets_batch": n_targets_batch, "n_targets_batch_refit": n_targets_batch}
    est = RidgeCV if X_train.shape[1] < X_train.shape[0] else KernelRidgeCV
    model = est(alphas=alphas, cv=cv, fit_intercept=True, solver_params=params)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # himalaya's notes on the solver choice
        model.fit(X_train, Y_train)
    pred = np.asarray(bk.to_numpy(model.predict(X_test)), dtype=np.float64)
    best = np.asarray(bk.to_numpy(model.best_alphas_), dtype=np.float64)
    cv_scores = np.asarray(bk.to_numpy(model.cv_scores_), dtype=np.float64).reshape(-1)
    return pred, best, cv_scores


#: voxelwise ridge solvers by name (``encoding.solver``): each takes ``(X_train, Y_train,
#: X_test, alphas, cv, n_targets_batch)`` and returns ``(prediction, best_alphas, cv_scores)``
SOLVERS = {"lean": lean_ridge_cv, "himalaya": himalaya_ridge_cv}


def test_scores(pred: np.ndarray, repeats: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A test prediction ``(n_test, v)`` scored against the repeats ``(R, n_test, v)``: Pearson
    r and R^2 against their mean, and the mean r over single repeats, each of shape (v,)."""
    mean_test = repeats.mean(0, dtype=np.float64)
    scores = correlation(pred, mean_test)
    sst = ((mean_test - mean_test.mean(0)) ** 2).sum(0)
    r2 = 1.0 - np.divide(((mean_test - pred) ** 2).sum(0), sst, out=np.ones_like(sst), where=sst > 0)
    repeat_scores = np.mean([correlation(pred, r.astype(np.float64)) for r in repeats], axis=0)
    return scores, r2, repeat_scores


def fit_and_score(
    X_train,
    Y_train,
    X_test,
    Y_test,
    alphas,
    cv=None,
    backend: str = "numpy",
    n_targets_batch: int | None = None,
    edge_warn: float = 0.1,
    solver: str = "lean",
    timings: dict | None = None,
) -> dict:
    """Fit voxelwise ridge with a per-voxel penalty and score it on held-out data.

    Parameters
    ----------
    X_train : array of shape (n_train, n_features)
    Y_train : array of shape (n_train, n_voxels)
    X_test : array of shape (n_test, n_features)
    Y_test : array of shape (n_test, n_voxels) or (n_repeats, n_test, n_voxels)
    alphas : penalties (``alpha * ||w||^2``), shape (n_alphas,)
    cv : int or a list of ``(train_indices, validation_indices)`` (see :func:`story_folds`)
    backend : auto, numpy, torch or torch_cuda (auto: :func:`resolve_backend`)
    n_targets_batch : voxels per batch (memory), None for all at once
    edge_warn : warn when more than this share of well-predicted voxels picked a grid edge
    solver : a name of :data:`SOLVERS` (lean or himalaya)
    timings : a dict to receive the lean solver's wall seconds by part (:func:`lean_ridge_cv`)

    Returns
    -------
    dict with ``scores`` (Pearson r per voxel, against the mean over repeats), ``r2``,
    ``alphas`` (per voxel), ``cv_scores``, ``repeat_scores`` (mean r over single repeats),
    ``prediction`` (n_test, n_voxels), ``solver``, ``backend`` (as it ran) and ``edge_fraction``
    """
    if solver not in SOLVERS:
        raise ConfigError("encoding.solver", f"unknown solver {solver!r}.", fix=f"use one of {sorted(SOLVERS)}.")
    backend = resolve_backend(backend)
    set_backend(backend)
    alphas = np.asarray(alphas, dtype=np.float64)
    if np.any(alphas <= 0) or alphas.ndim != 1 or len(alphas) == 0:
        raise ConfigError(
            "encoding.alphas",
            f"penalties must be positive numbers, got {alphas.tolist()}.",
            fix="use penalties > 0, e.g. a log-spaced grid from 1 to 1e6.",
        )
    Y_test = np.asarray(Y_test)
    repeats = Y_test if Y_test.ndim == 3 else Y_test[None]
    X_train = np.asarray(X_train, dtype=np.float32)
    X_test = np.asarray(X_test, dtype=np.float32)
    Y_train = np.asarray(Y_train, dtype=np.float32)
    if X_train.shape[0] != Y_train.shape[0] or X_test.shape[0] != repeats.shape[1]:
        raise LreError(
            f"sample counts differ: X_train {X_train.shape}, Y_train {Y_train.shape}, "
            f"X_test {X_test.shape}, Y_test {Y_test.shape}"
        )
    if cv is None:
        cv = 5
    if isinstance(cv, int):
        from sklearn.model_selection import KFold

        cv = list(KFold(cv).split(X_train))
    extra = {} if timings is None else {"timings": timings}
    if timings is not None and solver != "lean":
        raise LreError(f"timings are recorded by the lean solver only, not by {solver!r}")
    pred, best, cv_scores = SOLVERS[solver](X_train, Y_train, X_test, alphas, cv, n_targets_batch, **extra)
    if solver == "himalaya":
        name = "RidgeCV" if X_train.shape[1] < X_train.shape[0] else "KernelRidgeCV"
    else:
        name = solver
    scores, r2, repeat_scores = test_scores(pred, repeats)
    good = scores > np.percentile(scores, 75) if scores.size >= 4 else np.ones(scores.shape, bool)
    at_edge = np.isin(best, [alphas.min(), alphas.max()]) & good
    edge = float(at_edge.sum() / max(good.sum(), 1))
    if edge > edge_warn:
        log.warning(
            "%.0f%% of the best-predicted voxels chose an alpha at the edge of the grid "
            "[%g, %g]; extend encoding.alphas on that side.",
            100 * edge,
            alphas.min(),
            alphas.max(),
        )
    return {
        "scores": scores,
        "r2": r2,
        "alphas": best,
        "cv_scores": cv_scores,
        "repeat_scores": repeat_scores,
        "prediction": pred,
        "solver": name,
        "backend": backend,
        "edge_fraction": edge,
    }


def prepare_story(word_times: np.ndarray, features: np.ndarray, volume_times: np.ndarray, delays) -> np.ndarray:
    """Word features of one story -> delayed, z-scored volume features.

    Lanczos to ``volume_times`` (the mid-times of the response rows, which the dataset
    loader has already trimmed), z-score (why per story: each run has its own offset and
    scale), FIR delays (zero padded inside the story, so no story leaks into the next).
    """
    return prepare_volumes(timing.lanczos_resample(features, word_times, volume_times), delays)


def prepare_volumes(X: np.ndarray, delays) -> np.ndarray:
    """Features of one story at its response volumes -> z-scored, FIR-delayed design rows
    (float32): the last two steps of :func:`prepare_story`, and all of them for volume-level
    features."""
    return timing.delay(timing.zscore(X), delays).astype(np.float32)


def block_permutation_test(
    pred: np.ndarray, Y: np.ndarray, block: int, n_perm: int, seed, voxel_batch: int = 20000
) -> tuple[np.ndarray, np.ndarray]:
    """One-sided p-values of the correlation per voxel against block-permuted predictions.

    The prediction's rows are cut into ``block``-row blocks (which keeps autocorrelation)
    and the blocks are shuffled. Two p-values per voxel:

    - empirical: ``n_perm`` seeded shuffles, ``p = (1 + #{perm r >= r}) / (1 + n_perm)``,
      so never below ``1 / (1 + n_perm)``;
    - normal: the correlation is a sum ``S = sum_b C[pi(b), b]`` of block-by-block cross
      products, a linear permutation statistic, whose mean and variance over *all* block
      permutations are exact (``E S = sum C / n``, ``Var S = sum d^2 / (n - 1)`` with ``d``
      the doubly centred ``C``; Hoeffding 1951) and whose distribution tends to the normal
      (Hoeffding's combinatorial central limit theorem); ``p = 1 - Phi((r - E S) / sd S)``.
      Its resolution does not depend on the number of permutations, so a correction over
      many tests (the brain link's Bonferroni over spaces) can still reach its level.

    Each permutation costs ``n_blocks x n_voxels`` additions.

    Parameters
    ----------
    pred : array of shape (n_times, n_voxels), the prediction
    Y : array of shape (n_times, n_voxels), the responses

    Returns
    -------
    (p_empirical, p_normal) : arrays of shape (n_voxels,)
    """
    from scipy.special import ndtr

    rng = np.random.default_rng(seed)
    nb = len(pred) // block
    n = nb * block
    if nb < 2:
        raise ConfigError(
            "encoding.permutation_block",
            f"the test story has {len(pred)} volumes; block "
            f"permutation with blocks of {block} needs at least {2 * block}.",
            fix="lower encoding.permutation_block.",
        )
    perms = [rng.permutation(nb) for _ in range(n_perm)]
    cols = np.arange(nb)
    empirical = np.empty(Y.shape[1])
    normal = np.empty(Y.shape[1])
    for b0 in range(0, Y.shape[1], voxel_batch):
        P = pred[:n, b0 : b0 + voxel_batch]
        T = Y[:n, b0 : b0 + voxel_batch]
        Pc = P - P.mean(0)
        Tc = T - T.mean(0)
        Pn = Pc / np.maximum(np.sqrt((Pc * Pc).sum(0)), 1e-300)
        Tn = Tc / np.maximum(np.sqrt((Tc * Tc).sum(0)), 1e-300)
        v = Pn.shape[1]
        C = np.einsum("btv,ctv->bcv", Pn.reshape(nb, block, v), Tn.reshape(nb, block, v))
        real = C[cols, cols].sum(0)
        exceed = np.zeros(v)
        for perm in perms:
            exceed += C[perm, cols].sum(0) >= real - 1e-12
        empirical[b0 : b0 + voxel_batch] = (1.0 + exceed) / (1.0 + n_perm)
        d = C - C.mean(0, keepdims=True) - C.mean(1, keepdims=True) + C.mean((0, 1), keepdims=True)
        mean = C.sum((0, 1)) / nb
        sd = np.sqrt((d * d).sum((0, 1)) / (nb - 1))
        z = np.divide(real - mean, sd, out=np.zeros(v), where=sd > 0)
        normal[b0 : b0 + voxel_batch] = np.where(sd > 0, ndtr(-z), 1.0)
    return empirical, normal


def block_permutation_pvalues(
    pred: np.ndarray, Y: np.ndarray, block: int, n_perm: int, seed, voxel_batch: int = 20000
) -> np.ndarray:
    """The empirical p-values of :func:`block_permutation_test`, shape (n_voxels,)."""
    return block_permutation_test(pred, Y, block, n_perm, seed, voxel_batch)[0]


def fdr_bh(p: np.ndarray, q: float) -> np.ndarray:
    """Benjamini-Hochberg: the mask of p-values significant at false discovery rate q."""
    p = np.asarray(p)
    order = np.argsort(p)
    ranked = p[order] * len(p) / np.arange(1, len(p) + 1)
    passed = ranked <= q
    mask = np.zeros(len(p), dtype=bool)
    if passed.any():
        mask[order[: np.max(np.flatnonzero(passed)) + 1]] = True
    return mask
