"""Dataset loaders on small fixtures written in exactly the real layouts, and brain volumes."""

from pathlib import Path

import h5py
import numpy as np
import pytest
from conftest import LEBEL, lebel_tree

from lre.datasets import lebel2023, volume
from lre.errors import InputError


def test_lebel_times_follow_the_huthlab_convention(tmp_path):
    dcfg, data = lebel_tree(tmp_path, n=40)
    run = lebel2023.load_run(dcfg, "UTS01", "story")
    # 35 simulated volumes at k*2 - 10, mid-TR +1 s, rows [10 : 35 - 5]
    np.testing.assert_allclose(run.times, np.arange(10, 30) * 2.0 - 10.0 + 1.0)
    assert run.data.shape == (1, 20, 7) and np.array_equal(run.data[0], data)


def test_lebel_repeats_and_errors(tmp_path):
    dcfg, _ = lebel_tree(tmp_path, n=40, repeats=3)
    assert lebel2023.load_run(dcfg, "UTS01", "story").n_repeats == 3
    with pytest.raises(InputError, match="no entry for story 'missing'"):
        lebel2023.load_run(dcfg, "UTS01", "missing")
    with pytest.raises(InputError, match=r"other\.hf5.*missing"):
        lebel2023.load_run(dcfg, "UTS01", "other")
    bad = dict(dcfg, lebel=dict(LEBEL, trim=3))
    with pytest.raises(InputError, match="has 20 volumes, but respdict.json gives 40.*means 24"):
        lebel2023.load_run(bad, "UTS01", "story")
    with pytest.raises(InputError, match=r"no dataset 'resp'; it holds \['data'\]"):
        lebel2023.load_run(dict(dcfg, lebel=dict(LEBEL, key="resp")), "UTS01", "story")


def test_lebel_refuses_nan_voxels(tmp_path):
    dcfg, data = lebel_tree(tmp_path / "x", n=40)
    path = lebel2023.response_path(dcfg["root"], "UTS01", "story")
    data[3, 2] = np.nan
    with h5py.File(path, "w") as f:
        f["data"] = data
    with pytest.raises(InputError, match=r"non-finite values in 1 voxels \(first: \[2\]\)"):
        lebel2023.load_run(dcfg, "UTS01", "story")


REPEATS = "derivative/repeats/{subject}/{story}_run-{repeat:02d}.hf5"


def write_repeats(root, reps, subject="UTS01", story="story", template=REPEATS, labels=None):
    """Each repeat of ``reps`` (a list of (volumes, voxels) arrays) in its own file."""
    labels = labels or range(1, len(reps) + 1)
    for label, rep in zip(labels, reps):
        path = Path(root) / template.format(subject=subject, story=story, repeat=label)
        path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(path, "w") as f:
            f["data"] = rep


def test_lebel_test_repeats_in_separate_files_read_as_the_stacked_file(tmp_path):
    """A test story whose repeats are one file each reads as the same (repeats, volumes,
    voxels) responses as the stacked file; training stories and the files list follow."""
    dcfg, stacked = lebel_tree(tmp_path, n=40, repeats=3)
    write_repeats(dcfg["root"], list(stacked[::-1] + 0.5))  # different data, so the source is unambiguous
    spec = {"path": REPEATS, "repeats": 3}
    split = dict(dcfg, test_stories=["story"], lebel=dict(LEBEL, test_repeats=spec))
    run = lebel2023.load_run(split, "UTS01", "story")
    assert run.data.shape == (3, 20, 7) and run.n_repeats == 3
    np.testing.assert_array_equal(run.data, stacked[::-1] + 0.5)
    np.testing.assert_array_equal(run.times, lebel2023.load_run(dcfg, "UTS01", "story").times)
    reps = [str(Path(dcfg["root"]) / f"derivative/repeats/UTS01/story_run-{k:02d}.hf5") for k in (1, 2, 3)]
    assert run.source == ", ".join(reps)
    assert lebel2023.files(split, "UTS01", "story") == [str(lebel2023.respdict_path(dcfg["root"]))] + reps
    # the same repeats as a list of labels; a story that is not a test story keeps its own file
    listed = dict(split, lebel=dict(LEBEL, test_repeats={"path": REPEATS, "repeats": [3, 1]}))
    np.testing.assert_array_equal(lebel2023.load_run(listed, "UTS01", "story").data, (stacked[::-1] + 0.5)[[2, 0]])
    trained = dict(split, test_stories=["other"])
    np.testing.assert_array_equal(lebel2023.load_run(trained, "UTS01", "story").data, stacked)
    assert lebel2023.files(trained, "UTS01", "story")[1].endswith("preprocessed_data/UTS01/story.hf5")


def test_lebel_test_repeats_missing_or_of_different_lengths_are_refused(tmp_path):
    dcfg, stacked = lebel_tree(tmp_path, n=40, repeats=3)
    spec = {"path": REPEATS, "repeats": 3}
    split = dict(dcfg, test_stories=["story"], lebel=dict(LEBEL, test_repeats=spec))
    write_repeats(dcfg["root"], list(stacked[:2]))  # repeat 3 missing
    with pytest.raises(InputError) as info:
        lebel2023.load_run(split, "UTS01", "story")
    msg = str(info.value)
    assert "story_run-03.hf5: is missing: repeat 3 of UTS01's test story 'story'" in msg
    assert "dataset.lebel.test_repeats" in msg and "Fix: preprocess that repeat run" in msg
    write_repeats(dcfg["root"], [stacked[0], stacked[1], stacked[2][:-2]])  # repeat 3 two volumes short
    with pytest.raises(InputError) as info:
        lebel2023.load_run(split, "UTS01", "story")
    msg = str(info.value)
    assert "story_run-03.hf5: has 18 volumes, but the first repeat of UTS01's test story 'story'" in msg
    assert "story_run-01.hf5) has 20" in msg and "same number of volumes" in msg
    write_repeats(dcfg["root"], [stacked[0], stacked[1], stacked[2][:, :5]])  # two voxels fewer
    with pytest.raises(InputError, match=r"has 5 voxels, but the first repeat .* has 7"):
        lebel2023.load_run(split, "UTS01", "story")
    write_repeats(dcfg["root"], [stacked[0], stacked[1], stacked[None, 2]])  # a stacked array where one run goes
    with pytest.raises(InputError, match=r"shape \(1, 20, 7\); a repeat file holds one run"):
        lebel2023.load_run(split, "UTS01", "story")
    write_repeats(dcfg["root"], [stacked[0, :-2], stacked[1, :-2], stacked[2, :-2]])  # all short: respdict
    with pytest.raises(InputError, match=r"story_run-01.hf5: has 18 volumes, but respdict.json gives 40"):
        lebel2023.load_run(split, "UTS01", "story")


@pytest.mark.parametrize("order", ["c", "f"])
def test_voxel_order_round_trip(order, rng):
    mask = rng.uniform(size=(4, 5, 3)) > 0.4
    vals = np.arange(mask.sum(), dtype=np.float32)
    vol = volume.to_volume(vals, mask, order)
    assert np.all(np.isnan(vol[~mask]))
    np.testing.assert_array_equal(volume.voxels_of(vol, mask, order), vals)
    data4d = np.stack([vol, 2 * vol], axis=-1)
    np.testing.assert_array_equal(volume.voxels_of(data4d, mask, order), np.stack([vals, 2 * vals], 1))


def test_voxel_orders_are_nilearn_and_pycortex(rng):
    mask = rng.uniform(size=(4, 5, 3)) > 0.4
    vol = rng.normal(size=mask.shape)
    np.testing.assert_array_equal(volume.voxels_of(vol, mask, "c"), vol[mask])  # boolean indexing
    zyx = vol.transpose(2, 1, 0)  # pycortex arrays
    np.testing.assert_array_equal(volume.voxels_of(vol, mask, "f"), zyx[mask.transpose(2, 1, 0)])


def test_nifti_round_trip_and_mask_errors(tmp_path, rng):
    mask = np.zeros((5, 6, 4), bool)
    mask[1:4, 2:5, 1:3] = True
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    volume.save_nifti(tmp_path / "m.nii.gz", mask.astype(np.float32), affine)
    m, a = volume.load_mask(tmp_path / "m.nii.gz")
    assert np.array_equal(m, mask) and np.allclose(a, affine)
    volume.save_nifti(tmp_path / "empty.nii.gz", np.zeros((3, 3, 3)), affine)
    with pytest.raises(InputError, match="empty"):
        volume.load_mask(tmp_path / "empty.nii.gz")
    with pytest.raises(InputError, match="does not exist"):
        volume.load_mask(tmp_path / "nope.nii.gz")
    with pytest.raises(InputError, match="3 values for a mask of 18 voxels"):
        volume.to_volume(np.ones(3), mask, "c")
