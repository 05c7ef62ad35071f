"""One run at a time per results folder, and inputs that changed without a newer time.

**The run lock.** A run (not a dry run) writes ``<results>/.lre-run.lock`` (its process id,
host, start time, folder and command) before its first job and removes it when it ends.
Another run that finds the file, while the process it names is alive, stops before any job
and says which run holds the folder: two runs writing the same files would corrupt each
other's results. Snakemake's own lock guards a working directory only; two working
directories can share one ``results`` folder (an absolute path, a symlink). A lock whose
process is gone (a killed run, a rebooted machine) is taken over with a warning.

**Changed inputs.** Snakemake reruns a job when an input is *newer* than its outputs. A
file replaced by one with other content but an old modification time (what ``cp -p`` or
``rsync -a`` leave) would go unnoticed, so the documents file records the SHA-256 of every
stimulus file and the corpus it read, and a run compares them before its first job.
"""

from __future__ import annotations

import datetime
import json
import os
import socket
from pathlib import Path

from .errors import LreError

LOCK_NAME = ".lre-run.lock"


class ResultsInUse(LreError):
    """Another run is writing the same results folder."""


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # alive, another user's
        return True
    return True


def holder(results) -> dict | None:
    """The run that holds ``results`` (None when free or when its process is gone)."""
    path = Path(results) / LOCK_NAME
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if info.get("pid") == os.getpid() and info.get("host") == socket.gethostname():
        return None
    if info.get("host") == socket.gethostname() and not _alive(int(info.get("pid", -1))):
        return None
    return info


def describe(info: dict) -> str:
    return (
        f"process {info.get('pid')} on {info.get('host')}, started {info.get('started')} in {info.get('cwd')} "
        f"({info.get('command', '')[:120]})"
    )


def check(results) -> None:
    """Refuse when another live run holds ``results``."""
    info = holder(results)
    if info is not None:
        path = Path(results) / LOCK_NAME
        raise ResultsInUse(
            f"the results folder {results} is in use by another run: {describe(info)}. Two runs writing the same "
            f"files would spoil each other's results. Fix: wait until that run finishes (it removes {path}), or "
            f"give this run a results folder of its own (--config results=other_folder). Only if that run is "
            f"surely gone (its machine lost), remove {path}."
        )


def acquire(results, command: str) -> Path:
    """Take the lock of ``results`` for this process (after :func:`check`)."""
    check(results)
    path = Path(results) / LOCK_NAME
    path.parent.mkdir(parents=True, exist_ok=True)
    info = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "cwd": os.getcwd(),
        "command": command,
        "started": datetime.datetime.now().isoformat(timespec="seconds"),
    }
    tmp = path.with_name(f"{LOCK_NAME}.tmp-{os.getpid()}")
    tmp.write_text(json.dumps(info), encoding="utf-8")
    os.replace(tmp, path)
    return path


def release(results) -> None:
    """Remove the lock of ``results`` if this process holds it."""
    path = Path(results) / LOCK_NAME
    try:
        info = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return
    if info.get("pid") == os.getpid() and info.get("host") == socket.gethostname():
        path.unlink(missing_ok=True)


def changed_inputs(documents) -> list[str]:
    """The stimulus and corpus files whose content differs from what the documents file
    recorded while their modification time is not newer than it (so Snakemake would not
    rerun the stimuli stage)."""
    from . import io, provenance

    documents = Path(documents)
    if not documents.exists():
        return []
    try:
        with io.h5_open(documents) as f:
            rec = provenance.h5_provenance(f) or {}
    except LreError:
        return []  # a broken documents file is reported by the job that reads it
    made = documents.stat().st_mtime
    out = []
    for path, digest in (rec.get("inputs") or {}).items():
        p = Path(path)
        if p.exists() and p.stat().st_mtime <= made and io.file_sha256(p) != digest:
            out.append(path)
    return out


class StaleInputs(LreError):
    """Inputs changed content behind an old modification time."""


def check_inputs(documents, rule: str = "stimuli") -> None:
    """Refuse a run whose stimulus or corpus files changed as :func:`changed_inputs` finds
    (``rule``: the rule that makes ``documents``, named in the fix)."""
    changed = changed_inputs(documents)
    if changed:
        raise StaleInputs(
            f"these inputs changed content since {documents} was made, but their modification time is not newer "
            "(as cp -p or rsync -a leave it), so Snakemake would not rerun what depends on them: "
            + ", ".join(changed)
            + f". Fix: rerun from the {rule} rule, snakemake --forcerun {rule} (with your "
            "other options), or touch the changed files."
        )


class TempFolderFull(LreError):
    """The temporary folder cannot take a file (full, read-only, missing)."""


#: what the start of a run writes into the temporary folder to see that it takes files
TMP_PROBE_BYTES = 1 << 20


def check_tmpdir(folder=None) -> None:
    """Write and remove a 1 MB file in each temporary folder the environment names (TMPDIR,
    TMP, TEMP; else Python's default; ``folder`` to test another): Snakemake's scheduler and
    the jobs write temporary files there, and a full folder would stop a run midway with a
    traceback. Raises :class:`TempFolderFull` naming the folder and the fix."""
    import tempfile

    # the folders the environment names (the scheduler's solver writes to them), not the one
    # Python's tempfile would fall back to when they are full
    named = [os.environ[v] for v in ("TMPDIR", "TMP", "TEMP") if os.environ.get(v)]
    for path in dict.fromkeys([folder] if folder else named or [tempfile.gettempdir()]):
        try:
            with tempfile.NamedTemporaryFile(dir=path, prefix=".lre-probe-") as f:
                f.write(b"\0" * TMP_PROBE_BYTES)
                f.flush()
                os.fsync(f.fileno())
        except OSError as e:
            raise TempFolderFull(
                f"the temporary folder {path} cannot take a file ({e.strerror or e}): Snakemake's scheduler and "
                "lre's jobs write temporary files there, and the run would stop midway. Fix: free space in it, or "
                "point TMPDIR (and TMP, where set) at a folder with room (export TMPDIR=/path/with/space) and run "
                "again."
            ) from None


#: the record, in a corpus root, of what its corpus side was made from and which results use it
CORPUS_SIDE = "corpus_side.json"


class CorpusSideInUse(LreError):
    """Another results folder depends on a corpus side made from other settings."""


def claim_corpus_root(corpus_root, results, side: dict, corpus_file=None) -> None:
    """Record that ``results`` uses the corpus side in ``corpus_root`` made from ``side``
    (:func:`lre.jobs.corpus_side_job`, with the SHA-256 of ``corpus_file``, a corpus the run
    reads rather than makes), and refuse when another results folder (that still exists)
    uses it made from other settings: this run would rewrite the corpus documents, transfer
    maps and embedding under that folder's finished results. Call it holding both folders'
    locks."""
    from . import io
    from .provenance import differences

    # results folders are recorded relative to the corpus root ("." when they are the same
    # folder), so the record is the same bytes wherever the folders sit and survives a move
    # of both together
    root = Path(corpus_root).resolve()
    me = os.path.relpath(Path(results).resolve(), root)
    side = dict(side, corpus_sha256=io.file_sha256(corpus_file) if corpus_file and Path(corpus_file).exists() else None)
    digest = io.config_hash(side)
    path = root / CORPUS_SIDE
    record = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {"sides": {}, "users": {}}
    users = {u: h for u, h in record.get("users", {}).items() if (root / u).is_dir()}
    sides = record.get("sides", {})

    def diff_to(theirs: str) -> list:
        a, b = dict(sides.get(theirs, {})), dict(side)
        for made_from in ("corpus_sha256", "demo"):  # the demo's corpus is known by its settings, a file by its hash
            if a.get(made_from) is None or b.get(made_from) is None:
                a.pop(made_from, None), b.pop(made_from, None)
        return differences(a, b)

    others = {u: h for u, h in users.items() if u != me and h != digest and diff_to(h)}
    if others:
        user, theirs = next(iter(others.items()))
        user = (root / user).resolve()
        diff = diff_to(theirs)
        fields = "; ".join(f"{f}: {_short(a)} there, {_short(b)} here" for f, a, b in diff[:6])
        raise CorpusSideInUse(
            f"{root} holds the corpus side (corpus documents, transfer maps, embedding) of {user}, made from other "
            f"settings than this run's ({len(diff)} field(s) differ: {fields}). This run would rewrite it under "
            f"that folder's finished results. Fix: point corpus_results at another folder for this config, or give "
            f"both configs the same corpus and transfer settings (and rerun {user} if they change)."
        )
    users[me] = digest
    sides = {h: s for h, s in sides.items() if h in users.values()}
    sides[digest] = side
    from .io import write_json

    write_json(path, {"users": users, "sides": sides})


def _short(value, limit: int = 50) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."
