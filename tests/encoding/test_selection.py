"""Headline scores from voxels chosen apart from the test data: a control that predicts
nothing scores about zero, where choosing voxels by the same test r scored it well above."""

import numpy as np
import pytest

from lre.encoding import fit_and_score, noise_ceiling, selection
from lre.encoding.models import correlation


def responses(rng, n_vox=1500, n_train=400, n_test=150, repeats=4):
    """Training and test responses (repeats) of voxels with signal of random strength, driven
    by a smooth latent time course through random weights."""
    k = 5
    latent_train = rng.normal(size=(n_train, k))
    latent_test = rng.normal(size=(n_test, k))
    w = rng.normal(size=(k, n_vox)) * rng.uniform(0, 1, n_vox)
    Y_train = latent_train @ w + rng.normal(size=(n_train, n_vox))
    signal = latent_test @ w
    Y_test = signal[None] + rng.normal(size=(repeats, n_test, n_vox))
    return Y_train.astype(np.float32), Y_test.astype(np.float32)


def test_a_random_control_scores_zero_over_voxels_chosen_apart_from_the_test_data():
    rng = np.random.default_rng(3)
    Y_train, Y_test = responses(rng)
    X_train = rng.normal(size=(len(Y_train), 32)).astype(np.float32)  # random features: predict nothing
    X_test = rng.normal(size=(Y_test.shape[1], 32)).astype(np.float32)
    res = fit_and_score(X_train, Y_train, X_test, Y_test, [1, 10, 100, 1e3, 1e4, 1e5], cv=4)
    r = res["scores"]
    ceiling = noise_ceiling(Y_test)
    by_test_r = r[np.argsort(-r)[:200]].mean()  # the biased way: chosen by the r it reports
    by_ceiling = r[selection.top_voxels(200, "ceiling", ceiling=ceiling)].mean()
    by_cv = r[selection.top_voxels(200, "cv", cv_scores=res["cv_scores"])].mean()
    assert by_test_r > 0.1  # selection on the test data alone makes a random control look good
    assert abs(by_ceiling) < 0.03 and abs(by_cv) < 0.03, (by_ceiling, by_cv)
    assert abs(r.mean()) < 0.01


def test_voxels_chosen_by_the_ceiling_show_a_real_space_where_it_predicts():
    """A space that carries the signal: its headline over the ceiling's voxels is far above
    its mean over all voxels (the selection finds the voxels that respond)."""
    rng = np.random.default_rng(4)
    n_train, n_test = 400, 150
    latent = rng.normal(size=(n_train + n_test, 5))
    w = rng.normal(size=(5, 1000)) * (rng.uniform(size=1000) > 0.7)  # 30 % of voxels respond
    Y = latent @ w
    Y_train = (Y[:n_train] + rng.normal(size=(n_train, 1000))).astype(np.float32)
    Y_test = (Y[n_train:][None] + rng.normal(size=(3, n_test, 1000))).astype(np.float32)
    res = fit_and_score(latent[:n_train], Y_train, latent[n_train:], Y_test, [0.1, 1, 10, 100], cv=4)
    top = selection.top_voxels(200, "ceiling", ceiling=noise_ceiling(Y_test))
    assert res["scores"][top].mean() > 0.7 > res["scores"].mean() + 0.3
    # and the voxels the ceiling picks are the responding ones
    assert (np.abs(w[:, top]).sum(0) > 0).mean() > 0.95


def test_top_voxels_orders_by_score_and_refuses_what_it_cannot_do():
    score = np.array([0.1, np.nan, 0.5, 0.5, -1.0])
    np.testing.assert_array_equal(selection.top_voxels(3, "ceiling", ceiling=score), [2, 3, 0])  # ties in order
    np.testing.assert_array_equal(selection.top_voxels(10, "cv", cv_scores=score), [2, 3, 0, 4, 1])  # NaN last
    with pytest.raises(ValueError, match="need its scores"):
        selection.top_voxels(3, "cv", ceiling=score)
    assert selection.choose_basis("auto", True) == "ceiling" and selection.choose_basis("auto", False) == "cv"
    with pytest.raises(ValueError, match="single repeat"):
        selection.choose_basis("ceiling", False)
    assert selection.describe(200, "cv") == "200 voxels by cross-validated score"


def test_cv_r2_is_about_the_cross_validated_r2():
    """The solvers' cv score is minus the mean validation error of z-scored responses: 1 +
    score is about the R^2 of the out-of-fold predictions."""
    rng = np.random.default_rng(5)
    n = 600
    x = rng.normal(size=(n, 3))
    y = x @ np.array([1.0, 0.5, 0.0]) + rng.normal(size=n) * 1.2
    y = ((y - y.mean()) / y.std()).astype(np.float32)[:, None]
    folds = np.array_split(np.arange(n), 4)
    cv = [(np.setdiff1d(np.arange(n), f), f) for f in folds]
    res = fit_and_score(x, y, x[:50], y[:50], [1e-3], cv=cv)
    oof = np.empty(n)
    for tr, va in cv:
        beta, *_ = np.linalg.lstsq(np.c_[x[tr], np.ones(len(tr))], y[tr, 0], rcond=None)
        oof[va] = np.c_[x[va], np.ones(len(va))] @ beta
    r2 = 1 - np.mean((y[:, 0] - oof) ** 2)  # y has unit variance
    assert selection.cv_r2(res["cv_scores"])[0] == pytest.approx(r2, abs=0.01)
    assert correlation(oof[:, None], y)[0] ** 2 == pytest.approx(r2, abs=0.03)
