"""Voxelwise encoding: solvers against himalaya, noise ceiling, permutations, and recovery of a
planted truth end to end (synthetic dataset -> LeBel loader -> fit -> score)."""

import numpy as np
import pytest

from lre import encoding, stimuli, timing
from lre.datasets import lebel2023, synthetic
from lre.errors import ConfigError, LreError
from lre.stimuli.documents import Documents

ALPHAS = np.logspace(-1, 5, 8)


def ridge_data(rng, n=240, p=30, v=60, n_test=60):
    X = rng.normal(size=(n + n_test, p)).astype(np.float32)
    W = rng.normal(size=(p, v)) * rng.uniform(0, 0.3, size=v)
    Y = X @ W + rng.normal(size=(n + n_test, v))
    return X[:n], Y[:n].astype(np.float32), X[n:], np.stack([Y[n:], Y[n:] + 0.1 * rng.normal(size=(n_test, v))])


@pytest.mark.parametrize("p", [30, 400], ids=["primal", "kernel"])
@pytest.mark.parametrize("backend", ["numpy", "torch"])
def test_lean_solver_equals_himalaya(rng, p, backend):
    X, Y, Xt, Yt = ridge_data(rng, p=p)
    cv = encoding.story_folds([60, 60, 60, 60])
    lean = encoding.fit_and_score(X, Y, Xt, Yt, ALPHAS, cv=cv, backend=backend, solver="lean")
    him = encoding.fit_and_score(X, Y, Xt, Yt, ALPHAS, cv=cv, backend=backend, solver="himalaya")
    assert him["solver"] == ("RidgeCV" if p < 240 else "KernelRidgeCV")
    assert np.isclose(lean["alphas"], him["alphas"], rtol=1e-5).mean() == 1.0
    np.testing.assert_allclose(lean["scores"], him["scores"], atol=1e-3)  # himalaya: float32 throughout
    # and the predictions equal a float64 closed-form refit with each voxel's chosen penalty
    Xc, Yc = X.astype(np.float64) - X.mean(0), Y.astype(np.float64) - Y.mean(0)
    for v in range(0, Y.shape[1], 7):
        w = np.linalg.solve(Xc.T @ Xc + lean["alphas"][v] * np.eye(p), Xc.T @ Yc[:, v])
        ref = (Xt - X.mean(0)) @ w + Y[:, v].mean()
        np.testing.assert_allclose(lean["prediction"][:, v], ref, atol=1e-3 * np.abs(ref).max())


def test_lean_solver_target_batches_give_the_same_answer(rng):
    X, Y, Xt, Yt = ridge_data(rng)
    cv = encoding.story_folds([80, 80, 80])
    a = encoding.fit_and_score(X, Y, Xt, Yt, ALPHAS, cv=cv)
    b = encoding.fit_and_score(X, Y, Xt, Yt, ALPHAS, cv=cv, n_targets_batch=7)
    np.testing.assert_array_equal(a["alphas"], b["alphas"])
    np.testing.assert_allclose(a["scores"], b["scores"], atol=1e-6)


def test_fixed_penalty_matches_scikit_learn(rng):
    from sklearn.linear_model import Ridge

    X, Y, Xt, Yt = ridge_data(rng)
    res = encoding.fit_and_score(X, Y, Xt, Yt, [30.0], cv=encoding.story_folds([120, 120]))
    ref = Ridge(alpha=30.0).fit(X.astype(np.float64), Y.astype(np.float64)).predict(Xt)
    np.testing.assert_allclose(res["prediction"], ref, atol=2e-4)


def test_bad_alphas_and_backend():
    with pytest.raises(ConfigError, match="encoding.alphas"):
        encoding.fit_and_score(np.ones((10, 2)), np.ones((10, 1)), np.ones((4, 2)), np.ones((4, 1)), [0.0, 1.0])
    with pytest.raises(ConfigError, match="unknown backend"):
        encoding.set_backend("jax")


def test_story_folds():
    folds = encoding.story_folds([10, 20, 30])
    assert len(folds) == 3
    assert sorted(np.concatenate([va for _, va in folds]).tolist()) == list(range(60))
    assert [va.tolist() for _, va in folds][1] == list(range(10, 30))  # a whole story
    chunked = encoding.story_folds([200], chunk=40, max_folds=5)
    assert len(chunked) == 5 and chunked[0][1].tolist() == list(range(40))


def test_noise_ceiling_known_answer(rng):
    T, V, R = 4000, 6, 4
    sigma = np.array([0.0, 0.5, 1.0, 2.0, 4.0, 1e3])
    s = rng.normal(size=(T, V))
    reps = np.stack([s + sigma * rng.normal(size=(T, V)) for _ in range(R)])
    expect = np.sqrt(1 / (1 + sigma**2 / R))
    np.testing.assert_allclose(encoding.noise_ceiling(reps), expect, atol=0.03)


def test_block_permutation_null_rate_and_power(rng):
    T, V = 300, 2000
    Y = rng.normal(size=(T, V))
    pred = np.convolve(rng.normal(size=T), np.ones(5) / 5, mode="same")[:, None] + 0 * Y  # autocorrelated, unrelated
    p_null = encoding.block_permutation_pvalues(pred, Y, 10, 400, seed=1)
    assert abs((p_null < 0.05).mean() - 0.05) < 0.02
    assert encoding.fdr_bh(p_null, 0.05).mean() <= 0.05
    signal = Y + 2.0 * pred
    p_sig = encoding.block_permutation_pvalues(pred, signal, 10, 400, seed=1)
    assert (p_sig < 0.01).mean() > 0.95
    np.testing.assert_array_equal(p_null, encoding.block_permutation_pvalues(pred, Y, 10, 400, seed=1))


def test_block_permutation_normal_p_values_have_the_exact_moments_and_no_floor(rng):
    """The normal p-value uses the exact mean and variance of the block-permutation
    distribution (Hoeffding): they equal those of all permutations, its null rate matches the
    empirical test's, and unlike the empirical one it resolves far below 1 / (1 + n_perm)."""
    import itertools

    from scipy.special import ndtr

    nb, block = 6, 5
    pred = rng.normal(size=(nb * block, 3))
    Y = rng.normal(size=(nb * block, 3)) + 0.5 * pred
    _, p_normal = encoding.block_permutation_test(pred, Y, block, 10, seed=0)
    # the exact moments from all 720 permutations of the 6 blocks
    Pc, Tc = pred - pred.mean(0), Y - Y.mean(0)
    Pn, Tn = Pc / np.linalg.norm(Pc, axis=0), Tc / np.linalg.norm(Tc, axis=0)
    C = np.einsum("btv,ctv->bcv", Pn.reshape(nb, block, 3), Tn.reshape(nb, block, 3))
    stats = np.array([C[list(perm), np.arange(nb)].sum(0) for perm in itertools.permutations(range(nb))])
    real = C[np.arange(nb), np.arange(nb)].sum(0)
    z = (real - stats.mean(0)) / stats.std(0)
    np.testing.assert_allclose(p_normal, ndtr(-z), rtol=1e-10)
    T, V = 300, 2000
    Y = rng.normal(size=(T, V))
    pred = np.convolve(rng.normal(size=T), np.ones(5) / 5, mode="same")[:, None] + 0 * Y
    p_emp, p_norm = encoding.block_permutation_test(pred, Y, 10, 400, seed=1)
    assert abs((p_norm < 0.05).mean() - (p_emp < 0.05).mean()) < 0.01
    _, p_sig = encoding.block_permutation_test(pred, Y + 2.0 * pred, 10, 400, seed=1)
    assert np.median(p_sig) < 1e-6 < 1 / 401  # below the empirical test's floor


def test_fdr_bh_hand_example():
    p = np.array([0.001, 0.008, 0.039, 0.041, 0.042, 0.06, 0.074, 0.205, 0.212, 0.216])
    # thresholds q*k/m with q = 0.05, m = 10: 0.005, 0.01, 0.015, 0.02, 0.025, ...
    np.testing.assert_array_equal(encoding.fdr_bh(p, 0.05), [True, True] + [False] * 8)
    # q = 0.1: thresholds 0.01 k; the largest k with p_(k) <= 0.01 k is 6 (0.06 <= 0.06), though 3 and 4 fail
    np.testing.assert_array_equal(encoding.fdr_bh(p, 0.1), [True] * 6 + [False] * 4)


# --------------------------------------------------------------------------- planted truth


def fake_stories(rng, n_stories=5, n_words=800):
    """Stories with plausible timing, and a fake 5-layer network whose layers mix more and
    more context; plus word rate and random controls."""
    docs, feats = Documents(), {f"net.L{k}": {} for k in range(5)}
    feats["lex.rate"], feats["rnd.vec"] = {}, {}
    vocab = rng.normal(size=(300, 12))
    mixers = [rng.normal(size=(24, 12)) / np.sqrt(24) for _ in range(4)]
    for i in range(n_stories):
        name = f"s{i}"
        dur = rng.uniform(0.25, 0.55, n_words)
        on = 0.5 + np.concatenate([[0], np.cumsum(dur)[:-1]])
        words = [f"w{j}" for j in rng.integers(0, 300, n_words)]
        end = on[-1] + dur[-1] + 0.5
        n_tr = int(np.ceil((end + 20) / 2.0))
        wt = stimuli.WordTimes(words, on, on + dur)
        docs.stories[name] = stimuli.Story(name, wt, np.arange(n_tr) * 2.0 - 10.0, 2.0)
        h = vocab[[int(w[1:]) for w in words]]
        feats["net.L0"][name] = h
        for k in range(1, 5):
            ctx = np.vstack([np.zeros((1, 12)), h[:-1]])  # the previous word
            h = np.tanh(np.hstack([h, ctx]) @ mixers[k - 1])
            feats[f"net.L{k}"][name] = h
        feats["lex.rate"][name] = np.ones((n_words, 1))
        feats["rnd.vec"][name] = rng.normal(size=(n_words, 8))
    return docs, feats


FMRI = {
    "planted": ["lex.rate", "net.L1", "net.L3"],
    "repeats": 4,
    "noise_fraction": 0.2,
    "gradient_jitter": 0.03,
    "min_weight": 0.1,
    "ceiling": [0.55, 0.95],
    "grid": [8, 10, 6],
    "voxel_size": 3.0,
}
LEBEL = {"key": "data", "tr": 2.0, "start_time": 10.0, "pad": 5, "trim": 5}


def make_synthetic(root, subject, stories, test_story, docs, feats, lebel, seed):
    """One subject of the synthetic dataset under ``root``, in the LeBel layout."""
    from lre import io

    io.write_json(lebel2023.respdict_path(root), synthetic.respdict(docs, stories, lebel))
    return synthetic.make_subject(
        subject,
        stories,
        test_story,
        docs,
        feats,
        FMRI,
        lebel,
        seed,
        {s: lebel2023.response_path(root, subject, s) for s in stories},
        root / "mask.nii.gz",
        root / "truth" / f"{subject}.h5",
        root / "gradient.nii.gz",
    )


def test_a_subject_does_not_depend_on_the_others(tmp_path, rng):
    """Each subject's synthetic data come from its own seed: the same whatever else is made."""
    docs, feats = fake_stories(rng, n_stories=3, n_words=120)
    stories = list(docs.stories)
    make_synthetic(tmp_path / "a", "s01", stories, stories[-1], docs, feats, LEBEL, seed=3)
    make_synthetic(tmp_path / "b", "s02", stories, stories[-1], docs, feats, LEBEL, seed=3)
    make_synthetic(tmp_path / "b", "s01", stories, stories[-1], docs, feats, LEBEL, seed=3)
    one = lebel2023.load_run({"root": str(tmp_path / "a"), "lebel": LEBEL}, "s01", stories[0]).data
    two = lebel2023.load_run({"root": str(tmp_path / "b"), "lebel": LEBEL}, "s01", stories[0]).data
    other = lebel2023.load_run({"root": str(tmp_path / "b"), "lebel": LEBEL}, "s02", stories[0]).data
    np.testing.assert_array_equal(one, two)
    assert one.shape != other.shape or not np.allclose(one, other)


def test_recovery_of_a_planted_truth(tmp_path, rng):
    docs, feats = fake_stories(rng)
    stories = list(docs.stories)
    summary = make_synthetic(tmp_path, "s01", stories, "s4", docs, feats, LEBEL, seed=3)
    assert summary["n_voxels"] > 150
    dcfg = {"root": str(tmp_path), "lebel": LEBEL}
    runs = {s: lebel2023.load_run(dcfg, "s01", s) for s in stories}
    train, test = stories[:-1], stories[-1]
    Y_train = np.vstack([timing.zscore(runs[s].data[0]) for s in train])
    Y_test = np.stack([timing.zscore(r) for r in runs[test].data])
    cv = encoding.story_folds([runs[s].data.shape[1] for s in train])
    names = list(feats)
    scores = []
    for space in names:

        def X(s, space=space):
            return encoding.prepare_story(docs.stories[s].words.times, feats[space][s], runs[s].times, [1, 2, 3, 4])

        res = encoding.fit_and_score(
            np.vstack([X(s) for s in train]), Y_train, X(test), Y_test, np.logspace(0, 5, 8), cv=cv
        )
        scores.append(res["scores"])
    truth = synthetic.read_truth(tmp_path / "truth" / "s01.h5")
    rec = synthetic.recovery(truth, names, np.array(scores), encoding.noise_ceiling(Y_test), ["rnd.vec"])
    assert rec["recovered"] >= 0.9, rec
    assert rec["ceiling_correlation"] >= 0.9, rec
    assert abs(rec["control_mean_r"]["rnd.vec"]) < 0.02, rec


def test_synthetic_dataset_refuses_mismatched_timing(tmp_path, rng):
    docs, feats = fake_stories(rng, n_stories=2, n_words=100)
    with pytest.raises(ConfigError, match="demo.lead_in"):
        make_synthetic(tmp_path, "s01", list(docs.stories), "s1", docs, feats, dict(LEBEL, start_time=12.0), 0)


def test_block_permutation_needs_two_blocks():
    with pytest.raises(LreError, match="at least 20"):
        encoding.block_permutation_pvalues(np.ones((15, 2)), np.ones((15, 2)), 10, 10, 0)


def test_single_short_story_is_refused():
    with pytest.raises(ConfigError, match="encoding.cv_chunk"):
        encoding.story_folds([60], chunk=40)


# --------------------------------------------------------------------------- holding the responses once


def lebel_subject(tmp_path, rng, rows=(30, 25, 35), test_rows=28, repeats=3, n_vox=6):
    """A LeBel tree: training stories of ``rows`` volumes, a test story heard ``repeats`` times."""
    import h5py

    from lre import io

    root = tmp_path / "ds"
    stories = {f"s{k}": n for k, n in enumerate(rows)} | {"test": test_rows}
    io.write_json(lebel2023.respdict_path(root), {s: n + 20 for s, n in stories.items()})
    data = {}
    for story, n in stories.items():
        path = lebel2023.response_path(root, "UTS01", story)
        path.parent.mkdir(parents=True, exist_ok=True)
        shape = (repeats, n, n_vox) if story == "test" else (n, n_vox)
        data[story] = (rng.normal(size=shape) * rng.uniform(1, 5, n_vox) + 3).astype(np.float32)
        with h5py.File(path, "w") as f:
            f["data"] = data[story]
    dcfg = {
        "root": str(root),
        "format": "lebel2023",
        "mask": None,
        "voxel_order": "c",
        "train_stories": [s for s in stories if s != "test"],
        "test_stories": ["test"],
        "lebel": dict(LEBEL),
    }
    return dcfg, data


@pytest.mark.parametrize("release", [False, True])
def test_a_subject_hands_its_responses_over_once_copied(tmp_path, rng, release):
    """The training responses are each story's z-scored rows in one float32 array, the test
    repeats each z-scored; with ``release`` the runs give their data up (kept: their times)."""
    from lre.encoding.stage import Subject

    dcfg, data = lebel_subject(tmp_path, rng)
    subj = Subject(dcfg, "UTS01")
    Y, lengths = subj.train(release=release)
    Y_test = subj.test(release=release)
    want = np.vstack([timing.zscore(data[s]) for s in dcfg["train_stories"]])
    assert Y.dtype == np.float32 and lengths == [30, 25, 35]
    np.testing.assert_allclose(Y, want, atol=1e-6)
    assert Y_test.dtype == np.float32 and Y_test.shape == (3, 28, 6)
    np.testing.assert_allclose(Y_test, np.stack([timing.zscore(r) for r in data["test"]]), atol=1e-6)
    assert all((run.data is None) == release for run in subj.runs.values())
    assert all(len(run.times) == run_rows for run, run_rows in zip(subj.runs.values(), [30, 25, 35, 28]))


def test_an_encoding_jobs_memory_request_follows_its_shapes(tmp_path, rng):
    """The request holds the responses once (4 bytes per value) plus the largest working set;
    a batch of voxels bounds the solver's; it is read from the runs' headers, and is a fixed
    guess while they do not exist yet."""
    from lre import resources
    from lre.datasets import run_shapes

    lengths = [346] * 25 + [350]  # the paper: 9,000 training volumes in 26 stories
    runs = {f"s{k}": (1, n, 90_000) for k, n in enumerate(lengths)} | {"test": (10, 291, 90_000)}
    full = resources.encoding_mem_mb(runs, ["test"], 4096, 10_000)
    held = 4 * 90_000 * (9000 + 10 * 291) / 1e6  # 4,288 MB
    # the solver (its basis, the fold inverses, one batch) and 20 % headroom
    assert held + 3500 < full < held + 5500
    unbatched = resources.encoding_mem_mb(runs, ["test"], 4096, None)
    assert unbatched - full > 10000  # all 90,000 voxels at once: 80,000 more columns of N + m + A n_v
    half = resources.encoding_mem_mb({s: (r, n, 45_000) for s, (r, n, _) in runs.items()}, ["test"], 4096, 10_000)
    assert half < full - held / 2 + 100  # the responses scale with the voxels
    assert resources.encoding_mem_mb(runs, ["test"], 4096, 10_000, n_spaces=4) > full  # the previous prediction
    # every penalty's validation rows are stacked, and each has its fold inverses
    assert resources.encoding_mem_mb(runs, ["test"], 4096, 10_000, n_alphas=20) > full + 1000

    dcfg, _ = lebel_subject(tmp_path, rng)
    assert run_shapes(dcfg, "UTS01") == {"s0": (1, 30, 6), "s1": (1, 25, 6), "s2": (1, 35, 6), "test": (3, 28, 6)}
    job = {
        "subject": "UTS01",
        "spaces": ["rnd.vec"],
        "dataset": dcfg,
        "encoding": {"delays": [1, 2, 3, 4], "alphas": [1.0, 10.0, 100.0], "cv_chunk": 40, "cv_folds": 5},
        "runtime": {"n_targets_batch": None},
    }
    models = {"rnd": {"family": "random", "dim": 8}}
    got = resources.encoding_job_mem_mb(job, models)
    # three training stories: a fold of each, as the solver will make them
    assert got == resources.encoding_mem_mb(run_shapes(dcfg, "UTS01"), ["test"], 32, None, 1, 3, [30, 25, 35])
    missing = dict(job, subject="UTS02")
    assert resources.encoding_job_mem_mb(missing, models) == resources.ENCODING_UNKNOWN_MB
