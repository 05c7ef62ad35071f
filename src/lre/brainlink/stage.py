"""The brain-link stage: per subject, the embedding's prediction of encoding performance, the
principal-dimension map, their NIfTI maps and figures; the table of all spaces; and (demo)
the check of the brain link against the planted truth.

Voxels are tested when their encoding is reliable: the best space's block-permutation
p-value, Bonferroni-corrected for the number of spaces, survives FDR across voxels. The
brain-link null then asks whether the embedding explains *which* spaces predict a voxel
well; in unreliable voxels the performance profile is only the spaces' shared noise.
"""

from __future__ import annotations

import csv
import io as _io
import logging

import numpy as np

from .. import io, plots, provenance
from ..commands import Arg, Command
from ..datasets import synthetic
from ..datasets.volume import load_mask, save_nifti, to_volume
from ..encoding.models import fdr_bh
from ..encoding.stage import read_scores, read_summary, summary_ceilings
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
    result file, in the order of ``names``), and each voxel's best-space p-value, Bonferroni
    corrected over the spaces, shape (n_voxels,).

    The p-values are the block-permutation test's normal approximation
    (:func:`lre.encoding.block_permutation_test`), whose resolution does not depend on the
    number of permutations: the empirical ones stop at ``1 / (1 + permutations)``, which
    times the number of spaces can exceed any level (100 spaces, 1,000 permutations: 0.0999).
    """
    R, P = [], []
    for n in names:
        s = read_scores(scores[n], job, n)
        R.append(s["scores"])
        P.append(s["pvalues_normal"])
    P = np.array(P)
    return np.array(R, dtype=np.float64), np.minimum(P.min(0) * len(names), 1.0)


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
        ``dataset.mask``)
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
    if job["dataset"]["mask"] and None in outputs.values():
        raise InputError(
            None,
            "with dataset.mask, the brain link writes NIfTI maps and their figures.",
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
    R, p_best = performance(scores, names, job)
    reliable = fdr_bh(p_best, bcfg["fdr_q"])
    res = link(
        C,
        R,
        [groups[n] for n in names],
        min(bcfg["n_dims"], C.shape[1]),
        bcfg["permutations"],
        [job["seed"], 7],
        -np.inf,
        bcfg["fdr_q"],
    )
    significant = np.zeros_like(reliable)
    if reliable.any():
        significant[reliable] = fdr_bh(res["pvalues"][reliable], bcfg["fdr_q"])
    principal = np.where(reliable & (R.max(0) >= bcfg["threshold"]), res["principal"], np.nan)
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
                "n_dims": min(bcfg["n_dims"], C.shape[1]),
                "permutations": bcfg["permutations"],
                "n_reliable": int(reliable.sum()),
                "n_significant": int(significant.sum()),
            }
        )
    if not reliable.any():
        log.warning(
            "%s: NO RELIABLE VOXEL. No voxel's best space survives the reliability test (block permutations, "
            "Bonferroni over %d spaces, FDR %g over %d voxels), so the brain link and the principal map are empty "
            "(NaN) for this subject. The encoding models predict nothing reliably: check the responses, the test "
            "story and encoding.delays.",
            subject,
            len(names),
            bcfg["fdr_q"],
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
    mask_t = job["dataset"]["mask"]
    if mask_t:
        mask, affine = load_mask(mask_t.format(subject=subject))
        order = job["dataset"]["voxel_order"]
        maps = {"score": np.where(reliable, res["score"], np.nan), "principal": principal}
        for key, values in maps.items():
            save_nifti(outputs[f"{key}_nii"], to_volume(values, mask, order), affine, f"lre brain link {key}")
        plots.brain_map(
            outputs["principal_nii"],
            mask_t.format(subject=subject),
            outputs["principal_png"],
            f"{subject}: principal-dimension map (correlation of performance with dim 1)",
            symmetric=True,
        )
        plots.brain_map(
            outputs["score_nii"],
            mask_t.format(subject=subject),
            outputs["score_png"],
            f"{subject}: how well the embedding predicts each voxel's performance across spaces",
            symmetric=True,
        )
    pred = logo_predict(C[:, : min(bcfg["n_dims"], C.shape[1])], R, [groups[n] for n in names])
    plots.brainlink_scatter(R, pred, names, [groups[n] for n in names], res, reliable, outputs["scatter_png"], subject)


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
        means = [
            f"{_mean(scores[k], rel):.4f}" if rel.any() else "" for k in ("score", "group_mean", "random_embedding")
        ]
        status = "ok" if rel.any() else "NO RELIABLE VOXEL (the brain link is empty for this subject)"
        w.writerow(
            [subject, len(rel), int(rel.sum()), int(sig.sum()), *means, int(np.isfinite(principal).sum()), status]
        )
    io.write_text(out, buf.getvalue())


def run_space_table(
    job: dict,
    embedding,
    summaries: dict,
    out,
    brainlinks: dict | None = None,
    brainlink_summary_out=None,
    partitions: dict | None = None,
) -> None:
    """One row per space: family, layer, embedding coordinates, mean top-voxel r per subject
    (``summaries``: subject -> encoding summary) and the mean noise ceiling of those voxels
    (the words ``none (1 repeat)`` for a subject without one); written to the CSV ``out``. With
    ``brainlinks`` (subject -> brain-link file), also the per-subject brain-link table
    ``brainlink_summary_out`` (see :func:`brainlink_summary`). With ``partitions`` (subject ->
    variance-partitioning table), a column per subject of each tested space's unique variance
    beyond the baseline (mean over the joint model's best voxels; empty for untested spaces)."""
    if brainlinks:
        brainlink_summary(job, brainlinks, brainlink_summary_out)
    embedding_path, out_csv = embedding, out
    emb_names, coords = load_embedding(embedding_path, job) if embedding_path else ([], np.zeros((0, 0)))
    per_subject, ceilings = {}, {}
    for subject, path in summaries.items():
        rows, top = read_summary(path, job, subject)
        per_subject[subject] = {r["space"]: r[top] for r in rows}
        values, status = summary_ceilings(rows, top)
        # a number where there is a ceiling; where there is none, the words that say why
        ceilings[subject] = {r["space"]: f"{values[r['space']]:.5f}" if r["space"] in values else status for r in rows}
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
        + [f"top_ceiling_{s}" for s in summaries]
        + [f"unique_r2_{s}" for s in unique]
    )
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    for sp in job["spaces"]:
        out = sp["output"]
        layer = out[1:] if out.startswith("L") and out[1:].isdigit() else ""
        c = coords[emb_names.index(sp["name"])][:n_dims] if sp["name"] in emb_names else [""] * n_dims
        w.writerow(
            [sp["name"], sp["model"], sp["family"], sp["group"], layer]
            + [f"{v:.5f}" if v != "" else "" for v in c]
            + [per_subject[s].get(sp["name"], "") for s in summaries]
            + [ceilings[s].get(sp["name"], "") for s in summaries]
            + [unique[s].get(sp["name"], "") for s in unique]
        )
    io.write_text(out_csv, buf.getvalue())


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
    best_r = np.max([read_scores(path, job, name)["scores"] for name, path in scores.items()], axis=0)
    by_threshold = {}
    for th in (0.2, 0.3, 0.4, 0.5):
        sel = ok & (best_r >= th)
        if sel.sum() > 2:
            by_threshold[str(th)] = {
                "voxels": int(sel.sum()),
                "spearman": float(spearmanr(b["principal"][sel], truth["gradient"][sel])[0]),
            }
    out = {
        "subject": job["subject"],
        "principal_vs_gradient_spearman": rho,
        "principal_voxels": int(ok.sum()),
        "principal_vs_gradient_by_best_r": by_threshold,
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
    performance = None
    if summaries:
        values: dict[str, list[float]] = {}
        for subject, path in summaries.items():
            rows, top = read_summary(path, job, subject)
            for r in rows:
                values.setdefault(r["space"], []).append(float(r[top]))
        performance = {k: float(np.mean(v)) for k, v in values.items()}
    viewer.embedding_html(
        coords,
        [by_name[n] for n in names if n in by_name],
        out,
        f"language representation embedding ({job['method']}): {len(names)} spaces",
        explained=explained,
        performance=performance,
    )
    log.info("%s: %d spaces in 3-D%s", out, len(names), ", with encoding performance" if performance else "")


def run_interactive_maps(job: dict, brainlink, scores: dict, out: dict, surface: dict | None = None) -> None:
    """One subject's interactive maps (``out``: map -> HTML file; ``surface``: map -> HTML on
    fsaverage5, for MNI-space data): the principal-dimension map, the brain-link score and
    each voxel's best test r over the encoded spaces (``scores``: space -> result file)."""
    from .. import viewer

    subject, dcfg = job["subject"], job["dataset"]
    mask, affine = load_mask(dcfg["mask"].format(subject=subject))
    with io.h5_open(brainlink) as f:
        provenance.check_h5(brainlink, f, job.get("expects", {}).get("brainlink"), job, "brain-link file")
        # as in the NIfTI maps: the score where the voxel is reliable (empty elsewhere)
        values = {"principal": f["principal"][()], "score": np.where(f["reliable"][()], f["score"][()], np.nan)}
    values["best_r"] = np.max([read_scores(path, job, name)["scores"] for name, path in scores.items()], axis=0)
    titles = {
        "principal": f"{subject}: principal-dimension map",
        "score": f"{subject}: brain-link score",
        "best_r": f"{subject}: best test r of {len(scores)} spaces",
    }
    import nibabel as nib

    for kind, path in out.items():
        img = nib.Nifti1Image(to_volume(values[kind], mask, dcfg["voxel_order"]).astype(np.float32), affine)
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
            Arg("--score-nii", "score map to write (with dataset.mask)", required=False),
            Arg("--principal-nii", "principal-dimension map to write (with dataset.mask)", required=False),
            Arg("--score-png", "figure of the score map (with dataset.mask)", required=False),
            Arg("--principal-png", "figure of the principal-dimension map (with dataset.mask)", required=False),
        ),
    ),
    Command(
        "space-table",
        "one row per space: family, layer, coordinates, performance",
        run_space_table,
        (
            Arg("--embedding", "embedding file", required=False),
            Arg("--summaries", "encoding summaries, one per subject of the job", many=True, per="subjects"),
            Arg("--out", "CSV file to write"),
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
            Arg("--brainlink", "the subject's brain-link file"),
            Arg("--scores", "encoding results, one per encoded space of the job", many=True, per="spaces"),
            Arg("--out", "HTML files to write, one per map of the job", many=True, per="maps"),
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
