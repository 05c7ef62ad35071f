"""The Snakemake workflow: dry-run, lint, and a tiny end-to-end run of every family."""

import copy
import csv
import itertools
import json
import re

import numpy as np
import pytest
import yaml
from conftest import ROOT, run_snakemake, tiny_config

from lre import config, io, jobs, stimuli
from lre.features import resolve_spaces
from lre.features.store import FeatureFile
from lre.stimuli import documents


@pytest.mark.parametrize("profile", ["default", "slurm"])
def test_dry_run_of_the_default_config_lists_every_model_and_its_gpu(profile, tmp_path):
    """From scratch, each profile plans every model's features; on SLURM the neural models
    (and only they) ask for a GPU."""
    (tmp_path / "config.yaml").write_text((ROOT / "config.yaml").read_text())
    proc = run_snakemake(["-n", "--profile", str(ROOT / "workflow" / "profiles" / profile)], tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    cfg = config.load(ROOT / "config.yaml")
    jobs = {}
    for rule in ("corpus_features", "features"):
        for block in (proc.stdout + proc.stderr).split(f"rule {rule}:")[1:]:
            model = re.search(r"wildcards: model=(\S+)", block).group(1)
            jobs[rule, model] = re.search(r"resources: .*", block).group(0)
    # every model on the stories (all are encoded), all but the encoding-only control on the corpus
    assert {m for r, m in jobs if r == "features"} == set(cfg["features"]["models"])
    assert {m for r, m in jobs if r == "corpus_features"} == set(cfg["features"]["models"]) - {"random"}
    for (_, model), resources in jobs.items():
        neural = cfg["features"]["models"][model]["family"] in ("hf", "untrained")
        assert ("gpu=1" in resources) == neural, (model, resources)


def test_lint_is_clean():
    proc = run_snakemake(["--lint"], ROOT)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "Congratulations" in proc.stdout + proc.stderr


def test_unknown_config_key_fails_before_any_job(tmp_path):
    cfg = tiny_config()
    cfg["features"]["modles"] = {}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = run_snakemake(["-n", "--configfile", "c.yaml"], tmp_path)
    assert proc.returncode != 0
    assert "unknown key 'modles' (did you mean 'models'?)" in proc.stdout + proc.stderr


#: the figures each notebook shows on a run of every analysis (the tiny demo): 01 the scree
#: plot, the affinity, the embedding in 2-D and 3-D, the methods compared; 02 the performance
#: bars, performance against the ceiling, four maps (ceiling, best space, principal, score),
#: the brain link and the partition
NOTEBOOK_FIGURES = {"01_embedding.ipynb": 5, "02_brain.ipynb": 8}


@pytest.mark.slow
@pytest.mark.parametrize("notebook", ["01_embedding.ipynb", "02_brain.ipynb"])
def test_notebooks_run_top_to_bottom_and_show_every_figure(tiny_run, notebook, tmp_path):
    run_dir, _ = tiny_run
    outputs = run_notebook(notebook, run_dir / "results", tmp_path)
    assert not [o for o in outputs if o.output_type == "error"]
    assert images(outputs) == NOTEBOOK_FIGURES[notebook]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "has no" not in text  # nothing skipped on a run of every analysis


@pytest.mark.slow
def test_tiny_end_to_end_run_writes_every_space(tiny_run):
    tmp_path, cfg = tiny_run

    resolved = config.validate(cfg)
    docs = documents.read(tmp_path / "results/stimuli/stories.h5")
    corpus = documents.read(tmp_path / "results/stimuli/corpus.h5")
    assert list(docs.stories) == ["s1", "s2", "s3"] and not docs.corpus
    assert corpus.corpus and not corpus.stories
    docs.corpus = corpus.corpus
    # the stories went through the real TextGrid reader: same words as reading the file directly
    wt = stimuli.read_textgrid(tmp_path / "results/demo/derivative/TextGrids/s1.TextGrid", tier="word")
    assert docs.stories["s1"].words.words == wt.words
    assert docs.stories["s1"].tr_times[0] == -10.0  # the scanner starts lead_in = 10 s before the sound

    spaces = resolve_spaces(resolved["features"]["models"])
    assert len(spaces) == 2 + 3 + 3 + 1 + 1 + 3 + 5 + 1  # minilm, smollm2 (+ surprisal), gpt2, ...
    # the corpus' features of the models in transfer, the stories' of every encoded model
    tnames = [s.name for s in config.transfer_spaces(resolved, spaces)]
    on_corpus = {s.model for s in spaces if s.name in tnames}
    assert {p.stem for p in (tmp_path / "results/features/corpus").glob("*.h5")} == on_corpus
    assert {p.stem for p in (tmp_path / "results/features/stories").glob("*.h5")} == set(resolved["features"]["models"])
    for model, set_ in itertools.product(resolved["features"]["models"], ("corpus", "stories")):
        if set_ == "corpus" and model not in on_corpus:
            continue
        ff = FeatureFile(tmp_path / f"results/features/{set_}/{model}.h5")
        assert ff.provenance["config_hash"] == io.config_hash(jobs.features_job(resolved, model, set_))
        assert "torch" in ff.provenance["packages"] and "numpy" in ff.provenance["packages"]
        assert ff.spaces == [s.name for s in spaces if s.model == model] and ff.sets() == [set_]
        for names in [docs.corpus if set_ == "corpus" else docs.stories]:
            words = ff.words(set_)
            assert list(words) == list(names)
            for space in ff.spaces:
                arrays = ff.load(space, set_)
                for doc, arr in arrays.items():
                    assert arr.dtype == np.float32 and arr.shape[0] == len(words[doc])
                    assert np.isfinite(arr).all()
        if set_ == "stories":
            np.testing.assert_allclose(ff.times()["s2"], docs.stories["s2"].words.times)
    # glove_next is glove moved one word ahead
    g = FeatureFile(tmp_path / "results/features/stories/glove.h5").load("glove.vec", "stories")["s1"]
    n = FeatureFile(tmp_path / "results/features/stories/glove_next.h5").load("glove_next.vec", "stories")["s1"]
    np.testing.assert_array_equal(n[:-1], g[1:])
    assert not n[-1].any()
    # the summary table lists every space once
    with open(tmp_path / "results/features/summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [r["space"] for r in rows] == [s.name for s in spaces]
    assert {r["space"]: int(r["dim"]) for r in rows}["minilm.L6"] == 384
    # every job logged to its log file
    log = (tmp_path / "results/logs/features/corpus/minilm.log").read_text()
    assert "minilm windows" in log and "finished" in log

    # transfer: mse[t, s, k] over the transferred spaces; the embedding and the comparison
    from lre.transfer.stage import read_labelled

    tnames = [s.name for s in spaces if s.name not in cfg["transfer"]["exclude"]]
    sources = [n for n in tnames if n not in cfg["transfer"]["targets_only"]]
    assert sources == [n for n in tnames if n != "smollm2.surprisal"]  # decoded, not encoded
    names, cols, mse = read_labelled(tmp_path / "results/transfer/bottleneck/mse.h5", "mse")
    split = json.loads((tmp_path / "results/transfer/split.json").read_text())
    n_test = sum(len(docs.corpus[d]) for d in split["test"])
    assert names == tnames and cols == sources
    assert mse.shape == (len(tnames), len(sources), n_test) and np.isfinite(mse).all()
    with open(tmp_path / "results/embedding/bottleneck/coords.csv") as f:
        coords = list(csv.DictReader(f))
    assert [r["space"] for r in coords] == tnames
    anchor = next(r for r in coords if r["space"] == cfg["embedding"]["anchor"])  # the anchor's signs
    assert cfg["embedding"]["anchor"] == "smollm2.L30"
    assert float(anchor["dim1"]) > 0 and float(anchor["dim2"]) > 0
    for png in ("affinity", "scree", "embedding_2d", "embedding_3d"):
        assert (tmp_path / f"results/embedding/bottleneck/{png}.png").stat().st_size > 10_000
    with open(tmp_path / "results/transfer/comparison.csv") as f:
        assert next(csv.reader(f))[1:] == ["affinity (bottleneck)", "direct R^2", "CKA", "RSA"]

    # encoding: every space for every subject, maps through the mask, the noise ceiling, recovery
    import nibabel as nib

    from lre.encoding.stage import read_scores

    mask = nib.load(tmp_path / "results/demo/derivative/masks/sa_mask.nii.gz")
    for subject in ("sa", "sb"):
        with open(tmp_path / f"results/encoding/{subject}/summary.csv") as f:
            rows = list(csv.DictReader(f))
        assert [r["space"] for r in rows] == [s.name for s in spaces]
        n_vox = int(
            (nib.load(tmp_path / f"results/demo/derivative/masks/{subject}_mask.nii.gz").get_fdata() != 0).sum()
        )
        top = f"ceiling_top{min(200, n_vox)}"  # a tiny brain: all its voxels, and the column says how many
        assert {r["ceiling"] for r in rows} == {"from 3 repeats"} and all(0 < float(r[top]) <= 1 for r in rows)
        assert f"mean_r_top{min(200, n_vox)}_by_ceiling" in rows[0]
        recovery = json.loads((tmp_path / f"results/encoding/{subject}/recovery.json").read_text())
        assert recovery["n_signal"] > 0 and recovery["ceiling_correlation"] > 0.5
    sc = read_scores(tmp_path / "results/encoding/sa/minilm.L6.h5")
    n_vox = int((mask.get_fdata() != 0).sum())
    assert sc["scores"].shape == (n_vox,) and sc["pvalues"].min() > 0 and sc["attrs"]["solver"] == "lean"
    rmap = nib.load(tmp_path / "results/encoding/sa/minilm.L6_r.nii.gz")
    assert rmap.shape == mask.shape and np.allclose(rmap.affine, mask.affine)
    np.testing.assert_allclose(rmap.get_fdata()[mask.get_fdata() != 0], sc["scores"], atol=1e-6)
    assert (tmp_path / "results/encoding/sb/noise_ceiling.nii.gz").exists()

    # brain link: per subject, reliable voxels, scores and maps; the table of all spaces
    from lre.results import Results

    res = Results(tmp_path / "results")
    b = res.brainlink("sa")
    assert b["score"].shape == (n_vox,) and b["spaces"] == tnames
    assert res.map("sa", "principal").exists() and (tmp_path / "results/brainlink/sa_principal.png").exists()
    table = res.spaces()
    assert [r["space"] for r in table] == [s.name for s in spaces]
    assert table[0]["layer"] == "0" and table[0]["top_r_sa"] != "" and float(table[0]["top_ceiling_sb"]) > 0
    assert res.ceiling("sa")["label"] == "from 3 repeats" and res.map("sa", "noise_ceiling").exists()
    assert "principal_vs_gradient_spearman" in res.checks("sb")["brainlink"]

    # a second run has nothing to do
    proc = run_snakemake(["-n", "--configfile", "c.yaml"], tmp_path)
    assert "Nothing to be done" in proc.stdout + proc.stderr

    # changing one model's settings reruns that model only
    cfg2 = copy.deepcopy(cfg)
    cfg2["features"]["models"]["minilm"]["context_tokens"] = 10
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg2, sort_keys=False))
    proc = run_snakemake(["-n", "--configfile", "c.yaml"], tmp_path)
    rerun = re.findall(r"^rule (\w+):\n(?:.*\n)*?\s+wildcards: model=(\w+)", proc.stdout + proc.stderr, re.M)
    assert sorted(rerun) == [("corpus_features", "minilm"), ("features", "minilm")]  # on the corpus and the stories


@pytest.mark.slow
def test_partition_writes_its_parts_and_the_summary_column(tiny_run):
    """partition.spaces in a run: per subject and tested space the parts add up (unique =
    joint - baseline, shared = baseline + space - joint), the space-alone R^2 is its encoding
    result's, the map and table exist, and results/summary.csv has each subject's unique
    variance for the tested space only."""
    from lre.results import Results

    tmp_path, cfg = tiny_run
    res = Results(tmp_path / "results")
    tested = cfg["partition"]["spaces"]
    for subject in cfg["dataset"]["subjects"]:
        rows = res.partition_table(subject)
        assert [r["space"] for r in rows] == tested
        for space in tested:
            p = res.partition(subject, space)
            np.testing.assert_allclose(p["unique"], p["joint_r2"] - p["baseline_r2"], atol=1e-6)
            np.testing.assert_allclose(p["shared"], p["baseline_r2"] + p["space_r2"] - p["joint_r2"], atol=1e-6)
            np.testing.assert_allclose(p["space_r2"], res.scores(subject, space)["r2"], atol=1e-6)
            assert np.isin(p["band_weights"], cfg["partition"]["band_weights"]).all()
            assert res.map(subject, f"unique:{space}").exists()
            assert res.path("partition_png", subject=subject).stat().st_size > 10_000
    with open(tmp_path / "results" / "summary.csv", newline="") as f:
        table = list(csv.DictReader(f))
    for subject in cfg["dataset"]["subjects"]:
        filled = {r["space"] for r in table if r[f"unique_r2_{subject}"] != ""}
        assert filled == set(tested)


def images(outputs) -> int:
    """How many figures a notebook's outputs show (PNG images)."""
    return sum("image/png" in o.get("data", {}) for o in outputs if o.output_type in ("display_data", "execute_result"))


def run_notebook(notebook: str, results, tmp_path):
    """Run a notebook top to bottom on ``results``; its code cells' outputs."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(ROOT / "notebooks" / notebook, as_version=4)
    env_cell = nbformat.v4.new_code_cell(f"import os; os.environ['LRE_RESULTS'] = {str(results)!r}")
    nb.cells.insert(0, env_cell)
    NotebookClient(nb, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    return [o for c in nb.cells if c.cell_type == "code" for o in c.get("outputs", [])]


@pytest.mark.slow
def test_a_test_story_with_one_repeat_runs_to_the_report_and_notebooks_without_a_ceiling(tmp_path):
    """The tiny demo with its test story as one run, as the ds003020 derivative stores
    wheretheressmoke: no noise ceiling anywhere, said in words where one would be (the job's
    warning, the ceiling file, the summaries, the recovery check), and the run, its report
    and the notebooks complete."""
    cfg = tiny_config()
    cfg["demo"]["fmri"]["repeats"] = 1
    cfg["dataset"]["subjects"] = ["sa"]
    # what the planted responses and the embedding need, no more (a quicker run)
    keep = ("glove", "lexical", "minilm")
    cfg["features"]["models"] = {k: v for k, v in cfg["features"]["models"].items() if k in keep}
    cfg["transfer"]["targets_only"] = []
    cfg["transfer"]["exclude"] = [s for s in cfg["transfer"]["exclude"] if s.split(".")[0] in keep]
    cfg["embedding"]["anchor"] = "minilm.L6"
    cfg["brainlink"] = {"n_dims": 1}  # three groups: one coordinate and an intercept from the two left in
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = run_snakemake(["--cores", "2", "--configfile", "c.yaml"], tmp_path)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-5000:]
    results = tmp_path / "results"
    log = (results / "logs/encoding/sa/noise_ceiling.log").read_text()
    assert log.count("NO NOISE CEILING") == 1 and "The test story 's3' has a single repeat" in log
    assert "dataset.lebel.test_repeats" in log
    import h5py

    with h5py.File(results / "encoding/sa/noise_ceiling.h5", "r") as f:
        assert "ceiling" not in f and f.attrs["status"] == "single repeat" and f.attrs["repeats"] == 1
    with open(results / "encoding/sa/summary.csv") as f:
        rows = list(csv.DictReader(f))
    top = next(k for k in rows[0] if k.startswith("ceiling_top"))
    assert all(r[top] == "" and r["ceiling"] == "none (1 repeat)" for r in rows)
    with open(results / "summary.csv") as f:
        assert {r["top_ceiling_sa"] for r in csv.DictReader(f)} == {"none (1 repeat)"}
    recovery = json.loads((results / "encoding/sa/recovery.json").read_text())
    assert recovery["ceiling_correlation"] is None and recovery["ceiling"] == "none (1 repeat)"
    assert (results / "encoding/sa/noise_ceiling.png").stat().st_size > 5_000

    html = (results / "report.html").read_text(errors="replace")  # the run's report
    assert len(html) > 100_000 and "single repeat" in html and re.search(r"mean_r_top\d+_by_cv", html)
    for notebook in ("01_embedding.ipynb", "02_brain.ipynb"):
        outputs = run_notebook(notebook, results, tmp_path)
        assert not [o for o in outputs if o.output_type == "error"], notebook
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "sa: noise ceiling none (1 repeat)" in text


def test_a_model_not_available_here_plans_in_a_dry_run_and_stops_a_real_run_before_any_job(tmp_path):
    cfg = tiny_config()
    cfg["features"]["models"]["hubby"] = {"family": "hf", "source": "openai-community/gpt2", "layers": [1, 2]}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    dry = run_snakemake(["-n", "--configfile", "c.yaml"], tmp_path)
    assert dry.returncode == 0, dry.stderr[-3000:]
    assert "not available here" in dry.stdout + dry.stderr and "features/corpus/hubby.h5" in dry.stdout + dry.stderr
    real = run_snakemake(["--cores", "1", "--configfile", "c.yaml"], tmp_path)
    out = real.stdout + real.stderr
    assert real.returncode != 0
    assert "hub model 'openai-community/gpt2' is not in the local cache and HF_HUB_OFFLINE=1" in out
    assert not (tmp_path / "results").exists()


@pytest.mark.slow
def test_a_new_subject_plans_its_own_jobs_only(tiny_run):
    """Job slices hold only what their job reads: one more subject plans that subject's jobs
    and the gathers over subjects, never an existing subject's encoding or ceiling."""
    tmp_path, cfg = tiny_run
    cfg3 = copy.deepcopy(cfg)
    cfg3["dataset"]["subjects"] = cfg["dataset"]["subjects"] + ["sc"]
    (tmp_path / "c3.yaml").write_text(yaml.safe_dump(cfg3, sort_keys=False))
    proc = run_snakemake(["-n", "--configfile", "c3.yaml"], tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    subjects = set(re.findall(r"wildcards: subject=(\w+)", out))
    assert subjects == {"sc"}, subjects
    planned = set(re.findall(r"^rule (\w+):", out, flags=re.M))
    assert {"demo_fmri", "noise_ceiling", "brainlink", "performance_figure", "space_table"} <= planned
    assert not planned & {"features", "transfer_encode", "transfer_decode", "embedding", "stimuli"}


CORPUS_SIDE_RULES = ("corpus_documents", "corpus_features", "transfer_", "direct_gather", "similarity", "embedding")


@pytest.mark.slow
def test_a_second_dataset_reuses_the_corpus_side_of_the_first(tiny_run):
    """Two configs with different datasets (other stories, another subject, no demo) and the
    same corpus, spaces and transfer settings: once the first has run, the second, pointing
    its corpus_results at the first's folder, plans no corpus features, no transfer and no
    embedding, only its own stories' features and what follows from them."""
    tmp_path, cfg = tiny_run
    cfg2 = copy.deepcopy(cfg)
    cfg2["results"] = "results_other"
    cfg2["corpus_results"] = "results"  # the first config's folder (its corpus side)
    cfg2["demo"]["enabled"] = False  # the stimuli and responses are read as a real dataset's
    cfg2["stimuli"]["stories"] = ["s1", "s3"]
    cfg2["dataset"].update(subjects=["sb"], train_stories=["s1"], test_stories=["s3"])
    cfg2["encoding"]["cv_chunk"] = 16  # one 48-volume training story: three chunks to cross-validate on
    (tmp_path / "c_other.yaml").write_text(yaml.safe_dump(cfg2, sort_keys=False))
    proc = run_snakemake(["-n", "--configfile", "c_other.yaml"], tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-3000:]
    table = out[out.index("Job stats:") :]
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}
    assert not [rule for rule in counts if rule.startswith(CORPUS_SIDE_RULES)], counts
    # its own side: the stories' documents and features of every encoded model, the encoding
    assert counts["stimuli"] == 1 and counts["features"] == len(cfg["features"]["models"])
    assert counts["brainlink"] == 1 and counts["noise_ceiling"] == 1
    assert sum(v for k, v in counts.items() if k.startswith("encode_")) >= 1
    # without the shared root, the same config plans the corpus side again
    cfg2["corpus_results"] = None
    (tmp_path / "c_alone.yaml").write_text(yaml.safe_dump(cfg2, sort_keys=False))
    proc = run_snakemake(["-n", "--configfile", "c_alone.yaml"], tmp_path)
    table = (proc.stdout + proc.stderr)[(proc.stdout + proc.stderr).index("Job stats:") :]
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}
    assert counts["corpus_documents"] == 1 and counts["embedding"] == len(cfg["embedding"]["methods"])


@pytest.mark.slow
def test_a_shared_corpus_root_is_not_rewritten_under_another_results_folder(tiny_run):
    """A second dataset config pointing corpus_results at the first's folder with other
    transfer settings (a narrower bottleneck) would rewrite the corpus side under the first's
    finished results: its run stops at its start, naming the folder that uses the root and the
    fields that differ, and nothing under the root changes."""
    tmp_path, cfg = tiny_run
    cfg3 = copy.deepcopy(cfg)
    cfg3["results"] = "results_third"
    cfg3["corpus_results"] = "results"
    cfg3["demo"]["enabled"] = False
    cfg3["stimuli"]["stories"] = ["s1", "s3"]
    cfg3["dataset"].update(subjects=["sb"], train_stories=["s1"], test_stories=["s3"])
    cfg3["encoding"]["cv_chunk"] = 16
    cfg3["transfer"]["bottleneck"] = 3
    (tmp_path / "c_third.yaml").write_text(yaml.safe_dump(cfg3, sort_keys=False))
    root = tmp_path / "results"
    before = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file() and "logs" not in p.parts}
    proc = run_snakemake(["--cores", "2", "--configfile", "c_third.yaml"], tmp_path)
    out = proc.stdout + proc.stderr
    assert proc.returncode != 0
    assert "holds the corpus side" in out and str(root.resolve()) in out, out[-3000:]
    assert "transfer.bottleneck: 4 there, 3 here" in out and "point corpus_results at another folder" in out
    after = {p: p.stat().st_mtime_ns for p in root.rglob("*") if p.is_file() and "logs" not in p.parts}
    assert after == before  # nothing rewritten
    assert not (tmp_path / "results_third" / "features").exists()  # no job ran
