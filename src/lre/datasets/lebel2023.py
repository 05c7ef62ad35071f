"""LeBel et al. 2023 (OpenNeuro ds003020), derivative layout::

    <root>/derivative/preprocessed_data/<subject>/<story>.hf5   dataset "data": (volumes, voxels),
                                                                 or (repeats, volumes, voxels)
    <root>/derivative/TextGrids/<story>.TextGrid
    <root>/derivative/respdict.json                             {story: n}

Volume times follow the HuthLab encoding code: ``n - pad`` volumes every ``tr`` seconds,
the sound starting ``start_time`` seconds after the first (so volume k's mid-time is
``k * tr - start_time + tr / 2``); the stored responses are those volumes with
``pad + trim`` dropped at the start and ``trim`` at the end (``[5 + trim : -trim]`` with
the defaults pad = trim = 5), i.e. ``n - 2 pad - 2 trim`` rows.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InputError
from . import Run

#: the dataset section of the config this loader reads (dataset.lebel)
SETTINGS = "lebel"


def response_path(root, subject: str, story: str) -> Path:
    return Path(root) / "derivative" / "preprocessed_data" / subject / f"{story}.hf5"


def respdict_path(root) -> Path:
    return Path(root) / "derivative" / "respdict.json"


def files(dcfg: dict, subject: str, story: str) -> list[str]:
    """The files :func:`load_run` reads for ``subject`` and ``story``."""
    return [str(respdict_path(dcfg["root"])), str(response_path(dcfg["root"], subject, story))]


@lru_cache(maxsize=8)
def _respdict(path: str) -> dict:
    p = Path(path)
    if not p.exists():
        raise InputError(p, "does not exist.", fix="point dataset.root at the ds003020 folder (it holds derivative/).")
    try:
        d = json.loads(p.read_text())
    except json.JSONDecodeError as e:
        raise InputError(p, f"is not valid JSON: {e.msg}.", line=e.lineno) from None
    if not isinstance(d, dict) or not all(isinstance(v, int) for v in d.values()):
        raise InputError(p, "must map each story to its number of volumes (an integer).")
    return d


def volume_times(n: int, lebel: dict) -> np.ndarray:
    """Mid-times of the stored response rows of a story with ``respdict`` entry ``n``."""
    tr, pad, trim = float(lebel["tr"]), int(lebel["pad"]), int(lebel["trim"])
    sim = np.arange(n - pad) * tr - float(lebel["start_time"]) + tr / 2.0
    return sim[pad + trim : len(sim) - trim]


def shape(dcfg: dict, subject: str, story: str, mask=None) -> tuple[int, int, int] | None:
    """``(repeats, volumes, voxels)`` of the run :func:`load_run` returns, from the file's
    header (None while the file does not exist)."""
    import h5py

    path = response_path(dcfg["root"], subject, story)
    if not path.exists():
        return None
    with h5py.File(path, "r") as f:
        dims = f[dcfg["lebel"]["key"]].shape
    return (1, *dims) if len(dims) == 2 else tuple(dims)


def load_run(dcfg: dict, subject: str, story: str, mask=None, affine=None) -> Run:
    """The responses of ``subject`` to ``story`` and the mid-times of their volumes (the
    responses are already voxel vectors, so ``mask`` and ``affine`` are not needed)."""
    import h5py

    lebel = dcfg["lebel"]
    rd_path = respdict_path(dcfg["root"])
    rd = _respdict(str(rd_path))
    if story not in rd:
        raise InputError(rd_path, f"has no entry for story {story!r}.", fix="check the story names in the config.")
    path = response_path(dcfg["root"], subject, story)
    if not path.exists():
        raise InputError(
            path,
            f"is missing: no responses of {subject} to {story}.",
            fix="download it (datalad get) or remove the story/subject from the config.",
        )
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise InputError(
            path,
            f"is not a readable HDF5 file ({path.stat().st_size} bytes): {str(e).splitlines()[0][:120]}.",
            fix="download it again (datalad get), or remove the story or subject from the config.",
        ) from None
    with f:
        key = lebel["key"]
        if key not in f:
            raise InputError(path, f"has no dataset {key!r}; it holds {list(f)}.", fix="set dataset.lebel.key.")
        data = f[key][()]
    if data.ndim == 2:
        data = data[None]
    if data.ndim != 3:
        raise InputError(
            path,
            f"dataset {lebel['key']!r} has shape {data.shape}; expected (volumes, voxels) "
            "or (repeats, volumes, voxels).",
        )
    times = volume_times(rd[story], lebel)
    if data.shape[1] != len(times):
        raise InputError(
            path,
            f"has {data.shape[1]} volumes, but respdict.json gives {rd[story]} for {story!r}, "
            f"which with pad {lebel['pad']} and trim {lebel['trim']} means {len(times)}.",
            fix="check dataset.lebel (pad, trim) or that the file belongs to this story.",
        )
    bad = ~np.isfinite(data)
    if bad.any():
        cols = np.flatnonzero(bad.any(axis=(0, 1)))
        raise InputError(
            path,
            f"has non-finite values in {len(cols)} voxels (first: {cols[:5].tolist()}).",
            fix="mask those voxels out or fix the preprocessing.",
        )
    return Run(data.astype(np.float32), times, str(path))
