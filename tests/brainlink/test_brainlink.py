"""The brain link: cross-validated predictions, baselines, null, principal-dimension map."""

import numpy as np
import pytest

from lre import brainlink

FAMILIES = ["a"] * 5 + ["b"] * 4 + ["c", "d", "e"] + ["f"] * 3


def test_logo_prediction_equals_a_refit_without_the_group(rng):
    C = rng.normal(size=(15, 2))
    R = rng.normal(size=(15, 6))
    pred = brainlink.logo_predict(C, R, FAMILIES)
    fam = np.array(FAMILIES)
    for f in ("a", "c"):
        train = fam != f
        X = np.hstack([np.ones((train.sum(), 1)), C[train]])
        for v in range(6):
            beta = np.linalg.lstsq(X, R[train, v], rcond=None)[0]
            np.testing.assert_allclose(pred[fam == f, v], np.hstack([np.ones(((~train).sum(), 1)), C[~train]]) @ beta)


def test_performance_that_is_linear_in_the_coordinates_is_predicted(rng):
    C = rng.normal(size=(15, 3))
    R = C @ rng.normal(size=(3, 50)) + 0.5 + 0.01 * rng.normal(size=(15, 50))
    res = brainlink.link(C, R, FAMILIES, n_dims=3, n_perm=100, seed=11, threshold=-1, fdr_q=0.05)
    assert res["score"].min() > 0.99
    assert res["score"].mean() > res["random_embedding"].mean() and res["score"].mean() > res["group_mean"].mean()
    assert res["significant"].mean() > 0.95 and res["pvalues"].max() <= 2 / 101


def test_null_false_positive_rate_when_performance_ignores_the_embedding(rng):
    C = rng.normal(size=(15, 3))
    R = rng.normal(size=(15, 3000))
    res = brainlink.link(C, R, FAMILIES, n_dims=3, n_perm=200, seed=1, threshold=-1, fdr_q=0.05)
    assert abs((res["pvalues"] < 0.05).mean() - 0.05) < 0.015
    assert res["significant"].mean() <= 0.05


def test_group_means_and_siblings():
    R = np.array([[1.0], [3.0], [10.0], [20.0]])
    fams = ["x", "x", "y", "z"]
    # held-out x: mean of the other groups' means (10 + 20) / 2
    np.testing.assert_allclose(brainlink.group_mean_predict(R, fams)[:, 0], [15, 15, (2 + 20) / 2, (2 + 10) / 2])
    # siblings: x's members predict each other; singletons get the mean of all others
    np.testing.assert_allclose(brainlink.sibling_mean_predict(R, fams)[:, 0], [3, 1, 8, 14 / 3])


def test_principal_map_is_the_correlation_with_the_first_coordinate(rng):
    c = np.linspace(-1, 1, 15)
    R = np.stack([c, -c, 0.2 * np.ones(15) + 0.01 * c], axis=1) + 0.3
    R[:, 2] = 0.05  # a voxel below the threshold
    m = brainlink.principal_map(c, R, threshold=0.1)
    assert m[0] == pytest.approx(1.0) and m[1] == pytest.approx(-1.0) and np.isnan(m[2])


def test_seeded():
    rng = np.random.default_rng(5)
    C, R = rng.normal(size=(15, 2)), rng.normal(size=(15, 40))
    a = brainlink.link(C, R, FAMILIES, 2, 50, 3, -1, 0.05)
    b = brainlink.link(C, R, FAMILIES, 2, 50, 3, -1, 0.05)
    np.testing.assert_array_equal(a["pvalues"], b["pvalues"])
    np.testing.assert_array_equal(a["random_embedding"], b["random_embedding"])
