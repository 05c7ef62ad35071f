"""Figures (matplotlib, written atomically as PNG)."""

from __future__ import annotations

import re

import numpy as np

from .io import atomic_path


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def group_colors(spaces: list[dict]) -> dict[str, tuple]:
    plt = _plt()
    groups = list(dict.fromkeys(s["group"] for s in spaces))
    cmap = plt.get_cmap("tab10" if len(groups) <= 10 else "tab20")
    return {g: cmap(i % cmap.N) for i, g in enumerate(groups)}


def short_label(space: dict) -> str:
    return space["name"]


def _save(fig, path, dpi=130):
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")
    finally:
        _plt().close(fig)


def _group_ticks(ax, spaces, axis: str, colors=None):
    """Label every tick with its space and draw lines between groups."""
    names = [short_label(s) for s in spaces]
    colors = colors or group_colors(spaces)
    idx = np.arange(len(spaces))
    line = {"x": ax.axvline, "y": ax.axhline}
    for a in ("x", "y") if axis == "both" else (axis,):
        if a == "x":
            ax.set_xticks(idx, names, rotation=90, fontsize=6)
            labels = ax.get_xticklabels()
        else:
            ax.set_yticks(idx, names, fontsize=6)
            labels = ax.get_yticklabels()
        for t, s in zip(labels, spaces):
            t.set_color(colors[s["group"]])
        for k in range(1, len(spaces)):
            if spaces[k]["group"] != spaces[k - 1]["group"]:
                line[a](k - 0.5, color="white", lw=0.6)


def matrix(
    M: np.ndarray,
    spaces: list[dict],
    path,
    title: str,
    xlabel: str,
    ylabel: str,
    cmap: str = "viridis",
    vmin=None,
    vmax=None,
    ax=None,
    xspaces: list[dict] | None = None,
) -> None:
    """A space-by-space matrix with labelled, group-coloured ticks (rows = y: ``spaces``,
    columns = x: ``xspaces``, the same spaces unless given)."""
    plt = _plt()
    own = ax is None
    if own:
        size = max(6.0, 0.18 * len(spaces) + 2)
        fig, ax = plt.subplots(figsize=(size + 1.2, size))
    im = ax.imshow(M, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    colors = group_colors(spaces)
    _group_ticks(ax, spaces, "y", colors)
    _group_ticks(ax, xspaces or spaces, "x", colors)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    if own:
        _save(fig, path)


def scree(eigenvalues: np.ndarray, explained: np.ndarray, path, title: str) -> None:
    plt = _plt()
    n = min(len(eigenvalues), 20)
    fig, ax = plt.subplots(figsize=(5, 3.2))
    ax.bar(np.arange(1, n + 1), explained[:n], color="0.35")
    ax.plot(np.arange(1, n + 1), np.cumsum(explained[:n]), "o-", color="C3", ms=3, label="cumulative")
    ax.set_xlabel("dimension")
    ax.set_ylabel("share of variance")
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    _save(fig, path)


def _layer(space: dict) -> int | None:
    m = re.fullmatch(r"L(\d+)", space["output"])
    return int(m.group(1)) if m else None


def embedding(coords: np.ndarray, spaces: list[dict], path, title: str, dims=(0, 1), explained=None) -> None:
    """2-D (two dims) or 3-D (three dims) embedding: groups coloured, each model's layers joined
    in order, layer 0 marked with a square and the last layer with a triangle."""
    plt = _plt()
    colors = group_colors(spaces)
    three = len(dims) == 3
    fig = plt.figure(figsize=(7.5, 6.5))
    ax = fig.add_subplot(projection="3d" if three else None)
    pts = coords[:, list(dims)]
    models: dict[str, list[int]] = {}
    for i, s in enumerate(spaces):
        if _layer(s) is not None:
            models.setdefault(s["model"], []).append(i)
    for idx in models.values():
        idx = sorted(idx, key=lambda i: _layer(spaces[i]))
        c = colors[spaces[idx[0]]["group"]]
        ax.plot(*pts[idx].T, "-", color=c, lw=1.2, alpha=0.8)
        ax.scatter(*pts[idx[0]], marker="s", s=40, color=c, edgecolor="k", linewidth=0.5, zorder=3)
        ax.scatter(*pts[idx[-1]], marker="^", s=50, color=c, edgecolor="k", linewidth=0.5, zorder=3)
    for i, s in enumerate(spaces):
        ax.scatter(
            *pts[i],
            s=18,
            color=colors[s["group"]],
            zorder=2,
            label=s["group"] if s["group"] not in [t["group"] for t in spaces[:i]] else None,
        )
        if _layer(s) is None or len(spaces) <= 40:
            ax.text(*pts[i], " " + short_label(s), fontsize=5.5, color="0.2")
    names = [f"dim {d + 1}" + (f" ({100 * explained[d]:.0f}%)" if explained is not None else "") for d in dims]
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    if three:
        ax.set_zlabel(names[2])
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, frameon=False, loc="best", markerscale=1.2)
    _save(fig, path)


def matrices_side_by_side(mats: dict[str, np.ndarray], spaces: list[dict], path, title: str) -> None:
    """Several space-by-space matrices on a grid, same ordering, each with its own scale."""
    plt = _plt()
    n = len(mats)
    cols = min(n, 3)
    rows = -(-n // cols)
    size = max(4.5, 0.12 * len(spaces) + 2.5)
    fig, axes = plt.subplots(rows, cols, figsize=(cols * (size + 1.5), rows * (size + 0.8)), squeeze=False)
    for ax, (name, M) in zip(axes.ravel(), mats.items()):
        off = M[~np.eye(len(M), dtype=bool)]
        matrix(
            M,
            spaces,
            None,
            name,
            "source space",
            "target space",
            vmin=np.percentile(off, 2),
            vmax=np.percentile(off, 98),
            ax=ax,
        )
    for ax in axes.ravel()[n:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=11)
    fig.tight_layout()
    _save(fig, path)


def brain_map(stat_nii, mask_nii, path, title: str, symmetric: bool = True, cmap: str = "RdBu_r") -> None:
    """Axial slices of a statistical map (nilearn ``plot_stat_map``); voxels outside the mask
    or without a value are left blank, the slices cut through the mask."""
    plt = _plt()
    import nibabel as nib
    from nilearn import plotting

    stat = nib.load(str(stat_nii))
    data = np.asarray(stat.dataobj, dtype=np.float64)
    finite = data[np.isfinite(data)]
    vmax = float(np.percentile(np.abs(finite), 99)) if finite.size else 1.0
    clean = nib.Nifti1Image(np.nan_to_num(data, nan=0.0).astype(np.float32), stat.affine)
    fig = plt.figure(figsize=(11, 3.2))
    mask = nib.load(str(mask_nii))
    zs = np.nonzero(np.asarray(mask.dataobj).any(axis=(0, 1)))[0]
    cuts = [float((mask.affine @ [0, 0, z, 1])[2]) for z in np.linspace(zs.min(), zs.max(), 8)[1:-1].round()]
    plotting.plot_stat_map(
        clean,
        bg_img=None,
        display_mode="z",
        cut_coords=cuts,
        figure=fig,
        title=title,
        cmap=cmap,
        vmax=max(vmax, 1e-6),
        symmetric_cbar=symmetric,
        threshold=1e-6,
        black_bg=False,
        draw_cross=False,
        annotate=True,
        dim=0,
    )
    _save(fig, path)


def brainlink_scatter(
    R: np.ndarray,
    pred: np.ndarray,
    names: list[str],
    groups: list[str],
    res: dict,
    reliable: np.ndarray,
    path,
    subject: str,
) -> None:
    """Left: per-voxel scores of the embedding and the baselines (reliable voxels). Right: actual
    vs leave-one-group-out predicted performance of every space, averaged over the reliable
    voxels the embedding predicts best."""
    plt = _plt()
    spaces = [{"name": n, "group": g} for n, g in zip(names, groups)]
    colors = group_colors(spaces)
    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.3))
    sel = reliable if reliable.any() else np.ones(R.shape[1], bool)
    bins = np.linspace(-1, 1, 41)
    for key, label, c in (
        ("score", "embedding", "C0"),
        ("group_mean", "group mean", "0.5"),
        ("random_embedding", "random embedding", "C3"),
    ):
        a.hist(
            res[key][sel],
            bins=bins,
            histtype="step",
            lw=1.6,
            color=c,
            label=f"{label} (mean {np.mean(res[key][sel]):.2f})",
        )
    a.set_xlabel("correlation of predicted and actual performance across spaces")
    a.set_ylabel("voxels")
    if reliable.any():
        a.set_title(f"{subject}: brain link per voxel ({int(sel.sum())} reliable voxels)", fontsize=9)
    else:  # said loudly: what is shown then is noise
        a.set_title(
            f"{subject}: NO RELIABLE VOXEL - all {R.shape[1]} voxels shown, none reliably predicted by any space",
            fontsize=9,
            color="C3",
            fontweight="bold",
        )
    a.legend(fontsize=7, frameon=False)
    top = np.flatnonzero(sel)[np.argsort(res["score"][sel])[::-1][:200]]
    x, y = pred[:, top].mean(1), R[:, top].mean(1)
    for i, n in enumerate(names):
        b.scatter(x[i], y[i], color=colors[groups[i]], s=22, label=groups[i] if groups[i] not in groups[:i] else None)
        b.annotate(n, (x[i], y[i]), fontsize=5, color="0.3")
    b.set_xlabel("predicted from the embedding (leave one group out)")
    b.set_ylabel("actual test r")
    b.set_title("mean over the 200 best-linked voxels", fontsize=9)
    b.legend(fontsize=6, frameon=False, loc="best")
    _save(fig, path)


def performance_bars(
    table: dict[str, dict[str, float]],
    spaces: list[dict],
    path,
    title: str,
    ceilings: dict[str, dict[str, float]] | None = None,
    note: str = "",
) -> None:
    """Mean top-voxel test r of every space (bars: mean over subjects; dots: each subject).

    ``ceilings``: subject -> space -> the mean noise ceiling of the same voxels, drawn as a
    grey tick per space (mean over the subjects that have one); ``note``: a line under the
    title (e.g. which subjects have no ceiling)."""
    plt = _plt()
    colors = group_colors(spaces)
    names = [s["name"] for s in spaces]
    subjects = list(table)
    vals = np.array([[table[s].get(n, np.nan) for n in names] for s in subjects])
    fig, ax = plt.subplots(figsize=(max(7, 0.25 * len(names) + 2), 4))
    x = np.arange(len(names))
    ax.bar(x, np.nanmean(vals, 0), color=[colors[s["group"]] for s in spaces], alpha=0.8)
    for row in vals:
        ax.plot(x, row, "k.", ms=3)
    if ceilings:
        ceil = np.array([[ceilings[s].get(n, np.nan) for n in names] for s in ceilings])
        keep = np.isfinite(ceil).any(0)
        if keep.any():
            mean = np.nanmean(ceil[:, keep], 0)
            ax.plot(x[keep], mean, "_", color="0.35", ms=9, mew=1.5, label="noise ceiling of the same voxels")
            ax.legend(fontsize=7, loc="upper right")
    ax.set_xticks(x, names, rotation=90, fontsize=6)
    ax.set_ylabel("mean test r of the best voxels")
    ax.set_title(title + (f"\n{note}" if note else ""), fontsize=9)
    _save(fig, path)


def partition_scatter(parts: dict[str, dict], path, title: str, groups: dict[str, np.ndarray] | None = None) -> None:
    """One panel per tested space: each voxel's baseline R^2 (x) against the space's unique
    variance (y). ``parts``: space -> {"baseline_r2", "unique"}; ``groups``: label -> boolean
    voxel mask drawn in its own colour (e.g. the voxels planted with low-level spaces only)."""
    plt = _plt()
    fig, axes = plt.subplots(1, len(parts), figsize=(3.6 * len(parts), 3.4), squeeze=False)
    for ax, (space, p) in zip(axes[0], parts.items()):
        ax.scatter(p["baseline_r2"], p["unique"], s=3, color="0.6", alpha=0.5, label="all voxels")
        for k, (label, sel) in enumerate((groups or {}).get(space, {}).items()):
            ax.scatter(p["baseline_r2"][sel], p["unique"][sel], s=4, color=f"C{k}", alpha=0.7, label=label)
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xlabel("R$^2$ of the baseline alone", fontsize=8)
        ax.set_ylabel(f"unique R$^2$ of {space}", fontsize=8)
        ax.set_title(space, fontsize=8)
        ax.legend(fontsize=6, loc="upper right")
    fig.suptitle(title, fontsize=9)
    _save(fig, path)


def message(path, title: str, text: str) -> None:
    """A figure that says something in words (where a map cannot be drawn, e.g. a noise
    ceiling of a test story with a single repeat)."""
    import textwrap

    plt = _plt()
    fig = plt.figure(figsize=(8, 2.4))
    fig.text(0.5, 0.82, title, ha="center", va="top", fontsize=11, weight="bold")
    fig.text(0.5, 0.6, "\n".join(textwrap.wrap(text, 95)), ha="center", va="top", fontsize=8.5)
    _save(fig, path)
