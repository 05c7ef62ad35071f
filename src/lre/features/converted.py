"""A cache of weights converted into transformers folders, keyed by the source file's SHA-256.

Some packaged weights are not a transformers folder: a GGUF file (:mod:`lre.features.gguf`),
an ONNX graph (:mod:`lre.features.onnxgraph`). Each is converted once and kept in
``$LRE_CACHE/<kind>/<sha256[:16]>/`` (``$LRE_CACHE`` defaults to ``$XDG_CACHE_HOME/lre``,
i.e. ``~/.cache/lre``). A conversion is written to a temporary folder beside it and renamed
into place when complete, so a killed job never leaves a half-written model that another
would trust; two jobs converting at once both finish and one rename wins. Its record holds
the size and SHA-256 of every file; a folder whose files differ (truncated, altered,
missing) is said and converted again, and where the cache cannot be written the job converts
into a temporary folder of its own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from .. import io

log = logging.getLogger(__name__)

#: writes the converted model into a folder and returns what its record says of the source
Converter = Callable[[Path, Path], dict]


def cache_root() -> Path:
    """Where converted models are kept: ``$LRE_CACHE``, else ``$XDG_CACHE_HOME/lre``, else ``~/.cache/lre``."""
    if os.environ.get("LRE_CACHE"):
        return Path(os.environ["LRE_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lre"


@lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    return io.file_sha256(path)


def file_hash(path) -> str:
    """SHA-256 of the file (computed once per path, size and modification time)."""
    st = os.stat(path)
    return _sha256(str(path), st.st_size, st.st_mtime_ns)


def record_name(kind: str) -> str:
    """The record a converted folder of ``kind`` carries (``lre-gguf.json``, ``lre-onnx.json``)."""
    return f"lre-{kind}.json"


def _content(folder: Path, record: str) -> dict[str, dict]:
    """name -> {"size", "sha256"} of the files of a converted folder (its record aside)."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != record)
    return {n: {"size": (folder / n).stat().st_size, "sha256": io.file_sha256(folder / n)} for n in names}


def problem(folder: Path, kind: str) -> str | None:
    """Why a converted folder cannot be trusted (None when every file it records is there with
    its size and SHA-256): the content is checked, not only the presence of the record."""
    record = record_name(kind)
    try:
        files = json.loads((folder / record).read_text(encoding="utf-8")).get("files")
    except (OSError, ValueError) as e:
        return f"its record {record} cannot be read ({e})"
    if not files:
        return f"its record {record} lists no file hashes (written by an older lre)"
    for name, want in files.items():
        p = folder / name
        if not p.is_file():
            return f"{name} is missing"
        size = p.stat().st_size
        if size != want["size"]:
            return f"{name} has {size} bytes, {want['size']} when written (truncated or replaced)"
        if io.file_sha256(p) != want["sha256"]:
            return f"{name} differs from what was written (SHA-256 {want['sha256'][:16]}...)"
    return None


def convert_into(kind: str, path: Path, folder: Path, convert: Converter) -> None:
    """Convert ``path`` into ``folder``: written under a temporary name beside it and renamed
    when complete, with the hashes of its files in its record."""
    t0 = time.perf_counter()
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    try:
        record = dict(convert(path, tmp))
        record["files"] = _content(tmp, record_name(kind))
        (tmp / record_name(kind)).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if folder.exists() and problem(folder, kind):  # an untrustworthy conversion makes way
            shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:  # another job finished first: its folder is as good as ours
            if problem(folder, kind):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("%s: converted in %.1f s", path.name, time.perf_counter() - t0)


def converted(kind: str, path, convert: Converter, digest: str | None = None) -> Path:
    """The cached transformers folder of ``path``, converted first if needed (kept under the
    file's SHA-256, or ``digest`` for a source of several files).

    A cached folder is used only when every file it records has its size and SHA-256; a
    missing, truncated or altered one is said and converted again. Raises OSError when the
    cache cannot be written (:func:`loadable` then converts into a temporary folder)."""
    folder = cache_root() / kind / (digest or file_hash(path))[:16]
    if (folder / record_name(kind)).exists():
        why = problem(folder, kind)
        if why is None:
            return folder
        log.warning(
            "%s: the cached conversion %s cannot be trusted: %s. Converting it again.", Path(path).name, folder, why
        )
    convert_into(kind, Path(path), folder, convert)
    return folder


@contextlib.contextmanager
def loadable(kind: str, path, convert: Converter, digest: str | None = None):
    """A transformers folder of ``path``, for the duration of the ``with`` block: the cached
    one (:func:`converted`), or, where the cache cannot be written (read-only, full, not a
    folder), a conversion in a temporary folder removed afterwards, said once with the fix."""
    try:
        yield converted(kind, path, convert, digest)
        return
    except OSError as e:
        log.warning(
            "%s: the cache %s cannot be written (%s): converting into a temporary folder for this job only, "
            "again in every job. Fix: set LRE_CACHE to a writable folder.",
            Path(path).name,
            cache_root(),
            e.strerror or e,
        )
    with tempfile.TemporaryDirectory(prefix=f"lre-{kind}-") as tmp:
        folder = Path(tmp) / "model"
        convert_into(kind, Path(path), folder, convert)
        yield folder
