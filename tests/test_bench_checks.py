"""bench/checks.py at a tiny shape: every input check is timed and given as a share of the job."""

import re
import subprocess
import sys

from conftest import ROOT


def test_the_checks_bench_prints_each_checks_share_of_the_job():
    cmd = [sys.executable, str(ROOT / "bench" / "checks.py"), "--voxels", "500", "--train-volumes", "260"]
    cmd += ["--stories", "4", "--test-volumes", "40", "--repeats", "3", "--columns", "64", "--job-seconds", "10"]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.splitlines()
    names = ["responses finite in float32", "repeats not copies", "test not a copy of training"]
    names += ["words within the responses", "design not constant", "all checks"]
    for name in names:
        assert any(re.search(rf"{name}\s+[0-9.]+ s\s+[0-9.]+ % of a 10 s job", line) for line in lines), done.stdout
