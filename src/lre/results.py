"""Read a run's outputs (for notebooks and scripts): ``Results("results")``.

Every method reads files under the results folder only; nothing is recomputed.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np

from . import io
from .errors import InputError
from .paths import Layout


def _csv(path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        raise InputError(path, "does not exist.", fix="run the pipeline first (snakemake --cores all).")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


#: the file, under a results folder, naming the corpus root its run read (when apart)
CORPUS_POINTER = "corpus_root.json"


def record_corpus_root(results, corpus_root) -> None:
    """Note in ``results`` where its corpus side lives (called at the start of a run)."""
    results, corpus_root = Path(results), Path(corpus_root)
    if results.resolve() == corpus_root.resolve():
        (results / CORPUS_POINTER).unlink(missing_ok=True)
        return
    io.write_json(results / CORPUS_POINTER, {"corpus_results": str(corpus_root.resolve())})


def recorded_corpus_root(results) -> Path | None:
    path = Path(results) / CORPUS_POINTER
    if not path.exists():
        return None
    return Path(json.loads(path.read_text(encoding="utf-8"))["corpus_results"])


class Results:
    """The outputs of one run, by stage.

    ``corpus``: the corpus root (``corpus_results``) when it is apart from the results
    folder; by default the one the run recorded in ``corpus_root.json``, else ``root``.
    """

    def __init__(self, root="results", corpus=None):
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError(self.root, "is not a folder of results.", fix="point Results() at the run's results/.")
        if corpus is None:
            corpus = recorded_corpus_root(self.root) or self.root
        self.corpus_root = Path(corpus)
        if not self.corpus_root.is_dir():
            raise InputError(
                self.corpus_root,
                "is not a folder (the corpus root of these results).",
                fix="pass Results(root, corpus=...) the run's corpus_results folder.",
            )
        self.layout = Layout(self.root, self.corpus_root)

    def path(self, name: str, **wildcards) -> Path:
        """The path of a named output (see :data:`lre.paths.TEMPLATES`)."""
        return Path(self.layout.path(name, **wildcards))

    # ------------------------------------------------------------------ spaces and embedding

    def spaces(self) -> list[dict]:
        """The table of all spaces (family, layer, coordinates, performance per subject)."""
        return _csv(self.path("space_table"))

    def features_summary(self) -> list[dict]:
        return _csv(self.path("features_summary"))

    def embedding(self, method: str = "bottleneck") -> dict:
        """Spaces, tournament, affinity, weights, coordinates, eigenvalues, explained variance.

        ``spaces`` are the embedded spaces (the rows of ``affinity`` and ``coords``);
        ``sources`` the encoded ones (the columns of ``affinity``): the same list unless
        ``transfer.targets_only`` names spaces that are decoded but not encoded."""
        path = self.path("embedding_h5", method=method)
        if not path.exists():
            raise InputError(path, "does not exist.", fix="run the embedding stage.")
        with io.h5_open(path) as f:
            out = {k: f[k][()] for k in f if k not in ("spaces", "sources")}
            out["spaces"] = io.h5_read_strings(f["spaces"])
            out["sources"] = io.h5_read_strings(f["sources"]) if "sources" in f else list(out["spaces"])
        groups = {r["space"]: r["group"] for r in _csv(self.path("embedding_coords", method=method))}
        out["groups"] = [groups[s] for s in out["spaces"]]
        out["layer_order"] = _csv(self.path("embedding_layers", method=method))
        return out

    def space_dicts(self, names: list[str], groups: list[str]) -> list[dict]:
        """Space records as the plotting functions take them."""
        out = []
        for n, g in zip(names, groups):
            model, _, output = n.partition(".")
            out.append({"name": n, "model": model, "output": output, "group": g})
        return out

    def similarities(self) -> dict[str, tuple[list[str], list[str], np.ndarray]]:
        """The comparison matrices that exist: direct R^2, CKA, RSA, each as ``(rows,
        columns, matrix)`` (direct R^2: targets x sources; CKA and RSA: square)."""
        out = {}
        for name, key in (("direct", "r2"), ("similarity", "cka"), ("similarity", "rsa")):
            path = self.path(name)
            if path.exists():
                with io.h5_open(path) as f:
                    if key in f:
                        rows = io.h5_read_strings(f["spaces"])
                        M = f[key][()]
                        cols = io.h5_read_strings(f["sources"]) if M.shape[1] != len(rows) else rows
                        out["direct R^2" if key == "r2" else key.upper()] = (rows, cols, M)
        return out

    def method_agreement(self) -> list[dict]:
        return _csv(self.path("comparison_csv"))

    # ------------------------------------------------------------------ brain

    def subjects(self) -> list[str]:
        folder = Path(self.layout.path("encoding_summary", subject="*")).parent.parent
        return sorted(p.name for p in folder.iterdir() if self.path("encoding_summary", subject=p.name).exists())

    def performance(self, subject: str) -> list[dict]:
        return _csv(self.path("encoding_summary", subject=subject))

    def scores(self, subject: str, space: str) -> dict:
        from .encoding.stage import read_scores

        return read_scores(self.path("encoding", subject=subject, space=space))

    def ceiling(self, subject: str) -> dict:
        """The subject's noise ceiling: ``ceiling`` (per voxel, or None when the test story
        had a single repeat), ``repeats``, ``status`` ("ok" or "single repeat"), ``label``
        ("from 5 repeats" or "none (1 repeat)") and ``note`` (why)."""
        from .encoding.stage import read_ceiling

        path = self.path("noise_ceiling", subject=subject)
        if not path.exists():
            raise InputError(path, "does not exist.", fix="run the pipeline first (snakemake --cores all).")
        return read_ceiling(path)

    def noise_ceiling(self, subject: str) -> np.ndarray | None:
        """The noise ceiling per voxel, shape (n_voxels,); None when there is none (the test
        story had a single repeat, as in the ds003020 derivative: see :meth:`ceiling`)."""
        return self.ceiling(subject)["ceiling"]

    def partition_table(self, subject: str) -> list[dict]:
        """The subject's variance-partitioning table, one row per tested space (empty when the
        run tested none: ``partition.spaces``)."""
        path = self.path("partition_table", subject=subject)
        return _csv(path) if path.exists() else []

    def partition(self, subject: str, space: str) -> dict:
        """One tested space's variance partition per voxel: ``joint_r2``, ``baseline_r2``,
        ``space_r2``, ``unique``, ``shared``, ``joint_scores``, ``penalties`` (voxels x 2:
        baseline, space), ``band_weights``."""
        path = self.path("partition", subject=subject, space=space)
        if not path.exists():
            raise InputError(path, "does not exist.", fix=f"list {space} in partition.spaces and run the pipeline.")
        with io.h5_open(path) as f:
            return {k: f[k][()] for k in f}

    def brainlink(self, subject: str) -> dict:
        with io.h5_open(self.path("brainlink", subject=subject)) as f:
            out = {k: f[k][()] for k in f if k != "spaces"}
            out["spaces"] = io.h5_read_strings(f["spaces"])
        return out

    def map(self, subject: str, kind: str) -> Path | None:
        """Path of a NIfTI map: ``principal``, ``score`` (brain link), ``noise_ceiling``, a
        space's test r, or ``unique:<space>`` (its unique variance, partition). None for the
        noise ceiling of a subject that has none (its file is an empty map that says so)."""
        if kind in ("principal", "score"):
            return self.path(f"brainlink_{kind}_nii", subject=subject)
        if kind.startswith("unique:"):  # a tested space's unique variance (partition)
            return self.path("partition_nii", subject=subject, space=kind[len("unique:") :])
        if kind == "noise_ceiling":
            if self.noise_ceiling(subject) is None:
                return None
            return self.path("noise_ceiling_nii", subject=subject)
        return self.path("encoding_nii", subject=subject, space=kind)

    def checks(self, subject: str) -> dict:
        """(Demo) recovery of the planted truth and the brain-link check."""
        out = {}
        for key, path in (
            ("recovery", self.path("recovery", subject=subject)),
            ("brainlink", self.path("brainlink_check", subject=subject)),
        ):
            if path.exists():
                out[key] = json.loads(path.read_text())
        return out
