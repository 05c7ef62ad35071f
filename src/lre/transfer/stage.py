"""The transfer stage's commands: the split and universal input, one encoder per space, one
decoder job per target (per-sample MSE of every source), the gather into ``mse[t, s, k]``,
direct transfer and the CKA/RSA similarities. Each reads and writes HDF5 files (atomically)
and records provenance; the maths lives in :mod:`.maps`, :mod:`.ridge` and
:mod:`.similarity`, the file names in :mod:`lre.paths`.
"""

from __future__ import annotations

import json
import logging

import numpy as np
from tqdm import tqdm

from .. import io, provenance
from ..commands import Arg, Command
from ..errors import InputError
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


def run_encode(job: dict, split, universal, features, out, runtime: dict | None = None) -> None:
    """Fit one target space's encoder (``job["space"]``) and write its latents.

    Parameters
    ----------
    split, universal : the transfer split and universal input of ``transfer-prepare``
    features : the target space's feature file
    out : the encoder file to write
    runtime : ``{"device": ...}``; only the MLP encoder uses a device
    """
    universal_path = universal
    device = "cpu"
    if job["transfer"]["method"] == "mlp":
        from ..features.hf import pick_device

        device = pick_device((runtime or {}).get("device", "cpu"))
    split = read_split(split, job)
    space = job["space"]
    Y_tr, Y_te, lengths = load_space(features, space, split, job)
    folds = _folds(split, lengths)
    h5py = io._h5()
    with h5py.File(universal_path, "r") as f:
        provenance.check_h5(universal_path, f, job.get("expects", {}).get("split"), job, "universal input")
        U_tr, U_te = f["train"][()].astype(np.float64), f["test"][()].astype(np.float64)
    enc = maps.encode_space(U_tr, U_te, Y_tr, Y_te, folds, job["transfer"], job["seed"], device)
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
    h5py = io._h5()
    with h5py.File(path, "r") as f:
        provenance.check_h5(path, f, expected_hash, job or {}, "encoder")
        return {
            "latent_train": f["latent_train"][()],
            "latent_test": f["latent_test"][()],
            "factor": ridge.Factor.from_dict(f["factor"]),
            "fold_factors": [ridge.Factor.from_dict(f[f"fold{i}"]) for i in range(int(f.attrs["n_folds"]))],
            "attrs": dict(f.attrs),
        }


# --------------------------------------------------------------------------- decoders


def run_decode(job: dict, split, features, encoders: dict, out) -> None:
    """Decode one target (``job["space"]``, its feature file ``features``) from every source
    latent; ``encoders`` maps source space -> encoder file. Writes the per-sample test MSE
    of every source, shape (n_sources, n_test), to ``out``."""
    split = read_split(split, job)
    target = job["space"]
    Y_tr, Y_te, lengths = load_space(features, target, split, job)
    folds = _folds(split, lengths)
    sources = list(encoders)
    expected = job.get("expects", {}).get("encoders", {})
    loaded = [
        read_encoder(encoders[s], expected.get(s), job)
        for s in tqdm(sources, desc=f"{target}: load latents", mininterval=5)
    ]
    res = maps.decode_target(Y_tr, Y_te, folds, job["transfer"]["alphas"], loaded)
    best = sources[int(np.argmax(res["r2"]))]
    log.info(
        "target %s: best source %s (R^2 %.3f); own latent R^2 %.3f",
        target,
        best,
        res["r2"].max(),
        res["r2"][sources.index(target)] if target in sources else float("nan"),
    )
    with io.h5_atomic(out) as f:
        io.h5_set_json(f, "provenance", io.provenance(job))
        io.h5_write_strings(f, "sources", sources)
        f["mse"] = res["mse"].astype(np.float32)
        f["alpha"] = res["alpha"]
        f["r2"] = res["r2"]


def run_gather(job: dict, inputs: dict, out) -> None:
    """Stack every target's decoder results (``inputs``: target -> decoder file) into
    ``mse[t, s, k]`` of shape (n_spaces, n_spaces, n_test)."""
    decoders = inputs
    h5py = io._h5()
    spaces = list(decoders)
    mse, alpha, r2 = [], [], []
    for t in spaces:
        with h5py.File(decoders[t], "r") as f:
            provenance.check_h5(decoders[t], f, job.get("expects", {}).get("decoders", {}).get(t), job, "decoder")
            sources = io.h5_read_strings(f["sources"])
            if sources != spaces:
                raise InputError(
                    decoders[t],
                    f"decodes from sources {sources[:3]}..., not the current spaces.",
                    fix="re-run the transfer stage.",
                )
            mse.append(f["mse"][()])
            alpha.append(f["alpha"][()])
            r2.append(f["r2"][()])
    with io.h5_atomic(out) as f:
        io.h5_set_json(f, "provenance", io.provenance(job))
        io.h5_write_strings(f, "spaces", spaces)
        f["mse"] = np.stack(mse)
        f["alpha"] = np.stack(alpha)
        f["r2"] = np.stack(r2)
    log.info("mse tensor %s", np.stack(mse).shape)


def read_matrix(path, name: str, job: dict | None = None, expected_hash: str | None = None):
    """``(spaces, matrix)`` from a gathered transfer/similarity file (or the embedding file):
    the dataset ``name``, of shape (n_spaces, n_spaces) or, for ``mse``, (n_spaces, n_spaces,
    n_test); with ``job``, the file must record ``expected_hash``."""
    h5py = io._h5()
    with h5py.File(path, "r") as f:
        if job is not None:
            provenance.check_h5(path, f, expected_hash, job, "matrix file")
        return io.h5_read_strings(f["spaces"]), f[name][()]


# --------------------------------------------------------------------------- direct and similarity


def run_direct(job: dict, split, features, targets: dict, out) -> None:
    """Ridge from one full source space (``features``) to every target; ``targets`` maps
    space -> feature file. Writes the test R^2 per target, shape (n_targets,)."""
    split = read_split(split, job)
    X_tr, X_te, lengths = load_space(features, job["space"], split, job)
    folds = _folds(split, lengths)
    ys = [load_space(path, t, split, job)[:2] for t, path in targets.items()]
    res = maps.direct_transfer(X_tr, X_te, folds, job["transfer"]["alphas"], ys)
    with io.h5_atomic(out) as f:
        io.h5_set_json(f, "provenance", io.provenance(job))
        io.h5_write_strings(f, "targets", list(targets))
        f["r2"] = res["r2"]
        f["alpha"] = res["alpha"]


def run_direct_gather(job: dict, inputs: dict, out) -> None:
    """``r2[t, s]``, shape (n_spaces, n_spaces): test R^2 of target t from source s
    (``inputs``: source -> direct-transfer file)."""
    sources = inputs
    h5py = io._h5()
    spaces = list(sources)
    cols = []
    for s in spaces:
        with h5py.File(sources[s], "r") as f:
            provenance.check_h5(
                sources[s], f, job.get("expects", {}).get("direct", {}).get(s), job, "direct-transfer file"
            )
            if io.h5_read_strings(f["targets"]) != spaces:
                raise InputError(sources[s], "was computed for other target spaces.", fix="re-run the transfer stage.")
            cols.append(f["r2"][()])
    with io.h5_atomic(out) as f:
        io.h5_set_json(f, "provenance", io.provenance(job))
        io.h5_write_strings(f, "spaces", spaces)
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
        "fit one target space's bottleneck encoder",
        run_encode,
        (
            _SPLIT,
            Arg("--universal", "universal input (transfer-prepare)"),
            Arg("--features", "feature file of the space"),
            Arg("--out", "encoder file to write"),
        ),
        runtime=True,
    ),
    Command(
        "transfer-decode",
        "decode one target from every source latent (per-sample MSE)",
        run_decode,
        (
            _SPLIT,
            Arg("--features", "feature file of the target space"),
            Arg("--encoders", "encoder files, one per source of the job", many=True, per="sources"),
            Arg("--out", "decoder file to write"),
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
        "ridge from one full source space to every target (R^2)",
        run_direct,
        (
            _SPLIT,
            Arg("--features", "feature file of the source space"),
            Arg("--targets", "feature files, one per target of the job", many=True, per="targets"),
            Arg("--out", "direct-transfer file to write"),
        ),
    ),
    Command(
        "direct-gather",
        "stack every source into r2[t, s]",
        run_direct_gather,
        (
            Arg("--inputs", "direct-transfer files, one per space of the job", many=True, per="spaces"),
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
