"""Variance partitioning: the banded solver against himalaya's BandedRidgeCV, and the
partition of planted variance into unique and shared parts."""

import numpy as np
import pytest

from lre import encoding
from lre.encoding import partition
from lre.errors import ConfigError

ALPHAS = np.logspace(-1, 5, 8)
WEIGHTS = [0.02, 0.1, 0.3, 0.5, 0.7, 0.9, 0.98]


def bands(rng, n, p_base, p_space, v):
    """Two bands of features and voxels driven by the baseline band with a small weight,
    by the tested band with a large one, or by both."""
    Xb = rng.normal(size=(n, p_base)).astype(np.float32)
    Xs = rng.normal(size=(n, p_space)).astype(np.float32)
    Y = Xb @ (rng.normal(size=(p_base, v)) * 0.3) + Xs @ (rng.normal(size=(p_space, v)) * 0.05)
    return Xb, Xs, (Y + rng.normal(size=(n, v))).astype(np.float32)


@pytest.mark.parametrize("p_space", [40, 400], ids=["primal", "dual"])
def test_banded_ridge_equals_himalaya_banded_ridge_cv(rng, p_space):
    """Same band weights, penalties and folds: every voxel picks the same pair of penalties as
    himalaya's BandedRidgeCV and predicts the test rows alike."""
    n, n_test = 240, 60
    Xb, Xs, Y = bands(rng, n + n_test, 6, p_space, 50)
    cv = encoding.story_folds([60, 60, 60, 60])
    gammas = partition.band_gammas(WEIGHTS)
    args = ([Xb[:n], Xs[:n]], Y[:n], [Xb[n:], Xs[n:]], ALPHAS, gammas, cv)
    lean = partition.banded_ridge_cv(*args)
    him = partition.himalaya_banded_ridge_cv(*args)
    assert np.isclose(lean["alphas"], him["alphas"], rtol=1e-4).mean() == 1.0
    np.testing.assert_allclose(lean["gammas"], him["gammas"], rtol=1e-4)
    np.testing.assert_allclose(lean["cv_scores"], him["cv_scores"], rtol=1e-4, atol=1e-5)
    scale = np.abs(him["prediction"]).max()
    np.testing.assert_allclose(lean["prediction"], him["prediction"], atol=1e-4 * scale)
    # the penalties differ between bands for most voxels: one penalty would not do
    assert np.mean(lean["penalties"][:, 0] != lean["penalties"][:, 1]) > 0.5


def test_partition_recovers_unique_and_shared_variance(rng):
    """The tested space holds the baseline's features and more. Voxels driven by the baseline
    alone: no unique variance, all of it shared; voxels driven by the extra features only: all
    of it unique, none shared. The planted signal explains half of each voxel's variance."""
    n, n_test, v = 600, 200, 40
    Xb = rng.normal(size=(n + n_test, 4)).astype(np.float32)
    Xe = rng.normal(size=(n + n_test, 30)).astype(np.float32)
    Xs = np.hstack([Xb, Xe])  # the tested space contains the baseline
    drive = np.concatenate([Xb @ rng.normal(size=(4, v // 2)), Xe @ rng.normal(size=(30, v // 2))], axis=1)
    drive /= drive.std(0)
    Y = (drive + rng.normal(size=drive.shape)).astype(np.float32)  # R^2 of the truth: 0.5
    Y_test = np.stack([drive[n:] + rng.normal(size=(n_test, v)) for _ in range(8)]).astype(np.float32)
    cv = encoding.story_folds([150] * 4)
    base = encoding.fit_and_score(Xb[:n], Y[:n], Xb[n:], Y_test, ALPHAS, cv=cv)
    space = encoding.fit_and_score(Xs[:n], Y[:n], Xs[n:], Y_test, ALPHAS, cv=cv)
    joint = partition.fit_partition(Xb[:n], Xs[:n], Y[:n], Xb[n:], Xs[n:], Y_test, ALPHAS, WEIGHTS, cv)
    parts = partition.partition(joint["r2"], base["r2"], space["r2"])
    low, high = slice(0, v // 2), slice(v // 2, v)
    # the mean over 8 repeats has noise variance 1/8: the truth's R^2 there is 1 / (1 + 1/8)
    truth = 1 / (1 + 1 / 8)
    assert abs(parts["unique"][low].mean()) < 0.02
    assert parts["shared"][low].mean() == pytest.approx(truth, abs=0.05)
    assert parts["unique"][high].mean() == pytest.approx(truth, abs=0.1)
    assert abs(parts["shared"][high].mean()) < 0.03
    np.testing.assert_allclose(parts["unique"] + parts["shared"], space["r2"], atol=1e-12)


def test_band_weights_must_lie_inside_the_simplex():
    for bad in ([0.0, 0.5], [0.5, 1.0], []):
        with pytest.raises(ConfigError, match="partition.band_weights"):
            partition.band_gammas(bad)
    np.testing.assert_allclose(partition.band_gammas([0.25]), [[0.75, 0.25]])
