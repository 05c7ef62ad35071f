"""Voxelwise ridge: lre's lean solver vs himalaya's estimators, same data, same splits.

Both choose one penalty per voxel by cross-validation over whole-story folds (minus the
mean squared validation error, averaged over folds) and predict a held-out story. The
synthetic voxels are drawn so that their best penalty lies inside the grid: each voxel's
weights have a variance ``1 / a`` (in noise units) with ``a`` log-uniform over the inner
decades of the grid, the penalty a Bayes-optimal ridge would choose, so the selection has
something to select (the run prints the share of voxels that chose a grid edge).

The default shape is one encoding job of the paper's (LeBel et al. 2023): 9,000 training
volumes in 26 stories (5 folds of whole stories), a 291-volume test story, 1,024 dims x 4
delays = 4,096 columns, and a slice of its voxels (an encoding job solves 90,000 in batches
of ``encoding.n_targets_batch``; the lean solver's cost per voxel is fixed once the basis and
the fold matrices are made, which the slice includes once). ``--shape small`` is the shape of
earlier measurements (1,600 x 1,536 x 5,000 in 5 stories).

Prints seconds and peak traced memory for each solver, ``speed-up Nx``, ``same penalty: P%``
and the largest difference in test r, then the lean solver's parts and the rate its matrix
products reached against a float32 GEMM of this machine measured in the same run.

    python bench/encoding.py                   # the job shape, 1,000 voxels: ~5 minutes on 2 cores
    python bench/encoding.py --shape small     # ~15 s
    python bench/encoding.py --voxels 20000 --backend torch_cuda
"""

from __future__ import annotations

import argparse
import logging
import time
import tracemalloc

import numpy as np

from lre import encoding

SHAPES = {
    "job": dict(trs=9000, stories=26, test=291, features=4096, voxels=1000),
    "small": dict(trs=1600, stories=5, test=320, features=1536, voxels=5000),
}


def gemm_rate(n: int, backend: str, repeat: int = 3) -> float:
    """Best float32 GEMM rate (FLOP/s) of an (n x n) @ (n x n) product on the backend."""
    from himalaya.backend import get_backend

    encoding.set_backend(backend)
    bk = get_backend()
    rng = np.random.default_rng(0)
    a = bk.asarray(rng.standard_normal((n, n), dtype=np.float32))
    b = bk.asarray(rng.standard_normal((n, n), dtype=np.float32))
    bk.to_numpy(bk.matmul(a, b)[:1, :1])
    best = np.inf
    for _ in range(repeat):
        t0 = time.perf_counter()
        bk.to_numpy(bk.matmul(a, b)[:1, :1])  # to_numpy waits for a GPU's kernels
        best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best


def synthetic(rng, lengths: list[int], n_test: int, p: int, v: int, alphas: np.ndarray):
    """Design, responses and each voxel's planted penalty (log-uniform inside the grid)."""
    n = sum(lengths)
    X = rng.standard_normal((n + n_test, p), dtype=np.float32)
    lo, hi = np.log10(alphas.min()), np.log10(alphas.max())
    planted = 10 ** rng.uniform(lo + 1, hi - 1, v)  # a decade from either edge
    Y = rng.standard_normal((n + n_test, v), dtype=np.float32)
    for b in range(0, v, 1000):  # X @ W in slices, W ~ N(0, 1 / a) per voxel
        W = rng.standard_normal((p, min(1000, v - b)), dtype=np.float32) / np.sqrt(planted[b : b + 1000])
        Y[:, b : b + 1000] += X @ W.astype(np.float32)
    return X, Y, planted


def story_lengths(total: int, stories: int, rng) -> list[int]:
    """``stories`` lengths within 20 % of each other summing to ``total``."""
    raw = rng.uniform(0.8, 1.2, stories)
    lengths = np.floor(raw / raw.sum() * total).astype(int)
    lengths[: total - lengths.sum()] += 1
    return lengths.tolist()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--shape", choices=sorted(SHAPES), default="job")
    ap.add_argument("--trs", type=int, help="training volumes")
    ap.add_argument("--stories", type=int, help="training stories (folds keep them whole)")
    ap.add_argument("--test", type=int, help="test volumes")
    ap.add_argument("--features", type=int, help="columns (dims x delays)")
    ap.add_argument("--voxels", type=int)
    ap.add_argument("--alphas", type=int, default=10, help="penalties, log-spaced over 1..1e6")
    ap.add_argument("--backend", default="numpy", choices=encoding.BACKENDS)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--gemm", type=int, default=4096, help="side of the reference GEMM")
    args = ap.parse_args()
    shape = {k: getattr(args, k) if getattr(args, k) is not None else d for k, d in SHAPES[args.shape].items()}

    rng = np.random.default_rng(args.seed)
    lengths = story_lengths(shape["trs"], shape["stories"], rng)
    n, p, v, n_test = shape["trs"], shape["features"], shape["voxels"], shape["test"]
    alphas = np.logspace(0, 6, args.alphas)
    X, Y, planted = synthetic(rng, lengths, n_test, p, v, alphas)
    cv = encoding.story_folds(lengths)
    # warm-up (imports, a CUDA context, kernels), so neither solver pays it; its two
    # penalties are a grid edge by construction, which the solver would warn about
    logging.disable(logging.WARNING)
    for solver in ("himalaya", "lean"):
        encoding.fit_and_score(
            X[:100], Y[:100, :10], X[n : n + 20], Y[n : n + 20, :10], alphas[3:5],
            cv=encoding.story_folds([50, 50]), backend=args.backend, solver=solver,
        )  # fmt: skip
    logging.disable(logging.NOTSET)
    rate = gemm_rate(args.gemm, args.backend)
    print(f"float32 GEMM ({args.gemm}^3) on {args.backend}: {rate / 1e9:.1f} GFLOP/s", flush=True)
    results = {}
    for solver in ("himalaya", "lean"):
        timings = {} if solver == "lean" else None
        tracemalloc.start()
        t0 = time.perf_counter()
        res = encoding.fit_and_score(
            X[:n], Y[:n], X[n:], Y[n:], alphas, cv=cv, backend=args.backend, solver=solver, timings=timings
        )
        dt = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        results[solver] = (res, dt, peak, timings)
        print(
            f"{solver:9s} ({res['solver']}): {dt:6.1f} s, peak traced memory {peak / 2**30:.2f} GiB, "
            f"mean test r {res['scores'].mean():.4f}",
            flush=True,
        )
    (h, th, mh, _), (lean, tl, ml, parts) = results["himalaya"], results["lean"]
    same = np.isclose(h["alphas"], lean["alphas"], rtol=1e-5).mean()
    edge = np.isin(lean["alphas"], [alphas.min(), alphas.max()]).mean()
    near = np.abs(np.log10(lean["alphas"]) - np.log10(planted)) <= 1
    print(
        f"shape: {n} TRs in {len(lengths)} stories x {p} features x {v} voxels, test {n_test} TRs, "
        f"{args.alphas} alphas, {len(cv)} folds, backend {args.backend}"
    )
    print(f"lean / himalaya time: {tl / th:.2f} (speed-up {th / tl:.2f}x); memory ratio {ml / max(mh, 1):.2f}")
    print(
        f"same penalty: {100 * same:.2f}% of voxels; "
        f"max |r difference| {np.abs(h['scores'] - lean['scores']).max():.1e}"
    )
    print(
        f"penalties: {100 * edge:.2f}% of voxels at a grid edge; {100 * near.mean():.1f}% within a decade "
        "of the planted one"
    )
    flops = encoding.lean_flops(n, p, n_test, [len(va) for _, va in cv], args.alphas, v)
    print(
        "lean parts: "
        + ", ".join(f"{k} {parts[k]:.1f} s ({flops[k] / 1e9:.0f} GFLOP)" for k in ("basis", "operators", "voxels"))
        + f", the rest {tl - sum(parts.values()):.1f} s (scoring)"
    )
    dominant = flops["voxels"] / parts["voxels"]
    print(
        f"lean products: the voxels' products (the dominant ones, {100 * flops['voxels'] / flops['total']:.0f}% "
        f"of the FLOPs) at {dominant / 1e9:.1f} GFLOP/s = {100 * dominant / rate:.0f}% of the matmul rate; "
        f"the whole fit at {flops['total'] / tl / 1e9:.1f} GFLOP/s = {100 * flops['total'] / tl / rate:.0f}%"
    )


if __name__ == "__main__":
    main()
