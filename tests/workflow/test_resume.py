"""Crash-resume and determinism of whole runs.

A run killed with SIGKILL at a (seeded) random point, then rerun in another folder, gives
results byte-identical to an uninterrupted run's: every output is written under a temporary
name and renamed when complete, so a killed job leaves nothing that the rerun would trust, and
two runs of the same config write the same bytes (docs/determinism.md).
"""

import os
import random
import signal
import subprocess
import time
from pathlib import Path

import pytest
import yaml
from conftest import SNAKEMAKE, compare_results, run_snakemake


def result_files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*") if p.is_file() and "logs" not in p.parts)


@pytest.mark.slow
def test_sigkill_at_a_random_point_then_rerun_equals_an_uninterrupted_run(tiny_run, tmp_path):
    local_dir, cfg = tiny_run
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    total = len(result_files(local_dir / "results"))
    k = random.Random(cfg["seed"] + 2021).randint(8, 40)  # kill after k finished jobs
    log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen(
        SNAKEMAKE + ["--cores", "2", "--configfile", "c.yaml"],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
        start_new_session=True,
    )
    deadline = time.monotonic() + 600
    try:
        while time.monotonic() < deadline and first.poll() is None:
            if (tmp_path / "first.log").read_text().count("Finished jobid") >= k:
                break
            time.sleep(0.2)
        assert first.poll() is None, "the run ended before it could be killed"
        os.killpg(first.pid, signal.SIGKILL)  # snakemake and every job it started
        first.wait(timeout=60)
    finally:
        if first.poll() is None:
            os.killpg(first.pid, signal.SIGKILL)
        log.close()
    text = (tmp_path / "first.log").read_text()
    running = [
        line.split()[1].rstrip(":") for line in text.splitlines()[-200:] if line.startswith(("rule ", "localrule "))
    ]
    partial = len(result_files(tmp_path / "results"))
    assert 0 < partial < total, (partial, total)

    unlock = run_snakemake(["--unlock", "--configfile", "c.yaml"], tmp_path)
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    again = run_snakemake(["--cores", "2", "--configfile", "c.yaml", "--rerun-incomplete"], tmp_path)
    assert again.returncode == 0, again.stdout[-2000:] + again.stderr[-4000:]
    a, b = local_dir / "results", tmp_path / "results"
    assert result_files(a) == result_files(b)
    checked = compare_results(a, b)  # every array and table equal, with a readable difference if not
    assert checked > 50
    differ = [rel for rel in result_files(a) if (a / rel).read_bytes() != (b / rel).read_bytes()]
    assert not differ, f"not byte-identical: {differ[:10]}"
    print(
        f"killed after {k} finished jobs (running: {sorted(set(running[-4:]))}); {partial} of {total} files "
        f"existed; after the rerun all {len(result_files(a))} result files (HDF5, NIfTI, CSV, JSON, PNG, "
        f"TextGrid, TR) are byte-identical to the uninterrupted run's"
    )
