"""A real SLURM cluster on this machine runs the pipeline through the slurm profile, with one
job killed mid-way and the run resumed; its outputs equal a local run's.

The cluster (Debian's slurmctld/slurmd/munge, one node, one fake GPU) is started by
.ci/slurm/start_slurm.sh and stopped afterwards by PID. Without root or apt this test is
skipped with the reason; in CI (CI=true) it fails instead, so it can never be skipped silently.
"""

import os
import re
import shutil
import subprocess
import time

import pytest
import yaml
from conftest import ROOT, SNAKEMAKE, compare_results, run_snakemake, small_config

SLURM_FLAGS = [
    "--profile",
    str(ROOT / "workflow" / "profiles" / "slurm"),
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--slurm-no-account",
    "--default-resources",
    "slurm_partition=debug",
    "--jobs",
    "4",
    "--latency-wait",
    "5",
]


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
    start = subprocess.run(
        ["bash", str(ROOT / ".ci" / "slurm" / "start_slurm.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        env=dict(os.environ, SLURM_FAKE_GPUS="1"),
    )
    assert start.returncode == 0, start.stdout[-3000:] + start.stderr[-3000:]
    yield
    subprocess.run(["bash", str(ROOT / ".ci" / "slurm" / "stop_slurm.sh")], capture_output=True, timeout=120)


@pytest.fixture(scope="module")
def local_run(tmp_path_factory):
    """The SLURM test's config (:func:`conftest.small_config`: 41 jobs of every kind, so each
    SLURM submission, a fresh Snakemake per job of about 10 s on 2 cores, is paid 41 times, not
    the tiny demo's 83) run locally, uninterrupted: the reference."""
    tmp_path = tmp_path_factory.mktemp("slurm_local")
    cfg = small_config()
    cfg["partition"]["spaces"] = ["gpt2_untrained.L2"]
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = run_snakemake(["--cores", "2", "--configfile", "c.yaml"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return tmp_path, cfg


def running_jobs(rule: str) -> list[str]:
    """SLURM ids of running jobs of a rule (the executor puts the rule in the job comment)."""
    out = subprocess.run(
        ["squeue", "-h", "-t", "RUNNING", "-o", "%i %k"], capture_output=True, text=True, timeout=30
    ).stdout
    return [
        line.split()[0]
        for line in out.splitlines()
        if len(line.split()) == 2 and line.split()[1].startswith(f"rule_{rule}_")
    ]


@pytest.mark.slow
def test_slurm_run_with_a_killed_job_then_a_rerun_equals_a_local_run(local_run, slurm_cluster, tmp_path):
    """A tiny demo through the SLURM profile: one running job is killed (SIGKILL) mid-way, so
    the run stops with an error; the same command again completes to the report, every job was
    submitted to SLURM, and every result equals the uninterrupted local run's."""
    local_dir, cfg = local_run
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    args = ["--configfile", "c.yaml"] + SLURM_FLAGS
    dry = run_snakemake(["-n"] + args, tmp_path, timeout=300)
    assert dry.returncode == 0, dry.stderr[-3000:]
    planned = int(re.search(r"^total\s+(\d+)$", dry.stdout + dry.stderr, re.M).group(1))
    log = (tmp_path / "first.log").open("w")
    t0 = time.perf_counter()
    first = subprocess.Popen(
        SNAKEMAKE + args + ["--retries", "0"],
        cwd=tmp_path,
        stdout=log,
        stderr=subprocess.STDOUT,
        env=dict(os.environ, HF_HUB_OFFLINE="1"),
    )
    killed, deadline = None, time.monotonic() + 900
    try:
        while killed is None and time.monotonic() < deadline and first.poll() is None:
            jobs = running_jobs("transfer_encode")
            if jobs:
                killed = jobs[0]
                subprocess.run(["scancel", "--signal=KILL", "--full", killed], check=True, timeout=30)
            time.sleep(0.5)
        if not killed:
            log.flush()
            queue = subprocess.run(["squeue", "-h", "-o", "%i %T %k %R"], capture_output=True, text=True, timeout=30)
            state = "still running" if first.poll() is None else f"exited with {first.poll()}"
            tail = (tmp_path / "first.log").read_text()[-4000:]
            raise AssertionError(
                f"no transfer_encode job was seen running (snakemake {state}); "
                f"squeue now:\n{queue.stdout}{queue.stderr}\nlog:\n{tail}"
            )
        rc = first.wait(timeout=900)
    finally:
        if first.poll() is None:
            first.kill()
        log.close()
    t_first = time.perf_counter() - t0
    text = (tmp_path / "first.log").read_text()
    assert rc != 0, text[-3000:]
    assert killed in text and "Error in rule transfer_encode" in text, text[-3000:]

    t0 = time.perf_counter()
    again = run_snakemake(args, tmp_path, timeout=1800)
    t_again = time.perf_counter() - t0
    out = again.stdout + again.stderr
    assert again.returncode == 0, out[-5000:]
    assert "transfer_encode" in out  # the killed job ran again
    assert (tmp_path / "results" / "report.html").stat().st_size > 100_000  # the run's report, a job of its own
    checked = compare_results(local_dir / "results", tmp_path / "results")
    n_first, n_again = (
        text.count("has been submitted with SLURM jobid"),
        out.count("has been submitted with SLURM jobid"),
    )
    print(
        f"SLURM: first run {t_first:.0f} s, {n_first} jobs submitted, job {killed} killed; rerun {t_again:.0f} s, "
        f"{n_again} jobs; {checked} result files identical to the uninterrupted local run"
    )
    assert checked > 30
    assert n_first + n_again >= planned  # every job but `all` went through sbatch; the killed one twice
