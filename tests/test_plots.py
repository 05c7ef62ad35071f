"""lre.plots builds figures with matplotlib's object API and returns them: it never switches
the session's backend nor adds figures to pyplot (a notebook's own plots keep showing)."""

import re
from pathlib import Path

import matplotlib
import nibabel as nib
import numpy as np
import pytest

from lre import plots

ROOT = Path(__file__).resolve().parents[1]
SPACES = [{"name": f"m.L{k}", "model": "m", "output": f"L{k}", "group": "m"} for k in range(4)] + [
    {"name": "g.vec", "model": "g", "output": "vec", "group": "g"}
]


def every_plot(rng, tmp_path):
    """One call of each figure function."""
    M = rng.normal(size=(5, 5))
    coords = rng.normal(size=(5, 4))
    explained = np.array([0.4, 0.3, 0.2, 0.1])
    mask = np.zeros((6, 6, 6), np.float32)
    mask[1:5, 1:5, 1:5] = 1
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    stat = nib.Nifti1Image(rng.normal(size=(6, 6, 6)).astype(np.float32) * mask, affine)
    R, pred = rng.normal(size=(5, 40)), rng.normal(size=(5, 40))
    res = {k: rng.uniform(-1, 1, 40) for k in ("score", "group_mean", "random_embedding")}
    table = {"s1": {s["name"]: 0.1 for s in SPACES}}
    return {
        "matrix": lambda: plots.matrix(M, SPACES, "t", "x", "y"),
        "scree": lambda: plots.scree(explained, explained, "t"),
        "embedding 2-D": lambda: plots.embedding(coords, SPACES, "t", dims=(0, 1), explained=explained),
        "embedding 3-D": lambda: plots.embedding(coords, SPACES, "t", dims=(0, 1, 2), explained=explained),
        "side by side": lambda: plots.matrices_side_by_side({"a": M, "b": M.T}, SPACES, "t"),
        "brain map": lambda: plots.brain_map(stat, nib.Nifti1Image(mask, affine), "t"),
        "brain link": lambda: plots.brainlink_scatter(
            R, pred, [s["name"] for s in SPACES], ["m"] * 4 + ["g"], res, np.arange(40) % 2 == 0, "s1", "rule"
        ),
        "performance": lambda: plots.performance_bars(table, SPACES, "t", means=table, ceilings=table),
        "partition": lambda: plots.partition_scatter({"g.vec": {"baseline_r2": R[0], "unique": R[1]}}, "t"),
        "message": lambda: plots.message("t", "words"),
    }


@pytest.mark.parametrize("backend", ["svg", "pdf"])
def test_no_plot_changes_the_backend_or_touches_pyplot(rng, tmp_path, backend):
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    matplotlib.use(backend)  # the caller's choice, which lre must leave alone
    try:
        mine = plt.figure()  # a user's own figure
        for name, make in every_plot(rng, tmp_path).items():
            fig = make()
            assert isinstance(fig, matplotlib.figure.Figure), name
            assert matplotlib.get_backend() == backend, name
            assert plt.get_fignums() == [mine.number], name  # no figure of lre in pyplot
            plots.save(fig, tmp_path / f"{name}.png")
            assert (tmp_path / f"{name}.png").stat().st_size > 1_000, name
        plt.close(mine)
    finally:
        matplotlib.use(before)


def test_no_code_or_notebook_sets_the_backend():
    files = list((ROOT / "src").rglob("*.py")) + list((ROOT / "notebooks").glob("*.ipynb"))
    offenders = [str(p) for p in files if re.search(r"matplotlib\.use\(|mpl\.use\(", p.read_text())]
    assert offenders == []


def test_labels_of_a_crowded_embedding_do_not_overlap(rng):
    """Many spaces close together: the labels are moved apart (each label's box, in axes
    fractions, overlaps no other)."""
    spaces = [{"name": f"net.L{k}", "model": "net", "output": f"L{k}", "group": "net"} for k in range(12)]
    coords = np.c_[np.linspace(0, 0.01, 12), np.zeros(12)] + rng.normal(scale=1e-4, size=(12, 2))
    fig = plots.embedding(coords, spaces, "t", dims=(0, 1))
    fig.canvas.draw()
    boxes = [t.get_window_extent() for t in fig.axes[0].texts]
    assert len(boxes) == 12
    overlaps = [(a, b) for i, a in enumerate(boxes) for b in boxes[i + 1 :] if a.overlaps(b)]
    assert overlaps == []
