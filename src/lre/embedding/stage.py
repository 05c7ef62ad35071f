"""The embedding stage's commands: from ``mse[t, s, k]`` to coordinates, tables and figures;
and the comparison of the transfer-based affinity with direct transfer, CKA and RSA."""

from __future__ import annotations

import csv
import io as _io
import logging

import numpy as np

from .. import io, plots, provenance
from ..commands import Arg, Command
from ..errors import InputError
from ..transfer.stage import read_labelled
from . import mds

log = logging.getLogger(__name__)


def _csv(path, header: list[str], rows) -> None:
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for r in rows:
        w.writerow([f"{v:.6g}" if isinstance(v, (float, np.floating)) else v for v in r])
    io.write_text(path, buf.getvalue())


def matrix_csv(path, M: np.ndarray, names: list[str], corner: str) -> None:
    """A labelled square table of ``M`` (n_spaces, n_spaces): rows and columns named."""
    _csv(path, [corner] + names, ([n] + list(row) for n, row in zip(names, M)))


def run(job: dict, mse, **outputs) -> None:
    """Embed the spaces of the error tensor file ``mse``; write ``outputs`` (paths): ``h5``,
    the tables ``coords``, ``affinity``, ``eigenvalues``, ``layers`` (CSV) and the figures
    ``affinity_png``, ``scree_png``, ``embedding2d_png``, ``embedding3d_png``."""
    mse_path = mse
    with io.h5_open(mse_path) as f:
        provenance.check_h5(mse_path, f, job.get("expects", {}).get("mse"), job, "error tensor")
    names, sources, mse = read_labelled(mse_path, "mse")
    spaces = job["spaces"]
    if names != [s["name"] for s in spaces] or sources != job.get("sources", names):
        raise InputError(mse_path, "holds other spaces than the current config.", fix="re-run the transfer stage.")
    ecfg = job["embedding"]
    res = mds.embed(mse, spaces, ecfg["weights"], ecfg["n_components"], ecfg["anchor"], sources)
    with io.h5_atomic(outputs["h5"]) as f:
        io.h5_set_json(f, "provenance", io.provenance(job))
        io.h5_write_strings(f, "spaces", names)
        io.h5_write_strings(f, "sources", sources)
        for key in ("tournament", "affinity", "weights", "coords", "eigenvalues", "explained_variance"):
            f[key] = res[key]
    n = res["coords"].shape[1]
    groups = {s["name"]: s["group"] for s in spaces}
    _csv(
        outputs["coords"],
        ["space", "group", "weight"] + [f"dim{d + 1}" for d in range(n)],
        ([s, groups[s], w] + list(c) for s, w, c in zip(names, res["weights"], res["coords"])),
    )
    _csv(outputs["affinity"], ["target\\source"] + sources, ([n] + list(row) for n, row in zip(names, res["affinity"])))
    _csv(
        outputs["eigenvalues"],
        ["dimension", "eigenvalue", "explained_variance"],
        ([d + 1, e, v] for d, (e, v) in enumerate(zip(res["eigenvalues"], res["explained_variance"]))),
    )
    order = mds.layer_order(res["coords"], spaces)
    _csv(
        outputs["layers"],
        ["model", "dimension", "n_layers", "spearman", "monotonic"],
        ([r["model"], r["dimension"], r["n_layers"], r["spearman"], r["monotonic"]] for r in order),
    )
    for r in order:
        log.info(
            "layers of %s along dim %d: spearman %.2f%s",
            r["model"],
            r["dimension"],
            r["spearman"],
            " (monotonic)" if r["monotonic"] else "",
        )
    method = job["method"]
    by_name = {s["name"]: s for s in spaces}
    own = np.array([[n == c for c in sources] for n in names])
    fig = plots.matrix(
        res["affinity"],
        spaces,
        f"affinity ({method}): how well each encoded space's latent decodes each target",
        "encoded (source) space",
        "decoded (target) space",
        vmax=np.percentile(res["affinity"][~own], 99),
        xspaces=[by_name[c] for c in sources],
    )
    plots.save(fig, outputs["affinity_png"])
    fig = plots.scree(res["eigenvalues"], res["explained_variance"], f"weighted MDS of the affinity rows ({method})")
    plots.save(fig, outputs["scree_png"])
    ev = res["explained_variance"]
    fig = plots.embedding(
        res["coords"], spaces, f"language representation embedding ({method})", dims=(0, 1), explained=ev
    )
    plots.save(fig, outputs["embedding2d_png"])
    if n >= 3:
        fig = plots.embedding(
            res["coords"], spaces, f"language representation embedding ({method}), 3-D", dims=(0, 1, 2), explained=ev
        )
        plots.save(fig, outputs["embedding3d_png"])
    log.info(
        "embedding (%s): %d spaces; explained variance of the first 3 dims %s",
        method,
        len(names),
        np.round(ev[:3], 3).tolist(),
    )


def run_compare(job: dict, inputs: dict, png, csv) -> None:
    """Compare the similarity structures: each method's space-by-space matrix side by side
    (figure ``png``), and the Spearman correlation between their off-diagonal entries (table
    ``csv``).

    ``inputs`` maps each method label of ``job["inputs"]`` (the embedding's affinity, direct
    R^2, CKA, RSA) to its file; ``job["inputs"]`` names the dataset inside each.
    """
    from scipy.stats import spearmanr  # here: scipy.stats takes a third of a second to import

    out_png, out_csv = png, csv
    datasets = {e["name"]: e["dataset"] for e in job["inputs"]}
    inputs = {label: (path, datasets[label]) for label, path in inputs.items()}
    names = [s["name"] for s in job["spaces"]]
    # compared on the spaces that are both targets and sources (square matrices)
    keep = job.get("sources", names)
    spaces = [s for s in job["spaces"] if s["name"] in keep]
    mats = {}
    for method, (path, key) in inputs.items():
        rows, cols, M = read_labelled(path, key, job, job.get("expects", {}).get("matrices", {}).get(method))
        if rows != names:
            raise InputError(path, "holds other spaces than the current config.", fix="re-run the transfer stage.")
        mats[method] = M[np.ix_([rows.index(n) for n in keep], [cols.index(n) for n in keep])]
    off = ~np.eye(len(keep), dtype=bool)
    methods = list(mats)
    rho = np.array([[spearmanr(mats[a][off], mats[b][off])[0] for b in methods] for a in methods])
    matrix_csv(out_csv, rho, methods, "spearman")
    fig = plots.matrices_side_by_side(
        mats, spaces, "space-by-space structure by method (rows: target, columns: source)"
    )
    plots.save(fig, out_png)
    log.info("spearman between methods:\n%s", rho.round(3))


COMMANDS = (
    Command(
        "embedding",
        "tournament, affinity and weighted MDS, with tables and figures",
        run,
        (
            Arg("--mse", "error tensor file (transfer-gather)"),
            Arg("--h5", "embedding HDF5 file to write"),
            Arg("--coords", "coordinates CSV"),
            Arg("--affinity", "affinity CSV"),
            Arg("--eigenvalues", "eigenvalues CSV"),
            Arg("--layers", "layer-order CSV"),
            Arg("--affinity-png", "affinity figure"),
            Arg("--scree-png", "scree figure"),
            Arg("--embedding2d-png", "2-D embedding figure"),
            Arg("--embedding3d-png", "3-D embedding figure"),
        ),
    ),
    Command(
        "compare",
        "compare affinity, direct R^2, CKA and RSA",
        run_compare,
        (
            Arg("--inputs", "matrix files, one per method label of the job", many=True, per="inputs"),
            Arg("--png", "figure to write"),
            Arg("--csv", "table to write"),
        ),
    ),
)
