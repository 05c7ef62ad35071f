"""pycortex flatmaps of the brain-link maps (optional dependency, installed in CI by
``./install.sh --flatmap``), on pycortex's own sample subject S1, and the workflow's handling
of a configured database when pycortex is absent."""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml
from conftest import ROOT, run_snakemake

from lre import io
from lre.datasets.volume import save_nifti, voxels_of

try:
    import importlib.metadata

    importlib.metadata.version("pycortex")
    HAVE_PYCORTEX = True
except importlib.metadata.PackageNotFoundError:
    HAVE_PYCORTEX = False

needs_pycortex = pytest.mark.skipif(
    not HAVE_PYCORTEX and not os.environ.get("CI"), reason="pycortex is not installed (./install.sh --flatmap)"
)


def _env(tmp_path):
    # pycortex writes a user config on first import: keep it out of the home folder
    return dict(os.environ, XDG_CONFIG_HOME=str(tmp_path / "config"), PYTHONPATH=str(ROOT / "src"))


@pytest.fixture(scope="module")
def s1(tmp_path_factory):
    """A copy of pycortex's sample subject S1 (flatmap caches are written into the database),
    and its transform's reference grid."""
    import nibabel as nib

    if not HAVE_PYCORTEX:
        pytest.fail("pycortex is not installed; CI installs it with ./install.sh --flatmap")
    src = Path(sys.prefix) / "share" / "pycortex" / "db" / "S1"
    assert src.is_dir(), f"pycortex's sample subject is missing from {src}"
    store = tmp_path_factory.mktemp("pycortex") / "db"
    shutil.copytree(src, store / "S1", ignore=shutil.ignore_patterns("cache"))
    ref = nib.load(str(store / "S1" / "transforms" / "fullhead" / "reference.nii.gz"))
    return store, ref.shape[:3], ref.affine


def _world_x(shape, affine) -> np.ndarray:
    """The world x coordinate (mm, + = right) of every voxel of the grid, (x, y, z) array."""
    ijk = np.stack(np.meshgrid(*(np.arange(n) for n in shape), indexing="ij"), -1).reshape(-1, 3)
    return (ijk @ affine[:3, :3].T + affine[:3, 3])[:, 0].reshape(shape)


def _brainlink_file(path, principal, score):
    job = {"stage": "brainlink", "subject": "S1"}
    with io.h5_atomic(path) as f:
        io.h5_set_json(f, "provenance", io.provenance(job))
        f["principal"] = principal.astype(np.float32)
        f["score"] = score.astype(np.float32)
        f["reliable"] = np.isfinite(score)
    return io.config_hash(job)


def _flatmap(tmp_path, store, bl, expect, mask=None, order="c", cortical_mask=None, xfm="fullhead", subject="S1"):
    job = {
        "stage": "flatmap",
        "subject": "sub01",
        "expects": {"brainlink": expect},
        "pycortex": {"filestore": str(store), "subject": subject, "xfm": xfm, "mask": cortical_mask},
        "dataset": {"mask": str(mask) if mask else None, "voxel_order": order},
    }
    out = {k: tmp_path / f"{k}_flat.png" for k in ("principal", "score")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "lre",
            "flatmap",
            "--job",
            json.dumps(job),
            "--brainlink",
            str(bl),
            "--principal",
            str(out["principal"]),
            "--score",
            str(out["score"]),
        ],
        capture_output=True,
        text=True,
        env=_env(tmp_path),
        timeout=600,
    )
    return proc, out


def _hemisphere_colours(png):
    """Mean red minus blue of the coloured pixels of the left and right halves of a flatmap
    (pycortex draws the left hemisphere on the left)."""
    import matplotlib.image as mpimg

    img = mpimg.imread(png)[..., :3]
    rows = slice(int(img.shape[0] * 0.08), int(img.shape[0] * 0.8))  # below the title, above the colour bar
    img = img[rows]
    saturated = (img.max(-1) - img.min(-1)) > 0.15  # not white, grey curvature or black
    rb = img[..., 0] - img[..., 2]
    half = img.shape[1] // 2
    left, right = saturated[:, :half], saturated[:, half:]
    assert left.sum() > 10000 and right.sum() > 10000, "the flatmap shows almost no data"
    return float(rb[:, :half][left].mean()), float(rb[:, half:][right].mean())


@needs_pycortex
def test_nifti_maps_land_on_the_right_hemisphere_of_the_flatmap(s1, tmp_path):
    """A map that rises from left to right (world x) is blue on the left hemisphere's flatmap
    and red on the right's: the volume reaches pycortex in its own (z, y, x) order."""
    store, shape, affine = s1
    mask = np.zeros(shape, bool)
    mask[5:-5, 5:-5, 2:-2] = True
    mask_path = tmp_path / "mask.nii.gz"
    save_nifti(mask_path, mask.astype(np.float32), affine)
    x = voxels_of(_world_x(shape, affine), mask, "c")
    principal = np.tanh(x / 30.0)
    bl = tmp_path / "bl.h5"
    expect = _brainlink_file(bl, principal, -principal)
    proc, out = _flatmap(tmp_path, store, bl, expect, mask=mask_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    left, right = _hemisphere_colours(out["principal"])
    assert left < -0.2 and right > 0.2, (left, right)
    left, right = _hemisphere_colours(out["score"])  # the score map is its negative
    assert left > 0.2 and right < -0.2, (left, right)


@needs_pycortex
def test_voxel_vectors_use_the_named_cortical_mask(s1, tmp_path):
    """LeBel-style responses (the voxels of the ``thick`` mask, no NIfTI): named or guessed by
    size, the same hemisphere test holds; a mask of another size is refused."""
    store, shape, affine = s1
    code = (
        "import cortex, sys, numpy as np\n"
        "cortex.db.filestore = sys.argv[1]; cortex.db.reload_subjects()\n"
        "np.save(sys.argv[2], cortex.db.get_mask('S1', 'fullhead', 'thick'))\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(store), str(tmp_path / "thick.npy")],
        check=True,
        env=_env(tmp_path),
        capture_output=True,
        timeout=300,
    )
    thick = np.load(tmp_path / "thick.npy")  # pycortex order (z, y, x)
    x = voxels_of(_world_x(shape, affine), thick.T, "f")  # its voxels, pycortex's order
    principal = np.tanh(x / 30.0)
    bl = tmp_path / "bl.h5"
    expect = _brainlink_file(bl, principal, principal)
    for named in ("thick", None):
        proc, out = _flatmap(tmp_path, store, bl, expect, cortical_mask=named)
        assert proc.returncode == 0, proc.stderr[-3000:]
        left, right = _hemisphere_colours(out["principal"])
        assert left < -0.2 and right > 0.2, (named, left, right)
    proc, _ = _flatmap(tmp_path, store, bl, expect, cortical_mask="thin")
    assert proc.returncode == 2
    assert "pycortex mask 'thin' of S1/fullhead has" in proc.stderr and f"the maps have {len(x)}" in proc.stderr


@needs_pycortex
def test_flatmap_refusals_name_what_is_wrong(s1, tmp_path):
    store, shape, affine = s1
    small = np.zeros((10, 12, 8), bool)
    small[2:8, 2:10, 2:6] = True
    mask_path = tmp_path / "small_mask.nii.gz"
    save_nifti(mask_path, small.astype(np.float32), np.diag([3.0, 3.0, 3.0, 1.0]))
    v = np.linspace(-1, 1, int(small.sum()))
    bl = tmp_path / "bl.h5"
    expect = _brainlink_file(bl, v, v)
    proc, out = _flatmap(tmp_path, store, bl, expect, mask=mask_path)
    assert proc.returncode == 2 and not out["principal"].exists()
    assert f"{mask_path}: the maps are on a (10, 12, 8) grid" in proc.stderr
    assert "pycortex transform S1/fullhead references a (100, 100, 31) grid" in proc.stderr
    proc, _ = _flatmap(tmp_path, store, bl, expect, mask=mask_path, subject="UTS01")
    assert "pycortex subject 'UTS01' is not in the database" in proc.stderr and "['S1']" in proc.stderr
    proc, _ = _flatmap(tmp_path, store, bl, expect, mask=mask_path, xfm="UTS01_auto")
    assert "subject 'S1' has no transform 'UTS01_auto' (it has ['fullhead', 'retinotopy'])" in proc.stderr
    proc, _ = _flatmap(tmp_path, store, bl, "0123456789abcdef", mask=mask_path)
    assert "this brain-link file was made for a different config" in proc.stderr


def _flatmap_config(tmp_path):
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["brainlink"] = {"pycortex": {"filestore": str(tmp_path), "subject": "S1", "xfm": "fullhead"}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))


@needs_pycortex
def test_a_configured_database_adds_flatmaps_to_the_plan(tmp_path):
    _flatmap_config(tmp_path)
    proc = run_snakemake(["-n", "--configfile", "c.yaml"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    for subject in ("sub01", "sub02", "sub03"):
        assert f"results/brainlink/{subject}_principal_flat.png" in out
    assert "flatmaps are skipped" not in out


def test_without_pycortex_the_flatmaps_are_skipped_with_a_message(tmp_path):
    """pycortex made unimportable: the plan has no flatmap job and says why and how to fix it."""
    shim = tmp_path / "shim" / "cortex"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text("raise ImportError('No module named cortex')\n")
    _flatmap_config(tmp_path)
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONPATH=str(tmp_path / "shim"))
    proc = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile"), "-n", "--configfile", "c.yaml"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout + proc.stderr
    assert "brainlink.pycortex is set, but pycortex is not installed here, so the flatmaps are skipped" in out
    assert "pip install -e '.[flatmap]'" in out
    assert "_flat.png" not in out and "rule flatmap" not in out
    assert "rule brainlink:" in out
