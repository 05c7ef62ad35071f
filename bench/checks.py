"""The cost of the input checks an encoding job makes, at the shape of the full-size rehearsal.

An encoding job at the paper's size (bench/rehearsal.py: 9,000 training volumes in 26
stories, a 291-volume test story heard 10 times, 90,000 voxels, 4,096 design columns) checks
its inputs before it fits: the responses are finite in float32 (lre.datafiles.real_float32),
the test story's repeats are not copies of each other, a test story is not a copy of a
training story of the same length (a correlation over all its values), the words lie within
the responses, and no design is constant. This times each check on arrays of that shape
and prints its share of the job's time (``--job-seconds``: the rehearsal's encoding job,
707 s on 2 cores in docs/scaling.md).

    python bench/checks.py [--voxels 90000] [--job-seconds 707]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from lre.datafiles import real_float32
from lre.datasets import Run
from lre.encoding.stage import _similarity, check_not_constant, check_repeats, check_words_within_responses


def timed(fn, repeat: int = 1) -> float:
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--voxels", type=int, default=90_000)
    p.add_argument("--train-volumes", type=int, default=9_000)
    p.add_argument("--stories", type=int, default=26)
    p.add_argument("--test-volumes", type=int, default=291)
    p.add_argument("--repeats", type=int, default=10)
    p.add_argument("--columns", type=int, default=4_096)
    p.add_argument("--job-seconds", type=float, default=707.0)
    a = p.parse_args()
    rng = np.random.default_rng(0)
    per_story = a.train_volumes // a.stories
    story = rng.standard_normal((1, per_story, a.voxels), dtype=np.float32)
    test = rng.standard_normal((a.repeats, a.test_volumes, a.voxels), dtype=np.float32)
    design = rng.standard_normal((a.train_volumes, a.columns), dtype=np.float32)
    costs = {
        # every training story and the test repeats, finite in float32 (read once per job)
        "responses finite in float32": a.stories * timed(lambda: real_float32(story[0], "f", "x"))
        + timed(lambda: [real_float32(r, "f", "x") for r in test]),
        # every pair of test repeats compared (a sample, then all values where the sample agrees)
        "repeats not copies": timed(lambda: check_repeats(Run(test, np.arange(a.test_volumes) * 2.0, "f"), "s", "t")),
        # the test story against a training story of the same length, every repeat (worst case)
        "test not a copy of training": timed(lambda: max(_similarity(r, test[0]) for r in test)),
        "words within the responses": timed(
            lambda: check_words_within_responses(
                np.linspace(0, a.test_volumes * 2.0, 3000),
                Run(test[:1], np.arange(a.test_volumes) * 2.0, "f"),
                "t",
                "s",
            )
        ),
        # every space's design (the rehearsal has one space)
        "design not constant": timed(lambda: check_not_constant(design, "f", "space", ["t"])),
    }
    total = sum(costs.values())
    print(
        f"shape: {a.train_volumes} training volumes in {a.stories} stories, {a.repeats} x {a.test_volumes} test "
        f"volumes, {a.voxels} voxels, {a.columns} columns"
    )
    for name, sec in costs.items():
        print(f"  {name:32s} {sec:7.2f} s  {100 * sec / a.job_seconds:5.2f} % of a {a.job_seconds:.0f} s job")
    print(f"  {'all checks':32s} {total:7.2f} s  {100 * total / a.job_seconds:5.2f} % of a {a.job_seconds:.0f} s job")


if __name__ == "__main__":
    main()
