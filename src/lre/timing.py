"""From word times to volume times: Lanczos resampling, FIR delays, trimming, z-scoring.

The conventions are those of the HuthLab encoding code: ``lanczos_resample`` equals
``lanczosinterp2D(data, oldtime, newtime, window=3)`` (cutoff 1/TR, unnormalised) and
``delay`` equals ``make_delayed(X, delays)``.
"""

from __future__ import annotations

import numpy as np


def lanczos_kernel(t: np.ndarray, cutoff: float, window: int = 3) -> np.ndarray:
    """The Lanczos window ``window * sin(pi x) sin(pi x / window) / (pi x)^2`` at ``x = t *
    cutoff``; 1 at 0 and 0 beyond ``|x| > window``."""
    x = np.asarray(t, dtype=np.float64) * cutoff
    with np.errstate(divide="ignore", invalid="ignore"):
        val = window * np.sin(np.pi * x) * np.sin(np.pi * x / window) / (np.pi**2 * x**2)
    val[x == 0] = 1.0
    val[np.abs(x) > window] = 0.0
    return val


def lanczos_resample(
    values: np.ndarray, in_times: np.ndarray, out_times: np.ndarray, window: int = 3, cutoff_mult: float = 1.0
) -> np.ndarray:
    """Resample word-level values to volume times with a Lanczos filter.

    ``out[j] = sum_i L((out_times[j] - in_times[i]) * cutoff) * values[i]`` with cutoff =
    ``cutoff_mult / mean(diff(out_times))`` (the TR's Nyquist-style cutoff) and L the
    Lanczos window of ``window`` lobes. Not normalised: a sum over words, so a constant
    per-word value becomes a word *rate*.

    Parameters
    ----------
    values : array of shape (n_words, dim) or (n_words,)
    in_times : array of shape (n_words,), seconds
    out_times : array of shape (n_volumes,), seconds
    window : int

    Returns
    -------
    array of shape (n_volumes, dim)
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim == 1:
        values = values[:, None]
    in_times = np.asarray(in_times, dtype=np.float64)
    out_times = np.asarray(out_times, dtype=np.float64)
    if len(values) != len(in_times):
        raise ValueError(f"{len(values)} values but {len(in_times)} times")
    if len(out_times) < 2:
        raise ValueError("need at least two output times to define the cutoff")
    cutoff = cutoff_mult / np.mean(np.diff(out_times))
    out = np.zeros((len(out_times), values.shape[1]))
    # each output time only sees words within window / cutoff seconds
    order = np.argsort(in_times, kind="stable")
    t_sorted = in_times[order]
    half = window / cutoff
    lo = np.searchsorted(t_sorted, out_times - half, side="left")
    hi = np.searchsorted(t_sorted, out_times + half, side="right")
    for j in range(len(out_times)):
        if hi[j] > lo[j]:
            idx = order[lo[j] : hi[j]]
            out[j] = lanczos_kernel(out_times[j] - in_times[idx], cutoff, window) @ values[idx]
    return out


def delay(X: np.ndarray, delays=(1, 2, 3, 4)) -> np.ndarray:
    """Delayed copies of ``X`` side by side, zero padded: column block k holds X shifted down
    by ``delays[k]`` rows (negative delays shift up).

    Parameters
    ----------
    X : array of shape (n_times, dim)
    delays : sequence of int

    Returns
    -------
    array of shape (n_times, dim * len(delays))
    """
    X = np.asarray(X)
    n, d = X.shape
    out = np.zeros((n, d * len(delays)), dtype=X.dtype)
    for k, s in enumerate(delays):
        block = out[:, k * d : (k + 1) * d]
        if s > 0:
            block[s:] = X[: n - s] if s < n else 0
        elif s < 0:
            block[: n + s] = X[-s:] if -s < n else 0
        else:
            block[:] = X
    return out


def trim(X: np.ndarray, n: int) -> np.ndarray:
    """Drop ``n`` rows at both ends (the onset and offset transients of a run)."""
    if n == 0:
        return X
    if 2 * n >= len(X):
        raise ValueError(f"cannot trim {n} rows at both ends of {len(X)} rows")
    return X[n:-n]


def zscore(X: np.ndarray, axis: int = 0) -> np.ndarray:
    """Z-score along ``axis``; constant columns become zeros (not NaN)."""
    X = np.asarray(X, dtype=np.float64)
    mu = X.mean(axis=axis, keepdims=True)
    sd = X.std(axis=axis, keepdims=True)
    return np.divide(X - mu, sd, out=np.zeros_like(X), where=sd > 0)
