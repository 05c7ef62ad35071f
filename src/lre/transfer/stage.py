"""The transfer stage's commands: the split and universal input, one encoder per space, one
decoder job per target (per-sample MSE of every source), the gather into ``mse[t, s, k]``,
direct transfer and the CKA/RSA similarities. Each reads and writes HDF5 files (atomically)
and records provenance; the maths lives in :mod:`.maps`, :mod:`.ridge` and
:mod:`.similarity`, the file names in :mod:`lre.paths`.
"""

from __future__ import annotations

import hashlib
import json
import logging

import numpy as np
from tqdm import tqdm

from .. import io, provenance
from ..commands import Arg, Command
from ..errors import ConfigError, InputError
from ..features import model_of
from ..features.store import FeatureFile
from . import maps, ridge, similarity

log = logging.getLogger(__name__)


def read_split(path, job: dict | None = None) -> dict:
    """The transfer split; with ``job``, it must be the one that job expects."""
    with open(path, encoding="utf-8") as f:
        split = json.load(f)
    if job is not None:
        provenance.check_hash(path, split.get("provenance"), job.get("expects", {}).get("split"), job, "transfer split")
    return split


def load_space(path, space: str, split: dict, job: dict):
    """A space's corpus features, z-scored with the train statistics.

    The file must record the features job that ``job`` expects (see :mod:`lre.provenance`).

    Returns
    -------
    train : array of shape (n_train_words, dim_kept), the split's train documents stacked
    test : array of shape (n_test_words, dim_kept)
    lengths : {document: n_words}
    """
    arrays = FeatureFile(path, expect=provenance.expected_features(job, model_of(space))).load(space, "corpus")
    missing = [d for d in split["train"] + split["test"] if d not in arrays]
    if missing:
        raise InputError(
            path,
            f"lacks corpus documents {missing[:3]} of the transfer split.",
            fix="re-run the features stage with the current corpus.",
        )
    tr, te, _ = maps.zscore(maps.stack(arrays, split["train"]), maps.stack(arrays, split["test"]), space)
    return tr, te, {d: len(a) for d, a in arrays.items()}


def _folds(split, lengths):
    return maps.fold_labels(split, lengths)


# --------------------------------------------------------------------------- prepare


def run_prepare(job: dict, features, split, universal) -> None:
    """Split the corpus documents and build the universal input from the static space.

    Parameters
    ----------
    features : the feature file of the universal (static) space
    split, universal : the split JSON and the universal-input HDF5 file to write
    """
    split_out, universal_out = split, universal
    tcfg = job["transfer"]
    space = tcfg["universal"]["space"]
    arrays = FeatureFile(features, expect=provenance.expected_features(job, model_of(space))).load(space, "corpus")
    split = maps.split_documents(
        {d: len(a) for d, a in arrays.items()}, tcfg["test_fraction"], tcfg["cv_folds"], job["seed"]
    )
    split["provenance"] = io.provenance(job)
    cw = tcfg["universal"]["context_words"]
    U = {d: maps.universal_input(a, cw) for d, a in arrays.items()}
    with io.h5_atomic(universal_out) as f:
        io.h5_set_json(f, "provenance", split["provenance"])
        f["train"] = maps.stack(U, split["train"])
        f["test"] = maps.stack(U, split["test"])
    io.write_json(split_out, split)
    n_tr = sum(len(arrays[d]) for d in split["train"])
    log.info(
        "split: %d train documents (%d words), %d test documents (%d words); U has %d dims",
        len(split["train"]),
        n_tr,
        len(split["test"]),
        sum(len(arrays[d]) for d in split["test"]),
        U[split["train"][0]].shape[1],
    )


# --------------------------------------------------------------------------- encoders


def run_encode(job: dict, split, universal, features: dict, out: dict, runtime: dict | None = None) -> None:
    """Fit the encoder of every space of ``job["spaces"]`` and write its latents.

    Parameters
    ----------
    split, universal : the transfer split and universal input of ``transfer-prepare``
    features : space -> its feature file
    out : space -> the encoder file to write
    runtime : ``{"device": ...}``; only the MLP encoder uses a device
    """
    universal_path = universal
    device = "cpu"
    if job["transfer"]["method"] == "mlp":
        from ..features.hf import pick_device

        device = pick_device((runtime or {}).get("device", "cpu"))
    split = read_split(split, job)
    with io.h5_open(universal_path) as f:
        provenance.check_h5(universal_path, f, job.get("expects", {}).get("split"), job, "universal input")
        U_tr, U_te = f["train"][()].astype(np.float64), f["test"][()].astype(np.float64)
    for space in job["spaces"]:
        encode_one(job, space, split, U_tr, U_te, features[space], out[space], device)


def encode_one(job: dict, space: str, split: dict, U_tr, U_te, features, out, device: str) -> None:
    """One space's encoder, from the universal input ``U_tr`` (n_train, p) and ``U_te``."""
    Y_tr, Y_te, lengths = load_space(features, space, split, job)
    folds = _folds(split, lengths)
    k = job["transfer"]["bottleneck"]
    if Y_tr.shape[1] < k:
        raise ConfigError(
            "transfer.bottleneck",
            f"{k} latent dimensions are wider than space {space!r}, which varies in only {Y_tr.shape[1]} "
            "dimension(s) on the transfer corpus.",
            fix=f"list {space} in transfer.targets_only (decoded, not encoded) or transfer.exclude, or lower "
            f"transfer.bottleneck to {Y_tr.shape[1]}.",
        )
    enc = maps.encode_space(U_tr, U_te, Y_tr, Y_te, folds, job["transfer"], job["seed"], device)
    if enc["rank"] < k:
        log.warning(
            "space %s has %d dimensions, but the universal input predicts only %d independent directions of it "
            "(its columns are linearly dependent, e.g. probabilities that sum to 1): its latent has %d, not %d, "
            "dimensions.",
            space,
            Y_tr.shape[1],
            enc["rank"],
            enc["rank"],
            k,
        )
    log.info(
        "encoder %s (%s): rank %d, alpha %s, bottleneck R^2 train %.3f test %.3f",
        space,
        job["transfer"]["method"],
        enc["rank"],
        enc["alpha"],
        enc["train_r2"],
        enc["test_r2"],
    )
    with io.h5_atomic(out) as f:
        io.h5_set_json(f, "provenance", io.provenance(job))
        f["latent_train"] = enc["latent_train"]
        f["latent_test"] = enc["latent_test"]
        for k, v in enc["factor"].to_dict().items():
            f[f"factor/{k}"] = v
        for i, fac in enumerate(enc["fold_factors"]):
            for k, v in fac.to_dict().items():
                f[f"fold{i}/{k}"] = v
        for key in ("alpha", "rank", "train_r2", "test_r2"):
            f.attrs[key] = enc[key]
        f.attrs["n_folds"] = len(enc["fold_factors"])


def read_encoder(path, expected_hash: str | None = None, job: dict | None = None) -> dict:
    """An encoder file: ``latent_train`` (n_train, k), ``latent_test`` (n_test, k), the
    factorisation of the train latent (``factor``) and of each fold's training rows
    (``fold_factors``), and its attributes; with ``job``, it must record ``expected_hash``."""
    with io.h5_open(path) as f:
        provenance.expect_kind(path, provenance.h5_provenance(f), "transfer-encode", "encoder file")
        provenance.check_h5(path, f, expected_hash, job or {}, "encoder")
        return {
            "latent_train": f["latent_train"][()],
            "latent_test": f["latent_test"][()],
            "factor": ridge.Factor.from_dict(f["factor"]),
            "fold_factors": [ridge.Factor.from_dict(f[f"fold{i}"]) for i in range(int(f.attrs["n_folds"]))],
            "attrs": dict(f.attrs),
        }


# --------------------------------------------------------------------------- decoders


def run_decode(job: dict, split, features: dict, encoders: dict, out: dict) -> None:
    """Decode every target of ``job["spaces"]`` from every source latent.

    Parameters
    ----------
    features : target space -> its feature file
    encoders : source space -> its encoder file (all sources, loaded once for all targets)
    out : target space -> the decoder file to write: the per-sample test MSE of every source,
        shape (n_sources, n_test)
    """
    split = read_split(split, job)
    sources = list(encoders)
    expected = job.get("expects", {}).get("encoders", {})
    loaded = [
        read_encoder(encoders[s], expected.get(s), job) for s in tqdm(sources, desc="load latents", mininterval=5)
    ]
    for target in job["spaces"]:
        Y_tr, Y_te, lengths = load_space(features[target], target, split, job)
        folds = _folds(split, lengths)
        res = maps.decode_target(Y_tr, Y_te, folds, job["transfer"]["alphas"], loaded)
        best = sources[int(np.argmax(res["r2"]))]
        log.info(
            "target %s: best source %s (R^2 %.3f); own latent R^2 %.3f",
            target,
            best,
            res["r2"].max(),
            res["r2"][sources.index(target)] if target in sources else float("nan"),
        )
        with io.h5_atomic(out[target]) as f:
            io.h5_set_json(f, "provenance", io.provenance(job, space=target))
            io.h5_write_strings(f, "sources", sources)
            f["mse"] = res["mse"].astype(np.float32)
            f["alpha"] = res["alpha"]
            f["r2"] = res["r2"]


def run_gather(job: dict, inputs: dict, out) -> None:
    """Stack every target's decoder results (``inputs``: target -> decoder file) into
    ``mse[t, s, k]`` of shape (n_targets, n_sources, n_test) (the sources: ``job["sources"]``)."""
    decoders = inputs
    spaces = list(decoders)
    sources = job.get("sources", spaces)
    mse, alpha, r2 = [], [], []
    for t in spaces:
        with io.h5_open(decoders[t]) as f:
            provenance.check_h5(decoders[t], f, job.get("expects", {}).get("decoders", {}).get(t), job, "decoder")
            got = io.h5_read_strings(f["sources"])
            if got != sources:
                raise InputError(
                    decoders[t],
                    f"decodes from sources {got[:3]}..., not the current ones.",
                    fix="re-run the transfer stage.",
                )
            mse.append(f["mse"][()])
            alpha.append(f["alpha"][()])
            r2.append(f["r2"][()])
    M = np.stack(mse)
    seen = {}  # identical columns hash alike: one pass instead of comparing every pair
    for i in range(len(sources)):
        j = seen.setdefault(hashlib.sha256(np.ascontiguousarray(M[:, i]).tobytes()).hexdigest(), i)
        if j != i and np.array_equal(M[:, i], M[:, j]):
            raise InputError(
                decoders[spaces[0]],
                f"sources {sources[j]!r} and {sources[i]!r} decode every target with exactly the same errors: "
                "their features are copies of each other (up to a linear map), and the embedding would count "
                "them twice.",
                fix="remove one of the two models, or add one space to transfer.exclude.",
            )
    with io.h5_atomic(out) as f:
        io.h5_set_json(f, "provenance", io.provenance(job))
        io.h5_write_strings(f, "spaces", spaces)
        io.h5_write_strings(f, "sources", sources)
        f["mse"] = np.stack(mse)
        f["alpha"] = np.stack(alpha)
        f["r2"] = np.stack(r2)
    log.info("mse tensor %s", M.shape)


def read_labelled(path, name: str, job: dict | None = None, expected_hash: str | None = None):
    """``(rows, columns, matrix)`` of a matrix file: its rows are the targets, its columns the
    sources (the same spaces unless some are decoded but not encoded)."""
    rows, M = read_matrix(path, name, job, expected_hash)
    with io.h5_open(path) as f:
        cols = io.h5_read_strings(f["sources"]) if "sources" in f else rows
    return rows, (cols if M.shape[1] == len(cols) else rows), M


def read_matrix(path, name: str, job: dict | None = None, expected_hash: str | None = None):
    """``(spaces, matrix)`` from a gathered transfer/similarity file (or the embedding file):
    the dataset ``name``, of shape (n_spaces, n_spaces) or, for ``mse``, (n_spaces, n_spaces,
    n_test); with ``job``, the file must record ``expected_hash``."""
    with io.h5_open(path) as f:
        provenance.expect_kind(
            path,
            provenance.h5_provenance(f),
            ("transfer-gather", "direct-gather", "similarity", "embedding"),
            "matrix file",
        )
        if job is not None:
            provenance.check_h5(path, f, expected_hash, job, "matrix file")
        return io.h5_read_strings(f["spaces"]), f[name][()]


# --------------------------------------------------------------------------- direct and similarity


def run_direct(job: dict, split, features: dict, targets: dict, out: dict) -> None:
    """Ridge from each full source space of ``job["spaces"]`` (``features``: space -> feature
    file) to every target (``targets``: space -> feature file); writes per source (``out``:
    space -> file) the test R^2 per target, shape (n_targets,)."""
    split = read_split(split, job)
    ys = None
    for source in job["spaces"]:
        X_tr, X_te, lengths = load_space(features[source], source, split, job)
        folds = _folds(split, lengths)
        if ys is None:  # the targets, loaded once for all sources of the job
            ys = [load_space(path, t, split, job)[:2] for t, path in targets.items()]
        res = maps.direct_transfer(X_tr, X_te, folds, job["transfer"]["alphas"], ys)
        with io.h5_atomic(out[source]) as f:
            io.h5_set_json(f, "provenance", io.provenance(job, space=source))
            io.h5_write_strings(f, "targets", list(targets))
            f["r2"] = res["r2"]
            f["alpha"] = res["alpha"]


def run_direct_gather(job: dict, inputs: dict, out) -> None:
    """``r2[t, s]``, shape (n_targets, n_sources): test R^2 of target t from source s
    (``inputs``: source -> direct-transfer file; the targets are ``job["spaces"]``)."""
    files = inputs
    sources = list(files)
    targets = job.get("spaces", sources)
    cols = []
    for s in sources:
        with io.h5_open(files[s]) as f:
            provenance.check_h5(
                files[s], f, job.get("expects", {}).get("direct", {}).get(s), job, "direct-transfer file"
            )
            if io.h5_read_strings(f["targets"]) != targets:
                raise InputError(files[s], "was computed for other target spaces.", fix="re-run the transfer stage.")
            cols.append(f["r2"][()])
    with io.h5_atomic(out) as f:
        io.h5_set_json(f, "provenance", io.provenance(job))
        io.h5_write_strings(f, "spaces", targets)
        io.h5_write_strings(f, "sources", sources)
        f["r2"] = np.stack(cols, axis=1)


def run_similarity(job: dict, split, features: dict, out) -> None:
    """Linear CKA and RSA between every pair of spaces on the transfer test words
    (``features``: space -> feature file); matrices of shape (n_spaces, n_spaces)."""
    spaces = features
    split = read_split(split, job)
    names = list(spaces)
    tests = [load_space(path, s, split, job)[1] for s, path in tqdm(spaces.items(), desc="load", mininterval=5)]
    methods = job["methods"]
    with io.h5_atomic(out) as f:
        io.h5_set_json(f, "provenance", io.provenance(job))
        io.h5_write_strings(f, "spaces", names)
        if "cka" in methods:
            f["cka"] = similarity.linear_cka(tests)
        if "rsa" in methods:
            f["rsa"] = similarity.rsa(tests, job["transfer"]["rsa_words"], job["seed"])


_SPLIT = Arg("--split", "transfer split JSON (transfer-prepare)")

COMMANDS = (
    Command(
        "transfer-prepare",
        "split the corpus and build the universal input U(S)",
        run_prepare,
        (
            Arg("--features", "feature file of the universal (static) space"),
            Arg("--split", "split JSON to write"),
            Arg("--universal", "universal-input HDF5 to write"),
        ),
    ),
    Command(
        "transfer-encode",
        "fit the bottleneck encoders of one model's spaces",
        run_encode,
        (
            _SPLIT,
            Arg("--universal", "universal input (transfer-prepare)"),
            Arg("--features", "feature files, one per space of the job", many=True, per="spaces"),
            Arg("--out", "encoder files to write, one per space of the job", many=True, per="spaces"),
        ),
        runtime=True,
    ),
    Command(
        "transfer-decode",
        "decode one model's spaces from every source latent (per-sample MSE)",
        run_decode,
        (
            _SPLIT,
            Arg("--features", "feature files, one per target space of the job", many=True, per="spaces"),
            Arg("--encoders", "encoder files, one per source of the job", many=True, per="sources"),
            Arg("--out", "decoder files to write, one per target space of the job", many=True, per="spaces"),
        ),
    ),
    Command(
        "transfer-gather",
        "stack all targets into mse[t, s, k]",
        run_gather,
        (
            Arg("--inputs", "decoder files, one per space of the job", many=True, per="spaces"),
            Arg("--out", "error tensor file to write"),
        ),
    ),
    Command(
        "transfer-direct",
        "ridge from each full space of one model to every target (R^2)",
        run_direct,
        (
            _SPLIT,
            Arg("--features", "feature files, one per source space of the job", many=True, per="spaces"),
            Arg("--targets", "feature files, one per target of the job", many=True, per="targets"),
            Arg("--out", "direct-transfer files to write, one per source space of the job", many=True, per="spaces"),
        ),
    ),
    Command(
        "direct-gather",
        "stack every source into r2[t, s]",
        run_direct_gather,
        (
            Arg("--inputs", "direct-transfer files, one per source of the job", many=True, per="sources"),
            Arg("--out", "file to write"),
        ),
    ),
    Command(
        "similarity",
        "linear CKA and RSA between every pair of spaces",
        run_similarity,
        (
            _SPLIT,
            Arg("--features", "feature files, one per space of the job", many=True, per="spaces"),
            Arg("--out", "similarity file to write"),
        ),
    ),
)
