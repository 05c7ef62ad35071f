"""The interactive views: the embedding's 3-D figure and the brain maps as self-contained
HTML; and, in headless Chromium (Debian's ``chromium``), that they render without a
JavaScript error and that the 3-D viewer draws one marker per space."""

from __future__ import annotations

import os
import re
import shutil
import subprocess

import nibabel as nib
import numpy as np
import pytest

from lre import viewer

SPACES = (
    [{"name": f"lm.L{k}", "model": "lm", "output": f"L{k}", "group": "lm"} for k in (6, 0, 3)]
    + [{"name": "lm.surprisal", "model": "lm", "output": "surprisal", "group": "lm"}]
    + [{"name": "glove.vec", "model": "glove", "output": "vec", "group": "static"}]
)


def coords(rng, n_dims=5):
    return rng.normal(size=(len(SPACES), n_dims))


def test_one_marker_per_space_and_layers_joined_in_depth_order(rng):
    c = coords(rng)
    perf = {"lm.L3": 0.25}
    fig = viewer.embedding_figure(
        c, SPACES, np.array([0.3, 0.2, 0.1, 0.05, 0.02]), perf, performance_label="mean test r of 200 voxels"
    )
    names = [n for t in fig.data for n in t.customdata]
    assert sorted(names) == sorted(s["name"] for s in SPACES)  # each space exactly once
    layers = next(t for t in fig.data if t.mode == "lines+markers")
    assert list(layers.customdata) == ["lm.L0", "lm.L3", "lm.L6"]  # depth order, joined by a line
    np.testing.assert_allclose(layers.x, c[[1, 2, 0], 0])
    hover = dict(zip(layers.customdata, layers.text))["lm.L3"]
    assert "lm.L3" in hover and "group: lm" in hover and "mean test r of 200 voxels: 0.250" in hover
    assert f"dim 5: {c[2, 4]:+.3f}" in hover
    # three menus (x, y, z), each choosing any of the 5 dimensions for every trace
    assert len(fig.layout.updatemenus) == 3
    for axis, menu in zip("xyz", fig.layout.updatemenus):
        assert [b.label for b in menu.buttons][1] == "dim 2 (20.0 %)"
        choice = menu.buttons[3].args[0][axis]
        assert len(choice) == len(fig.data)
        np.testing.assert_allclose(choice[0], c[[1, 2, 0], 3])


def test_the_viewer_needs_three_dimensions(rng):
    with pytest.raises(ValueError, match="at least 3"):
        viewer.embedding_figure(coords(rng, 2), SPACES)


def test_the_html_files_are_self_contained(rng, tmp_path):
    viewer.embedding_html(coords(rng), SPACES, tmp_path / "e.html", "title")
    img = nib.Nifti1Image(rng.normal(size=(6, 7, 5)).astype(np.float32), np.diag([3.0, 3.0, 3.0, 1.0]))
    viewer.map_html(img, tmp_path / "m.html", "a map")
    for name in ("e.html", "m.html"):
        html = (tmp_path / name).read_text()
        assert not re.search(r"<script[^>]+src=[\"']https?:", html), name  # no script from the network
    assert len((tmp_path / "e.html").read_text()) > 1_000_000  # plotly's JavaScript is inside
    assert not list(tmp_path.glob(".*tmp*"))  # written under a temporary name, then renamed


def test_the_same_views_write_the_same_bytes(rng, tmp_path):
    """Two clean runs give byte-identical results: no random element id in the files."""
    c = coords(rng)
    img = nib.Nifti1Image(rng.normal(size=(6, 7, 5)).astype(np.float32), np.diag([3.0, 3.0, 3.0, 1.0]))
    for k in (0, 1):
        viewer.embedding_html(c, SPACES, tmp_path / f"e{k}.html", "title")
        viewer.map_html(img, tmp_path / f"m{k}.html", "a map")
    for name in ("e", "m"):
        assert (tmp_path / f"{name}0.html").read_bytes() == (tmp_path / f"{name}1.html").read_bytes(), name


def test_an_empty_map_says_so(tmp_path, caplog):
    img = nib.Nifti1Image(np.full((4, 4, 4), np.nan, np.float32), np.eye(4))
    viewer.map_html(img, tmp_path / "m.html", "nothing here")
    assert "EMPTY, no voxel has a value" in (tmp_path / "m.html").read_text()
    assert "no voxel with a value" in caplog.text


# --------------------------------------------------------------------------- in a real browser

PROBE = """
<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(String(e.message)));
</script>
"""
REPORT = r"""
<script>
// after load: the markers plotly drew, the errors seen, and whether every image loads (the
// page's <img> elements and every data:image URL it carries, as the Snakemake report holds its
// figures), written into the DOM for --dump-dom to print
window.addEventListener("load", () => setTimeout(async () => {
  const gd = document.querySelector(".plotly-graph-div");
  const n = gd && gd._fullData ? gd._fullData.reduce((s, t) => s + (t.visible === true ? t.x.length : 0), 0) : -1;
  const pattern = /data:image\/(png|jpeg|svg\+xml)(;[^;,"]*)*;base64,[A-Za-z0-9+\/=]+/g;
  const urls = document.documentElement.innerHTML.match(pattern) || [];
  const load = src => new Promise(ok => { const i = new Image(); i.onload = () => ok(i.naturalWidth > 0);
                                            i.onerror = () => ok(false); i.src = src; });
  const shown = Array.from(document.images).map(i => load(i.src));
  const loaded = await Promise.all(shown.concat(urls.map(load)));
  const out = document.createElement("pre");
  out.id = "lre-probe";
  out.textContent = JSON.stringify({markers: n, errors: window.__errors, images: loaded.length,
                                    broken: loaded.filter(x => !x).length});
  document.body.appendChild(out);
}, 1500));
</script>
"""


def chromium() -> str:
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if exe is None:
        if os.environ.get("CI"):
            pytest.fail("chromium is missing; CI installs Debian's chromium (.ci/run)")
        pytest.skip("headless Chromium is not installed (apt-get install chromium)")
    return exe


def render(html_path, tmp_path, screenshot=None) -> dict:
    """Open a page in headless Chromium with an error probe; what the probe saw."""
    import json

    html = html_path.read_text()
    head = html.index("<head>") + len("<head>") if "<head>" in html else 0
    probed = html[:head] + PROBE + html[head:]
    end = probed.rindex("</body>") if "</body>" in probed else len(probed)
    probed = probed[:end] + REPORT + probed[end:]
    page = tmp_path / f"probe_{html_path.name}"
    page.write_text(probed)
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=10000", "--window-size=1100,800"]
    out = subprocess.run([chromium(), *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=180)
    found = re.search(r'<pre id="lre-probe">(.*?)</pre>', out.stdout, re.S)
    assert found, out.stderr[-3000:]
    if screenshot is not None:
        subprocess.run(
            [chromium(), *flags, "--hide-scrollbars", f"--screenshot={screenshot}", html_path.as_uri()],
            capture_output=True,
            timeout=180,
        )
    return json.loads(found.group(1).replace("&quot;", '"'))


def test_the_views_render_in_headless_chromium_without_errors(rng, tmp_path):
    c = coords(rng)
    viewer.embedding_html(c, SPACES, tmp_path / "e.html", "title")
    seen = render(tmp_path / "e.html", tmp_path, screenshot=tmp_path / "e.png")
    assert seen["errors"] == [] and seen["markers"] == len(SPACES), seen
    assert (tmp_path / "e.png").stat().st_size > 10_000
    img = nib.Nifti1Image(rng.normal(size=(6, 7, 5)).astype(np.float32), np.diag([3.0, 3.0, 3.0, 1.0]))
    viewer.map_html(img, tmp_path / "m.html", "a map")
    seen = render(tmp_path / "m.html", tmp_path)
    assert seen["errors"] == [] and seen["broken"] == 0, seen


def test_an_mni_map_on_the_fsaverage_surface_renders(rng, tmp_path):
    """A map in MNI space (2 mm grid, MNI152 origin) projected on fsaverage5, which ships
    with nilearn (no download), renders without error."""
    affine = np.array([[-2.0, 0, 0, 90], [0, 2, 0, -126], [0, 0, 2, -72], [0, 0, 0, 1]])
    img = nib.Nifti1Image(rng.normal(size=(91, 109, 91)).astype(np.float32), affine)
    viewer.map_html(img, tmp_path / "s.html", "a surface map", surface=True)
    html = (tmp_path / "s.html").read_text()
    assert "a surface map" in html and not re.search(r"<script[^>]+src=[\"']https?:", html)
    seen = render(tmp_path / "s.html", tmp_path)
    assert seen["errors"] == [], seen


REPORT_PROBE = r"""
<script>
window.__errors = [];
window.addEventListener("error", e => window.__errors.push(String(e.message)));
// after load: open every closed view, then count what the reader sees
window.addEventListener("load", () => {
  document.querySelectorAll("details.view-box").forEach(d => { d.open = true; });
  setTimeout(() => {
    const frames = Array.from(document.querySelectorAll("iframe.view")).map(f => {
      const doc = f.contentDocument;
      const gd = doc && doc.querySelector(".plotly-graph-div");
      const drawn = gd && gd._fullData;
      const markers = drawn ? drawn.reduce((s, t) => s + (t.visible === true ? t.x.length : 0), 0) : -1;
      return {markers: markers, length: doc && doc.body ? doc.body.innerHTML.length : 0,
              errors: (f.contentWindow && f.contentWindow.__lreErrors) || []};
    });
    const tables = Array.from(document.querySelectorAll("table.lre-table")).map(t => t.rows.length);
    const items = Array.from(document.querySelectorAll("figure.item")).map(f => ({
      kind: f.className.replace("item ", ""),
      caption: (f.querySelector("figcaption") || {innerText: ""}).innerText.length,
      shown: f.getBoundingClientRect().height}));
    const imgs = Array.from(document.querySelectorAll("img.figure")).map(i => i.complete && i.naturalWidth > 0);
    const out = document.createElement("pre");
    out.id = "lre-probe";
    out.textContent = JSON.stringify({errors: window.__errors, frames: frames, tables: tables, items: items,
                                      images: imgs.length, broken: imgs.filter(x => !x).length,
                                      text: document.body.innerText});
    document.body.appendChild(out);
  }, 4000);
});
</script>
"""


def render_report(report, tmp_path) -> dict:
    """Open the run's report in headless Chromium, every view opened; what a reader sees."""
    import json

    html = report.read_text()
    page = tmp_path / "probe_report.html"
    page.write_text(html.replace("</body>", REPORT_PROBE + "</body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=30000", "--window-size=1300,900"]
    out = subprocess.run([chromium(), *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=300)
    found = re.search(r'<pre id="lre-probe">(.*?)</pre>', out.stdout, re.S)
    assert found, out.stderr[-3000:]
    import html as _html

    return json.loads(_html.unescape(found.group(1)))


@pytest.mark.slow
def test_the_report_shows_every_figure_table_and_view_in_headless_chromium(tiny_run, tmp_path):
    """The run's report (results/report.html, written by the run): no JavaScript error; every
    figure decodes and shows its caption; every table entry renders as a table with rows; the
    3-D embedding viewer is drawn inside the report with one marker per embedded space, and
    every interactive map inside it; what a reader sees has no machine path and no job JSON."""
    from lre import report as lre_report
    from lre.results import Results

    run_dir, cfg = tiny_run
    res = Results(run_dir / "results")
    path = res.path("report")
    seen = render_report(path, tmp_path)
    assert seen["errors"] == [] and seen["broken"] == 0, seen["errors"]
    plan = [i for sec in _walk(lre_report.plan(_report_job(cfg, run_dir))) for i in sec.items]
    kinds = [i.kind for i in plan]
    assert [i["kind"] for i in seen["items"]] == kinds
    assert seen["images"] == kinds.count("figure") >= 10
    assert all(i["caption"] > 80 and i["shown"] > 100 for i in seen["items"]), seen["items"]  # captions in view
    assert len(seen["tables"]) == kinds.count("table") + kinds.count("record")
    assert all(rows >= 2 for rows in seen["tables"]), seen["tables"]
    views = seen["frames"]
    assert len(views) == kinds.count("view") and all(v["length"] > 1000 for v in views), views
    n_spaces = len(res.embedding(cfg["embedding"]["methods"][0])["spaces"])
    assert views[0]["markers"] == n_spaces, views[0]
    text = seen["text"]
    assert str(run_dir) not in text and "/tmp" not in text and '"stage"' not in text
    assert "results/encoding/sa/summary.csv" in text  # files are named under the results folder


def _walk(sections):
    for sec in sections:
        yield sec
        yield from _walk(sec.children)


def _report_job(cfg, run_dir):
    """The report job of the tiny run, with its folders where the run put them."""
    from lre import config, jobs

    job = jobs.report_job(config.validate(cfg))
    job.update(results=str(run_dir / job["results"]), corpus_results=str(run_dir / job["corpus_results"]))
    return job


@pytest.mark.slow
def test_the_runs_views_render_in_headless_chromium(tiny_run, tmp_path):
    """The embedding viewer (one marker per embedded space) and every interactive map, each
    opened as its own file."""
    from lre.jobs import VIEWER_MAPS
    from lre.results import Results

    run_dir, cfg = tiny_run
    res = Results(run_dir / "results")
    for method in cfg["embedding"]["methods"]:
        seen = render(res.path("viewer_embedding", method=method), tmp_path)
        assert seen["errors"] == [] and seen["markers"] == len(res.embedding(method)["spaces"]), seen
    maps = [res.path("viewer_map", subject=s, kind=k) for s in cfg["dataset"]["subjects"] for k in VIEWER_MAPS]
    for path in maps:
        seen = render(path, tmp_path)
        assert seen["errors"] == [], (path, seen)


HOSTILE = '</script><script>window.__pwned = 1</script><img src=x onerror="window.__pwned = 2">'

HOSTILE_PROBE = r"""
<script>
window.addEventListener("load", () => {
  document.querySelectorAll("details.view-box").forEach(d => { d.open = true; });
  setTimeout(() => {
    const frames = Array.from(document.querySelectorAll("iframe.view")).map(f => f.contentWindow.__pwned || 0);
    const out = document.createElement("pre");
    out.id = "lre-probe";
    out.textContent = JSON.stringify({page: window.__pwned || 0, frames: frames,
                                      shown: document.body.innerText.includes("window.__pwned")});
    document.body.appendChild(out);
  }, 4000);
});
</script>
"""


@pytest.mark.slow
def test_a_run_in_folders_with_spaces_and_with_hostile_labels_shows_them_as_text(tmp_path):
    """A working directory and a results folder with spaces in their names, and a config whose
    label and group strings are HTML that would run a script: every rule's shell command quotes
    its paths, so the whole pipeline runs (every kind of job); the run's report and its
    interactive views show the strings as text, and no script of theirs runs (headless
    Chromium, every view opened)."""
    import json

    import yaml
    from conftest import moved, run_snakemake, small_config

    work = tmp_path / "work dir"
    work.mkdir()
    cfg = moved(small_config(), "results", "my results")
    cfg["partition"]["spaces"] = ["gpt2_untrained.L2"]
    cfg["features"]["models"]["glove"].update(label=HOSTILE, group=HOSTILE)
    assert cfg["stimuli"]["path"].startswith("my results/")
    (work / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = run_snakemake(["--cores", "2", "--configfile", "c.yaml"], work)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    out = work / "my results"
    assert (out / "brainlink" / "sa.h5").exists() and (out / "summary.csv").exists()
    assert (out / "encoding" / "sa" / "glove.vec_r.nii.gz").exists()
    assert (out / "partition" / "sa" / "gpt2_untrained.L2_unique.nii.gz").exists()
    assert not (out / ".lre-run.lock").exists()  # the run let go of its folder
    report = out / "report.html"
    page = tmp_path / "probe.html"
    page.write_text(report.read_text().replace("</body>", HOSTILE_PROBE + "</body>"))
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=30000"]
    dom = subprocess.run([chromium(), *flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=300)
    found = re.search(r'<pre id="lre-probe">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stderr[-3000:]
    seen = json.loads(found.group(1).replace("&quot;", '"'))
    assert seen["page"] == 0 and not any(seen["frames"]), seen  # no hostile script ran
    assert seen["shown"]  # the label is shown, as text
    viewer_page = tmp_path / "probe_viewer.html"
    viewer = (out / "viewer" / "embedding_bottleneck.html").read_text()
    viewer_page.write_text(viewer.replace("</body>", HOSTILE_PROBE.replace("iframe.view", "iframe.none") + "</body>"))
    dom = subprocess.run(
        [chromium(), *flags, "--dump-dom", viewer_page.as_uri()], capture_output=True, text=True, timeout=300
    )
    found = re.search(r'<pre id="lre-probe">(.*?)</pre>', dom.stdout, re.S)
    assert found and json.loads(found.group(1).replace("&quot;", '"'))["page"] == 0
