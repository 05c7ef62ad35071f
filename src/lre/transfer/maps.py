"""Transfer maps between feature spaces (paper section 3, in closed form).

On the transfer corpus, split by whole documents into train and test:

1. **Universal input** ``U(S)``: the static embeddings of the current word and the previous
   ``context_words - 1`` words, concatenated (zeros before the document start).
2. **Encoders**, one per target space t (z-scored with train statistics): the bottlenecked
   linear encoder-decoder ``U -> k -> t`` trained for squared error with a ridge penalty
   is reduced-rank ridge regression. Fit ridge ``U -> t`` (penalty by grouped CV), take
   the top-k principal directions ``V_k`` of its fitted values (on the ridge-augmented
   data, which makes the rank-k solution exact for the penalised problem); the encoder is
   ``E_t = B_ridge V_k`` and the latent ``L_t = U E_t``. The decoder half is discarded.
   Option ``mlp``: a small non-linear encoder-decoder trained in torch instead.
3. **Decoders**, for every ordered pair (source s, target t): ridge ``L_s -> t`` (penalty by
   grouped CV on train); on the test words, the per-sample MSE (mean over t's dims). All
   targets share one factorisation per fold of each source latent, stored with the
   encoder. Result: ``mse[t, s, k]`` of shape (n_spaces, n_spaces, n_test_samples).

Beside the paper's method: direct ridge transfer without a bottleneck (test R^2 per pair),
linear CKA and RSA (see :mod:`lre.similarity`).
"""

from __future__ import annotations

import logging

import numpy as np

from ..errors import ConfigError
from . import ridge

log = logging.getLogger(__name__)


# --------------------------------------------------------------------------- split


def split_documents(n_words: dict[str, int], test_fraction: float, n_folds: int, seed: int) -> dict:
    """Split documents into train and test by whole documents, and train into CV folds.

    Documents are taken in a seeded random order; the first ones go to the test set until it
    holds ``test_fraction`` of the words; the rest are dealt to ``n_folds`` folds, each next
    document to the fold with the fewest words so far.

    Returns ``{"test": [...], "train": [...], "fold": {doc: k}}`` (documents in corpus order).
    """
    names = list(n_words)
    if len(names) < n_folds + 1:
        raise ConfigError(
            "transfer.cv_folds",
            f"the transfer corpus has {len(names)} documents; a test set and "
            f"{n_folds} CV folds need at least {n_folds + 1}.",
            fix="use a larger corpus (corpus.path, corpus.max_words) or fewer transfer.cv_folds.",
        )
    order = [names[i] for i in np.random.default_rng(seed).permutation(len(names))]
    total = sum(n_words.values())
    test, acc = set(), 0
    for name in order:
        if acc >= test_fraction * total:
            break
        test.add(name)
        acc += n_words[name]
    rest = [n for n in order if n not in test]
    if len(rest) < n_folds:
        raise ConfigError(
            "transfer.test_fraction",
            f"only {len(rest)} training documents are left for {n_folds} CV folds.",
            fix="lower transfer.test_fraction or transfer.cv_folds.",
        )
    load = np.zeros(n_folds)
    fold = {}
    for name in rest:
        k = int(np.argmin(load))
        fold[name] = k
        load[k] += n_words[name]
    return {"test": [n for n in names if n in test], "train": [n for n in names if n not in test], "fold": fold}


def stack(arrays: dict[str, np.ndarray], docs: list[str]) -> np.ndarray:
    return np.concatenate([arrays[d] for d in docs], axis=0)


def fold_labels(split: dict, lengths: dict[str, int]) -> np.ndarray:
    """The CV fold of every training row."""
    return np.concatenate([np.full(lengths[d], split["fold"][d]) for d in split["train"]])


# --------------------------------------------------------------------------- inputs


def universal_input(static: np.ndarray, context_words: int) -> np.ndarray:
    """``U(S)`` for one document: rows ``[x_i, x_{i-1}, ..., x_{i-c+1}]`` (zeros before the start).

    Parameters
    ----------
    static : array of shape (n_words, d)
    context_words : c

    Returns
    -------
    array of shape (n_words, c * d)
    """
    n, d = static.shape
    out = np.zeros((n, context_words * d), dtype=np.float32)
    for lag in range(context_words):
        out[lag:, lag * d : (lag + 1) * d] = static[: n - lag] if lag < n else 0
    return out


def zscore(train: np.ndarray, test: np.ndarray, name: str, rtol: float = 1e-6):
    """Z-score both sets with the train statistics; constant train columns are dropped.

    Returns ``(train, test, kept)`` as float64 arrays and the boolean mask of kept columns.
    A space whose every column is constant on the train words is refused.
    """
    mu = train.mean(0, dtype=np.float64)
    sd = train.std(0, dtype=np.float64)
    kept = sd > rtol * max(float(np.abs(mu).max(initial=0.0)), 1.0)
    if not kept.any():
        raise ConfigError(
            "transfer.exclude",
            f"space {name!r} is constant on the transfer corpus (zero variance), "
            "so it can neither be predicted nor predict.",
            fix="add it to transfer.exclude.",
        )
    return ((train[:, kept] - mu[kept]) / sd[kept], (test[:, kept] - mu[kept]) / sd[kept], kept)


# --------------------------------------------------------------------------- encoders


def reduced_rank_ridge(U: np.ndarray, Y: np.ndarray, alpha: float, rank: int):
    """The rank-``rank`` minimiser of ``||Y - U B||^2 + alpha ||B||^2`` (intercept unpenalised).

    Ridge ``B`` first; then the top right singular vectors ``V`` of the fitted values on the
    augmented data ``[U; sqrt(alpha) I] B`` (Mukherjee & Zhu 2011); the solution is
    ``B V V^T``. Returns ``(E, V, b)``: the encoder ``E = B V`` (p, r), the decoder ``V^T``
    (r, q) and the intercept ``b`` (q,), with r = min(rank, rank of the fit); the rank-r
    prediction is ``U E V^T + b``.
    """
    f = ridge.factorize(U)
    B, _ = ridge.fit(f, U, Y, alpha)
    # Gram of the augmented fitted values: B^T (Uc^T Uc + alpha I) B, with Uc the centred U
    SVB = f.s[:, None] * (f.Vt @ B)
    G = SVB.T @ SVB + alpha * (B.T @ B)
    evals, evecs = np.linalg.eigh(G)
    order = np.argsort(evals)[::-1]
    r = int(min(rank, np.sum(evals > 1e-12 * max(evals.max(), 1e-300))))
    V = evecs[:, order[:r]]
    E = B @ V
    return E, V, np.asarray(Y, dtype=np.float64).mean(0) - f.mean @ E @ V.T


def fit_linear_encoder(U_tr, Y_tr, folds, alphas, rank: int) -> dict:
    """Closed-form bottleneck encoder: penalty by grouped CV on the full-rank ridge."""
    sse = ridge.cv_errors(U_tr, Y_tr, folds, alphas)
    alpha, a = ridge.best_alpha(sse, alphas)
    E, V, b = reduced_rank_ridge(U_tr, Y_tr, alpha, rank)
    mean = U_tr.mean(0)
    return {"encode": lambda U: (U - mean) @ E, "decoder": V.T, "intercept": b, "alpha": alpha, "cv_sse": sse.sum(1)}


def fit_mlp_encoder(U_tr, Y_tr, folds, rank: int, mlp: dict, seed: int, device: str = "cpu") -> dict:
    """A non-linear encoder ``U -> hidden -> k`` with a linear decoder ``k -> t``, trained
    with Adam on squared error; fold 0 is held out for early stopping."""
    import torch

    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)
    gen = torch.Generator().manual_seed(seed)
    dt = torch.float32
    mean = U_tr.mean(0)
    X = torch.as_tensor(U_tr - mean, dtype=dt)
    Y = torch.as_tensor(Y_tr, dtype=dt)
    va = torch.as_tensor(folds == 0)
    tr = ~va
    p, q, h = X.shape[1], Y.shape[1], int(mlp["hidden"])
    k = int(min(rank, q))
    enc = torch.nn.Sequential(torch.nn.Linear(p, h), torch.nn.GELU(), torch.nn.Linear(h, k)).to(device)
    dec = torch.nn.Linear(k, q).to(device)
    params = list(enc.parameters()) + list(dec.parameters())
    opt = torch.optim.Adam(params, lr=float(mlp["lr"]), weight_decay=float(mlp["weight_decay"]))
    Xtr, Ytr = X[tr].to(device), Y[tr].to(device)
    Xva, Yva = X[va].to(device), Y[va].to(device)
    best, best_state, stale = np.inf, None, 0
    for epoch in range(int(mlp["epochs"])):  # noqa: B007 (the count of epochs run is reported)
        enc.train(), dec.train()
        perm = torch.randperm(len(Xtr), generator=gen).to(device)
        for i in range(0, len(perm), int(mlp["batch_size"])):
            idx = perm[i : i + int(mlp["batch_size"])]
            loss = torch.mean((dec(enc(Xtr[idx])) - Ytr[idx]) ** 2)
            opt.zero_grad()
            loss.backward()
            opt.step()
        enc.eval(), dec.eval()
        with torch.no_grad():
            val = float(torch.mean((dec(enc(Xva)) - Yva) ** 2))
        if val < best - 1e-6:
            best, stale = val, 0
            best_state = (
                [t.detach().clone() for t in enc.state_dict().values()],
                [t.detach().clone() for t in dec.state_dict().values()],
            )
        else:
            stale += 1
            if stale >= int(mlp["patience"]):
                break
    if best_state is None:
        raise ConfigError(
            "transfer.mlp.lr",
            "the MLP encoder's validation error was never finite (training diverged).",
            fix="lower transfer.mlp.lr.",
        )
    for module, state in zip((enc, dec), best_state):
        module.load_state_dict(dict(zip(module.state_dict().keys(), state)))

    def encode(U):
        with torch.no_grad():
            return enc(torch.as_tensor(U - mean, dtype=dt).to(device)).double().cpu().numpy()

    return {"encode": encode, "alpha": float("nan"), "epochs": epoch + 1, "val_mse": best}


def encode_space(U_tr, U_te, Y_tr, Y_te, folds, settings: dict, seed: int, device: str = "cpu") -> dict:
    """Fit the encoder of one target space and describe its latent.

    Returns latents (train/test), the factorisations the decoders reuse (all train rows and
    each fold's training rows), and how well the bottleneck itself reconstructs the target.
    """
    if settings["method"] == "bottleneck":
        enc = fit_linear_encoder(U_tr, Y_tr, folds, settings["alphas"], settings["bottleneck"])
    elif settings["method"] == "mlp":
        enc = fit_mlp_encoder(U_tr, Y_tr, folds, settings["bottleneck"], settings["mlp"], seed, device)
    else:
        raise ConfigError(
            "transfer.methods", f"unknown encoder method {settings['method']!r}.", fix="use bottleneck or mlp."
        )
    L_tr, L_te = enc["encode"](U_tr), enc["encode"](U_te)
    # how well U -> k -> t reconstructs the target (a refit decoder on the latent)
    f = ridge.factorize(L_tr)
    W, b = ridge.fit(f, L_tr, Y_tr, 1e-8)
    r2 = {
        name: 1.0 - float(np.sum((Y - (L @ W + b)) ** 2) / np.sum((Y - Y.mean(0)) ** 2))
        for name, L, Y in (("train_r2", L_tr, Y_tr), ("test_r2", L_te, Y_te))
    }
    return {
        "latent_train": L_tr,
        "latent_test": L_te,
        "factor": f,
        "fold_factors": ridge.fold_factors(L_tr, folds),
        "alpha": enc["alpha"],
        "rank": L_tr.shape[1],
        **r2,
    }


# --------------------------------------------------------------------------- decoders


def decode_target(Y_tr, Y_te, folds, alphas, sources: list[dict]) -> dict:
    """Ridge decoders from every source latent to one target; per-sample test MSE.

    Parameters
    ----------
    Y_tr, Y_te : z-scored target, arrays of shape (n_train, q) and (n_test, q)
    folds : CV fold of each training row
    alphas : penalty grid
    sources : per source, a dict with ``latent_train``, ``latent_test``, ``factor`` and
        ``fold_factors`` (as written by :func:`encode_space`)

    Returns
    -------
    dict with ``mse`` (n_sources, n_test), ``alpha`` (n_sources,), ``r2`` (n_sources,)
    """
    n_te = Y_te.shape[0]
    mse = np.zeros((len(sources), n_te))
    alpha = np.zeros(len(sources))
    r2 = np.zeros(len(sources))
    sst = np.sum((Y_te - Y_te.mean(0)) ** 2)
    for i, src in enumerate(sources):
        sse = ridge.cv_errors(src["latent_train"], Y_tr, folds, alphas, factors=src["fold_factors"])
        alpha[i], _ = ridge.best_alpha(sse, alphas)
        W, b = ridge.fit(src["factor"], src["latent_train"], Y_tr, alpha[i])
        err = Y_te - (src["latent_test"] @ W + b)
        mse[i] = np.mean(err * err, axis=1)
        r2[i] = 1.0 - mse[i].sum() * Y_te.shape[1] / sst
    return {"mse": mse, "alpha": alpha, "r2": r2}


def direct_transfer(X_tr, X_te, folds, alphas, targets: list[tuple[np.ndarray, np.ndarray]]) -> dict:
    """Ridge from one full source space to every target (no bottleneck); test R^2 each.

    Everything that depends on the source alone is computed once and shared by all targets.
    Returns ``r2`` (n_targets,) and ``alpha`` (n_targets,).
    """
    design = ridge.CVDesign(X_tr, folds)
    full = ridge.factorize(X_tr)
    r2 = np.zeros(len(targets))
    alpha = np.zeros(len(targets))
    for j, (Y_tr, Y_te) in enumerate(targets):
        sse = design.errors(Y_tr, alphas)
        alpha[j], _ = ridge.best_alpha(sse, alphas)
        W, b = ridge.fit(full, X_tr, Y_tr, alpha[j])
        err = Y_te - (X_te @ W + b)
        r2[j] = 1.0 - np.sum(err * err) / np.sum((Y_te - Y_te.mean(0)) ** 2)
    return {"r2": r2, "alpha": alpha}
