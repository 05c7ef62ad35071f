"""Brain masks and maps: voxel vectors <-> 3-D volumes, NIfTI in and out.

The columns of a response matrix are the mask's voxels in a fixed order:
``c`` — NumPy boolean indexing of the (x, y, z) array (z fastest; nilearn's maskers), or
``f`` — x fastest (the order of pycortex masks, whose arrays are (z, y, x)).
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..io import atomic_path

log = logging.getLogger(__name__)

ORDERS = ("c", "f")


def load_mask(path) -> tuple[np.ndarray, np.ndarray]:
    """``(mask, affine)``: a boolean (x, y, z) array and its 4x4 affine."""
    import nibabel as nib

    path = Path(path)
    if not path.exists():
        raise InputError(path, "does not exist.", fix="set dataset.mask to the brain mask NIfTI of the responses.")
    try:
        img = nib.load(str(path))
    except Exception as e:  # nibabel raises several unrelated types for a bad file
        raise InputError(path, f"is not a readable NIfTI image ({e}).") from None
    data = np.asarray(img.dataobj)
    if data.ndim != 3:
        raise InputError(
            path,
            f"is {data.ndim}-D; a mask must be 3-D.",
            fix="use a 3-D brain mask (one volume) in the responses' space.",
        )
    nan = ~np.isfinite(data)
    mask = (data != 0) & ~nan
    if not mask.any():
        raise InputError(
            path,
            "is empty (no non-zero voxel"
            + (f"; its {int(nan.sum())} NaN or infinite voxels count as outside the mask)." if nan.any() else ")."),
            fix="use the brain mask of the responses (non-zero inside the brain, 0 outside).",
        )
    if nan.any():
        log.warning(
            "%s: %d NaN or infinite voxels count as outside the mask (%d voxels inside).",
            path,
            int(nan.sum()),
            int(mask.sum()),
        )
    return mask, np.asarray(img.affine, dtype=np.float64)


def _flat_index(mask: np.ndarray, order: str) -> np.ndarray:
    if order not in ORDERS:
        raise ValueError(f"voxel order must be one of {ORDERS}, not {order!r}")
    return np.flatnonzero(mask.ravel(order=order.upper()))


def voxels_of(data: np.ndarray, mask: np.ndarray, order: str) -> np.ndarray:
    """The mask's voxels of a 3-D (x, y, z) or 4-D (x, y, z, t) array: (n_voxels[, t])."""
    idx = _flat_index(mask, order)
    flat = data.reshape((-1,) + data.shape[3:], order=order.upper())
    return flat[idx]


def to_volume(values: np.ndarray, mask: np.ndarray, order: str, fill=np.nan) -> np.ndarray:
    """Put one value per mask voxel back into an (x, y, z) array (``fill`` outside)."""
    values = np.asarray(values)
    idx = _flat_index(mask, order)
    if len(values) != len(idx):
        raise InputError(
            None,
            f"{len(values)} values for a mask of {len(idx)} voxels.",
            fix="the responses and the mask must come from the same subject and space.",
        )
    flat = np.full(mask.size, fill, dtype=np.float32)
    flat[idx] = values
    return flat.reshape(mask.shape, order=order.upper())


def save_nifti(path, volume: np.ndarray, affine: np.ndarray, description: str = "") -> None:
    """Write a float32 NIfTI-1 image atomically."""
    import nibabel as nib

    img = nib.Nifti1Image(np.asarray(volume, dtype=np.float32), affine)
    img.header["descrip"] = description.encode()[:79]
    img.header.set_xyzt_units("mm")
    suffix = ".nii.gz" if str(path).endswith(".nii.gz") else ".nii"
    with atomic_path(path) as tmp:
        tmp_named = tmp.with_name(tmp.name + suffix)  # nibabel picks the format from the suffix
        try:
            nib.save(img, str(tmp_named))
            tmp_named.replace(tmp)
        finally:
            tmp_named.unlink(missing_ok=True)
