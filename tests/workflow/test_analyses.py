"""Each analysis on its own (config ``analyses``): the shipped encoding-only and
embedding-only configs plan only their own jobs, run end to end, and the report, Results
and both notebooks work on them, saying in one sentence what an analysis not run would make."""

import csv
import re

import pytest
from conftest import ROOT, run_snakemake
from test_workflow import images, run_notebook

from lre.results import Results

#: the rules of each analysis (a job of one of them in a run without it is a planning error)
CORPUS_SIDE = re.compile(
    r"corpus_documents|corpus_features|transfer_\w+|direct_gather|similarity|embedding"
    r"|compare_methods|viewer_embedding"
)
BRAIN_SIDE = re.compile(
    r"stimuli|features|demo_respdict|demo_fmri|encode_\w+|noise_ceiling|encoding_summary"
    r"|performance_figure|recovery|viewer_maps|partition|brainlink\w*|flatmap"
)


def job_counts(config: str, tmp_path) -> dict[str, int]:
    proc = run_snakemake(["-n", "--configfile", str(ROOT / "config" / config)], tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    table = out[out.index("Job stats:") :]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}


def test_the_encoding_only_config_plans_no_job_of_the_corpus_side(tmp_path):
    counts = job_counts("encoding_only.yaml", tmp_path)
    assert not [r for r in counts if CORPUS_SIDE.fullmatch(r)], counts
    assert counts["features"] == 3 and counts["encoding_summary"] == 3 and counts["noise_ceiling"] == 3
    assert sum(v for k, v in counts.items() if k.startswith("encode_")) == 9  # 3 models x 3 subjects
    assert "brainlink" not in counts and "partition" not in counts
    print("encoding_only.yaml:", counts)


def test_the_embedding_only_config_plans_no_job_of_the_brain_side(tmp_path):
    counts = job_counts("embedding_only.yaml", tmp_path)
    assert not [r for r in counts if BRAIN_SIDE.fullmatch(r) and r != "features_summary"], counts
    assert counts["corpus_features"] == 6 and counts["embedding"] == 1 and counts["compare_methods"] == 1
    print("embedding_only.yaml:", counts)


@pytest.mark.slow
def test_an_encoding_only_run_makes_encoding_results_a_report_and_notebooks_without_a_corpus(
    encoding_only_run, tmp_path
):
    results, cfg = encoding_only_run
    assert not (results / "transfer").exists() and not (results / "embedding").exists()
    assert not (results / "stimuli" / "corpus.h5").exists() and not (results / "features" / "corpus").exists()
    res = Results(results)
    assert res.analyses() == ["encoding"]
    with open(results / "summary.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert [r["space"] for r in table][-1] == "random.vec" and "dim1" not in table[0]
    for subject in cfg["dataset"]["subjects"]:
        row = next(r for r in table if r["space"] == "random.vec")
        assert abs(float(row[f"top_r_{subject}"])) < 0.15  # a random control near zero (tiny data: noisy)
        assert re.fullmatch(r"\d+ voxels by noise ceiling", row[f"top_voxels_{subject}"])
    assert "embedding analysis" in res.missing("embedding") and res.missing("encoding") is None
    with pytest.raises(Exception, match="made by the embedding analysis"):
        res.embedding()
    html = (results / "report.html").read_text()
    assert "Not run: this configuration&#x27;s analyses are encoding." in html
    first = run_notebook("01_embedding.ipynb", results, tmp_path)
    second = run_notebook("02_brain.ipynb", results, tmp_path)
    for outputs in (first, second):
        assert not [o for o in outputs if o.output_type == "error"]
    text = "".join(o.get("text", "") for o in first + second if o.output_type == "stream")
    assert "This run has no embedding outputs: they are made by the embedding analysis" in text
    assert "This run has no brainlink outputs" in text and "This run has no partition outputs" in text
    assert images(first) == 0
    assert images(second) == 4  # performance bars, performance against the ceiling, two maps


@pytest.mark.slow
def test_an_embedding_only_run_makes_the_embedding_a_report_and_notebooks_without_fmri(embedding_only_run, tmp_path):
    results, cfg = embedding_only_run
    assert not (results / "encoding").exists() and not (results / "stimuli" / "stories.h5").exists()
    assert not list((results / "demo").glob("derivative/preprocessed_data/*"))  # no fMRI made
    res = Results(results)
    assert res.analyses() == ["embedding"] and res.subjects() == []
    emb = res.embedding()
    assert len(emb["spaces"]) == 14 and emb["coords"].shape[1] == 4  # 3 + 3 + surprisal + 2 + 4 + 1
    with open(results / "summary.csv", newline="") as f:
        table = list(csv.DictReader(f))
    assert "dim1" in table[0] and not [k for k in table[0] if k.startswith("top_r_")]
    html = (results / "report.html").read_text()
    assert "Not run: this configuration&#x27;s analyses are embedding." in html
    first = run_notebook("01_embedding.ipynb", results, tmp_path)
    second = run_notebook("02_brain.ipynb", results, tmp_path)
    for outputs in (first, second):
        assert not [o for o in outputs if o.output_type == "error"]
    assert images(first) == 5 and images(second) == 0
    text = "".join(o.get("text", "") for o in second if o.output_type == "stream")
    assert "This run has no encoding outputs: they are made by the encoding analysis" in text


def readme_smallest_config() -> str:
    """The README's smallest encoding-only config (the yaml block that starts with its title)."""
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", text, re.S)
    found = [b for b in blocks if b.startswith("# the smallest encoding-only config")]
    assert len(found) == 1, "the README gives the smallest encoding-only config once"
    return found[0]


@pytest.mark.slow
def test_the_readmes_smallest_encoding_only_config_runs(tmp_path):
    """One model (the lexical controls) on the demo's data: valid, and a run fits and scores it."""
    import yaml

    (tmp_path / "c.yaml").write_text(readme_smallest_config())
    cfg = yaml.safe_load(readme_smallest_config())
    assert list(cfg["features"]["models"]) == ["lexical"] and cfg["analyses"] == ["encoding"]
    proc = run_snakemake(["--cores", "2", "--configfile", "c.yaml"], tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    res = Results(tmp_path / cfg["results"])
    rows = res.performance("sub01")
    assert [r["space"] for r in rows][-1] == "lexical.articulatory" and float(rows[-1]["mean_r"]) > 0.05
    assert res.path("report").stat().st_size > 50_000
