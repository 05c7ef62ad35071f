"""A real SLURM cluster on this machine runs the pipeline through the slurm profile; its
outputs equal a local run's.

The cluster (Debian's slurmctld/slurmd/munge, one node, one fake GPU) is started by
.ci/slurm/start_slurm.sh and stopped afterwards by PID. Without root or apt this test is
skipped with the reason; in CI (CI=true) it fails instead, so it can never be skipped silently.
"""

import os
import shutil
import subprocess
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from conftest import ROOT, SNAKEMAKE, run_snakemake

SLURM_FLAGS = ["--profile", str(ROOT / "workflow" / "profiles" / "slurm"), "--slurm-status-command", "squeue",
               "--slurm-init-seconds-before-status-checks", "2", "--slurm-no-account",
               "--default-resources", "slurm_partition=debug", "--jobs", "4", "--latency-wait", "5"]


@pytest.fixture(scope="module")
def slurm_cluster():
    reason = None
    if os.geteuid() != 0:
        reason = "a local SLURM cluster needs root"
    elif shutil.which("apt-get") is None and shutil.which("slurmctld") is None:
        reason = "a local SLURM cluster needs apt-get (Debian) to install slurm"
    if reason:
        if os.environ.get("CI"):
            pytest.fail(f"{reason}; CI must run the SLURM test")
        pytest.skip(reason)
    start = subprocess.run(["bash", str(ROOT / ".ci" / "slurm" / "start_slurm.sh")], capture_output=True, text=True,
                           timeout=600, env=dict(os.environ, SLURM_FAKE_GPUS="1"))
    assert start.returncode == 0, start.stdout[-3000:] + start.stderr[-3000:]
    yield
    subprocess.run(["bash", str(ROOT / ".ci" / "slurm" / "stop_slurm.sh")], capture_output=True, timeout=120)


def numeric_content(path: Path):
    """What a result file says, without provenance or timestamps."""
    if path.suffix == ".h5":
        import h5py

        out = {}
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if hasattr(obj, "shape") else None)
        return out
    if path.name.endswith(".nii.gz"):
        import nibabel as nib

        img = nib.load(str(path))
        return {"data": np.asarray(img.dataobj), "affine": img.affine}
    if path.suffix in (".csv", ".json", ".txt", ".TextGrid", ".tr"):
        return path.read_text()
    return None


def assert_same(a, b, where):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}:{k}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    else:
        assert a == b, where


def compare_results(local: Path, other: Path) -> int:
    files = sorted(p for p in local.rglob("*") if p.is_file() and "logs" not in p.parts)
    checked = 0
    for p in files:
        content = numeric_content(p)
        if content is None:
            continue
        q = other / p.relative_to(local)
        assert q.exists(), f"missing {q}"
        assert_same(content, numeric_content(q), str(p.relative_to(local)))
        checked += 1
    return checked


@pytest.mark.slow
def test_slurm_run_equals_a_local_run(tiny_run, slurm_cluster, tmp_path):
    local_dir, cfg = tiny_run
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    dry = run_snakemake(["-n", "--configfile", "c.yaml"] + SLURM_FLAGS, tmp_path, timeout=300)
    assert dry.returncode == 0, dry.stderr[-3000:]
    t0 = time.perf_counter()
    proc = run_snakemake(["--configfile", "c.yaml"] + SLURM_FLAGS, tmp_path, timeout=1800)
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-5000:]
    n_jobs = (proc.stdout + proc.stderr).count("has been submitted with SLURM jobid")
    checked = compare_results(local_dir / "results", tmp_path / "results")
    print(f"SLURM run: {wall:.0f} s, {n_jobs} jobs submitted, {checked} result files identical to the local run")
    assert checked > 50 and n_jobs > 30
    report = run_snakemake(["--configfile", "c.yaml", "--report", "results/report.html"], tmp_path, timeout=600)
    assert report.returncode == 0, report.stderr[-3000:]
    assert (tmp_path / "results" / "report.html").stat().st_size > 100_000


def running_jobs(rule: str) -> list[str]:
    """SLURM ids of running jobs of a rule (the executor puts the rule in the job comment)."""
    out = subprocess.run(["squeue", "-h", "-t", "RUNNING", "-o", "%i %k"], capture_output=True, text=True,
                         timeout=30).stdout
    return [line.split()[0] for line in out.splitlines() if len(line.split()) == 2
            and line.split()[1].startswith(f"rule_{rule}_")]


@pytest.mark.slow
def test_a_killed_slurm_job_then_a_rerun_gives_the_uninterrupted_outputs(tiny_run, slurm_cluster, tmp_path):
    """SIGKILL one running job mid-way: the run stops with an error; the same command again
    completes, and every result equals the uninterrupted local run's."""
    local_dir, cfg = tiny_run
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    args = ["--configfile", "c.yaml"] + SLURM_FLAGS
    log = (tmp_path / "first.log").open("w")
    first = subprocess.Popen(SNAKEMAKE + args + ["--retries", "0"], cwd=tmp_path, stdout=log,
                             stderr=subprocess.STDOUT, env=dict(os.environ, HF_HUB_OFFLINE="1"))
    killed, deadline = None, time.monotonic() + 900
    try:
        while killed is None and time.monotonic() < deadline and first.poll() is None:
            jobs = running_jobs("transfer_encode")
            if jobs:
                killed = jobs[0]
                subprocess.run(["scancel", "--signal=KILL", "--full", killed], check=True, timeout=30)
            time.sleep(0.5)
        assert killed, "no transfer_encode job was seen running"
        rc = first.wait(timeout=900)
    finally:
        if first.poll() is None:
            first.kill()
        log.close()
    text = (tmp_path / "first.log").read_text()
    assert rc != 0, text[-3000:]
    assert killed in text and "Error in rule transfer_encode" in text, text[-3000:]

    again = run_snakemake(args, tmp_path, timeout=1800)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-5000:]
    assert "transfer_encode" in again.stdout + again.stderr  # the killed job ran again
    checked = compare_results(local_dir / "results", tmp_path / "results")
    print(f"killed SLURM job {killed}; after the rerun {checked} result files equal the uninterrupted run")
    assert checked > 50
