"""The language representation embedding: tournament -> affinity -> weighted classical MDS.

This is the paper's analysis notebook, vectorised, with ``mse[t, s, k]`` the per-sample
test error of decoding target space t from the latent of source space s on test sample k.
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import ConfigError, LreError

log = logging.getLogger(__name__)

SELF_WEIGHT = 1e-4  #: W[t, i, t]: a space's own latent must not dominate its tournament
SELF_AFFINITY = 0.1  #: affinity[t, t] after the eigenvector is taken
EPS = 1e-4  #: added to the denominator of every win ratio


def _self_index(T: int, S: int, own) -> np.ndarray:
    """Per target, the index of its own latent among the sources (-1: it has none)."""
    if own is None:
        if T != S:
            raise LreError(f"mse is {T} targets x {S} sources; say which source is each target's own (own=...)")
        return np.arange(T)
    own = np.asarray(own, dtype=int)
    if own.shape != (T,) or own.max(initial=-1) >= S:
        raise LreError(f"own must give, for each of the {T} targets, a source index below {S} or -1")
    return own


def tournament(mse: np.ndarray, own=None) -> np.ndarray:
    """Pairwise win ratios of the sources, per target.

    ``W[t, i, j] = #{k : mse[t,i,k] > mse[t,j,k]} / (#{k : mse[t,i,k] <= mse[t,j,k]} + 1e-4)``
    for ``i != j`` (how much more often source j beats source i than the reverse, on target
    t); ``W[t, i, t] = 1e-4`` (column t: the target's own latent); ``W[t, i, i] = 0``.

    Parameters
    ----------
    mse : array of shape (T, S, K); T == S when every target is also a source, in the same order
    own : for targets that are not all sources (spaces decoded but not encoded, too narrow for
        the bottleneck), array of shape (T,): each target's index among the sources, or -1

    Returns
    -------
    W : array of shape (T, S, S)
    """
    mse = np.asarray(mse)
    T, S, K = mse.shape
    own = _self_index(T, S, own)
    W = np.empty((T, S, S))
    for t in range(T):  # (S, S, K) per target keeps memory bounded at paper scale
        m = mse[t]
        losses = (m[:, None, :] > m[None, :, :]).sum(-1)  # i loses to j
        W[t] = losses / ((K - losses) + EPS)
    idx = np.arange(S)
    W[:, idx, idx] = 0.0
    has = np.flatnonzero(own >= 0)
    W[has, :, own[has]] = SELF_WEIGHT  # the column of the target's own latent
    W[has, own[has], own[has]] = 0.0
    return W


def affinity(mse: np.ndarray, own=None) -> np.ndarray:
    """Affinity of each target to each source: the Perron eigenvector of its tournament.

    Per target t: ``P = W[t].T``; row i of P is divided by the L1 norm of column i of P; the
    eigenvector of eigenvalue 1 (its real part, normalised to sum 1) is ``affinity[t, :]``;
    then ``affinity[t, t] = 0.1`` (at the target's own latent; ``own`` as in :func:`tournament`).

    Returns
    -------
    array of shape (T, S)
    """
    W = tournament(mse, own)
    T, S, _ = W.shape
    own = _self_index(T, S, own)
    out = np.empty((T, S))
    for t in range(T):
        P = W[t].T
        norms = np.abs(P).sum(axis=0)
        if np.any(norms == 0):
            raise LreError(
                f"target {t}: a source never loses nor wins; the tournament is degenerate "
                "(are all its per-sample errors identical?)"
            )
        P = P / norms[:, None]
        evals, evecs = np.linalg.eig(P)
        k = int(np.argmin(np.abs(evals - 1.0)))
        if abs(evals[k] - 1.0) > 1e-6:
            raise LreError(f"target {t}: no eigenvalue 1 (closest {evals[k]:.6g}); the tournament is malformed")
        v = np.real(evecs[:, k])
        out[t] = v / v.sum()
    has = np.flatnonzero(own >= 0)
    out[has, own[has]] = SELF_AFFINITY
    return out


def correlation_distance(rows: np.ndarray) -> np.ndarray:
    """``1 - corrcoef(rows)`` (not squared, as in the paper)."""
    return 1.0 - np.corrcoef(rows)


def weighted_mds(affinity: np.ndarray, weights, n_components: int):
    """Weighted classical MDS of the rows of ``affinity`` with the distance ``1 - corr``.

    Weighting space i by w_i equals classical MDS after replicating its row w_i times (for
    integer weights), without replicating: with ``D`` the distance, ``N = sum(w)`` and the
    weighted centring ``J = I - 1 w^T / N``, ``B = -1/2 J D J^T``; the eigenvectors u of
    ``W^1/2 B W^1/2`` give coordinates ``u_i / sqrt(w_i)`` (each replica of a row gets its
    row's coordinates).

    Parameters
    ----------
    affinity : array of shape (S, S)
    weights : array of shape (S,), positive
    n_components : number of dimensions kept

    Returns
    -------
    coords : array of shape (S, n_components); each column has unit weighted norm,
        ``sum_i w_i c_i^2 = 1``
    eigenvalues : array of shape (S,), of the weighted problem, largest first
    """
    A = np.asarray(affinity, dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)
    if w.shape != (A.shape[0],) or np.any(w <= 0) or not np.all(np.isfinite(w)):
        raise LreError(f"weights must be {A.shape[0]} positive numbers, got {w!r}")
    if n_components > A.shape[0]:
        raise LreError(f"n_components={n_components} exceeds the number of spaces ({A.shape[0]})")
    D = correlation_distance(A)
    S = len(w)
    J = np.eye(S) - np.outer(np.ones(S), w) / w.sum()
    B = -0.5 * J @ D @ J.T
    sw = np.sqrt(w)
    M = sw[:, None] * B * sw[None, :]
    M = (M + M.T) / 2
    evals, evecs = np.linalg.eigh(M)
    order = np.argsort(evals)[::-1]
    evals, evecs = evals[order], evecs[:, order]
    coords = evecs[:, :n_components] / sw[:, None]
    return coords, evals


def explained_variance(eigenvalues: np.ndarray) -> np.ndarray:
    """Share of the positive eigenvalues' sum carried by each dimension (negatives -> 0)."""
    pos = np.clip(eigenvalues, 0, None)
    return pos / pos.sum()


def anchor_signs(coords: np.ndarray, anchor: int) -> np.ndarray:
    """Flip each dimension so the anchor space's coordinate is positive."""
    signs = np.where(coords[anchor] < 0, -1.0, 1.0)
    return coords * signs


def space_weights(spaces: list[dict], mode) -> np.ndarray:
    """MDS weight of each space.

    ``mode``: ``"group"`` (1 / size of the space's group, so each group counts equally),
    ``"equal"``, or a mapping space name -> weight covering every space.
    """
    names = [s["name"] for s in spaces]
    if mode == "group":
        groups = [s["group"] for s in spaces]
        return np.array([1.0 / groups.count(g) for g in groups])
    if mode == "equal":
        return np.ones(len(spaces))
    missing = [n for n in names if n not in mode]
    if missing:
        raise ConfigError(
            "embedding.weights", f"gives no weight for {missing}.", fix="list every space, or use weights: group."
        )
    return np.array([float(mode[n]) for n in names])


def embed(
    mse: np.ndarray, spaces: list[dict], weights_mode, n_components: int, anchor: str, sources: list[str] | None = None
) -> dict:
    """The whole analysis: tournament, affinity, weighted MDS, signs fixed by the anchor.

    ``spaces`` are the targets (the rows of ``mse``, each embedded); ``sources`` the names of
    its columns when they differ (targets decoded but not encoded have no own latent)."""
    names = [s["name"] for s in spaces]
    if anchor not in names:
        raise ConfigError(
            "embedding.anchor", f"{anchor!r} is not among the embedded spaces.", fix=f"use one of {names[:5]}..."
        )
    own = None if sources is None else [sources.index(n) if n in sources else -1 for n in names]
    W = tournament(mse, own)
    A = affinity(mse, own)
    w = space_weights(spaces, weights_mode)
    n = min(n_components, len(names) - 1)
    if n < n_components:
        log.warning(
            "embedding.n_components is %d, but %d spaces give at most %d dimensions; keeping %d.",
            n_components,
            len(names),
            n,
            n,
        )
    coords, evals = weighted_mds(A, w, n)
    coords = anchor_signs(coords, names.index(anchor))
    return {
        "tournament": W,
        "affinity": A,
        "weights": w,
        "coords": coords,
        "eigenvalues": evals,
        "explained_variance": explained_variance(evals),
    }


def layer_order(coords: np.ndarray, spaces: list[dict], n_dims: int = 3) -> list[dict]:
    """How the layers of each network line up along the first dimensions.

    For every model with at least 3 layer spaces (outputs ``L<k>``): per dimension, the
    Spearman correlation between layer index and coordinate, and whether the coordinates
    are strictly monotonic in layer order.
    """
    from scipy.stats import spearmanr

    layers: dict[str, list[tuple[int, int]]] = {}
    for i, s in enumerate(spaces):
        out = s.get("output", "")
        if out.startswith("L") and out[1:].isdigit():
            layers.setdefault(s["model"], []).append((int(out[1:]), i))
    rows = []
    for model, items in layers.items():
        if len(items) < 3:
            continue
        items.sort()
        idx = [i for _, i in items]
        for d in range(min(n_dims, coords.shape[1])):
            c = coords[idx, d]
            diffs = np.diff(c)
            rows.append(
                {
                    "model": model,
                    "dimension": d + 1,
                    "n_layers": len(idx),
                    "spearman": float(spearmanr(np.arange(len(idx)), c)[0]),
                    "monotonic": bool(np.all(diffs > 0) or np.all(diffs < 0)),
                }
            )
    return rows
