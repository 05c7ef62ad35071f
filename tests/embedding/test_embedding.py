"""Tournament, affinity and weighted MDS: hand-worked answers and an independent reference."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from lre import embedding
from lre.errors import LreError


def hand_mse():
    """Target 0 with sources ranked 1 (best) < 2 < 3 on most samples; targets 1..3 mirror it."""
    K = 4
    mse = np.ones((4, 4, K))
    mse[0] = [
        [9, 9, 9, 9],  # source 0 = the target itself (forced out by the 1e-4 rule)
        [1, 1, 1, 4],  # source 1: best on 3 of 4 samples
        [2, 2, 2, 2],
        [3, 3, 3, 3],
    ]
    for t in (1, 2, 3):
        mse[t] = np.random.default_rng(t).uniform(1, 2, size=(4, K))
    return mse


def test_tournament_hand_worked():
    W = embedding.tournament(hand_mse())[0]
    e = 1e-4
    # source 1 vs 2: 1 loses to 2 on one sample (4 > 2) and wins or ties on three
    assert W[1, 2] == pytest.approx(1 / (3 + e))
    assert W[2, 1] == pytest.approx(3 / (1 + e))
    assert W[1, 3] == pytest.approx(1 / (3 + e))
    assert W[3, 1] == pytest.approx(3 / (1 + e))
    assert W[2, 3] == pytest.approx(0.0)
    assert W[3, 2] == pytest.approx(4 / (0 + e))
    np.testing.assert_array_equal(W[1:, 0], e)  # W[t, i, t] = 1e-4
    np.testing.assert_array_equal(np.diag(W), 0)  # W[t, i, i] = 0
    assert W[0, 1] == pytest.approx(4 / e)  # the target's own latent loses to everyone here


def test_affinity_gives_the_hand_worked_ranking():
    A = embedding.affinity(hand_mse())
    assert A[0, 0] == 0.1
    assert A[0, 1] > A[0, 2] > A[0, 3] > 0
    # before the diagonal is set, each row is a distribution
    for t in range(4):
        row = A[t].copy()
        row[t] = 0
        assert 0.5 < row.sum() <= 1.0 + 1e-9


def test_affinity_is_a_perron_eigenvector():
    mse = np.random.default_rng(0).uniform(size=(5, 5, 50))
    W = embedding.tournament(mse)
    A = embedding.affinity(mse)
    for t in range(5):
        P = W[t].T / np.abs(W[t].T).sum(0)[:, None]
        v = A[t].copy()
        # undo the diagonal convention and check P v = v up to the normalisation
        lam, vecs = np.linalg.eig(P)
        ref = np.real(vecs[:, np.argmin(abs(lam - 1))])
        ref = ref / ref.sum()
        mask = np.arange(5) != t
        np.testing.assert_allclose(v[mask], ref[mask], rtol=1e-9)
        assert np.all(ref > 0)


def classical_mds(rows, n):
    """Textbook classical MDS with the paper's distance, for reference."""
    D = 1 - np.corrcoef(rows)
    N = len(D)
    J = np.eye(N) - np.ones((N, N)) / N
    B = -0.5 * J @ D @ J
    evals, evecs = np.linalg.eigh(B)
    order = np.argsort(evals)[::-1]
    return evecs[:, order[:n]], evals[order]


@settings(max_examples=60, deadline=None)
@given(st.integers(3, 7), st.lists(st.integers(1, 4), min_size=7, max_size=7), st.integers(0, 10_000))
def test_weighted_mds_equals_mds_on_replicated_rows(S, wlist, seed):
    w = np.array(wlist[:S], dtype=float)
    A = np.random.default_rng(seed).uniform(size=(S, S + 2))
    n = 2
    coords, evals = embedding.weighted_mds(A, w, n)
    rep = np.repeat(np.arange(S), w.astype(int))
    ref_vecs, ref_evals = classical_mds(A[rep], n)
    gaps = np.abs(np.diff(ref_evals[: n + 1]))
    assume(np.all(gaps > 1e-6 * max(1.0, abs(ref_evals[0]))))
    np.testing.assert_allclose(evals[:n], ref_evals[:n], atol=1e-9)
    mine = coords[rep]
    for d in range(n):
        sign = np.sign(mine[:, d] @ ref_vecs[:, d])
        np.testing.assert_allclose(sign * mine[:, d], ref_vecs[:, d], atol=1e-7)
    np.testing.assert_allclose((w[:, None] * coords**2).sum(0), 1.0)  # unit weighted norm


def test_mds_recovers_a_one_dimensional_order():
    # rows on a line in R^12: after centring/normalising they lie on an arc (< 180 degrees), and
    # 1 - corr is half the squared chord, so classical MDS lays the arc out in order
    rng = np.random.default_rng(1)
    a, b = rng.normal(size=12), rng.normal(size=12)
    rows = a[None, :] + np.linspace(-0.5, 0.5, 8)[:, None] * b[None, :]
    coords, evals = embedding.weighted_mds(rows, np.ones(8), 2)
    c = coords[:, 0] * np.sign(coords[-1, 0])
    assert np.all(np.diff(c) > 0)
    ev = embedding.explained_variance(evals)
    assert ev[0] > 0.6 and ev.sum() == pytest.approx(1.0)


def test_anchor_and_weights():
    coords = np.array([[1.0, -2.0], [-1.0, 2.0]])
    np.testing.assert_array_equal(embedding.anchor_signs(coords, 1), [[-1, -2], [1, 2]])
    spaces = [{"name": "a.L0", "group": "a"}, {"name": "a.L1", "group": "a"}, {"name": "g.vec", "group": "g.vec"}]
    np.testing.assert_allclose(embedding.space_weights(spaces, "group"), [0.5, 0.5, 1.0])
    np.testing.assert_allclose(embedding.space_weights(spaces, "equal"), [1, 1, 1])
    with pytest.raises(LreError, match="no weight for"):
        embedding.space_weights(spaces, {"a.L0": 1.0})


def test_weights_must_be_positive():
    with pytest.raises(LreError, match="positive"):
        embedding.weighted_mds(np.eye(3), [1, 0, 1], 2)


def test_layer_order():
    spaces = [{"name": f"m.L{k}", "model": "m", "output": f"L{k}"} for k in (2, 0, 1, 3)] + [
        {"name": "g.vec", "model": "g", "output": "vec"}
    ]
    coords = np.array([[0.2, 1.0], [0.0, 0.0], [0.1, 2.0], [0.3, -1.0], [9.0, 9.0]])
    rows = embedding.layer_order(coords, spaces, n_dims=2)
    assert [(r["model"], r["dimension"], r["monotonic"]) for r in rows] == [("m", 1, True), ("m", 2, False)]
    assert rows[0]["spearman"] == pytest.approx(1.0)


def test_more_components_than_the_spaces_allow_are_cut_with_a_warning(rng, caplog):
    S, K = 5, 60
    mse = rng.uniform(size=(S, S, K))
    spaces = [{"name": f"m{i}.L0", "group": f"m{i}", "model": f"m{i}", "output": "L0"} for i in range(S)]
    res = embedding.embed(mse, spaces, "group", 10, "m0.L0")
    assert res["coords"].shape == (S, S - 1)
    assert "embedding.n_components is 10, but 5 spaces give at most 4 dimensions" in caplog.text
