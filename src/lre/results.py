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
from .paths import Layout, surface_name


def _csv(path) -> list[dict]:
    path = Path(path)
    if not path.exists():
        raise InputError(path, "does not exist.", fix="run the pipeline first (snakemake --cores all).")
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


#: what each analysis makes (for the sentence that says so when it is missing)
MADE_BY = {
    "embedding": "the embedding analysis (transfer maps and the embedding; needs a corpus section)",
    "encoding": "the encoding analysis (encoding models; needs stimuli and dataset sections)",
    "partition": "the partition analysis (variance partitioning; needs encoding and partition.spaces)",
    "brainlink": "the brainlink analysis (the brain link; needs the embedding and encoding analyses)",
}


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

    def analyses(self) -> list[str]:
        """The analyses whose outputs this run holds (of embedding, encoding, partition,
        brainlink, in that order)."""
        methods = Path(self.layout["embedding_h5"]).parent.parent  # one folder per method
        found = {
            "embedding": [m for m in methods.glob("*") if self.path("embedding_h5", method=m.name).exists()],
            "encoding": self.subjects(),
            "partition": [s for s in self.subjects() if self.path("partition_table", subject=s).exists()],
            "brainlink": [s for s in self.subjects() if self.path("brainlink", subject=s).exists()],
        }
        return [a for a, present in found.items() if present]

    def missing(self, analysis: str) -> str | None:
        """None when this run holds the outputs of ``analysis``; else one sentence that says
        which analysis makes them (for a notebook to print in place of what it would show)."""
        if analysis not in MADE_BY:
            raise ValueError(f"unknown analysis {analysis!r}; known: {sorted(MADE_BY)}")
        if analysis in self.analyses():
            return None
        return (
            f"This run has no {analysis} outputs: they are made by {MADE_BY[analysis]}; "
            f"this run holds {', '.join(self.analyses()) or 'no analysis'}."
        )

    def _need(self, path: Path, analysis: str) -> Path:
        """``path``, which ``analysis`` makes; a clear error when it is not there."""
        if path.exists():
            return path
        ran = self.analyses()
        if analysis in ran:
            raise InputError(path, "does not exist.", fix="check the name, or run the pipeline to the end.")
        raise InputError(
            path,
            f"does not exist: it is made by {MADE_BY[analysis]}, and this run holds the outputs of "
            f"{', '.join(ran) or 'no analysis'} only.",
            fix=f"add {analysis!r} to the config's analyses (with the sections it needs) and run the pipeline.",
        )

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
        path = self._need(self.path("embedding_h5", method=method), "embedding")
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
        self._need(self.path("split"), "embedding")
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
        """How much the similarity methods agree (Spearman of their off-diagonal entries): the
        rows of ``transfer/comparison.csv`` (empty when the run compared a single method)."""
        self._need(self.path("split"), "embedding")
        path = self.path("comparison_csv")
        return _csv(path) if path.exists() else []

    # ------------------------------------------------------------------ brain

    def subjects(self) -> list[str]:
        """The subjects with encoding results (none when the run had no encoding analysis)."""
        folder = Path(self.layout.path("encoding_summary", subject="*")).parent.parent
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if self.path("encoding_summary", subject=p.name).exists())

    def performance(self, subject: str) -> list[dict]:
        """A subject's encoding summary, one row per space (see the encoding stage)."""
        return _csv(self._need(self.path("encoding_summary", subject=subject), "encoding"))

    def scores(self, subject: str, space: str) -> dict:
        """A space's encoding results for a subject, per voxel (:func:`lre.encoding.stage.read_scores`)."""
        from .encoding.stage import read_scores

        return read_scores(self._need(self.path("encoding", subject=subject, space=space), "encoding"))

    def ceiling(self, subject: str) -> dict:
        """The subject's noise ceiling: ``ceiling`` (per voxel, or None when the test story
        had a single repeat), ``repeats``, ``status`` ("ok" or "single repeat"), ``label``
        ("from 5 repeats" or "none (1 repeat)") and ``note`` (why)."""
        from .encoding.stage import read_ceiling

        return read_ceiling(self._need(self.path("noise_ceiling", subject=subject), "encoding"))

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
        """A subject's brain link per voxel: ``score``, the baselines, ``pvalues``,
        ``significant``, ``reliable``, ``principal``, and the linked ``spaces``."""
        with io.h5_open(self._need(self.path("brainlink", subject=subject), "brainlink")) as f:
            out = {k: f[k][()] for k in f if k != "spaces"}
            out["spaces"] = io.h5_read_strings(f["spaces"])
        return out

    def map(self, subject: str, kind: str) -> Path | None:
        """Path of a map: ``principal``, ``score`` (brain link), ``noise_ceiling``, a space's
        test r, or ``unique:<space>`` (its unique variance, partition). A NIfTI file for volume
        data; for surface data the ``hemi-L`` GIfTI file (its ``hemi-R`` sibling lies beside
        it). None for the noise ceiling of a subject that has none (its file is an empty map
        that says so)."""
        if kind in ("principal", "score"):
            return self._map(f"brainlink_{kind}_nii", "brainlink", subject=subject)
        if kind.startswith("unique:"):  # a tested space's unique variance (partition)
            return self._map("partition_nii", "partition", subject=subject, space=kind[len("unique:") :])
        if kind == "noise_ceiling":
            if self.noise_ceiling(subject) is None:
                return None
            return self._map("noise_ceiling_nii", "encoding", subject=subject)
        return self._map("encoding_nii", "encoding", subject=subject, space=kind)

    def _map(self, name: str, analysis: str, **wildcards) -> Path:
        volume = self.path(name, **wildcards)
        on_surface = Path(surface_name(str(volume)))
        return on_surface if on_surface.exists() and not volume.exists() else self._need(volume, analysis)

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
