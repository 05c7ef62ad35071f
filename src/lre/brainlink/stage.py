"""The brain-link stage: per subject, the embedding's prediction of encoding performance, the
principal-dimension map, their NIfTI maps and figures; the table of all spaces; and (demo)
the check of the brain link against the planted truth.

Voxels are tested when their encoding is reliable, judged on the training stories alone: some
linked space predicts the voxel in cross-validation (its cross-validated R^2 reaches
``brainlink.min_cv_r2``). The test story, whose performance profile the brain link scores,
plays no part in choosing the voxels. The brain-link null then asks whether the embedding
explains *which* spaces predict a voxel well; in unreliable voxels the performance profile
is only the spaces' shared noise.
"""

from __future__ import annotations

import csv
import io as _io
import logging

import numpy as np

from .. import io, plots, provenance
from ..commands import Arg, Command
from ..datasets import geometry, synthetic
from ..encoding.models import fdr_bh
from ..encoding.selection import cv_r2
from ..encoding.stage import read_scores, read_summary
from ..errors import InputError
from . import flatmap
from .link import link, logo_predict

log = logging.getLogger(__name__)


def load_embedding(path, job: dict | None = None) -> tuple[list[str], np.ndarray]:
    """``(spaces, coords)`` of an embedding file, coords of shape (n_spaces, n_components)."""
    with io.h5_open(path) as f:
        provenance.expect_kind(path, provenance.h5_provenance(f), "embedding", "embedding file")
        if job is not None:
            provenance.check_h5(path, f, job.get("expects", {}).get("embedding"), job, "embedding")
        return io.h5_read_strings(f["spaces"]), f["coords"][()]


def performance(scores: dict, names: list[str], job: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
    """``R`` of shape (n_spaces, n_voxels), the test r of each space (``scores``: space ->
    result file, in the order of ``names``), and each voxel's best cross-validated R^2 over
    the spaces, shape (n_voxels,), from the training stories alone
    (:func:`lre.encoding.selection.cv_r2` of each result's ``cv_scores``)."""
    R, CV = [], []
    for n in names:
        s = read_scores(scores[n], job, n)
        R.append(s["scores"])
        CV.append(cv_r2(s["cv_scores"]))
    return np.array(R, dtype=np.float64), np.max(CV, axis=0)


def reliable_by(min_cv_r2: float) -> str:
    """How the reliable voxels are chosen, in words (titles and tables)."""
    return f"best cross-validated R^2 >= {min_cv_r2:g}"


def run(
    job: dict,
    embedding,
    scores: dict,
    out,
    scatter,
    score_nii=None,
    principal_nii=None,
    score_png=None,
    principal_png=None,
) -> None:
    """The brain link of one subject.

    Parameters
    ----------
    embedding : the embedding file
    scores : space -> encoding result file
    out : the brain-link HDF5 file to write (per voxel: scores, baselines, p-values,
        significance, reliability, principal-dimension value)
    scatter : the figure of predicted vs actual performance
    score_nii, principal_nii, score_png, principal_png : the maps and their figures (with
        ``dataset.mask``, NIfTI; on the surface, the ``hemi-L`` file of a GIfTI pair)
    """
    embedding_path = embedding
    outputs = {
        "h5": out,
        "scatter_png": scatter,
        "score_nii": score_nii,
        "principal_nii": principal_nii,
        "score_png": score_png,
        "principal_png": principal_png,
    }
    if geometry.has_maps(job["dataset"]) and None in outputs.values():
        raise InputError(
            None,
            "with dataset.mask (or surface runs), the brain link writes maps and their figures.",
            fix="pass --score-nii, --principal-nii, --score-png and --principal-png.",
        )
    bcfg, subject = job["brainlink"], job["subject"]
    emb_names, coords = load_embedding(embedding_path, job)
    groups = {s["name"]: s["group"] for s in job["spaces"]}
    names = [n for n in emb_names if n in scores]
    if len(names) < 4:
        raise InputError(
            embedding_path,
            f"only {len(names)} embedded spaces have encoding results for {subject}.",
            fix="encode the embedded spaces (encoding.spaces) or embed the encoded ones.",
        )
    C = coords[[emb_names.index(n) for n in names]]
    if C.shape[1] < bcfg["n_dims"]:
        raise InputError(
            embedding_path,
            f"has {C.shape[1]} dimensions, fewer than brainlink.n_dims = {bcfg['n_dims']} (an embedding of "
            f"{len(emb_names)} spaces keeps at most {len(emb_names) - 1}).",
            fix=f"set brainlink.n_dims to at most {C.shape[1]}, or embed more spaces.",
        )
    n_dims = bcfg["n_dims"]
    R, best_cv = performance(scores, names, job)
    # voxels the encoding left out (dataset.nonfinite: drop) have no scores: linked as zeros,
    # never reliable, and NaN in every per-voxel result
    dropped = ~np.isfinite(R).all(0)
    R[:, dropped], best_cv[dropped] = 0.0, -np.inf
    reliable = best_cv >= bcfg["min_cv_r2"]
    res = link(
        C,
        R,
        [groups[n] for n in names],
        n_dims,
        bcfg["permutations"],
        [job["seed"], 7],
        -np.inf,
        bcfg["fdr_q"],
    )
    for values in res.values():
        if values.dtype.kind == "f":
            values[..., dropped] = np.nan
    significant = np.zeros_like(reliable)
    if reliable.any():
        significant[reliable] = fdr_bh(res["pvalues"][reliable], bcfg["fdr_q"])
    principal = np.where(reliable, res["principal"], np.nan)
    with io.h5_atomic(outputs["h5"]) as f:
        io.h5_set_json(f, "provenance", io.provenance(job))
        io.h5_write_strings(f, "spaces", names)
        for key in (
            "score",
            "group_mean",
            "random_embedding",
            "score_loso",
            "group_mean_loso",
            "random_embedding_loso",
            "pvalues",
        ):
            f[key] = res[key].astype(np.float32)
        f["significant"] = significant
        f["reliable"] = reliable
        f["principal"] = principal.astype(np.float32)
        f.attrs.update(
            {
                "n_dims": n_dims,
                "permutations": bcfg["permutations"],
                "n_reliable": int(reliable.sum()),
                "n_significant": int(significant.sum()),
                "reliable_by": reliable_by(bcfg["min_cv_r2"]),
            }
        )
    if not reliable.any():
        log.warning(
            "%s: NO RELIABLE VOXEL. No voxel is predicted in cross-validation on the training stories by any of "
            "the %d linked spaces (%s, of %d voxels), so the brain link and the principal map are empty (NaN) for "
            "this subject. The encoding models predict nothing reliably: check the responses, the stories and "
            "encoding.delays, or lower brainlink.min_cv_r2.",
            subject,
            len(names),
            reliable_by(bcfg["min_cv_r2"]),
            R.shape[1],
        )
    log.info(
        "%s: %d reliable voxels; embedding score %.3f (group mean %.3f, random embedding %.3f); %d significant",
        subject,
        int(reliable.sum()),
        _mean(res["score"], reliable),
        _mean(res["group_mean"], reliable),
        _mean(res["random_embedding"], reliable),
        int(significant.sum()),
    )
    geom = geometry.of(job["dataset"], subject)
    if geom is not None:
        maps = {"score": np.where(reliable, res["score"], np.nan), "principal": principal}
        for key, values in maps.items():
            geom.save(outputs[f"{key}_nii"], values, f"lre brain link {key}")
        n_rel = int(reliable.sum())
        unit = "vertices" if geom.kind == "surface" else "voxels"
        for key, title in (
            ("principal", "principal-dimension map (correlation of performance with dim 1)"),
            ("score", "how well the embedding predicts each voxel's performance across spaces"),
        ):
            fig = plots.map_figure(
                geom, maps[key], f"{subject}: {title}; {n_rel} reliable {unit} of {R.shape[1]}", symmetric=True
            )
            plots.save(fig, outputs[f"{key}_png"])
    pred = logo_predict(C[:, :n_dims], R, [groups[n] for n in names])
    fig = plots.brainlink_scatter(
        R, pred, names, [groups[n] for n in names], res, reliable, subject, reliable_by(bcfg["min_cv_r2"])
    )
    plots.save(fig, outputs["scatter_png"])


def _mean(x, mask) -> float:
    return float(np.mean(x[mask])) if mask.any() else float("nan")


def brainlink_summary(job: dict, brainlinks: dict, out) -> None:
    """One row per subject (``brainlinks``: subject -> brain-link file): voxels, reliable and
    significant voxels, the mean scores over the reliable voxels, and a status that says
    loudly when a subject has no reliable voxel."""
    header = [
        "subject",
        "voxels",
        "reliable_voxels",
        "significant_voxels",
        "mean_score",
        "mean_group_mean",
        "mean_random_embedding",
        "principal_voxels",
        "reliable_by",
        "status",
    ]
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for subject, path in brainlinks.items():
        with io.h5_open(path) as f:
            provenance.check_h5(
                path, f, job.get("expects", {}).get("brainlinks", {}).get(subject), job, "brain-link file"
            )
            rel = f["reliable"][()]
            scores = {k: f[k][()] for k in ("score", "group_mean", "random_embedding")}
            principal = f["principal"][()]
            sig = f["significant"][()]
            how = str(f.attrs.get("reliable_by", ""))
        means = [
            f"{_mean(scores[k], rel):.4f}" if rel.any() else "" for k in ("score", "group_mean", "random_embedding")
        ]
        status = "ok" if rel.any() else "NO RELIABLE VOXEL (the brain link is empty for this subject)"
        w.writerow(
            [subject, len(rel), int(rel.sum()), int(sig.sum()), *means, int(np.isfinite(principal).sum()), how, status]
        )
    io.write_text(out, buf.getvalue())


def run_space_table(
    job: dict,
    out,
    embedding=None,
    summaries: dict | None = None,
    brainlinks: dict | None = None,
    brainlink_summary_out=None,
    partitions: dict | None = None,
) -> None:
    """One row per space of the config, with what the run's analyses give it; written to the
    CSV ``out``.

    Parameters
    ----------
    embedding : the embedding file (the embedding analysis): the first three coordinates
        (``dim1``..``dim3``)
    summaries : subject -> encoding summary (the encoding analysis): per subject the mean
        test r of the space's top voxels, chosen apart from the test data (``top_r_<subject>``),
        how they were chosen (``top_voxels_<subject>``, e.g. "200 voxels by noise ceiling"),
        the mean test r over all voxels (``mean_r_<subject>``) and the mean noise ceiling of the
        top voxels (``top_ceiling_<subject>``; ``none (1 repeat)`` for a subject without one)
    brainlinks : subject -> brain-link file (the brainlink analysis): also writes the
        per-subject brain-link table ``brainlink_summary_out`` (:func:`brainlink_summary`)
    partitions : subject -> variance-partitioning table (the partition analysis): per subject
        each tested space's unique variance beyond the baseline over its top voxels
        (``unique_r2_<subject>``; empty for untested spaces)
    """
    summaries = summaries or {}
    if brainlinks:
        brainlink_summary(job, brainlinks, brainlink_summary_out)
    emb_names, coords = load_embedding(embedding, job) if embedding else ([], np.zeros((0, 0)))
    top, how, means, ceilings = {}, {}, {}, {}
    for subject, path in summaries.items():
        summary = read_summary(path, job, subject)
        top[subject] = {r["space"]: r[summary.top] for r in summary.rows}
        means[subject] = {r["space"]: r["mean_r"] for r in summary.rows}
        how[subject] = summary.selection
        values, status = summary.ceilings()
        # a number where there is a ceiling; where there is none, the words that say why
        ceilings[subject] = {
            r["space"]: f"{values[r['space']]:.5f}" if r["space"] in values else status for r in summary.rows
        }
    unique = {}
    for subject, path in (partitions or {}).items():
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if not rows or "unique_top" not in rows[0]:
            raise InputError(
                path, "is not a variance-partitioning table (no unique_top column).", fix="rerun partition."
            )
        want = job.get("expects", {}).get("partitions", {}).get(subject)
        if want and any(r.get("config_hash") != want for r in rows):
            provenance.refuse(path, f"was made by another config than this one's partitioning ({want}).")
        unique[subject] = {r["space"]: r["unique_top"] for r in rows}
    n_dims = min(3, coords.shape[1]) if len(emb_names) else 0
    header = (
        ["space", "model", "family", "group", "layer"]
        + [f"dim{d + 1}" for d in range(n_dims)]
        + [f"top_r_{s}" for s in summaries]
        + [f"top_voxels_{s}" for s in summaries]
        + [f"mean_r_{s}" for s in summaries]
        + [f"top_ceiling_{s}" for s in summaries]
        + [f"unique_r2_{s}" for s in unique]
    )
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for sp in job["spaces"]:
        name, output = sp["name"], sp["output"]
        layer = output[1:] if output.startswith("L") and output[1:].isdigit() else ""
        c = coords[emb_names.index(name)][:n_dims] if name in emb_names else [""] * n_dims
        encoded = {s: name in top[s] for s in summaries}
        w.writerow(
            [name, sp["model"], sp["family"], sp["group"], layer]
            + [f"{v:.5f}" if v != "" else "" for v in c]
            + [top[s].get(name, "") for s in summaries]
            + [how[s] if encoded[s] else "" for s in summaries]
            + [means[s].get(name, "") for s in summaries]
            + [ceilings[s].get(name, "") for s in summaries]
            + [unique[s].get(name, "") for s in unique]
        )
    io.write_text(out, buf.getvalue())


def run_check(job: dict, truth, brainlink, scores: dict, out) -> None:
    """(Demo) the brain link (file ``brainlink``) against the planted ``truth``; ``scores``:
    space -> encoding result file; the check (JSON) is written to ``out``."""
    from scipy.stats import spearmanr

    truth_path, brainlink_path, out_json = truth, brainlink, out
    truth = synthetic.read_truth(truth_path, job)
    with io.h5_open(brainlink_path) as f:
        provenance.check_h5(brainlink_path, f, job.get("expects", {}).get("brainlink"), job, "brain-link file")
        b = {k: f[k][()] for k in f if k != "spaces" and k != "provenance"}
    sig = truth["is_signal"].astype(bool)
    ok = sig & np.isfinite(b["principal"])
    rho = float(spearmanr(b["principal"][ok], truth["gradient"][ok])[0]) if ok.sum() > 2 else float("nan")
    # voxels predicted better in cross-validation (training stories: apart from the test story)
    best_cv = np.max([cv_r2(read_scores(path, job, name)["cv_scores"]) for name, path in scores.items()], axis=0)
    by_threshold = {}
    for th in (0.05, 0.1, 0.2):
        sel = ok & (best_cv >= th)
        if sel.sum() > 2:
            by_threshold[str(th)] = {
                "voxels": int(sel.sum()),
                "spearman": float(spearmanr(b["principal"][sel], truth["gradient"][sel])[0]),
            }
    out = {
        "subject": job["subject"],
        "principal_vs_gradient_spearman": rho,
        "principal_voxels": int(ok.sum()),
        "principal_vs_gradient_by_best_cv_r2": by_threshold,
        "signal_voxels": int(sig.sum()),
        "mean_score_signal": {k: float(np.mean(b[k][sig])) for k in ("score", "group_mean", "random_embedding")},
        "mean_score_signal_leave_one_space_out": {
            k: float(np.mean(b[f"{k}_loso"][sig])) for k in ("score", "group_mean", "random_embedding")
        },
        "noise_voxels_significant_share": float(np.mean(b["significant"][~sig])) if (~sig).any() else 0.0,
        "signal_voxels_significant_share": float(np.mean(b["significant"][sig])),
    }
    io.write_json(out_json, out)
    log.info(
        "%s: principal map vs planted gradient Spearman %.3f; scores %s; noise-voxel false positives %.3f",
        job["subject"],
        rho,
        out["mean_score_signal"],
        out["noise_voxels_significant_share"],
    )


def run_embedding_viewer(job: dict, embedding, out, summaries: dict | None = None) -> None:
    """The embedding's interactive 3-D view (``out``, self-contained HTML); with ``summaries``
    (subject -> encoding summary), each space's mean top-voxel r over the subjects."""
    from .. import viewer

    names, coords = load_embedding(embedding, job)
    with io.h5_open(embedding) as f:
        explained = f["explained_variance"][()] if "explained_variance" in f else None
    by_name = {s["name"]: s for s in job["spaces"]}
    missing = [n for n in names if n not in by_name]
    if missing:
        provenance.refuse(embedding, f"embeds {missing}, which this config does not list.")
    performance, chosen = None, set()
    if summaries:
        values: dict[str, list[float]] = {}
        for subject, path in summaries.items():
            summary = read_summary(path, job, subject)
            chosen.add(summary.selection)
            for space, r in summary.headline().items():
                values.setdefault(space, []).append(r)
        performance = {k: float(np.mean(v)) for k, v in values.items()}
    viewer.embedding_html(
        coords,
        [by_name[n] for n in names if n in by_name],
        out,
        f"language representation embedding ({job['method']}): {len(names)} spaces",
        explained=explained,
        performance=performance,
        performance_label=f"mean test r of {' / '.join(sorted(chosen))}" if chosen else "",
    )
    log.info("%s: %d spaces in 3-D%s", out, len(names), ", with encoding performance" if performance else "")


def run_interactive_maps(job: dict, scores: dict, out: dict, brainlink=None, surface: dict | None = None) -> None:
    """One subject's interactive maps (``out``: map -> HTML file, slices of a volume or both
    hemispheres of surface data; ``surface``: map -> HTML on fsaverage5, for MNI-space
    volumes): each voxel's best test r over the encoded spaces
    (``scores``: space -> result file) and, with the subject's ``brainlink`` file, the
    principal-dimension map and the brain-link score."""
    from .. import viewer

    subject, dcfg = job["subject"], job["dataset"]
    geom = geometry.of(dcfg, subject)
    values = {}
    if brainlink:
        with io.h5_open(brainlink) as f:
            provenance.check_h5(brainlink, f, job.get("expects", {}).get("brainlink"), job, "brain-link file")
            # as in the NIfTI maps: the score where the voxel is reliable (empty elsewhere)
            values = {"principal": f["principal"][()], "score": np.where(f["reliable"][()], f["score"][()], np.nan)}
    missing = [kind for kind in out if kind != "best_r" and kind not in values]
    if missing:
        raise InputError(None, f"the maps {missing} come from the brain link.", fix="pass --brainlink.")
    values["best_r"] = np.max([read_scores(path, job, name)["scores"] for name, path in scores.items()], axis=0)
    titles = {
        "principal": f"{subject}: principal-dimension map",
        "score": f"{subject}: brain-link score",
        "best_r": f"{subject}: best test r of {len(scores)} spaces",
    }
    for kind, path in out.items():
        img = geom.image(values[kind])
        symmetric = kind != "best_r"
        viewer.map_html(img, path, titles[kind], symmetric=symmetric)
        if surface and surface.get(kind):
            viewer.map_html(img, surface[kind], titles[kind], surface=True, symmetric=symmetric)
    log.info("%s: %d interactive maps%s", subject, len(out), " (volume and surface)" if surface else "")


def run_flatmap(job: dict, brainlink, principal, score) -> None:
    """Flatmaps (PNG) of the principal-dimension and score maps of one subject's brain-link file."""
    flatmap.run(job, brainlink, {"principal": principal, "score": score})


COMMANDS = (
    Command(
        "brainlink",
        "the embedding predicts each voxel's performance; principal-dimension map",
        run,
        (
            Arg("--embedding", "embedding file"),
            Arg("--scores", "result files, one per space of the job", many=True, per="spaces"),
            Arg("--out", "brain-link HDF5 file to write"),
            Arg("--scatter", "scatter figure to write"),
            Arg("--score-nii", "score map to write (with dataset.mask or surface runs)", required=False),
            Arg("--principal-nii", "principal-dimension map (with dataset.mask or surface runs)", required=False),
            Arg("--score-png", "figure of the score map (with dataset.mask)", required=False),
            Arg("--principal-png", "figure of the principal-dimension map (with dataset.mask)", required=False),
        ),
    ),
    Command(
        "space-table",
        "one row per space: family, layer, coordinates, performance",
        run_space_table,
        (
            Arg("--out", "CSV file to write"),
            Arg("--embedding", "embedding file (the embedding analysis)", required=False),
            Arg(
                "--summaries",
                "encoding summaries, one per subject of the job (the encoding analysis)",
                many=True,
                per="subjects",
                required=False,
            ),
            Arg(
                "--brainlinks",
                "brain-link files, one per subject of the job",
                many=True,
                per="subjects",
                required=False,
            ),
            Arg("--brainlink-summary-out", "per-subject brain-link table to write (with --brainlinks)", required=False),
            Arg(
                "--partitions",
                "variance-partitioning tables, one per subject of the job (partition.spaces)",
                many=True,
                per="subjects",
                required=False,
            ),
        ),
    ),
    Command(
        "brainlink-check",
        "compare the brain link with the planted truth (demo)",
        run_check,
        (
            Arg("--truth", "the subject's planted truth"),
            Arg("--brainlink", "the subject's brain-link file"),
            Arg("--scores", "result files, one per space of the job", many=True, per="spaces"),
            Arg("--out", "JSON file to write"),
        ),
    ),
    Command(
        "embedding-viewer",
        "the embedding's interactive 3-D view (self-contained HTML)",
        run_embedding_viewer,
        (
            Arg("--embedding", "embedding file"),
            Arg("--out", "HTML file to write"),
            Arg(
                "--summaries",
                "encoding summaries, one per subject of the job",
                many=True,
                per="subjects",
                required=False,
            ),
        ),
    ),
    Command(
        "interactive-maps",
        "a subject's interactive brain maps (self-contained HTML)",
        run_interactive_maps,
        (
            Arg("--scores", "encoding results, one per encoded space of the job", many=True, per="spaces"),
            Arg("--out", "HTML files to write, one per map of the job", many=True, per="maps"),
            Arg("--brainlink", "the subject's brain-link file (the brainlink analysis)", required=False),
            Arg(
                "--surface",
                "HTML files on fsaverage5, one per map (MNI-space data)",
                many=True,
                per="maps",
                required=False,
            ),
        ),
    ),
    Command(
        "flatmap",
        "pycortex flatmaps of a subject's brain-link maps",
        run_flatmap,
        (
            Arg("--brainlink", "the subject's brain-link file"),
            Arg("--principal", "PNG of the principal-dimension map to write"),
            Arg("--score", "PNG of the brain-link score map to write"),
        ),
    ),
)
