"""Lanczos resampling and FIR delays against hand-derived values (HuthLab conventions)."""

import numpy as np
import pytest

from lre import timing


def test_single_impulse_word_gives_the_lanczos_kernel():
    # one word at 10 s, volumes every 2 s at odd seconds: x = (t - 10) / 2
    out = timing.lanczos_resample(np.array([[1.0]]), np.array([10.0]), np.arange(1.0, 21.0, 2.0))[:, 0]
    expect = {
        9.0: 6 / np.pi**2,
        11.0: 6 / np.pi**2,
        13.0: -4 / (3 * np.pi**2),
        7.0: -4 / (3 * np.pi**2),
        15.0: 6 / (25 * np.pi**2),
        5.0: 6 / (25 * np.pi**2),
        17.0: 0.0,
        3.0: 0.0,
        19.0: 0.0,
    }
    times = np.arange(1.0, 21.0, 2.0)
    for t, v in expect.items():
        assert out[times == t][0] == pytest.approx(v, abs=1e-12)


def test_impulse_on_a_volume_time_is_one_and_its_neighbours_zero():
    out = timing.lanczos_resample(np.array([2.0]), np.array([10.0]), np.arange(0.0, 20.0, 2.0))[:, 0]
    np.testing.assert_allclose(out, np.where(np.arange(0.0, 20.0, 2.0) == 10.0, 2.0, 0.0), atol=1e-12)


def test_constant_features_become_a_rate():
    words = np.arange(0.0, 100.0, 0.25)  # 4 words per second = 8 per TR
    out = timing.lanczos_resample(np.ones(len(words)), words, np.arange(0.0, 100.0, 2.0))[:, 0]
    assert np.all(np.abs(out[10:-10] - 8.0) < 0.1)


def reference_lanczosinterp2d(data, oldtime, newtime, window=3):
    """The HuthLab formula, written out directly (dense sinc matrix)."""
    cutoff = 1 / np.mean(np.diff(newtime))
    mat = np.zeros((len(newtime), len(oldtime)))
    for j, t in enumerate(newtime):
        x = (t - oldtime) * cutoff
        with np.errstate(divide="ignore", invalid="ignore"):
            v = window * np.sin(np.pi * x) * np.sin(np.pi * x / window) / (np.pi**2 * x**2)
        v[x == 0] = 1.0
        v[np.abs(x) > window] = 0.0
        mat[j] = v
    return mat @ data


def test_matches_the_dense_reference_on_irregular_words(rng):
    old = np.sort(rng.uniform(0, 60, 200))
    new = np.arange(-5.0, 65.0, 2.0) + 1.0
    data = rng.normal(size=(200, 3))
    np.testing.assert_allclose(
        timing.lanczos_resample(data, old, new), reference_lanczosinterp2d(data, old, new), atol=1e-12
    )


def test_delay_known_answers():
    X = np.array([[1.0], [2.0], [3.0], [4.0]])
    np.testing.assert_array_equal(timing.delay(X, (1, 2)), [[0, 0], [1, 0], [2, 1], [3, 2]])
    np.testing.assert_array_equal(timing.delay(X, (-1, 0)), [[2, 1], [3, 2], [4, 3], [0, 4]])
    Y = np.arange(6.0).reshape(3, 2)
    np.testing.assert_array_equal(timing.delay(Y, (1,)), [[0, 0], [0, 1], [2, 3]])
    assert timing.delay(Y, (5,)).sum() == 0


def test_trim_and_zscore():
    X = np.arange(10.0)[:, None]
    np.testing.assert_array_equal(timing.trim(X, 2)[:, 0], np.arange(2.0, 8.0))
    with pytest.raises(ValueError, match="cannot trim"):
        timing.trim(X, 5)
    Z = timing.zscore(np.array([[1.0, 3.0], [3.0, 3.0]]))
    np.testing.assert_array_equal(Z, [[-1, 0], [1, 0]])
