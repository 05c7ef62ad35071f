"""Surface data (lre.datasets.surface): GIfTI time series read in either layout, their shape
from the header alone, maps written and read back per hemisphere."""

from __future__ import annotations

import nibabel as nib
import numpy as np
import pytest

from lre.datasets import surface


def write_series(path, series: np.ndarray, one_array_per_volume: bool) -> None:
    if one_array_per_volume:  # fMRIPrep's layout
        arrays = [nib.gifti.GiftiDataArray(col.astype(np.float32)) for col in series.T]
    else:  # one (vertices, volumes) array
        arrays = [nib.gifti.GiftiDataArray(series.astype(np.float32))]
    nib.save(nib.gifti.GiftiImage(darrays=arrays), str(path))


@pytest.mark.parametrize("one_array_per_volume", [True, False])
def test_a_series_is_read_in_either_layout_and_its_shape_from_the_header_alone(tmp_path, one_array_per_volume):
    series = np.random.default_rng(0).normal(size=(642, 12)).astype(np.float32)
    path = tmp_path / "sub-01_task-a_hemi-L_space-fsaverage3_bold.func.gii"
    write_series(path, series, one_array_per_volume)
    np.testing.assert_array_equal(surface.read_series(path), series)
    assert surface.series_shape(path) == (642, 12) and surface.n_volumes(path) == 12


def test_a_map_is_written_as_one_gifti_per_hemisphere_and_read_back(tmp_path):
    values = np.arange(2 * 642, dtype=np.float32)
    values[5] = np.nan
    left = tmp_path / "m_hemi-L.func.gii"
    surface.save_map(left, values, 642, "a test map")
    assert surface.hemi_path(left, "R").name == "m_hemi-R.func.gii"
    got_left, got_right = surface.read_map(left)
    np.testing.assert_array_equal(np.concatenate([got_left, got_right]), values)
    assert not list(tmp_path.glob(".*"))  # no temporary file left
    with pytest.raises(ValueError, match="hemi-L"):
        surface.hemi_path(tmp_path / "m.func.gii", "R")
