"""Any BIDS dataset with preprocessed derivatives (fMRIPrep or similar), read with pybids.

A story is a BIDS task (``dataset.bids.tasks`` maps story names to task labels; by default a
story's task is its name). Every run of that task for a subject (all sessions and run
numbers) is a repeat of the story: the models are scored on their mean, and the noise
ceiling comes from them. What is read, per run:

- the preprocessed BOLD series in the derivatives folder (``dataset.bids.derivatives``) in
  the chosen space (``space-<dataset.bids.space>``, ``desc-<dataset.bids.desc>``, and any
  further entities in ``dataset.bids.filters``): in a volume space through the brain mask
  ``dataset.mask`` (by default the derivatives' ``sub-<subject>/anat/sub-<subject>_space-<space>_desc-brain_mask``);
  on an fsaverage mesh, both hemispheres' GIfTI files (``hemi-L`` then ``hemi-R`` vertices,
  :mod:`lre.datasets.surface`);
- its repetition time from the JSON sidecars (``RepetitionTime``, with BIDS inheritance:
  the derivative's sidecar, else the raw run's);
- the story's onset (seconds from the first volume) from ``dataset.bids.onsets`` or the first
  ``onset`` of the raw run's ``events.tsv``;
- the confounds (``dataset.bids.confounds``, columns of the derivatives'
  ``desc-confounds_timeseries.tsv``), regressed out with :func:`nilearn.signal.clean`
  together with a linear detrend and an optional high-pass filter.

A volume's mid-time relative to the story is ``k * TR + TR / 2 - onset``;
``dataset.bids.trim`` volumes are dropped at both ends of every run before cleaning.
"""

from __future__ import annotations

import csv
import logging
import warnings
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import ConfigError, InputError
from . import NONFINITE_FIX, NONFINITE_MASK_FIX, Run, first_onset, nonfinite_voxels, surface
from .geometry import on_surface

log = logging.getLogger(__name__)

#: the dataset section of the config this loader reads (dataset.bids)
SETTINGS = "bids"

#: what to do about a test story with a single repeat (no noise ceiling)
SINGLE_REPEAT_FIX = (
    "a noise ceiling needs a story heard several times: every run of the story's task (across sessions and run "
    "numbers) is a repeat; check dataset.bids.tasks and that the derivatives hold each run in dataset.bids.space."
)

#: the entities of the mask used when dataset.mask is null (fMRIPrep's anatomical brain mask in the space)
MASK_ENTITIES = ("sub-{subject}", "space-{space}", "desc-brain", "mask")


def derivatives_path(dcfg: dict) -> Path:
    """The derivatives folder (``dataset.bids.derivatives`` under root unless absolute)."""
    path = Path(dcfg["bids"]["derivatives"]).expanduser()
    return path if path.is_absolute() else Path(dcfg["root"]).expanduser() / path


def default_mask(dcfg: dict) -> str:
    """The mask template (with ``{subject}``) used when ``dataset.mask`` is null."""
    name = "_".join(MASK_ENTITIES).replace("{space}", dcfg["bids"]["space"]) + ".nii.gz"
    return str(derivatives_path(dcfg) / "sub-{subject}" / "anat" / name)


def desc_of(dcfg: dict) -> str | None:
    """The ``desc-`` entity of the runs read: ``dataset.bids.desc``, by default ``preproc``
    for volume runs and none for surface runs (fMRIPrep's naming)."""
    desc = dcfg["bids"]["desc"]
    if desc is None:
        return None if on_surface(dcfg) else "preproc"
    return desc


def task_of(dcfg: dict, story: str) -> str:
    return dcfg["bids"]["tasks"].get(story, story)


@lru_cache(maxsize=4)
def _layout(root: str, derivatives: str):
    """The pybids layout of the raw dataset with its derivatives (indexed once per process)."""
    try:
        from bids import BIDSLayout
    except ImportError:  # pragma: no cover - pybids is a dependency of lre
        raise ConfigError(
            "dataset.format", "is bids, which needs pybids.", fix="pip install pybids (./install.sh installs it)."
        ) from None
    for folder, field in ((Path(root), "dataset.root"), (Path(derivatives), "dataset.bids.derivatives")):
        if not (folder / "dataset_description.json").is_file():
            raise InputError(
                folder,
                "has no dataset_description.json, so it is not a BIDS dataset"
                + (" (a derivatives folder must describe itself too)." if field != "dataset.root" else "."),
                fix=f"point {field} at the BIDS folder (fMRIPrep writes dataset_description.json into its output).",
            )
    try:
        return BIDSLayout(root, validate=False, derivatives=[derivatives])
    except Exception as e:  # pybids raises ValueError / BIDSValidationError / BIDSDerivativesValidationError
        raise InputError(
            derivatives,
            f"cannot be read as BIDS derivatives ({type(e).__name__}: {e}).",
            fix="its dataset_description.json needs Name, BIDSVersion, DatasetType 'derivative' and GeneratedBy.",
        ) from None


def layout(dcfg: dict):
    return _layout(str(Path(dcfg["root"]).expanduser().resolve()), str(derivatives_path(dcfg).resolve()))


def runs_of(dcfg: dict, subject: str, story: str) -> list:
    """The derivative BOLD files (pybids ``BIDSFile``) of every run of ``story``'s task for
    ``subject`` in the configured space, ordered by session and run. Raises InputError when
    there is none, naming the spaces that do exist."""
    b = dcfg["bids"]
    reserved = sorted({"subject", "task", "space", "desc", "suffix", "extension", "scope"} & set(b["filters"]))
    if reserved:
        raise ConfigError(
            "dataset.bids.filters",
            f"sets {reserved}, which lre sets itself (from dataset.subjects, the stories and tasks, dataset.bids).",
            fix="give the space in dataset.bids.space, desc in dataset.bids.desc and tasks in dataset.bids.tasks.",
        )
    from bids.layout import Query

    lay = layout(dcfg)
    task = task_of(dcfg, story)
    query = dict(scope="derivatives", subject=subject, task=task, **b["filters"])
    if on_surface(dcfg):  # fMRIPrep before 20.2 and the Narratives' AFNI outputs name no bold suffix
        kind = dict(suffix=["bold", Query.NONE], extension=".func.gii", hemi="L")
    else:
        kind = dict(suffix="bold", extension=[".nii.gz", ".nii"])
    found = lay.get(space=b["space"], desc=desc_of(dcfg) or Query.NONE, **kind, **query)
    if not found:
        other = lay.get(suffix=["bold", Query.NONE], extension=[".nii.gz", ".nii", ".func.gii"], **query)
        spaces = sorted({str(f.get_entities().get("space")) for f in other})
        descs = sorted({str(f.get_entities().get("desc")) for f in other})
        where = derivatives_path(dcfg)
        if other:
            why = (
                f"has no preprocessed BOLD run of sub-{subject} task-{task} (story {story!r}) in space-{b['space']} "
                f"{'desc-' + desc_of(dcfg) if desc_of(dcfg) else 'without desc'}"
                f"{' (hemi-L .func.gii)' if on_surface(dcfg) else ''}; its runs of that task are in space(s) "
                f"{spaces}, desc {descs}."
            )
            fix = "set dataset.bids.space (and dataset.bids.desc) to one of those, or preprocess into this space."
        else:
            tasks = sorted(lay.get_tasks(subject=subject) or [])
            why = f"has no preprocessed BOLD run of sub-{subject} task-{task} (story {story!r}) at all."
            fix = (
                f"this subject's tasks in the dataset are {tasks}; map the story to its task in dataset.bids.tasks "
                "({story: task}), or check dataset.subjects and dataset.bids.derivatives."
            )
        raise InputError(where, why, fix=fix)
    return sorted(
        found, key=lambda f: (str(f.get_entities().get("session", "")), int(f.get_entities().get("run", 0) or 0))
    )


def _present(path):
    """``path``, refused when it is not there (a datalad/git-annex file not fetched yet is a
    link to nothing, listed by the BIDS index all the same)."""
    if not Path(path).exists():
        raise InputError(
            path,
            "does not exist (a file of the dataset's index that is missing, or a datalad link not fetched yet).",
            fix="fetch it (datalad get <path>) or restore it.",
        )
    return path


def _same_run(f, **more) -> dict:
    e = f.get_entities()
    out = {k: e[k] for k in ("subject", "session", "task", "run", "acquisition") if k in e}
    return dict(out, **more)


def repetition_time(dcfg: dict, bold) -> float:
    """The run's TR (s) from its sidecars: the derivative's, else the raw run's."""
    lay = layout(dcfg)
    tr = bold.get_metadata().get("RepetitionTime")
    if tr is None:
        raw = lay.get(scope="raw", suffix="bold", extension=[".nii.gz", ".nii"], **_same_run(bold))
        tr = raw[0].get_metadata().get("RepetitionTime") if raw else None
    if tr is None:
        raise InputError(
            bold.path,
            "has no RepetitionTime in its JSON sidecar, nor does the raw run's sidecar.",
            fix="add RepetitionTime (seconds) to the run's sidecar (BIDS requires it for bold).",
        )
    try:
        tr = float(tr)
    except (TypeError, ValueError):
        raise InputError(bold.path, f"its sidecar's RepetitionTime {tr!r} is not a number of seconds.") from None
    if not tr > 0:
        raise InputError(bold.path, f"its sidecar's RepetitionTime is {tr}; it must be positive (seconds).")
    return tr


def events_file(dcfg: dict, bold):
    """The raw run's ``events.tsv`` (None when there is none)."""
    found = layout(dcfg).get(scope="raw", suffix="events", extension=".tsv", **_same_run(bold))
    return found[0].path if found else None


def story_events(dcfg: dict, story: str, bold):
    """The events file the story's onset in this run comes from (refused when there is none)."""
    path = events_file(dcfg, bold)
    if path is None:
        task = bold.get_entities()["task"]
        raise InputError(
            bold.path,
            f"has no events.tsv in the raw dataset (task-{task}), and dataset.bids.onsets has no onset for "
            f"{story!r}: when the story starts in the run is unknown.",
            fix=f"add the run's events.tsv (onset, duration) or give the onset: dataset.bids.onsets: {{{story}: 0.0}}.",
        )
    return path


def story_onset(dcfg: dict, story: str, bold) -> float:
    """Seconds from the run's first volume to the story's start: ``dataset.bids.onsets``, else
    the first onset of the run's events."""
    onsets = dcfg["bids"]["onsets"]
    if story in onsets:
        return float(onsets[story])
    path = story_events(dcfg, story, bold)
    return first_onset(_present(path))


def confounds_file(dcfg: dict, bold):
    found = layout(dcfg).get(
        scope="derivatives", suffix="timeseries", desc="confounds", extension=".tsv", **_same_run(bold)
    )
    if not found:
        raise InputError(
            bold.path,
            "has no confounds file (desc-confounds_timeseries.tsv) beside it in the derivatives, and "
            f"dataset.bids.confounds asks for {dcfg['bids']['confounds']}.",
            fix="point dataset.bids.derivatives at fMRIPrep's output, or set dataset.bids.confounds: [].",
        )
    return found[0].path


def read_confounds(path, columns: list[str], n: int) -> np.ndarray:
    """The chosen confound columns, (n_volumes, n_columns) float64. A value ``n/a`` (fMRIPrep
    writes it in the first row of derivative columns) becomes the column's mean."""
    with open(_present(path), newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f, delimiter="\t")
        header = reader.fieldnames or []
        missing = [c for c in columns if c not in header]
        if missing:
            import difflib

            close = {m: difflib.get_close_matches(m, header, n=1) for m in missing}
            hints = "".join(f" (for {m!r}, did you mean {c[0]!r}?)" for m, c in close.items() if c)
            raise InputError(
                path,
                f"has no column(s) {missing} (dataset.bids.confounds){hints}; it has {len(header)}, e.g. {header[:8]}.",
                line=1,
                fix="use column names from the file's header in dataset.bids.confounds.",
            )
        rows = list(reader)
    if len(rows) != n:
        raise InputError(
            path, f"has {len(rows)} rows but its BOLD run has {n} volumes.", fix="use the run's own confounds file."
        )
    out = np.empty((n, len(columns)))
    for j, c in enumerate(columns):
        for i, row in enumerate(rows):
            v = row[c]
            try:
                out[i, j] = np.nan if v in ("n/a", "") else float(v)
            except ValueError:
                raise InputError(path, f"column {c!r}, row {i + 2}: {v!r} is not a number.", line=i + 2) from None
        col = out[:, j]
        if np.isnan(col).all():
            raise InputError(path, f"column {c!r} is n/a in every row.", fix="leave it out of dataset.bids.confounds.")
        col[np.isnan(col)] = np.nanmean(col)
    return out


def files(dcfg: dict, subject: str, story: str) -> list[str]:
    """The files :func:`load_run` reads for ``subject`` and ``story``: each run's BOLD file,
    its events (unless the onset is given) and its confounds (when asked for)."""
    out = []
    for bold in runs_of(dcfg, subject, story):
        out.append(bold.path)
        if on_surface(dcfg):
            out.append(right_hemisphere(dcfg, bold).path)
        if story not in dcfg["bids"]["onsets"]:
            out.append(story_events(dcfg, story, bold))
        if dcfg["bids"]["confounds"]:
            out.append(confounds_file(dcfg, bold))
    return out


def shape(dcfg: dict, subject: str, story: str, mask: np.ndarray | None = None) -> tuple[int, int, int] | None:
    """``(repeats, volumes, voxels)`` of the run :func:`load_run` returns, from the NIfTI
    headers and the mask, or for surface runs from the GIfTI files and the mesh (None without
    a mask for volume runs, or while a file is missing)."""
    import nibabel as nib

    bolds = runs_of(dcfg, subject, story)
    if not all(Path(b.path).exists() for b in bolds):
        return None
    trim = int(dcfg["bids"]["trim"])
    if on_surface(dcfg):
        n = _same_length(subject, story, bolds, [surface.n_volumes(b.path) for b in bolds])
        return len(bolds), n - 2 * trim, 2 * surface.vertices_per_hemi(dcfg["bids"]["space"])
    if mask is None:
        return None
    n = _same_length(subject, story, bolds, [nib.load(b.path).shape[3] for b in bolds])
    return len(bolds), n - 2 * trim, int(mask.sum())


def _same_length(subject: str, story: str, bolds, lengths: list[int]) -> int:
    if len(set(lengths)) > 1:
        listing = ", ".join(f"{Path(b.path).name}: {n}" for b, n in zip(bolds, lengths))
        raise InputError(
            bolds[0].path,
            f"the runs of story {story!r} for sub-{subject} have different lengths ({listing}); they are repeats "
            "of one story and are averaged volume by volume.",
            fix="check that each run is the whole story (a run cut short?), or map only complete runs to the story "
            "(dataset.bids.filters, e.g. {run: 1}).",
        )
    return lengths[0]


def clean(ts: np.ndarray, tr: float, confounds: np.ndarray | None, bcfg: dict) -> np.ndarray:
    """Regress out the confounds, detrend and high-pass one run with
    :func:`nilearn.signal.clean`; ``ts`` of shape (n_volumes, n_voxels), returned float32.
    (The encoding stage z-scores each story and repeat afterwards.)"""
    from nilearn import signal

    if confounds is None and not bcfg["detrend"] and bcfg["high_pass"] is None:
        return ts
    if confounds is not None:  # centred here: a projection on them does not depend on their scale
        confounds = confounds - confounds.mean(0)
    with warnings.catch_warnings():  # nilearn's notes on its confound scaling, which centring here makes moot
        warnings.filterwarnings("ignore", message=".*confounds will be standardized", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message="When confounds are provided, one must perform detrend")
        out = signal.clean(
            ts.astype(np.float64),
            detrend=bcfg["detrend"],
            standardize=None,
            confounds=confounds,
            standardize_confounds=False,
            high_pass=bcfg["high_pass"],
            t_r=tr,
        )
    return np.asarray(out, dtype=np.float32)


def right_hemisphere(dcfg: dict, bold):
    """The ``hemi-R`` file (pybids ``BIDSFile``) of the surface run whose left file is ``bold``."""
    from bids.layout import Query

    e = dict(bold.get_entities(), hemi="R")
    query = {k: v for k, v in e.items() if k != "datatype"}
    for key in ("desc", "suffix", "session", "run", "acquisition"):
        query.setdefault(key, Query.NONE)
    found = layout(dcfg).get(scope="derivatives", **query)
    if not found:
        raise InputError(
            bold.path,
            "has no right-hemisphere sibling (the same name with hemi-R) in the derivatives.",
            fix="surface runs come in pairs (hemi-L and hemi-R); restore or fetch the hemi-R file.",
        )
    return found[0]


def _volume_series(dcfg: dict, bold, mask: np.ndarray, affine: np.ndarray, tr: float) -> np.ndarray:
    """One volume run's in-mask time series, (n_volumes, n_voxels) float32."""
    import nibabel as nib

    from .volume import voxels_of

    img = nib.load(_present(bold.path))
    if img.ndim != 4:
        raise InputError(bold.path, f"is {img.ndim}-D; a BOLD run must be 4-D.")
    if img.shape[:3] != mask.shape or not np.allclose(img.affine, affine, atol=1e-3):
        raise InputError(
            bold.path,
            f"grid {img.shape[:3]} / affine differ from the mask's {mask.shape}.",
            fix="use a mask in the runs' space (dataset.mask), or the space the mask is in (dataset.bids.space).",
        )
    zooms = img.header.get_zooms()
    if len(zooms) > 3 and zooms[3] > 0 and abs(float(zooms[3]) - tr) > 1e-3:
        raise InputError(
            bold.path,
            f"its header gives TR {float(zooms[3]):g} s but its sidecar's RepetitionTime is {tr:g} s.",
            fix="fix the sidecar or the header: they must agree.",
        )
    return voxels_of(np.asarray(img.dataobj, dtype=np.float32), mask, dcfg["voxel_order"]).T


def _surface_series(dcfg: dict, bold) -> np.ndarray:
    """One surface run's vertices, left hemisphere then right, (n_volumes, n_vertices) float32."""
    space = dcfg["bids"]["space"]
    parts = []
    for f in (bold, right_hemisphere(dcfg, bold)):
        series = surface.read_series(_present(f.path))
        surface.check_vertices(f.path, series.shape[0], space)
        parts.append(series)
    if parts[0].shape[1] != parts[1].shape[1]:
        raise InputError(
            bold.path,
            f"has {parts[0].shape[1]} volumes but its hemi-R sibling has {parts[1].shape[1]}.",
            fix="the two hemispheres of a run must hold the same volumes.",
        )
    return np.concatenate(parts, axis=0).T


def load_run(
    dcfg: dict, subject: str, story: str, mask: np.ndarray | None = None, affine: np.ndarray | None = None
) -> Run:
    """Every run of ``story`` for ``subject`` (repeats), cleaned, and the mid-times of their
    volumes: a :class:`Run` of shape (runs, volumes, voxels), the voxels of ``mask`` (volume
    runs) or both hemispheres' vertices, left then right (surface runs)."""
    surf = on_surface(dcfg)
    if mask is None and not surf:
        raise ConfigError(
            "dataset.mask",
            "BIDS volume runs are read through a brain mask.",
            fix="set dataset.mask to a brain mask in the runs' space (null takes the derivatives' desc-brain_mask).",
        )
    b = dcfg["bids"]
    bolds = runs_of(dcfg, subject, story)
    series = []
    for bold in bolds:
        tr = repetition_time(dcfg, bold)
        ts = _surface_series(dcfg, bold) if surf else _volume_series(dcfg, bold, mask, affine, tr)
        series.append((bold, tr, ts))
    n = _same_length(subject, story, bolds, [ts.shape[0] for _, _, ts in series])
    trim = int(b["trim"])
    keep = slice(trim, n - trim if trim else n)
    unit = "vertices" if surf else "voxels"
    data, times = [], None
    for bold, tr, ts in series:
        ts = ts[keep]
        conf = None
        if b["confounds"]:
            conf = read_confounds(confounds_file(dcfg, bold), b["confounds"], n)[keep]
        bad = nonfinite_voxels(ts)
        if bad.any() and dcfg.get("nonfinite", "error") != "drop":
            raise InputError(
                bold.path,
                f"has non-finite values in {int(bad.sum())} of its {len(bad)} {unit} (first, in "
                f"{'vertex' if surf else 'mask'} order: {np.flatnonzero(bad)[:5].tolist()}).",
                fix=NONFINITE_FIX if surf else NONFINITE_MASK_FIX,
            )
        ts[:, bad] = 0.0  # cleaned as constants, then NaN again: the subject drops them
        ts = clean(ts, tr, conf, b)
        ts[:, bad] = np.nan
        run_times = (np.arange(n) * tr + tr / 2.0 - story_onset(dcfg, story, bold))[keep]
        if times is None:
            times = run_times
        elif not np.allclose(times, run_times, atol=1e-3):
            raise InputError(
                bold.path,
                f"its volume times differ from the first run's of story {story!r} (another TR or onset); repeats of "
                "one story must line up volume by volume.",
                fix="check the runs' RepetitionTime and events onsets.",
            )
        data.append(ts)
        log.info(
            "%s: %d volumes (TR %.3g s, %d trimmed at each end), %d %s%s",
            Path(bold.path).name,
            ts.shape[0],
            tr,
            trim,
            ts.shape[1],
            unit,
            f", {len(b['confounds'])} confounds regressed out" if b["confounds"] else "",
        )
    return Run(np.stack(data), times, ", ".join(x.path for x in bolds))
