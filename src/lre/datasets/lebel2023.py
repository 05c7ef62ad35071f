"""LeBel et al. 2023 (OpenNeuro ds003020), derivative layout::

    <root>/derivative/preprocessed_data/<subject>/<story>.hf5   dataset "data": (volumes, voxels),
                                                                 or (repeats, volumes, voxels)
    <root>/derivative/TextGrids/<story>.TextGrid
    <root>/derivative/respdict.json                             {story: n}

The derivative stores the test story ``wheretheressmoke`` as one run (its repeats already
averaged), which gives no noise ceiling. With ``dataset.lebel.test_repeats`` the test
stories are read instead from one file per repeat (a path template under root with
``{subject}``, ``{story}`` and ``{repeat}``, each file a (volumes, voxels) dataset ``key``),
stacked into (repeats, volumes, voxels).

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

from ..datafiles import h5_array, real_float32
from ..errors import InputError
from . import NONFINITE_FIX, Run

#: the dataset section of the config this loader reads (dataset.lebel)
SETTINGS = "lebel"

#: what to do about a test story with a single repeat (no noise ceiling)
SINGLE_REPEAT_FIX = (
    "the ds003020 derivative stores its test story this way, averaged over its repeats; preprocess each repeat "
    "run of the test story (ds003020 has them as raw BIDS runs, sub-<subject>/ses-*/func/*task-<story>_run-*) "
    "into its own file and point dataset.lebel.test_repeats at them (docs/datasets.md)."
)


def response_path(root, subject: str, story: str) -> Path:
    return Path(root) / "derivative" / "preprocessed_data" / subject / f"{story}.hf5"


def respdict_path(root) -> Path:
    return Path(root) / "derivative" / "respdict.json"


def repeat_labels(spec: dict) -> list:
    """The values ``{repeat}`` takes: ``repeats`` as a list, or 1..n for a count n."""
    reps = spec["repeats"]
    return list(range(1, reps + 1)) if isinstance(reps, int) else list(reps)


def repeat_paths(dcfg: dict, subject: str, story: str) -> list[Path] | None:
    """The files of the repeats of a test ``story`` (``dataset.lebel.test_repeats``), in
    order; None when the story is read from its one response file."""
    spec = dcfg["lebel"].get("test_repeats")
    if not spec or story not in dcfg.get("test_stories", ()):
        return None
    root = Path(dcfg["root"])
    return [root / spec["path"].format(subject=subject, story=story, repeat=r) for r in repeat_labels(spec)]


def files(dcfg: dict, subject: str, story: str) -> list[str]:
    """The files :func:`load_run` reads for ``subject`` and ``story``."""
    reps = repeat_paths(dcfg, subject, story)
    responses = reps if reps is not None else [response_path(dcfg["root"], subject, story)]
    return [str(respdict_path(dcfg["root"]))] + [str(p) for p in responses]


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
    """``(repeats, volumes, voxels)`` of the run :func:`load_run` returns, from the files'
    headers (None while a file does not exist)."""
    import h5py

    reps = repeat_paths(dcfg, subject, story)
    paths = reps if reps is not None else [response_path(dcfg["root"], subject, story)]
    if not all(Path(p).exists() for p in paths):
        return None
    with h5py.File(paths[0], "r") as f:
        dims = f[dcfg["lebel"]["key"]].shape
    if reps is not None:
        return (len(reps), *dims[-2:])
    return (1, *dims) if len(dims) == 2 else tuple(dims)


def _read(path: Path, key: str, missing: str, fix: str) -> np.ndarray:
    """The dataset ``key`` of one response file (``missing``, ``fix``: what to say when the
    file is not there)."""
    import h5py

    if not path.exists():
        raise InputError(path, f"is missing: {missing}.", fix=fix)
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise InputError(
            path,
            f"is not a readable HDF5 file ({path.stat().st_size} bytes): {str(e).splitlines()[0][:120]}.",
            fix="download it again (datalad get), or remove the story or subject from the config.",
        ) from None
    with f:
        if key not in f:
            raise InputError(path, f"has no dataset {key!r}; it holds {list(f)}.", fix="set dataset.lebel.key.")
        return h5_array(f, key, path)


def _read_repeats(paths: list[Path], lebel: dict, subject: str, story: str) -> np.ndarray:
    """The repeats of a test story, one file each: (repeats, volumes, voxels)."""
    spec = lebel["test_repeats"]
    reps = []
    for label, path in zip(repeat_labels(spec), paths):
        data = _read(
            path,
            lebel["key"],
            f"repeat {label!r} of {subject}'s test story {story!r}, which dataset.lebel.test_repeats.path names "
            f"({spec['path']!r})",
            f"preprocess that repeat run into this file, list only the repeats there are in "
            f"dataset.lebel.test_repeats.repeats, or set dataset.lebel.test_repeats: null to read the story "
            f"from {response_path('<root>', subject, story)} (one run: no noise ceiling).",
        )
        if data.ndim != 2:
            raise InputError(
                path,
                f"dataset {lebel['key']!r} has shape {data.shape}; a repeat file holds one run, (volumes, voxels).",
                fix="write each repeat of the test story to its own file (dataset.lebel.test_repeats).",
            )
        if reps and data.shape != reps[0][1].shape:
            first, shape = reps[0][0], reps[0][1].shape
            what = "volumes" if data.shape[0] != shape[0] else "voxels"
            k = 0 if what == "volumes" else 1
            raise InputError(
                path,
                f"has {data.shape[k]} {what}, but the first repeat of {subject}'s test story {story!r} ({first}) has "
                f"{shape[k]}: the repeats of a story must have the same number of {what}.",
                fix="preprocess every repeat the same way (same trimming, same mask), or leave the odd one out of "
                "dataset.lebel.test_repeats.repeats.",
            )
        reps.append((path, data))
    return np.stack([d for _, d in reps])


def load_run(dcfg: dict, subject: str, story: str, mask=None, affine=None) -> Run:
    """The responses of ``subject`` to ``story`` and the mid-times of their volumes (the
    responses are already voxel vectors, so ``mask`` and ``affine`` are not needed). A test
    story with ``dataset.lebel.test_repeats`` is read from its repeat files."""
    lebel = dcfg["lebel"]
    rd_path = respdict_path(dcfg["root"])
    rd = _respdict(str(rd_path))
    if story not in rd:
        raise InputError(rd_path, f"has no entry for story {story!r}.", fix="check the story names in the config.")
    reps = repeat_paths(dcfg, subject, story)
    if reps is not None:
        data = _read_repeats(reps, lebel, subject, story)
        path, source = reps[0], ", ".join(str(p) for p in reps)
    else:
        path = response_path(dcfg["root"], subject, story)
        data = _read(
            path,
            lebel["key"],
            f"no responses of {subject} to {story}",
            "download it (datalad get) or remove the story/subject from the config.",
        )
        source = str(path)
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
    drop = dcfg.get("nonfinite", "error") == "drop"
    if bad.any() and not drop:
        cols = np.flatnonzero(bad.any(axis=(0, 1)))
        where = path if reps is None else reps[int(np.flatnonzero(bad.any(axis=(1, 2)))[0])]
        raise InputError(
            where,
            f"has non-finite values in {len(cols)} voxels (first: {cols[:5].tolist()}).",
            fix=NONFINITE_FIX,
        )
    files = reps if reps is not None else [path] * len(data)
    # float32, where lre computes: a value beyond its range would be infinite there
    out = np.empty(data.shape, dtype=np.float32)
    for k, (d, f) in enumerate(zip(data, files)):
        out[k] = real_float32(d, f, f"dataset {lebel['key']!r}", lambda row: f"volume {row}", nonfinite_ok=drop)
    return Run(out, times, source)
