"""Lean ridge regression with cross-validated penalties, in the eigenbasis of the design.

Convention: the penalty is ``alpha * ||W||^2`` (scikit-learn / himalaya), with an
unpenalised intercept (every fit centres X and Y with the means of its training rows).

Everything is computed from small cross-products: the design of each fit is factorised once
(the eigendecomposition of its centred Gram matrix ``Xc^T Xc = V diag(s^2) V^T``,
:func:`factorize`), and the targets enter only through ``X^T Y``, summed once per fold of
validation rows. A fold's training cross-product is then the total minus its validation
block, so no product over all training rows is ever repeated per fold, per penalty or per
target. Factorisations are plain arrays: a stage can store them and another reuse them (the
transfer decoders of all targets share one factorisation of each source latent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass
class Factor:
    """Eigendecomposition of a centred design's Gram matrix: ``(X - mean)^T (X - mean) =
    Vt^T diag(s^2) Vt`` (``s`` are the singular values of the centred design).

    Attributes
    ----------
    mean : array of shape (p,)
    s : array of shape (r,)
    Vt : array of shape (r, p)
    """

    mean: np.ndarray
    s: np.ndarray
    Vt: np.ndarray

    def to_dict(self) -> dict[str, np.ndarray]:
        return {"mean": self.mean, "s": self.s, "Vt": self.Vt}

    @classmethod
    def from_dict(cls, d) -> Factor:
        return cls(*(np.asarray(d[k][()]) for k in ("mean", "s", "Vt")))


def _from_gram(G: np.ndarray, mean: np.ndarray, rtol: float) -> Factor:
    G = (G + G.T) / 2
    evals, evecs = np.linalg.eigh(G)
    keep = evals > rtol * max(float(evals.max(initial=0.0)), 1e-300)
    order = np.argsort(evals[keep])[::-1]
    return Factor(mean, np.sqrt(evals[keep][order]), evecs[:, keep][:, order].T)


def factorize(X: np.ndarray, rtol: float = 1e-12) -> Factor:
    """Factorise the centred design ``X`` (n, p); directions with s^2 <= rtol * s_max^2 are dropped."""
    X = np.asarray(X, dtype=np.float64)
    mean = X.mean(0)
    Xc = X - mean
    return _from_gram(Xc.T @ Xc, mean, rtol)


def shrink(s: np.ndarray, alpha: float) -> np.ndarray:
    """Ridge shrinkage in the eigenbasis: 1 / (s^2 + alpha)."""
    return 1.0 / (s * s + alpha)


def fit(f: Factor, X: np.ndarray, Y: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Ridge weights and intercept for targets ``Y`` (n, q) on the design ``X`` (n, p) that
    ``f`` factorises.

    Returns ``(W, b)`` with ``W`` of shape (p, q) and ``b`` of shape (q,); predict with
    ``X @ W + b``.
    """
    Y = np.asarray(Y, dtype=np.float64)
    ymean = Y.mean(0)
    C = (np.asarray(X, dtype=np.float64) - f.mean).T @ (Y - ymean)
    W = f.Vt.T @ (shrink(f.s, alpha)[:, None] * (f.Vt @ C))
    return W, ymean - f.mean @ W


class CVDesign:
    """A design matrix split into cross-validation folds, ready to score many targets.

    Everything that depends on X alone (per-fold sums and Gram blocks, each fold's
    factorisation and the validation Gram in its eigenbasis) is computed once here; each
    call of :meth:`errors` then costs one product of X's validation rows with the targets.

    Parameters
    ----------
    X : array of shape (n, p)
    folds : int array of shape (n,), the validation fold of each row (rows of one document
        share a fold, so validation never sees a training document)
    factors : optional precomputed ``factorize(X[folds != k])`` for each fold k = 0..K-1
    """

    def __init__(self, X: np.ndarray, folds: np.ndarray, factors: list[Factor] | None = None):
        self.X = np.asarray(X, dtype=np.float64)
        self.folds = np.asarray(folds)
        self.masks = [self.folds == k for k in range(int(self.folds.max()) + 1)]
        blocks = [(int(m.sum()), self.X[m].sum(0), self.X[m].T @ self.X[m]) for m in self.masks]
        self.n = sum(b[0] for b in blocks)
        self.sx = sum(b[1] for b in blocks)
        XtX = sum(b[2] for b in blocks)
        self.folds_ = []
        for k, (n_v, sx_v, XtX_v) in enumerate(blocks):
            n_t = self.n - n_v
            mx = (self.sx - sx_v) / n_t
            if factors is not None:
                f = factors[k]
            else:
                f = _from_gram((XtX - XtX_v) - n_t * np.outer(mx, mx), mx, 1e-12)
            G_v = XtX_v - np.outer(mx, sx_v) - np.outer(sx_v, mx) + n_v * np.outer(mx, mx)
            self.folds_.append({"n_v": n_v, "n_t": n_t, "sx_v": sx_v, "mx": mx, "f": f, "ZtZ": f.Vt @ G_v @ f.Vt.T})

    def errors(self, Y: np.ndarray, alphas) -> np.ndarray:
        """Validation sum of squared errors, array of shape (n_alphas, q), for targets Y (n, q)."""
        Y = np.asarray(Y, dtype=np.float64)
        alphas = np.asarray(alphas, dtype=np.float64)
        blocks = []
        for m in self.masks:
            Yv = Y[m]
            blocks.append((self.X[m].T @ Yv, Yv.sum(0), np.einsum("ij,ij->j", Yv, Yv)))
        XtY = sum(b[0] for b in blocks)
        sy = sum(b[1] for b in blocks)
        sse = np.zeros((len(alphas), Y.shape[1]))
        for fd, (XtY_v, sy_v, syy_v) in zip(self.folds_, blocks):
            mx, f, n_v, n_t = fd["mx"], fd["f"], fd["n_v"], fd["n_t"]
            my = (sy - sy_v) / n_t
            VC = f.Vt @ ((XtY - XtY_v) - n_t * np.outer(mx, my))  # training cross-product, eigenbasis
            # validation rows centred with the training means
            ZtR = f.Vt @ (XtY_v - np.outer(mx, sy_v) - np.outer(fd["sx_v"], my) + n_v * np.outer(mx, my))
            RR = syy_v - 2.0 * my * sy_v + n_v * my * my
            for a, alpha in enumerate(alphas):
                M = shrink(f.s, alpha)[:, None] * VC  # coefficients in the eigenbasis
                sse[a] += RR - 2.0 * np.einsum("ij,ij->j", ZtR, M) + np.einsum("ij,ij->j", M, fd["ZtZ"] @ M)
        return np.maximum(sse, 0.0)


def cv_errors(
    X: np.ndarray,
    Y: np.ndarray,
    folds: np.ndarray,
    alphas,
    factors: list[Factor] | None = None,
) -> np.ndarray:
    """Validation sum of squared errors per penalty and target column, shape (n_alphas, q).

    See :class:`CVDesign` (use it directly to score several targets on one design).
    """
    return CVDesign(X, folds, factors).errors(Y, alphas)


def best_alpha(sse: np.ndarray, alphas) -> tuple[float, int]:
    """The penalty with the lowest total validation error (ties: the larger penalty)."""
    total = sse.sum(1) if sse.ndim == 2 else sse
    order = np.argsort(-np.asarray(alphas))  # scan from the largest penalty
    a = int(order[np.argmin(total[order])])
    return float(alphas[a]), a


def fold_factors(X: np.ndarray, folds: np.ndarray) -> list[Factor]:
    """``factorize(X[folds != k])`` for every fold."""
    return [factorize(X[folds != k]) for k in range(int(folds.max()) + 1)]
