"""Voxelwise ridge: lre's lean solver vs himalaya's estimators, same data, same splits.

Both choose one penalty per voxel by cross-validation over whole-story folds (minus the
mean squared validation error, averaged over folds) and predict a held-out story. Prints
seconds and peak traced memory for each, the ratio, the share of voxels with the same
penalty and the largest difference in test r.

    python bench/encoding.py                          # ~1 minute on 2 CPU cores
    python bench/encoding.py --voxels 20000 --backend torch_cuda
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from lre import encoding


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trs", type=int, default=1600, help="training volumes (5 stories)")
    ap.add_argument("--features", type=int, default=1536, help="columns (e.g. 384 dims x 4 delays)")
    ap.add_argument("--voxels", type=int, default=5000)
    ap.add_argument("--alphas", type=int, default=10)
    ap.add_argument("--backend", default="numpy", choices=encoding.BACKENDS)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()

    rng = np.random.default_rng(args.seed)
    n, p, v = args.trs, args.features, args.voxels
    n_test = n // 5
    X = rng.normal(size=(n + n_test, p)).astype(np.float32)
    W = (rng.normal(size=(p, v)) * rng.uniform(0, 0.05, v)).astype(np.float32)
    Y = X @ W + rng.normal(size=(n + n_test, v)).astype(np.float32)
    cv = encoding.story_folds([n // 5] * 5)
    alphas = np.logspace(0, 6, args.alphas)
    # warm-up (CUDA context, kernels), so neither solver pays it
    encoding.fit_and_score(
        X[:100],
        Y[:100, :10],
        X[n : n + 20],
        Y[n : n + 20, :10],
        alphas[:2],
        cv=encoding.story_folds([50, 50]),
        backend=args.backend,
    )
    results = {}
    for solver in ("himalaya", "lean"):
        tracemalloc.start()
        t0 = time.perf_counter()
        res = encoding.fit_and_score(X[:n], Y[:n], X[n:], Y[n:], alphas, cv=cv, backend=args.backend, solver=solver)
        dt = time.perf_counter() - t0
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        results[solver] = (res, dt, peak)
        print(
            f"{solver:9s} ({res['solver']}): {dt:6.1f} s, peak traced memory {peak / 2**30:.2f} GiB, "
            f"mean test r {res['scores'].mean():.4f}"
        )
    (h, th, mh), (lean, tl, ml) = results["himalaya"], results["lean"]
    same = np.isclose(h["alphas"], lean["alphas"], rtol=1e-5).mean()
    print(f"shape: {n} TRs x {p} features x {v} voxels, {args.alphas} alphas, 5 folds, backend {args.backend}")
    print(f"lean / himalaya time: {tl / th:.2f} (speed-up {th / tl:.2f}x); memory ratio {ml / max(mh, 1):.2f}")
    print(
        f"same penalty: {100 * same:.2f}% of voxels; "
        f"max |r difference| {np.abs(h['scores'] - lean['scores']).max():.1e}"
    )


if __name__ == "__main__":
    main()
