"""Where a subject's response columns live in the brain, and how maps of them are written.

A response matrix has one column per voxel of a brain mask (:class:`Volume`: NIfTI maps) or
per vertex of both hemispheres of an fsaverage mesh (:class:`Surface`: a GIfTI map per
hemisphere). :func:`of` gives a subject's geometry from the dataset section of the config;
the stages write and draw maps through it, whatever the data's kind.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from . import surface
from .volume import load_mask, save_nifti, to_volume


class Volume:
    """Voxels of a brain mask.

    Parameters
    ----------
    mask : bool array of shape (x, y, z)
    affine : array of shape (4, 4)
    order : "c" or "f", the order of the mask's voxels in a response matrix
    """

    kind = "volume"

    def __init__(self, mask: np.ndarray, affine: np.ndarray, order: str):
        self.mask, self.affine, self.order = mask, affine, order
        self.n_columns = int(mask.sum())

    def files(self, path) -> list[Path]:
        """The files of the map named ``path`` (one NIfTI)."""
        return [Path(path)]

    def save(self, path, values: np.ndarray, description: str = "") -> None:
        """Write ``values`` (n_voxels,) as a NIfTI map (NaN outside the mask)."""
        save_nifti(path, to_volume(values, self.mask, self.order), self.affine, description)

    def image(self, values: np.ndarray):
        """``values`` (n_voxels,) as a nibabel ``Nifti1Image`` (NaN outside the mask)."""
        import nibabel as nib

        return nib.Nifti1Image(to_volume(values, self.mask, self.order).astype(np.float32), self.affine)


class Surface:
    """Vertices of both hemispheres of an fsaverage mesh, left then right.

    Parameters
    ----------
    space : the mesh (``fsaverage5``, ``fsaverage6``, ...)
    """

    kind = "surface"

    def __init__(self, space: str):
        self.space = space
        self.n_left = surface.vertices_per_hemi(space)
        self.n_columns = 2 * self.n_left

    def files(self, path) -> list[Path]:
        """The files of the map named ``path`` (its ``hemi-L`` file and its ``hemi-R`` sibling)."""
        return [surface.hemi_path(path, h) for h in surface.HEMIS]

    def save(self, path, values: np.ndarray, description: str = "") -> None:
        """Write ``values`` (n_vertices,) as a GIfTI map per hemisphere (``path`` is the left one)."""
        surface.save_map(path, values, self.n_left, description)

    def image(self, values: np.ndarray):
        """``values`` (n_vertices,) as a nilearn ``SurfaceImage`` on the inflated mesh."""
        from nilearn.surface import SurfaceImage

        mesh, _ = surface.mesh(self.space)
        values = np.asarray(values, dtype=np.float32)
        return SurfaceImage(mesh=mesh, data={"left": values[: self.n_left], "right": values[self.n_left :]})


def on_surface(dcfg: dict) -> bool:
    """Whether the dataset's responses are surface vertices (a BIDS dataset in an fsaverage space)."""
    return dcfg["format"] == "bids" and surface.is_surface(dcfg["bids"]["space"])


def has_maps(dcfg: dict) -> bool:
    """Whether the responses' columns have a place in the brain, so maps can be written."""
    return bool(dcfg["mask"]) or on_surface(dcfg)


def of(dcfg: dict, subject: str) -> Volume | Surface | None:
    """A subject's geometry (None when the responses are bare columns: no mask, no surface)."""
    if on_surface(dcfg):
        return Surface(dcfg["bids"]["space"])
    if dcfg["mask"]:
        mask, affine = load_mask(dcfg["mask"].format(subject=subject))
        return Volume(mask, affine, dcfg["voxel_order"])
    return None
