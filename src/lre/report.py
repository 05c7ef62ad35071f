"""The run's report: one self-contained HTML page (``results/report.html``) with everything the
config's analyses made, readable offline in any browser.

Every figure is shown with its caption under it; every table (CSV) is shown as a table, with
a link to download it; the checks against the demo's planted truth (JSON) as tables of their
values; the interactive views (the embedding in 3-D, the brain maps) inside the page, each in
a frame of its own made from the view's file. What the reader sees names files only by their
place under the results folder, never by a path of the machine, and no job's configuration.
An analysis the config did not run is named in one sentence that says how to run it.

Every string from configs and data files is escaped on its way into the page.
"""

from __future__ import annotations

import base64
import csv
import dataclasses
import html
import json
import logging
import os
from pathlib import Path

from . import __version__, io
from .commands import Arg, Command
from .errors import InputError
from .paths import Layout

log = logging.getLogger(__name__)

#: what each analysis makes, and how to have it, for the sentence that stands in its place
ANALYSES = {
    "embedding": (
        "Transfer maps and the embedding",
        "the embedding analysis (a corpus section, and embedding in analyses)",
    ),
    "encoding": (
        "Encoding models",
        "the encoding analysis (stimuli and dataset sections, and encoding in analyses)",
    ),
    "partition": (
        "Variance partitioning",
        "the partition analysis (partition.spaces, and partition in analyses, with encoding)",
    ),
    "brainlink": (
        "The brain link",
        "the brainlink analysis (both the embedding and the encoding analyses, and brainlink in analyses)",
    ),
}


@dataclasses.dataclass(frozen=True)
class Item:
    """One entry of the report: a ``figure`` (PNG), a ``table`` (CSV), a ``record`` (JSON) or a
    ``view`` (self-contained HTML), with a title and the name of its caption
    (``<captions>/<caption>.rst``)."""

    kind: str
    path: Path
    title: str
    caption: str
    shown: bool = True  #: views: drawn when the page opens (else when the reader opens them)


@dataclasses.dataclass
class Section:
    title: str
    items: list = dataclasses.field(default_factory=list)
    note: str = ""  #: a sentence in place of the items (an analysis not run)
    children: list = dataclasses.field(default_factory=list)


def plan(job: dict) -> list[Section]:
    """The report's sections and items for a report job (:func:`lre.jobs.report_job`)."""
    paths = Layout(job["results"], job["corpus_results"])

    def p(name, **wildcards):
        return Path(paths.path(name, **wildcards))

    ran = set(job["analyses"])
    sections = [Section("Feature spaces", [Item("table", p("features_summary"), "Every space", "features_summary")])]

    emb = Section(ANALYSES["embedding"][0])
    if "embedding" in ran:
        for method in job["methods"]:
            sub = Section(f"Embedding ({method})")
            if job["viewer"]:
                sub.items.append(
                    Item("view", p("viewer_embedding", method=method), "The embedding in 3-D", "viewer_embedding")
                )
            sub.items += [
                Item("figure", p("embedding_2d_png", method=method), "The first two dimensions", "embedding2d"),
                Item("figure", p("embedding_scree_png", method=method), "Variance by dimension", "scree"),
                Item("figure", p("embedding_affinity_png", method=method), "The affinity matrix", "affinity"),
                Item("figure", p("embedding_3d_png", method=method), "The first three dimensions", "embedding3d"),
                Item("table", p("embedding_layers", method=method), "Layers along each dimension", "layers"),
                Item("table", p("embedding_coords", method=method), "Coordinates", "coords"),
            ]
            emb.children.append(sub)
        if job["comparison"]:
            emb.children.append(
                Section(
                    "Similarity methods compared",
                    [
                        Item("figure", p("comparison_png"), "Each method's space-by-space matrix", "comparison"),
                        Item("table", p("comparison_csv"), "How much the methods agree", "comparison_table"),
                    ],
                )
            )
    sections.append(emb)

    enc = Section(ANALYSES["encoding"][0])
    if "encoding" in ran:
        enc.items.append(Item("figure", p("performance_png"), "Encoding performance of every space", "performance"))
        for s in job["subjects"]:
            sub = Section(
                f"Encoding: {s}", [Item("table", p("encoding_summary", subject=s), "Every space", "encoding_summary")]
            )
            if job["maps"]:
                sub.items.append(Item("figure", p("noise_ceiling_png", subject=s), "Noise ceiling", "noise_ceiling"))
            if "best_r" in job["viewer_maps"]:
                sub.items.append(
                    Item(
                        "view",
                        p("viewer_map", subject=s, kind="best_r"),
                        "Best test r (interactive)",
                        "viewer_map",
                        False,
                    )
                )
            if job["demo"]:
                sub.items.append(Item("record", p("recovery", subject=s), "Recovery of the planted truth", "recovery"))
            enc.children.append(sub)
    sections.append(enc)

    part = Section(ANALYSES["partition"][0])
    if "partition" in ran:
        for s in job["subjects"]:
            part.children.append(
                Section(
                    f"Variance partitioning: {s}",
                    [
                        Item(
                            "figure", p("partition_png", subject=s), "Unique variance beyond the baseline", "partition"
                        ),
                        Item("table", p("partition_table", subject=s), "Each tested space", "partition_table"),
                    ],
                )
            )
    sections.append(part)

    link = Section(ANALYSES["brainlink"][0])
    if "brainlink" in ran:
        link.items.append(Item("table", p("brainlink_summary"), "Each subject", "brainlink_summary"))
        for s in job["subjects"]:
            sub = Section(
                f"Brain link: {s}",
                [
                    Item(
                        "figure",
                        p("brainlink_scatter", subject=s),
                        "Predicted and actual performance",
                        "brainlink_scatter",
                    )
                ],
            )
            if job["maps"]:
                sub.items += [
                    Item("figure", p("brainlink_principal_png", subject=s), "Principal-dimension map", "principal"),
                    Item("figure", p("brainlink_score_png", subject=s), "Brain-link score map", "brainlink_map"),
                ]
            if job["flatmaps"]:
                sub.items += [
                    Item(
                        "figure", p("flatmap_principal", subject=s), "Principal-dimension flatmap", "flatmap_principal"
                    ),
                    Item("figure", p("flatmap_score", subject=s), "Brain-link score flatmap", "flatmap_score"),
                ]
            for kind, title in (("principal", "Principal-dimension map"), ("score", "Brain-link score")):
                if kind in job["viewer_maps"]:
                    sub.items.append(
                        Item(
                            "view", p("viewer_map", subject=s, kind=kind), f"{title} (interactive)", "viewer_map", False
                        )
                    )
            if job["demo"]:
                sub.items.append(
                    Item(
                        "record", p("brainlink_check", subject=s), "Check against the planted truth", "brainlink_check"
                    )
                )
            link.children.append(sub)
    sections.append(link)

    sections.append(Section("All spaces", [Item("table", p("space_table"), "One row per space", "space_table")]))
    for sec, analysis in ((emb, "embedding"), (enc, "encoding"), (part, "partition"), (link, "brainlink")):
        if analysis not in ran:
            sec.note = f"Not run: this configuration's analyses are {', '.join(job['analyses'])}. " + (
                f"{ANALYSES[analysis][0]} come from {ANALYSES[analysis][1]}."
            )
    return sections


# --------------------------------------------------------------------------- rendering


def _esc(text) -> str:
    return html.escape(str(text), quote=True)


def shown_value(value: str) -> str:
    """A table cell as the reader sees it: an absolute path of the machine shown by its file
    name only."""
    v = value.strip()
    if v.startswith(("/", "~")) or (len(v) > 2 and v[1] == ":" and v[2] in "\\/"):
        return os.path.basename(v.rstrip("/\\")) or v
    return value


def caption_html(folder, name: str) -> str:
    """A caption (reStructuredText, ``<folder>/<name>.rst``) as HTML."""
    from docutils.core import publish_parts

    path = Path(folder) / f"{name}.rst"
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(
            path, "is missing: every report entry has a caption.", fix="restore it from the repository."
        ) from None
    settings = {"report_level": 5, "halt_level": 5, "raw_enabled": False, "file_insertion_enabled": False}
    return publish_parts(text, writer_name="html", settings_overrides=settings)["fragment"]


def table_html(path: Path) -> str:
    """A CSV file as an HTML table (every cell escaped; numbers right-aligned)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.reader(f))
    if not rows:
        return "<p class='empty'>(an empty table)</p>"
    head = "".join(f"<th>{_esc(c)}</th>" for c in rows[0])

    def cell(v):
        try:
            float(v)
            return f"<td class='num'>{_esc(v)}</td>"
        except ValueError:
            return f"<td>{_esc(shown_value(v))}</td>"

    body = "".join("<tr>" + "".join(cell(v) for v in r) + "</tr>" for r in rows[1:])
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    name = _esc(path.name)
    link = f"<a class='download' download='{name}' href='data:text/csv;base64,{data}'>download {name}</a>"
    return (
        f"<div class='table'><table class='lre-table'><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"
        f"<div class='meta'>{len(rows) - 1} rows. {link}</div>"
    )


def _flatten(value, prefix="") -> list[tuple[str, str]]:
    if isinstance(value, dict):
        return [kv for k, v in value.items() for kv in _flatten(v, f"{prefix}{k} / ")]
    if isinstance(value, float):
        return [(prefix.rstrip(" /"), f"{value:.4g}")]
    if isinstance(value, list):
        return [(prefix.rstrip(" /"), ", ".join(map(str, value)))]
    return [(prefix.rstrip(" /"), str(value))]


def record_html(path: Path) -> str:
    """A JSON record (the demo's checks) as a two-column table of its values."""
    value = json.loads(path.read_text(encoding="utf-8"))
    rows = "".join(
        f"<tr><th>{_esc(k)}</th><td class='num'>{_esc(shown_value(v))}</td></tr>" for k, v in _flatten(value)
    )
    return f"<div class='table'><table class='lre-table record'><tbody>{rows}</tbody></table></div>"


def figure_html(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"<img class='figure' alt='{_esc(alt)}' src='data:image/png;base64,{data}'>"


def view_html(path: Path, ident: str, shown: bool) -> str:
    """A self-contained HTML view in a frame of its own, its document carried in the page as
    base64 and handed to the frame's ``srcdoc`` (a data: URL of several MB is blocked by
    browsers; ``srcdoc`` is not). Views not ``shown`` are drawn when their entry is opened."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    frame = f"<iframe class='view' id='{ident}' data-payload='{ident}-payload' title='interactive view'></iframe>"
    payload = f"<script type='text/plain' id='{ident}-payload'>{data}</script>"
    if shown:
        return f"<div class='view-box' data-show='1'>{frame}</div>{payload}"
    return f"<details class='view-box'><summary>open the interactive view</summary>{frame}</details>{payload}"


def _anchor(title: str, taken: set) -> str:
    base = "".join(c if c.isalnum() else "-" for c in title.lower()).strip("-") or "s"
    ident, k = base, 1
    while ident in taken:
        k += 1
        ident = f"{base}-{k}"
    taken.add(ident)
    return ident


def render(job: dict, captions, sections: list[Section] | None = None) -> str:
    """The report's HTML."""
    sections = plan(job) if sections is None else sections
    root = Path(job["results"]).resolve()
    corpus = Path(job["corpus_results"]).resolve()
    cache: dict[str, str] = {}
    taken: set = set()
    toc, body = [], []

    def label(path: Path) -> str:
        full = path.resolve()
        for base, name in ((root, "results"), (corpus, "corpus results")):
            try:
                return f"{name}/{full.relative_to(base).as_posix()}"
            except ValueError:
                continue
        return path.name

    def item_html(item: Item, k: int) -> str:
        if not item.path.exists():
            raise InputError(item.path, "is missing: the report lists what the analyses made.", fix="run the pipeline.")
        if item.caption not in cache:
            cache[item.caption] = caption_html(captions, item.caption)
        if item.kind == "figure":
            content = figure_html(item.path, item.title)
        elif item.kind == "table":
            content = table_html(item.path)
        elif item.kind == "record":
            content = record_html(item.path)
        else:
            content = view_html(item.path, f"view{k}", item.shown)
        return (
            f"<figure class='item {item.kind}'><h4>{_esc(item.title)}</h4>{content}"
            f"<figcaption>{cache[item.caption]}<div class='file'>{_esc(label(item.path))}</div></figcaption></figure>"
        )

    counter = [0]

    def section_html(sec: Section, level: int) -> str:
        ident = _anchor(sec.title, taken)
        toc.append(f"<li class='l{level}'><a href='#{ident}'>{_esc(sec.title)}</a></li>")
        out = [f"<section id='{ident}'><h{level}>{_esc(sec.title)}</h{level}>"]
        if sec.note:
            out.append(f"<p class='note'>{_esc(sec.note)}</p>")
        for item in sec.items:
            counter[0] += 1
            out.append(item_html(item, counter[0]))
        for child in sec.children:
            out.append(section_html(child, level + 1))
        out.append("</section>")
        return "".join(out)

    for sec in sections:
        body.append(section_html(sec, 2))
    intro = caption_html(captions, "workflow")
    facts = (
        f"<p class='facts'>Analyses: <b>{_esc(', '.join(job['analyses']))}</b>; {job['spaces']} feature spaces"
        + (f"; subjects {_esc(', '.join(job['subjects']))}" if job["subjects"] else "")
        + f". Config hash {_esc(job['config_hash'])}; lre {_esc(__version__)}.</p>"
    )
    return PAGE.format(
        title="lre report",
        style=STYLE,
        script=SCRIPT,
        toc="".join(toc),
        intro=intro,
        facts=facts,
        body="".join(body),
    )


def run(job: dict, captions, out) -> None:
    """Write the report of the run ``job`` describes (:func:`lre.jobs.report_job`) to ``out``,
    its captions read from the folder ``captions``."""
    page = render(job, captions)
    io.write_text(out, page)
    log.info("%s: %d sections, %.1f MB", out, len(plan(job)), len(page) / 1e6)


STYLE = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:0;color:#1f2328;background:#fff}
nav{position:fixed;top:0;left:0;bottom:0;width:250px;overflow:auto;padding:14px;background:#f6f8fa;
border-right:1px solid #d0d7de;font-size:13px}
nav ul{list-style:none;padding-left:0;margin:0}nav li.l3{padding-left:14px}nav li.l4{padding-left:28px}
nav a{color:#0969da;text-decoration:none;line-height:1.7}
main{margin-left:280px;padding:10px 30px 60px;max-width:1250px}
h2{border-bottom:2px solid #d0d7de;padding-bottom:4px;margin-top:40px}
figure.item{margin:18px 0 30px;padding:12px;border:1px solid #d0d7de;border-radius:6px}
figure.item h4{margin:0 0 8px}
img.figure{max-width:100%;height:auto;display:block}
figcaption{font-size:13.5px;line-height:1.45;color:#333;margin-top:8px}
figcaption p{margin:4px 0}
.file{color:#57606a;font-family:monospace;font-size:12px;margin-top:4px}
.table{max-height:520px;overflow:auto;border:1px solid #eaeef2}
table.lre-table{border-collapse:collapse;font-size:12px}
table.lre-table th,table.lre-table td{border:1px solid #eaeef2;padding:2px 6px;white-space:nowrap}
table.lre-table thead th{position:sticky;top:0;background:#f6f8fa}
table.lre-table td.num{text-align:right;font-variant-numeric:tabular-nums}
table.record th{text-align:left;background:#f6f8fa}
.meta{font-size:12px;color:#57606a;margin-top:4px}
p.note{background:#fff8c5;border:1px solid #d4a72c;padding:8px 12px;border-radius:6px}
iframe.view{width:100%;height:760px;border:1px solid #d0d7de}
details.view-box summary{cursor:pointer;color:#0969da}
"""

SCRIPT = """
function lreShow(frame){
  if(frame.dataset.loaded) return;
  const text = document.getElementById(frame.dataset.payload).textContent;
  const bytes = Uint8Array.from(atob(text), c => c.charCodeAt(0));
  frame.srcdoc = new TextDecoder("utf-8").decode(bytes);
  frame.dataset.loaded = "1";
}
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("div.view-box[data-show] iframe.view").forEach(lreShow);
  document.querySelectorAll("details.view-box").forEach(d => d.addEventListener("toggle", () => {
    if (d.open) lreShow(d.querySelector("iframe.view"));
  }));
});
"""

PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>{style}</style><script>{script}</script></head>
<body><nav><b>lre report</b><ul>{toc}</ul></nav>
<main><h1>{title}</h1>{intro}{facts}{body}</main></body></html>
"""

COMMANDS = (
    Command(
        "report",
        "the run's report: every figure, table and interactive view in one HTML page",
        run,
        (
            Arg("--captions", "folder of the captions (workflow/report/*.rst)"),
            Arg("--out", "HTML file to write"),
        ),
    ),
)
