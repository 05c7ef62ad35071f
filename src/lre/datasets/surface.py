"""Cortical-surface data: both hemispheres' vertices on an fsaverage mesh, GIfTI in and out.

A subject's responses on the surface are the left hemisphere's vertices followed by the right
hemisphere's (fMRIPrep's ``space-fsaverage5_hemi-L_bold.func.gii`` and its ``hemi-R``
sibling). A map is written as one GIfTI per hemisphere: the left file's name holds
``hemi-L`` and the right one is the same name with ``hemi-R``. Figures and interactive views
draw them on the matching fsaverage mesh (nilearn ships fsaverage5; other meshes are
downloaded once by nilearn).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io import atomic_path

#: fsaverage mesh -> vertices per hemisphere (FreeSurfer's icosahedral subdivisions)
MESHES = {
    "fsaverage3": 642,
    "fsaverage4": 2562,
    "fsaverage5": 10242,
    "fsaverage6": 40962,
    "fsaverage7": 163842,
    "fsaverage": 163842,
}
#: the mesh that ships with nilearn (no download)
SHIPPED = "fsaverage5"
HEMIS = ("L", "R")
#: what names a left-hemisphere file (its right sibling has ``hemi-R`` in its place)
LEFT = "hemi-L"


def is_surface(space: str) -> bool:
    """Whether a BIDS ``space-`` label is an fsaverage surface mesh."""
    return space in MESHES


def vertices_per_hemi(space: str) -> int:
    return MESHES[space]


def hemi_path(left, hemi: str) -> Path:
    """The file of hemisphere ``hemi`` ("L" or "R") of the map whose left file is ``left``."""
    left = Path(left)
    if LEFT not in left.name:
        raise ValueError(f"a surface map's left file must have {LEFT!r} in its name, not {left.name!r}")
    return left.with_name(left.name.replace(LEFT, f"hemi-{hemi}"))


def read_series(path) -> np.ndarray:
    """One hemisphere's time series from a GIfTI file, (n_vertices, n_volumes) float32: one
    data array per volume (fMRIPrep's layout) or one 2-D array of (vertices, volumes)."""
    import nibabel as nib

    path = Path(path)
    try:
        img = nib.load(str(path))
    except Exception as e:  # nibabel raises several unrelated types for a bad file
        raise InputError(path, f"is not a readable GIfTI file ({e}).") from None
    if not isinstance(img, nib.gifti.GiftiImage) or not img.darrays:
        raise InputError(path, "holds no GIfTI data array.", fix="give the run's .func.gii time series.")
    arrays = [np.asarray(d.data) for d in img.darrays]
    if len(arrays) == 1 and arrays[0].ndim == 2:
        return arrays[0].astype(np.float32)
    if any(a.ndim != 1 or a.shape != arrays[0].shape for a in arrays):
        shapes = sorted({a.shape for a in arrays})
        raise InputError(path, f"its data arrays have shapes {shapes}; a time series has one vector per volume.")
    return np.stack(arrays, axis=1).astype(np.float32)


def series_shape(path) -> tuple[int, int]:
    """``(n_vertices, n_volumes)`` of one hemisphere's GIfTI time series, from its XML header
    (``NumberOfDataArrays`` and the first array's dimensions; the data are not decoded), else
    from the data themselves."""
    st = os.stat(path)
    return _series_shape(str(path), st.st_size, st.st_mtime_ns)


@lru_cache(maxsize=256)
def _series_shape(path: str, size: int, mtime_ns: int) -> tuple[int, int]:
    with open(path, "rb") as f:
        head = f.read(8192).decode("utf-8", errors="replace")
    n = re.search(r'NumberOfDataArrays="(\d+)"', head)
    first = re.search(r"<DataArray\b[^>]*>", head)
    if n and first:
        dims = {k: int(v) for k, v in re.findall(r'\b(Dimensionality|Dim0|Dim1)="(\d+)"', first.group(0))}
        if int(n.group(1)) == 1 and dims.get("Dimensionality") == 2 and "Dim1" in dims:
            return dims["Dim0"], dims["Dim1"]
        if dims.get("Dimensionality") == 1 and "Dim0" in dims:
            return dims["Dim0"], int(n.group(1))
    series = read_series(path)
    return series.shape[0], series.shape[1]


def n_volumes(path) -> int:
    return series_shape(path)[1]


def check_vertices(path, n: int, space: str) -> None:
    """Refuse a hemisphere whose vertex count is not the mesh's."""
    want = vertices_per_hemi(space)
    if n != want:
        found = [m for m, k in MESHES.items() if k == n]
        raise InputError(
            path,
            f"has {n} vertices per hemisphere, but space {space} has {want}"
            + (f" ({n} is {found[0]}'s count)." if found else "."),
            fix="set dataset.bids.space to the mesh the runs are on.",
        )


def save_map(left, values: np.ndarray, n_left: int, description: str = "") -> None:
    """Write one value per vertex as two GIfTI files (float32): the first ``n_left`` values
    to ``left`` (its name holds ``hemi-L``), the rest to its ``hemi-R`` sibling."""
    import nibabel as nib

    values = np.asarray(values, dtype=np.float32)
    for hemi, part in zip(HEMIS, (values[:n_left], values[n_left:])):
        meta = nib.gifti.GiftiMetaData({"Description": description, "AnatomicalStructurePrimary": _STRUCTURE[hemi]})
        darray = nib.gifti.GiftiDataArray(part, intent="NIFTI_INTENT_ESTIMATE", datatype="NIFTI_TYPE_FLOAT32")
        img = nib.gifti.GiftiImage(darrays=[darray], meta=meta)
        with atomic_path(hemi_path(left, hemi)) as tmp:
            named = tmp.with_name(tmp.name + ".gii")  # nibabel picks the format from the suffix
            try:
                nib.save(img, str(named))
                named.replace(tmp)
            finally:
                named.unlink(missing_ok=True)


_STRUCTURE = {"L": "CortexLeft", "R": "CortexRight"}


def read_map(left) -> tuple[np.ndarray, np.ndarray]:
    """A map written by :func:`save_map`: (left values, right values)."""
    out = []
    for hemi in HEMIS:
        path = hemi_path(left, hemi)
        if not path.exists():
            raise InputError(path, "does not exist (a surface map is a pair of GIfTI files, hemi-L and hemi-R).")
        series = read_series(path)
        out.append(series[:, 0])
    return out[0], out[1]


def mesh_fix(space: str) -> str:
    return (
        f"nilearn ships the {SHIPPED} mesh only; get {space} once on a machine with internet (nilearn keeps it in "
        f"~/nilearn_data): python -c \"from nilearn import datasets; datasets.load_fsaverage('{space}')\"; "
        f"or resample the runs to {SHIPPED} (fMRIPrep --output-spaces {SHIPPED})."
    )


def mesh_available(space: str) -> bool:
    """Whether nilearn can give ``space``'s mesh without a download."""
    if space == SHIPPED:
        return True
    from nilearn.datasets import get_data_dirs

    return any((Path(d) / "fsaverage").is_dir() for d in get_data_dirs())


def mesh(space: str):
    """``(inflated mesh, sulcal depth)`` of an fsaverage mesh for drawing (nilearn
    ``PolyMesh`` and ``SurfaceImage``). Raises InputError, saying how to get it, when
    nilearn does not hold it."""
    from nilearn import datasets

    if not mesh_available(space):
        raise InputError(
            None, f"the surface maps are on {space}, whose mesh nilearn does not hold here.", fix=mesh_fix(space)
        )
    meshes = datasets.load_fsaverage(space)
    sulcal = datasets.load_fsaverage_data(mesh=space, mesh_type="inflated", data_type="sulcal")
    return meshes["inflated"], sulcal
