"""Transfer maps: ridge against scikit-learn, reduced-rank optimality, and known answers."""

import numpy as np
import pytest

from lre import transfer
from lre.errors import LreError
from lre.transfer import ridge, similarity

ALPHAS = [1e-2, 1e-1, 1, 10, 100, 1000]


def test_ridge_fit_matches_scikit_learn(rng):
    from sklearn.linear_model import Ridge

    X = rng.normal(size=(80, 12)) + 3.0
    Y = X @ rng.normal(size=(12, 4)) + rng.normal(size=(80, 4)) + 1.5
    for alpha in (0.01, 3.0, 300.0):
        W, b = ridge.fit(ridge.factorize(X), X, Y, alpha)
        ref = Ridge(alpha=alpha, fit_intercept=True).fit(X, Y)
        np.testing.assert_allclose(W, ref.coef_.T, atol=1e-9)
        np.testing.assert_allclose(b, ref.intercept_, atol=1e-9)


def test_cv_errors_match_refits_on_each_fold(rng):
    from sklearn.linear_model import Ridge

    X = rng.normal(size=(90, 6))
    Y = X @ rng.normal(size=(6, 3)) + rng.normal(size=(90, 3))
    folds = np.repeat(np.arange(3), 30)
    sse = ridge.cv_errors(X, Y, folds, ALPHAS)
    for a, alpha in enumerate(ALPHAS):
        ref = np.zeros(3)
        for k in range(3):
            m = Ridge(alpha=alpha).fit(X[folds != k], Y[folds != k])
            ref += ((Y[folds == k] - m.predict(X[folds == k])) ** 2).sum(0)
        np.testing.assert_allclose(sse[a], ref, rtol=1e-9)


def test_reduced_rank_ridge_beats_gradient_descent_on_rank_k_maps():
    """The closed-form bottleneck is optimal: no rank-k map found by gradient descent does
    better, on the plain training error (alpha -> 0) and on the penalised objective."""
    import torch

    rng = np.random.default_rng(0)
    n, p, q, k = 200, 10, 6, 2
    U = rng.normal(size=(n, p))
    Y = U @ rng.normal(size=(p, q)) + 0.5 * rng.normal(size=(n, q))
    for alpha in (1e-8, 20.0):
        E, V, b = transfer.reduced_rank_ridge(U, Y, alpha, k)
        mean = U.mean(0)
        Bk = E @ V.T
        ours = np.sum((Y - (U @ Bk + b)) ** 2) + alpha * np.sum(Bk**2)
        best_gd = np.inf
        for seed in range(4):
            torch.manual_seed(seed)
            A = torch.randn(p, k, dtype=torch.float64, requires_grad=True)
            C = torch.randn(k, q, dtype=torch.float64, requires_grad=True)
            c = torch.zeros(q, dtype=torch.float64, requires_grad=True)
            Ut, Yt = torch.as_tensor(U - mean), torch.as_tensor(Y)
            opt = torch.optim.Adam([A, C, c], lr=0.05)
            for _ in range(3000):
                M = A @ C
                loss = torch.sum((Yt - (Ut @ M + c)) ** 2) + alpha * torch.sum(M**2)
                opt.zero_grad()
                loss.backward()
                opt.step()
            best_gd = min(best_gd, float(loss.detach()))
        assert ours <= best_gd + 1e-6 * best_gd
        assert ours >= 0.999 * best_gd  # gradient descent gets close: the comparison is meaningful


def corpus(rng, n_docs=12, words=80):
    """Synthetic word sequences: U is the universal input; spaces are functions of it."""
    docs = {f"d{i:02d}": words + 7 * (i % 3) for i in range(n_docs)}
    split = transfer.split_documents(docs, 0.25, 3, seed=0)
    n_tr = sum(docs[d] for d in split["train"])
    n_te = sum(docs[d] for d in split["test"])
    folds = transfer.fold_labels(split, docs)
    U = rng.normal(size=(n_tr + n_te, 30))
    return U[:n_tr], U[n_tr:], folds


def test_transform_pair_are_each_others_best_sources_and_noise_is_nobodys(rng):
    U_tr, U_te, folds = corpus(rng)
    U = np.vstack([U_tr, U_te])
    G = rng.normal(size=(30, 8))
    Y = np.tanh(U @ G) + 0.3 * rng.normal(size=(len(U), 8))  # a target space
    Z = Y @ rng.normal(size=(8, 8))  # an invertible transform of it
    other = np.tanh(U[:, :10] @ rng.normal(size=(10, 6))) + 0.3 * rng.normal(size=(len(U), 6))
    noise = rng.normal(size=(len(U), 5))  # unrelated to U
    spaces = {"Y": Y, "Z": Z, "other": other, "noise": noise}
    n_tr = len(U_tr)
    settings = {"method": "bottleneck", "alphas": ALPHAS, "bottleneck": 4}
    data, encs = {}, {}
    for name, X in spaces.items():
        tr, te, _ = transfer.zscore(X[:n_tr], X[n_tr:], name)
        data[name] = (tr, te)
        encs[name] = transfer.encode_space(U_tr, U_te, tr, te, folds, settings, seed=0)
    names = list(spaces)
    mse = np.stack([transfer.decode_target(*data[t], folds, ALPHAS, [encs[s] for s in names])["mse"] for t in names])
    mean_mse = mse.mean(-1)  # [target, source]
    iY, iZ, iO, iN = (names.index(n) for n in ("Y", "Z", "other", "noise"))
    assert np.argmin(np.delete(mean_mse[iY], iY)) == np.delete(np.arange(4), iY).tolist().index(iZ)
    assert np.argmin(np.delete(mean_mse[iZ], iZ)) == np.delete(np.arange(4), iZ).tolist().index(iY)
    for t in (iY, iZ, iO):
        # noise is nobody's good source: its latent is still a random projection of U, so it
        # can beat chance, but some real source always does better
        assert mean_mse[t, iN] > np.delete(mean_mse[t], [t, iN]).min()
    # and nothing predicts the noise space
    assert np.all(mean_mse[iN] > 0.97 * np.mean(data["noise"][1] ** 2))
    assert encs["noise"]["test_r2"] < 0.05 and encs["Y"]["test_r2"] > 0.3


def test_direct_transfer_r2(rng):
    U_tr, U_te, folds = corpus(rng)
    X = np.vstack([U_tr, U_te])[:, :8]
    Y = X @ rng.normal(size=(8, 4)) + 0.1 * rng.normal(size=(len(X), 4))
    N = rng.normal(size=(len(X), 3))
    n = len(U_tr)
    zs = [transfer.zscore(A[:n], A[n:], "s")[:2] for A in (X, Y, N)]
    res = transfer.direct_transfer(*zs[0], folds, ALPHAS, [zs[1], zs[2]])
    assert res["r2"][0] > 0.95 and res["r2"][1] < 0.05


def test_split_by_whole_documents():
    n_words = {f"d{i}": 50 + i for i in range(20)}
    a = transfer.split_documents(n_words, 0.2, 4, seed=3)
    b = transfer.split_documents(n_words, 0.2, 4, seed=3)
    assert a == b
    assert not set(a["train"]) & set(a["test"]) and set(a["train"]) | set(a["test"]) == set(n_words)
    share = sum(n_words[d] for d in a["test"]) / sum(n_words.values())
    assert 0.2 <= share < 0.3
    loads = np.bincount([a["fold"][d] for d in a["train"]], weights=[n_words[d] for d in a["train"]])
    assert loads.max() - loads.min() <= max(n_words.values())
    assert transfer.split_documents(n_words, 0.2, 4, seed=4)["test"] != a["test"]
    with pytest.raises(LreError, match="at least 5"):
        transfer.split_documents({"a": 10, "b": 10}, 0.2, 4, seed=0)


def test_universal_input_known_answer():
    x = np.arange(8, dtype=np.float32).reshape(4, 2)
    U = transfer.universal_input(x, 3)
    np.testing.assert_array_equal(U[0], [0, 1, 0, 0, 0, 0])
    np.testing.assert_array_equal(U[2], [4, 5, 2, 3, 0, 1])
    np.testing.assert_array_equal(U[3], [6, 7, 4, 5, 2, 3])


def test_zscore_uses_train_statistics_and_drops_constant_columns():
    tr = np.array([[1.0, 5.0, 2.0], [3.0, 5.0, 4.0]])
    te = np.array([[2.0, 7.0, 0.0]])
    a, b, kept = transfer.zscore(tr, te, "s")
    np.testing.assert_array_equal(kept, [True, False, True])
    np.testing.assert_allclose(a, [[-1, -1], [1, 1]])
    np.testing.assert_allclose(b, [[0, -3]])
    with pytest.raises(LreError, match="transfer.exclude"):
        transfer.zscore(np.ones((4, 2)), np.ones((2, 2)), "lexical.word_rate")


def test_cka_and_rsa_invariances(rng):
    X = rng.normal(size=(300, 6))
    Q, _ = np.linalg.qr(rng.normal(size=(6, 6)))
    spaces = [X, 3 * X @ Q, rng.normal(size=(300, 4))]
    cka = similarity.linear_cka(spaces)
    assert cka[0, 1] == pytest.approx(1.0) and cka[0, 2] < 0.1
    np.testing.assert_allclose(cka, cka.T)
    r = similarity.rsa(spaces, 200, seed=0)
    assert r[0, 1] == pytest.approx(1.0) and abs(r[0, 2]) < 0.1


def test_mlp_encoder_is_deterministic_and_learns(rng):
    U_tr, U_te, folds = corpus(rng)
    U = np.vstack([U_tr, U_te])
    Y = np.tanh(U @ rng.normal(size=(30, 6)) / 3) ** 2
    n = len(U_tr)
    Y_tr, Y_te, _ = transfer.zscore(Y[:n], Y[n:], "y")
    settings = {
        "method": "mlp",
        "bottleneck": 3,
        "alphas": ALPHAS,
        "mlp": {"hidden": 32, "epochs": 40, "patience": 5, "lr": 3e-3, "weight_decay": 0.0, "batch_size": 64},
    }
    a = transfer.encode_space(U_tr, U_te, Y_tr, Y_te, folds, settings, seed=1)
    b = transfer.encode_space(U_tr, U_te, Y_tr, Y_te, folds, settings, seed=1)
    assert a["latent_train"].shape == (n, 3) and a["rank"] == 3
    np.testing.assert_array_equal(a["latent_test"], b["latent_test"])
    assert a["test_r2"] > 0.1


def test_two_sources_with_identical_errors_are_refused_as_copies(tmp_path, rng):
    """Identical latents decode every target with the same errors: one space is a copy."""
    from lre import io
    from lre.errors import InputError
    from lre.transfer import stage

    spaces = ["a.x", "b.x", "c.x"]
    mse = rng.uniform(size=(3, 3, 20))
    mse[:, 2] = mse[:, 1]  # c decodes everything exactly as b
    files = {}
    for t, name in enumerate(spaces):
        files[name] = tmp_path / f"{name}.h5"
        with io.h5_atomic(files[name]) as f:
            io.h5_set_json(f, "provenance", io.provenance({"stage": "transfer-decode", "space": name}))
            io.h5_write_strings(f, "sources", spaces)
            f["mse"], f["alpha"], f["r2"] = mse[t].astype(np.float32), np.ones(3), np.zeros(3)
    with pytest.raises(InputError, match="sources 'b.x' and 'c.x' decode every target with exactly the same errors"):
        stage.run_gather({"stage": "transfer-gather", "spaces": spaces}, files, tmp_path / "mse.h5")
    assert not (tmp_path / "mse.h5").exists()
