"""Interactive views, each one self-contained HTML file that opens offline in a browser (no
server): the embedding in 3-D (plotly, its JavaScript embedded in the file) and brain maps
(nilearn's ``view_img`` in the volume; ``view_img_on_surf`` on the fsaverage5 surface that
ships with nilearn, for responses in MNI space)."""

from __future__ import annotations

import html
import itertools
import logging

import numpy as np

from .io import atomic_path
from .plots import layer_index

log = logging.getLogger(__name__)

#: how many embedding dimensions the viewer's menus offer
MAX_DIMS = 6


def _hover(space: dict, coords: np.ndarray, performance: dict[str, float] | None, label: str) -> str:
    lines = [f"<b>{html.escape(space['name'])}</b>", f"group: {html.escape(space['group'])}"]
    lines += [f"dim {d + 1}: {c:+.3f}" for d, c in enumerate(coords)]
    if performance is not None and space["name"] in performance:
        lines.append(f"{html.escape(label)}: {performance[space['name']]:.3f}")
    return "<br>".join(lines)


def embedding_figure(
    coords: np.ndarray,
    spaces: list[dict],
    explained: np.ndarray | None = None,
    performance: dict[str, float] | None = None,
    title: str = "",
    performance_label: str = "",
):
    """The plotly figure of :func:`embedding_html`: one trace per model (its layers joined in
    depth order by a line; its other spaces as markers of the same colour), one marker per
    space, and three menus choosing the dimension on each axis.

    Parameters
    ----------
    coords : array of shape (n_spaces, n_components), n_components >= 3
    spaces : records (``name``, ``model``, ``output``, ``group``) of the rows of ``coords``
    explained : array of shape (n_components,), each dimension's share of variance
    performance : space -> an encoding score shown in the hover text, named ``performance_label``

    Returns
    -------
    plotly.graph_objects.Figure
    """
    import plotly.graph_objects as go
    from plotly.colors import qualitative

    n_dims = min(MAX_DIMS, coords.shape[1])
    if n_dims < 3:
        raise ValueError(f"the 3-D viewer needs at least 3 embedding dimensions, got {coords.shape[1]}")
    label = performance_label or "test r"
    colors = itertools.cycle(qualitative.D3 + qualitative.Plotly)
    models = list(dict.fromkeys(s["model"] for s in spaces))
    traces, members = [], []
    for model, color in zip(models, colors):
        idx = [i for i, s in enumerate(spaces) if s["model"] == model]
        layers = sorted((i for i in idx if layer_index(spaces[i]) is not None), key=lambda i: layer_index(spaces[i]))
        others = [i for i in idx if layer_index(spaces[i]) is None]
        for part, mode in ((layers, "lines+markers" if len(layers) > 1 else "markers"), (others, "markers")):
            if not part:
                continue
            members.append(part)
            traces.append(
                go.Scatter3d(
                    x=coords[part, 0],
                    y=coords[part, 1],
                    z=coords[part, 2],
                    mode=mode,
                    name=model if part is layers or not layers else f"{model} (other)",
                    legendgroup=model,
                    marker={"size": 5, "color": color},
                    line={"color": color, "width": 3},
                    text=[_hover(spaces[i], coords[i, :n_dims], performance, label) for i in part],
                    hoverinfo="text",
                    customdata=[spaces[i]["name"] for i in part],
                )
            )

    def label(d):
        share = f" ({100 * explained[d]:.1f} %)" if explained is not None else ""
        return f"dim {d + 1}{share}"

    menus = []
    for k, (axis, default) in enumerate(zip("xyz", range(3))):
        buttons = [
            {
                "label": label(d),
                "method": "update",
                "args": [{axis: [coords[m, d] for m in members]}, {f"scene.{axis}axis.title.text": label(d)}],
            }
            for d in range(n_dims)
        ]
        menus.append(
            {
                "buttons": buttons,
                "active": default,
                "direction": "down",
                "x": 0.0 + 0.17 * k,
                "xanchor": "left",
                "y": 1.08,
                "yanchor": "top",
                "showactive": True,
                "name": f"{axis} axis",
            }
        )
    fig = go.Figure(traces)
    fig.update_layout(
        title={"text": title, "x": 0.5, "xanchor": "center", "y": 0.98},
        updatemenus=menus,
        scene={f"{a}axis": {"title": {"text": label(d)}} for a, d in zip("xyz", range(3))},
        annotations=[
            {"text": "x / y / z axes:", "x": 0, "xref": "paper", "y": 1.12, "yref": "paper", "showarrow": False}
        ],
        legend={"title": {"text": "model"}},
        margin={"l": 0, "r": 0, "t": 90, "b": 0},
        height=720,
    )
    return fig


def embedding_html(
    coords: np.ndarray,
    spaces: list[dict],
    path,
    title: str,
    explained: np.ndarray | None = None,
    performance: dict[str, float] | None = None,
    performance_label: str = "",
) -> None:
    """Write the embedding's interactive 3-D view to ``path``: spaces coloured by model, each
    network's layers joined in order, hover text with the space's name, group, coordinates
    and (``performance``: space -> a test r, named ``performance_label``) its encoding
    performance, and menus to choose the dimensions shown. Self-contained (plotly's
    JavaScript is in the file)."""
    fig = embedding_figure(coords, spaces, explained, performance, title, performance_label)
    with atomic_path(path) as tmp:
        # a fixed element id (plotly draws a random one), so the same embedding writes the same bytes
        fig.write_html(str(tmp), include_plotlyjs=True, full_html=True, div_id="lre-embedding")


def map_html(stat_nii, path, title: str, surface: bool = False, symmetric: bool = True) -> None:
    """Write an interactive view of a map to ``path``: a NIfTI map (a path or an image) as
    slices through the volume (nilearn's ``view_img``, no background: the maps need not be in
    a template space), or with ``surface`` projected on fsaverage5 (``view_img_on_surf``;
    MNI-space maps only); a surface map (a nilearn ``SurfaceImage``) on both hemispheres of
    its mesh (``view_surf``). NaN voxels (no value) are shown as empty."""
    import nibabel as nib
    from nilearn import plotting
    from nilearn.surface import SurfaceImage

    if isinstance(stat_nii, SurfaceImage):
        parts = {h: np.nan_to_num(np.asarray(stat_nii.data.parts[h], dtype=np.float32)) for h in ("left", "right")}
        data = np.concatenate(list(parts.values()))
        img = SurfaceImage(mesh=stat_nii.mesh, data=parts)
    else:
        img = stat_nii if isinstance(stat_nii, nib.Nifti1Image) else nib.load(str(stat_nii))
        data = np.nan_to_num(np.asarray(img.dataobj, dtype=np.float32))
        img = nib.Nifti1Image(data, img.affine)
    vmax = float(np.abs(data).max()) or 1.0
    if not np.any(data != 0):  # said in the view itself, not left as a blank page
        title = f"{title}: EMPTY, no voxel has a value"
        log.warning("%s: the map has no voxel with a value; its view says so.", path)
    if isinstance(img, SurfaceImage):
        view = plotting.view_surf(
            surf_mesh=img.mesh,
            surf_map=img,
            hemi="both",
            title=title,
            symmetric_cmap=symmetric,
            vmax=vmax,
            cmap="RdBu_r" if symmetric else "hot",
            threshold=1e-6,
        )
    elif surface:
        view = plotting.view_img_on_surf(img, surf_mesh="fsaverage5", title=title, symmetric_cmap=symmetric, vmax=vmax)
    else:
        view = plotting.view_img(
            img,
            bg_img=False,
            title=title,
            symmetric_cmap=symmetric,
            vmax=vmax,
            cmap="RdBu_r" if symmetric else "hot",
            black_bg=False,
            threshold=1e-6,
            draw_cross=False,  # at a few mm per voxel the cross would hide whole rows of them
        )
    with atomic_path(path) as tmp:
        view.save_as_html(str(tmp))
