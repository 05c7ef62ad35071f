"""Cortical flatmaps of the brain-link maps with pycortex (optional dependency).

A flatmap needs the subject's surfaces and the transform from the functional volume to them,
i.e. a pycortex subject database (``brainlink.pycortex``: ``filestore``, ``subject``,
``xfm``, and for maps stored as voxel vectors without a NIfTI mask, ``mask``). LeBel et al.
(ds003020) ship one under ``derivative/pycortex-db``, with transforms ``<subject>_auto`` and
responses that are the voxels of the ``thick`` cortical mask.

Two kinds of maps are drawn:

- with ``dataset.mask`` (NIfTI): the map is put back on the mask's grid, which must be the
  grid of the transform's reference image (same shape and affine); pycortex arrays are
  ``(z, y, x)``, the transpose of NIfTI's ``(x, y, z)``;
- without one (LeBel hf5 responses): the per-voxel vector is handed to pycortex with the
  named cortical mask (``pycortex.mask``), or the mask whose voxel count matches.

pycortex is imported here only; without it the workflow skips the flatmaps and says so.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from .. import io, provenance
from ..datasets.volume import load_mask, to_volume
from ..errors import ConfigError, InputError, MissingModelError

log = logging.getLogger(__name__)

INSTALL = "pip install -e '.[flatmap]' (or run Snakemake with --use-conda: the flatmap rule has its own env)"


def available() -> bool:
    """Whether pycortex can be imported here."""
    try:
        _import()
    except ImportError:
        return False
    return True


def _import():
    import cortex  # noqa: PLC0415  (optional dependency)

    return cortex


def open_database(settings: dict, subject: str):
    """The ``cortex`` module with its database pointed at ``settings['filestore']`` (when set),
    after checking that the subject and transform exist there."""
    try:
        cortex = _import()
    except ImportError as e:
        raise MissingModelError(
            "brainlink.pycortex", f"flatmaps need pycortex, which is not installed ({e}).", fix=INSTALL + "."
        ) from None
    store = settings.get("filestore")
    if store:
        if not Path(store).is_dir():
            raise ConfigError(
                "brainlink.pycortex.filestore",
                f"{store} is not a folder.",
                fix="point it at a pycortex subject database (a folder with one folder per subject).",
            )
        cortex.db.filestore = str(store)
        cortex.db.reload_subjects()
    name, xfm = settings["subject"].format(subject=subject), settings["xfm"].format(subject=subject)
    if name not in cortex.db.subjects:
        raise ConfigError(
            "brainlink.pycortex.subject",
            f"pycortex subject {name!r} is not in the database {cortex.db.filestore} "
            f"(it has {sorted(cortex.db.subjects)}).",
            fix="set brainlink.pycortex.filestore / subject to the database that holds this subject.",
        )
    folder = Path(cortex.db.filestore) / name / "transforms"
    xfms = [p.name for p in folder.iterdir() if p.is_dir()] if folder.is_dir() else []
    if xfm not in xfms:
        raise ConfigError(
            "brainlink.pycortex.xfm",
            f"subject {name!r} has no transform {xfm!r} (it has {sorted(xfms)}).",
            fix="use one of its transforms.",
        )
    return cortex, name, xfm


def volume(
    cortex,
    values: np.ndarray,
    name: str,
    xfm: str,
    mask_path=None,
    voxel_order: str = "c",
    cortical_mask: str | None = None,
    vmin=None,
    vmax=None,
    cmap: str = "RdBu_r",
):
    """A ``cortex.Volume`` of one value per voxel (NaN: no value).

    Parameters
    ----------
    values : array of shape (n_voxels,)
    mask_path : NIfTI mask the values belong to (None: the values are the voxels of a
        pycortex mask of the transform)
    cortical_mask : pycortex mask name for vectors (None: the one whose size matches)
    """
    values = np.asarray(values, dtype=np.float32)
    ref = cortex.db.get_xfm(name, xfm).reference
    if mask_path is not None:
        mask, affine = load_mask(mask_path)
        if mask.shape != tuple(ref.shape[:3]) or not np.allclose(affine, ref.affine, atol=1e-3):
            raise InputError(
                mask_path,
                f"the maps are on a {mask.shape} grid (affine diagonal "
                f"{np.round(np.diag(affine)[:3], 3).tolist()}), but pycortex transform {name}/{xfm} "
                f"references a {tuple(ref.shape[:3])} grid (affine diagonal "
                f"{np.round(np.diag(ref.affine)[:3], 3).tolist()}).",
                fix="use the transform whose reference image is the functional space of the responses.",
            )
        data = to_volume(values, mask, voxel_order).T  # (x, y, z) -> pycortex (z, y, x)
        return cortex.Volume(data, name, xfm, vmin=vmin, vmax=vmax, cmap=cmap)
    if cortical_mask is not None:
        cm = cortex.db.get_mask(name, xfm, cortical_mask)
        if int(cm.sum()) != len(values):
            raise ConfigError(
                "brainlink.pycortex.mask",
                f"pycortex mask {cortical_mask!r} of {name}/{xfm} has "
                f"{int(cm.sum())} voxels, but the maps have {len(values)}.",
                fix="name the mask the responses were extracted with (LeBel: thick).",
            )
        return cortex.Volume(values, name, xfm, mask=cm, vmin=vmin, vmax=vmax, cmap=cmap)
    try:
        return cortex.Volume(values, name, xfm, vmin=vmin, vmax=vmax, cmap=cmap)
    except ValueError as e:
        raise ConfigError(
            "brainlink.pycortex.mask",
            f"no pycortex mask of {name}/{xfm} has {len(values)} voxels ({e}).",
            fix="set brainlink.pycortex.mask, or dataset.mask to the responses' NIfTI mask.",
        ) from None


def draw(cortex, vol, path, title: str) -> None:
    """Write the flatmap of ``vol`` as a PNG (curvature underlay, colour bar, title)."""
    import matplotlib.pyplot as plt  # pycortex draws through pyplot: its figure is closed here

    from ..plots import save

    fig = cortex.quickflat.make_figure(
        vol, with_curvature=True, with_rois=False, with_labels=False, with_sulci=False, with_colorbar=True, nanmean=True
    )
    try:
        fig.suptitle(title, fontsize=11)
        save(fig, path, dpi=100)
    finally:
        plt.close(fig)


def symmetric_limit(values: np.ndarray) -> float:
    """The colour limit of a signed map: the 99th percentile of the absolute finite values."""
    finite = np.abs(values[np.isfinite(values)])
    return max(float(np.percentile(finite, 99)), 1e-6) if finite.size else 1.0


def run(job: dict, brainlink_path, outputs: dict) -> None:
    """The flatmap stage: the principal-dimension map and the brain-link score map of one
    subject (``outputs``: ``principal`` and ``score`` PNG paths)."""
    subject = job["subject"]
    with io.h5_open(brainlink_path) as f:
        provenance.check_h5(brainlink_path, f, job.get("expects", {}).get("brainlink"), job, "brain-link file")
        maps = {"principal": f["principal"][()], "score": np.where(f["reliable"][()], f["score"][()], np.nan)}
    settings = job["pycortex"]
    cortex, name, xfm = open_database(settings, subject)
    mask_t = job["dataset"]["mask"]
    titles = {
        "principal": f"{subject}: principal-dimension map (correlation of performance with dim 1)",
        "score": f"{subject}: how well the embedding predicts each voxel's performance across spaces",
    }
    for key, values in maps.items():
        lim = symmetric_limit(values)
        vol = volume(
            cortex,
            values,
            name,
            xfm,
            mask_t.format(subject=subject) if mask_t else None,
            job["dataset"]["voxel_order"],
            settings.get("mask"),
            vmin=-lim,
            vmax=lim,
        )
        draw(cortex, vol, outputs[key], titles[key])
        log.info(
            "%s: %s flatmap on pycortex subject %s (%s), %d voxels with a value",
            subject,
            key,
            name,
            xfm,
            int(np.isfinite(values).sum()),
        )
