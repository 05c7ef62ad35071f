"""bench/encoding.py at a tiny shape: both solvers run on the same data, and the lines a
reader compares are printed with the values they must have."""

import re
import subprocess
import sys

from conftest import ROOT


def test_the_encoding_bench_prints_the_ratio_the_penalties_and_the_matmul_share():
    cmd = [sys.executable, str(ROOT / "bench" / "encoding.py"), "--trs", "400", "--stories", "4", "--test", "60"]
    cmd += ["--features", "96", "--voxels", "300", "--gemm", "256"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    out = done.stdout
    assert re.search(r"speed-up [0-9.]+x", out), out
    assert "same penalty: 100.00% of voxels" in out, out  # the lean solver chooses as himalaya does
    diff = float(re.search(r"max \|r difference\| ([0-9.e+-]+)", out).group(1))
    assert diff < 1e-5, out
    # the planted penalties lie inside the grid, so the selection is not pinned to an edge (at
    # this small shape some weak voxels still choose the largest penalty)
    edge = float(re.search(r"([0-9.]+)% of voxels at a grid edge", out).group(1))
    assert edge < 25, out
    assert "400 TRs in 4 stories x 96 features x 300 voxels" in out, out
    assert re.search(r"= [0-9]+% of the matmul rate", out), out
