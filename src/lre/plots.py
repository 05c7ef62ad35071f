"""Figures, built with matplotlib's object API and returned.

Every function here makes a :class:`matplotlib.figure.Figure` of its own (never through
``pyplot``), so it neither changes the session's backend nor adds to pyplot's figures: a
notebook shows the returned figure, a stage command writes it with :func:`save` (atomically,
as PNG). Functions that draw into a caller's axes (``ax=``) return that axes' figure.
"""

from __future__ import annotations

import re

import numpy as np

from .io import atomic_path


def figure(**kwargs):
    """A new figure, outside pyplot (``kwargs`` as :class:`matplotlib.figure.Figure`)."""
    from matplotlib.figure import Figure

    return Figure(**kwargs)


def save(fig, path, dpi: int = 130) -> None:
    """Write ``fig`` to ``path`` as PNG, under a temporary name renamed when complete."""
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=dpi, bbox_inches="tight", format="png")


def group_colors(spaces: list[dict]) -> dict[str, tuple]:
    """group -> colour (tab10, or tab20 beyond ten groups), in the order groups first appear."""
    import matplotlib

    groups = list(dict.fromkeys(s["group"] for s in spaces))
    cmap = matplotlib.colormaps["tab10" if len(groups) <= 10 else "tab20"]
    return {g: cmap(i % cmap.N) for i, g in enumerate(groups)}


def short_label(space: dict) -> str:
    return space["name"]


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
    title: str,
    xlabel: str,
    ylabel: str,
    cmap: str = "viridis",
    vmin=None,
    vmax=None,
    ax=None,
    xspaces: list[dict] | None = None,
):
    """A space-by-space matrix with labelled, group-coloured ticks.

    Parameters
    ----------
    M : array of shape (len(spaces), len(xspaces))
    spaces : the rows (y), records with ``name`` and ``group``
    xspaces : the columns (x); the same spaces unless given
    ax : draw into these axes (else a new figure)

    Returns
    -------
    matplotlib.figure.Figure
    """
    if ax is None:
        size = max(6.0, 0.18 * len(spaces) + 2)
        ax = figure(figsize=(size + 1.2, size)).subplots()
    im = ax.imshow(M, cmap=cmap, vmin=vmin, vmax=vmax, interpolation="nearest")
    colors = group_colors(spaces)
    _group_ticks(ax, spaces, "y", colors)
    _group_ticks(ax, xspaces or spaces, "x", colors)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)
    ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.02)
    return ax.figure


def scree(eigenvalues: np.ndarray, explained: np.ndarray, title: str):
    """Share of variance of each dimension (bars) and its cumulative sum, first 20 at most.

    Parameters
    ----------
    eigenvalues, explained : arrays of shape (n_components,)

    Returns
    -------
    matplotlib.figure.Figure
    """
    n = min(len(eigenvalues), 20)
    fig = figure(figsize=(5, 3.2))
    ax = fig.subplots()
    ax.bar(np.arange(1, n + 1), explained[:n], color="0.35")
    ax.plot(np.arange(1, n + 1), np.cumsum(explained[:n]), "o-", color="C3", ms=3, label="cumulative")
    ax.set_xlabel("dimension")
    ax.set_ylabel("share of variance")
    ax.set_ylim(0, 1.02)
    ax.set_title(title, fontsize=9)
    ax.legend(frameon=False, fontsize=8)
    return fig


def layer_index(space: dict) -> int | None:
    """The layer of a space whose output is ``L<k>`` (k), else None."""
    m = re.fullmatch(r"L(\d+)", space["output"])
    return int(m.group(1)) if m else None


def embedding(coords: np.ndarray, spaces: list[dict], title: str, dims=(0, 1), explained=None):
    """2-D (two dims) or 3-D (three dims) embedding: groups coloured, each model's layers joined
    in order, layer 0 marked with a square and the last layer with a triangle.

    Parameters
    ----------
    coords : array of shape (n_spaces, n_components)
    spaces : records (``name``, ``model``, ``output``, ``group``) of the rows of ``coords``
    dims : the two or three dimensions to draw (0-based)
    explained : array of shape (n_components,), each dimension's share of variance

    Returns
    -------
    matplotlib.figure.Figure
    """
    colors = group_colors(spaces)
    three = len(dims) == 3
    fig = figure(figsize=(7.5, 6.5))
    ax = fig.add_subplot(projection="3d" if three else None)
    pts = coords[:, list(dims)]
    models: dict[str, list[int]] = {}
    for i, s in enumerate(spaces):
        if layer_index(s) is not None:
            models.setdefault(s["model"], []).append(i)
    for idx in models.values():
        idx = sorted(idx, key=lambda i: layer_index(spaces[i]))
        c = colors[spaces[idx[0]]["group"]]
        ax.plot(*pts[idx].T, "-", color=c, lw=1.2, alpha=0.8)
        ax.scatter(*pts[idx[0]], marker="s", s=40, color=c, edgecolor="k", linewidth=0.5, zorder=3)
        ax.scatter(*pts[idx[-1]], marker="^", s=50, color=c, edgecolor="k", linewidth=0.5, zorder=3)
    ends = {
        i
        for idx in models.values()
        for i in (min(idx, key=lambda i: layer_index(spaces[i])), max(idx, key=lambda i: layer_index(spaces[i])))
    }
    for i, s in enumerate(spaces):
        ax.scatter(
            *pts[i],
            s=18,
            color=colors[s["group"]],
            zorder=2,
            label=s["group"] if s["group"] not in [t["group"] for t in spaces[:i]] else None,
        )
    if three:  # in 3-D only the spaces that are not inner layers: the lines show the rest
        for i, s in enumerate(spaces):
            if layer_index(s) is None or i in ends:
                ax.text(*pts[i], " " + short_label(s), fontsize=5.5, color="0.2")
    else:
        labelled = [i for i, s in enumerate(spaces) if layer_index(s) is None or i in ends or len(spaces) <= 40]
        _place_labels(ax, pts, [short_label(spaces[i]) for i in labelled], labelled)
    names = [f"dim {d + 1}" + (f" ({100 * explained[d]:.0f}%)" if explained is not None else "") for d in dims]
    ax.set_xlabel(names[0])
    ax.set_ylabel(names[1])
    if three:
        ax.set_zlabel(names[2])
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=6, frameon=False, loc="best", markerscale=1.2)
    return fig


def _place_labels(ax, pts: np.ndarray, labels: list[str], rows: list[int], fontsize: float = 5.5) -> None:
    """Label points of a 2-D scatter without overlapping labels: each label goes beside its
    point, or as near above or below it as the labels already placed allow (with a thin line
    back to its point when moved). Positions are worked out in axes fractions."""
    ax.autoscale_view()
    fig = ax.figure
    width_in = fig.get_figwidth() * ax.get_position().width
    height_in = fig.get_figheight() * ax.get_position().height
    char_w = fontsize * 0.55 / 72 / width_in  # a character's width, in axes fractions
    line_h = fontsize * 1.25 / 72 / height_in
    to_axes = ax.transData + ax.transAxes.inverted()
    placed: list[tuple[float, float, float]] = []  # (x0, y, width) of the labels placed
    order = sorted(range(len(rows)), key=lambda k: (pts[rows[k], 0], pts[rows[k], 1]))
    for k in order:
        x, y = to_axes.transform(pts[rows[k]])
        x0, w = x + 0.008, char_w * (len(labels[k]) + 1)
        for step in [0] + [d * j for j in range(1, 40) for d in (1, -1)]:
            yy = y + step * line_h
            if all(abs(yy - py) >= line_h or x0 + w <= px or px + pw <= x0 for px, py, pw in placed):
                break
        placed.append((x0, yy, w))
        moved = step != 0
        ax.annotate(
            labels[k],
            xy=(x, y),
            xycoords="axes fraction",
            xytext=(x0, yy),
            textcoords="axes fraction",
            fontsize=fontsize,
            color="0.2",
            va="center",
            arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.4} if moved else None,
            annotation_clip=False,
        )


def matrices_side_by_side(mats: dict[str, np.ndarray], spaces: list[dict], title: str):
    """Several space-by-space matrices on a grid, same ordering, each with its own scale
    (``mats``: name -> array of shape (n_spaces, n_spaces)); returns the figure."""
    n = len(mats)
    cols = min(n, 3)
    rows = -(-n // cols)
    size = max(4.5, 0.12 * len(spaces) + 2.5)
    fig = figure(figsize=(cols * (size + 1.5), rows * (size + 0.8)))
    axes = fig.subplots(rows, cols, squeeze=False)
    for ax, (name, M) in zip(axes.ravel(), mats.items()):
        off = M[~np.eye(len(M), dtype=bool)]
        matrix(
            M,
            spaces,
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
    return fig


def brain_map(stat_nii, mask_nii, title: str, symmetric: bool = True, cmap: str = "RdBu_r"):
    """Axial slices of a statistical map (nilearn ``plot_stat_map``, paths or images); voxels
    outside the mask or without a value are left blank, the slices cut through the mask;
    returns the figure."""
    import nibabel as nib
    from nilearn import plotting

    stat = stat_nii if isinstance(stat_nii, nib.Nifti1Image) else nib.load(str(stat_nii))
    data = np.asarray(stat.dataobj, dtype=np.float64)
    finite = data[np.isfinite(data)]
    vmax = float(np.percentile(np.abs(finite), 99)) if finite.size else 1.0
    clean = nib.Nifti1Image(np.nan_to_num(data, nan=0.0).astype(np.float32), stat.affine)
    fig = figure(figsize=(11, 3.2))
    mask = mask_nii if isinstance(mask_nii, nib.Nifti1Image) else nib.load(str(mask_nii))
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
    return fig


def surface_map(image, title: str, symmetric: bool = True, cmap: str = "RdBu_r", background=None):
    """A map on both hemispheres of a surface mesh (a nilearn ``SurfaceImage``), seen from
    the left, the right, and the two medial sides (nilearn ``plot_surf_stat_map``; vertices
    without a value are left to the background ``background``, e.g. sulcal depth); returns
    the figure."""
    from nilearn import plotting

    parts = {h: np.asarray(image.data.parts[h], dtype=np.float64) for h in ("left", "right")}
    finite = np.concatenate([p[np.isfinite(p)] for p in parts.values()])
    vmax = max(float(np.percentile(np.abs(finite), 99)) if finite.size else 1.0, 1e-6)
    fig = figure(figsize=(11, 6.6))
    views = (("left", "lateral"), ("right", "lateral"), ("left", "medial"), ("right", "medial"))
    for k, (hemi, view) in enumerate(views):
        ax = fig.add_subplot(2, 2, k + 1, projection="3d")
        data = {h: np.nan_to_num(parts[h], nan=0.0) for h in parts}
        plotting.plot_surf_stat_map(
            surf_mesh=image.mesh.parts[hemi],
            stat_map=data[hemi],
            hemi=hemi,
            view=view,
            bg_map=None if background is None else np.asarray(background.data.parts[hemi]),
            axes=ax,
            figure=fig,
            cmap=cmap,
            vmin=-vmax if symmetric else 0.0,
            vmax=vmax,
            symmetric_cbar=symmetric,
            threshold=1e-6,
            colorbar=False,
            title=f"{hemi} {view}",
        )
    fig.subplots_adjust(left=0.0, right=0.9, bottom=0.0, top=0.9, wspace=-0.15, hspace=-0.05)
    from matplotlib import cm, colors

    norm = colors.Normalize(vmin=-vmax if symmetric else 0.0, vmax=vmax)
    fig.colorbar(cm.ScalarMappable(norm=norm, cmap=cmap), cax=fig.add_axes([0.92, 0.3, 0.015, 0.4]))
    fig.suptitle(title, fontsize=11)
    return fig


def map_figure(geometry, values: np.ndarray, title: str, symmetric: bool = True, cmap: str = "RdBu_r"):
    """A figure of one value per response column, drawn where the columns live: axial slices
    for a volume (:func:`brain_map`), four views of both hemispheres for a surface
    (:func:`surface_map`). ``geometry`` is a subject's :mod:`lre.datasets.geometry`; ``values``
    has shape (n_columns,), NaN where there is no value."""
    import nibabel as nib

    if geometry.kind == "surface":
        from .datasets.surface import mesh

        _, sulcal = mesh(geometry.space)
        return surface_map(geometry.image(values), title, symmetric=symmetric, cmap=cmap, background=sulcal)
    mask = nib.Nifti1Image(geometry.mask.astype(np.uint8), geometry.affine)
    return brain_map(geometry.image(values), mask, title, symmetric=symmetric, cmap=cmap)


def brainlink_scatter(
    R: np.ndarray,
    pred: np.ndarray,
    names: list[str],
    groups: list[str],
    res: dict,
    reliable: np.ndarray,
    subject: str,
    reliable_by: str = "",
):
    """Left: per-voxel scores of the embedding and the baselines over the reliable voxels.
    Right: actual vs leave-one-group-out predicted performance of every space, averaged over
    the same reliable voxels (all of them: none is picked by its brain-link score). The
    titles say how many voxels each panel uses.

    Parameters
    ----------
    R, pred : arrays of shape (n_spaces, n_voxels), test r and its prediction
    res : :func:`lre.brainlink.link`'s result (``score``, ``group_mean``, ``random_embedding``)
    reliable : boolean array of shape (n_voxels,)
    reliable_by : how the reliable voxels were chosen, for the titles

    Returns
    -------
    matplotlib.figure.Figure
    """
    spaces = [{"name": n, "group": g} for n, g in zip(names, groups)]
    colors = group_colors(spaces)
    fig = figure(figsize=(11, 4.6))
    a, b = fig.subplots(1, 2)
    sel = reliable if reliable.any() else np.ones(R.shape[1], bool)
    n_sel = int(sel.sum())
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
    by = f" ({reliable_by})" if reliable_by else ""
    if reliable.any():
        a.set_title(f"{subject}: brain link per voxel, {n_sel} reliable voxels{by}", fontsize=8)
    else:  # said loudly: what is shown then is noise
        a.set_title(
            f"{subject}: NO RELIABLE VOXEL{by} - all {R.shape[1]} voxels shown, none predicted in cross-validation",
            fontsize=8,
            color="C3",
            fontweight="bold",
        )
    a.legend(fontsize=7, frameon=False)
    x, y = pred[:, sel].mean(1), R[:, sel].mean(1)
    for i, n in enumerate(names):
        b.scatter(x[i], y[i], color=colors[groups[i]], s=22, label=groups[i] if groups[i] not in groups[:i] else None)
        b.annotate(n, (x[i], y[i]), fontsize=5, color="0.3")
    b.set_xlabel("predicted from the embedding (leave one group out)")
    b.set_ylabel("actual test r")
    b.set_title(f"each space, mean over the same {n_sel} {'reliable ' if reliable.any() else ''}voxels", fontsize=8)
    b.legend(fontsize=6, frameon=False, loc="best")
    return fig


def performance_bars(
    table: dict[str, dict[str, float]],
    spaces: list[dict],
    title: str,
    ceilings: dict[str, dict[str, float]] | None = None,
    means: dict[str, dict[str, float]] | None = None,
    note: str = "",
    ylabel: str = "mean test r of the chosen voxels",
):
    """Every space's headline test r (bars: mean over subjects; dots: each subject).

    Parameters
    ----------
    table : subject -> space -> the mean test r of the space's top voxels
    spaces : records (``name``, ``group``), in the order of the bars
    ceilings : subject -> space -> the mean noise ceiling of the same voxels, drawn as a grey
        tick per space (mean over the subjects that have one)
    means : subject -> space -> the mean test r over all voxels, drawn as an open circle per
        space (mean over subjects)
    note : a line under the title (e.g. which subjects have no ceiling)

    Returns
    -------
    matplotlib.figure.Figure
    """
    colors = group_colors(spaces)
    names = [s["name"] for s in spaces]
    subjects = list(table)
    vals = np.array([[table[s].get(n, np.nan) for n in names] for s in subjects])
    fig = figure(figsize=(max(7, 0.25 * len(names) + 2), 4.4))
    ax = fig.subplots()
    x = np.arange(len(names))
    ax.bar(x, np.nanmean(vals, 0), color=[colors[s["group"]] for s in spaces], alpha=0.8)
    for row in vals:
        ax.plot(x, row, "k.", ms=3)
    if means:
        m = np.nanmean(np.array([[means[s].get(n, np.nan) for n in names] for s in means]), 0)
        ax.plot(x, m, "o", mfc="none", mec="k", ms=5, mew=0.8, label="mean over all voxels")
    if ceilings:
        ceil = np.array([[ceilings[s].get(n, np.nan) for n in names] for s in ceilings])
        keep = np.isfinite(ceil).any(0)
        if keep.any():
            mean = np.nanmean(ceil[:, keep], 0)
            ax.plot(x[keep], mean, "_", color="0.35", ms=9, mew=1.5, label="noise ceiling of the chosen voxels")
    if means or ceilings:
        ax.legend(fontsize=7, loc="upper right")
    ax.axhline(0, color="k", lw=0.6)
    ax.set_xticks(x, names, rotation=90, fontsize=6)
    ax.set_ylabel(ylabel, fontsize=8)
    ax.set_title(title + (f"\n{note}" if note else ""), fontsize=8)
    return fig


def partition_scatter(parts: dict[str, dict], title: str, groups: dict[str, np.ndarray] | None = None):
    """One panel per tested space: each voxel's baseline R^2 (x) against the space's unique
    variance (y). ``parts``: space -> {"baseline_r2", "unique"} (arrays of shape (n_voxels,));
    ``groups``: space -> label -> boolean voxel mask drawn in its own colour (e.g. the voxels
    planted with low-level spaces only). Returns the figure."""
    fig = figure(figsize=(3.6 * len(parts), 3.4))
    axes = fig.subplots(1, len(parts), squeeze=False)
    for ax, (space, p) in zip(axes[0], parts.items()):
        ax.scatter(p["baseline_r2"], p["unique"], s=3, color="0.6", alpha=0.5, label=f"all {len(p['unique'])} voxels")
        for k, (label, sel) in enumerate((groups or {}).get(space, {}).items()):
            ax.scatter(
                p["baseline_r2"][sel], p["unique"][sel], s=4, color=f"C{k}", alpha=0.7, label=f"{label} ({sel.sum()})"
            )
        ax.axhline(0, color="k", lw=0.6)
        ax.set_xlabel("R$^2$ of the baseline alone", fontsize=8)
        ax.set_ylabel(f"unique R$^2$ of {space}", fontsize=8)
        ax.set_title(space, fontsize=8)
        ax.legend(fontsize=6, loc="upper right")
    fig.suptitle(title, fontsize=9)
    return fig


def message(title: str, text: str):
    """A figure that says something in words (where a map cannot be drawn, e.g. a noise
    ceiling of a test story with a single repeat); returns it."""
    import textwrap

    fig = figure(figsize=(8, 2.4))
    fig.text(0.5, 0.82, title, ha="center", va="top", fontsize=11, weight="bold")
    fig.text(0.5, 0.6, "\n".join(textwrap.wrap(text, 95)), ha="center", va="top", fontsize=8.5)
    return fig
