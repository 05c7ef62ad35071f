"""The shipped configs: paper100 (the paper's 100 spaces), lebel2023 and narratives plan their
whole DAG offline against fixture trees in the datasets' exact layouts, and the job counts
grow linearly with the number of spaces."""

import collections
import importlib.util
import json
import math
import re

import h5py
import nibabel as nib
import numpy as np
import pytest
import yaml
from conftest import ROOT, SNAKEMAKE, run_snakemake

from lre import config, resources, stimuli
from lre import jobs as lre_jobs
from lre.features import catalogue, resolve_spaces

CONFIGS = ROOT / "config"


def load(name):
    return yaml.safe_load((CONFIGS / f"{name}.yaml").read_text())


def textgrid(path, words):
    t = np.arange(len(words) + 1) * 0.4 + 1.0
    tier = stimuli.Tier("word", [stimuli.Interval(a, b, w) for a, b, w in zip(t[:-1], t[1:], words)])
    path.parent.mkdir(parents=True, exist_ok=True)
    stimuli.write_textgrid(path, [tier], 0.0, float(t[-1]) + 1.0)


def ds003020(root, cfg):
    """derivative/{TextGrids,respdict.json,preprocessed_data/<subject>/<story>.hf5}."""
    d = cfg["dataset"]
    stories = d["train_stories"] + d["test_stories"]
    deriv = root / "derivative"
    (deriv / "TextGrids").mkdir(parents=True)
    json.dump({s: 40 for s in stories}, (deriv / "respdict.json").open("w"))
    for s in stories:
        textgrid(deriv / "TextGrids" / f"{s}.TextGrid", ["the", "story", "goes", "on"])
    for subject in d["subjects"]:
        (deriv / "preprocessed_data" / subject).mkdir(parents=True)
        for s in stories:
            with h5py.File(deriv / "preprocessed_data" / subject / f"{s}.hf5", "w") as f:
                f["data"] = np.zeros((20, 3), np.float32)
    (root.parent / "lre_corpus.txt").write_text("a first document\na second one\n")


def ds002345(root, cfg):
    """The Narratives as BIDS: stimuli/gentle/<story>/align.json, raw runs with their sidecars
    (RepetitionTime) and events, the afni-nosmooth derivatives' cleaned BOLD and MNI mask."""
    d = cfg["dataset"]
    stories = d["train_stories"] + d["test_stories"]
    affine = np.diag([3.0, 3.0, 3.0, 1.0])
    deriv = root / d["bids"]["derivatives"]
    desc = {"Name": "Narratives", "BIDSVersion": "1.4.0"}
    (root / "dataset_description.json").parent.mkdir(parents=True, exist_ok=True)
    (root / "dataset_description.json").write_text(json.dumps(desc))
    deriv.mkdir(parents=True)
    (deriv / "dataset_description.json").write_text(
        json.dumps(dict(desc, Name="afni-nosmooth", DatasetType="derivative", GeneratedBy=[{"Name": "AFNI"}]))
    )
    for s in stories:
        p = root / "stimuli" / "gentle" / s / "align.json"
        p.parent.mkdir(parents=True)
        p.write_text(json.dumps({"words": [{"word": "hello", "case": "success", "start": 1.0, "end": 1.4}]}))
        for subject in d["subjects"]:
            func = root / f"sub-{subject}" / "func"
            func.mkdir(parents=True, exist_ok=True)
            (func / f"sub-{subject}_task-{s}_bold.json").write_text(json.dumps({"RepetitionTime": 1.5}))
            img = nib.Nifti1Image(np.zeros((2, 2, 2, 10), np.float32), affine)
            img.header.set_zooms((3.0, 3.0, 3.0, 1.5))
            nib.save(img, str(func / f"sub-{subject}_task-{s}_bold.nii.gz"))
            (func / f"sub-{subject}_task-{s}_events.tsv").write_text("onset\tduration\ttrial_type\n3.0\t10\tstory\n")
            dfunc = deriv / f"sub-{subject}" / "func"
            dfunc.mkdir(parents=True, exist_ok=True)
            name = f"sub-{subject}_task-{s}_space-MNI152NLin2009cAsym_res-native_desc-clean_bold.nii.gz"
            nib.save(img, str(dfunc / name))
    m = root / d["mask"].replace("{data_root}/", "")
    m.parent.mkdir(parents=True, exist_ok=True)
    nib.save(nib.Nifti1Image(np.ones((2, 2, 2), np.float32), affine), str(m))
    (root.parent / "lre_corpus.txt").write_text("a first document\na second one\n")


def dry_run(name, tmp_path, overrides=None):
    """Job counts per rule of a dry run of config/<name>.yaml on a fixture tree."""
    cfg = load(name)
    cfg.update(overrides or {})
    narratives = cfg["dataset"]["format"] == "bids"
    root = tmp_path / "data" / ("ds002345" if narratives else "ds003020")
    (ds002345 if narratives else ds003020)(root, cfg)
    cfg["data_root"] = str(root)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = run_snakemake(["-n", "--configfile", "c.yaml"], tmp_path, timeout=600)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    table = out[out.index("Job stats:") :]
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}
    return cfg, counts, out


def test_paper100_lists_the_papers_spaces_in_order_with_its_weights():
    cfg = config.validate(load("paper100"))
    spaces = [s.name for s in resolve_spaces(cfg["features"]["models"])]
    assert len(spaces) == 100
    labels = [cfg["features"]["models"][s.split(".")[0]]["label"] for s in spaces]
    assert labels[:8] == ["GloVe", "BERT-E", "FLAIR", "POS", "CHUNK", "NER", "FRAME", "GloVe next word"]
    expected = [72] * 8 + [6] * 12 + [3] * 24 + [4] * 18 + [6] * 13 + [6] * 13 + [12] * 6 + [12] * 6
    assert [cfg["embedding"]["weights"][s] for s in spaces] == expected
    assert spaces[8:20] == [f"gpt2.L{i}" for i in range(1, 13)] and spaces[44:62] == [
        f"transfo_xl.L{i}" for i in range(1, 19)
    ]
    assert spaces[62] == "bert.L0" and spaces[-1] == "en_de.L6"


def test_every_hub_model_of_paper100_is_catalogued_with_its_family_and_env():
    cfg = config.validate(load("paper100"))
    for name, entry in cfg["features"]["models"].items():
        if entry["family"] in ("hf", "flair"):
            known = catalogue.lookup(entry["source"])
            assert known is not None, name
            assert known.family == entry["family"], name
            layers = entry["layers"] if entry["family"] == "hf" else []
            assert all(0 <= i <= known.layers for i in layers), name
            assert resources.features_env(entry) == (
                "legacy" if name in ("transfo_xl", "flair", "pos", "chunk", "ner", "frame") else "extract"
            ), name


@pytest.mark.parametrize("name", ["lebel2023", "narratives"])
def test_dataset_configs_plan_the_whole_dag_on_their_layout(name, tmp_path):
    cfg, counts, out = dry_run(name, tmp_path)
    spaces = resolve_spaces(config.validate(cfg)["features"]["models"])
    n_subjects = len(cfg["dataset"]["subjects"])
    assert counts["features"] == len(cfg["features"]["models"])
    vcfg = config.validate(cfg)
    names = [s.name for s in config.transfer_spaces(vcfg, spaces)]
    n_source_jobs = len(lre_jobs.transfer_chunks(vcfg, config.transfer_sources(vcfg, names)))
    n_target_jobs = len(lre_jobs.transfer_chunks(vcfg, names))
    assert sum(v for k, v in counts.items() if k.startswith("transfer_encode_")) == n_source_jobs
    assert sum(v for k, v in counts.items() if k.startswith("transfer_decode_")) == n_target_jobs
    assert sum(v for k, v in counts.items() if k.startswith("encode_")) == n_subjects * n_encode_jobs(
        spaces, cfg["encoding"]["spaces_per_job"]
    )
    assert counts["brainlink"] == n_subjects and counts["report"] == 1
    assert "demo_data" not in counts and "demo_fmri" not in counts
    if cfg.get("brainlink", {}).get("pycortex"):  # lebel2023: flatmaps from the dataset's pycortex-db
        if importlib.util.find_spec("cortex") is not None:  # installed (not imported here)
            assert counts["flatmap"] == n_subjects
        else:
            assert "flatmap" not in counts and "the flatmaps are skipped" in out
    print(name, counts)


def n_encode_jobs(spaces, per_job: int) -> int:
    """Encoding jobs per subject: one per model, a model cut into pieces of per_job spaces."""
    per_model = collections.Counter(s.model for s in spaces)
    return sum(math.ceil(n / per_job) for n in per_model.values())


def paper_subset(models, keep):
    cfg = load("paper100")
    cfg["features"]["models"] = {k: v for k, v in cfg["features"]["models"].items() if k in keep}
    spaces = [s.name for s in resolve_spaces(config.validate(cfg)["features"]["models"])]
    cfg["embedding"]["weights"] = {s: w for s, w in cfg["embedding"]["weights"].items() if s in spaces}
    return cfg, len(spaces)


@pytest.mark.slow
def test_paper100_plans_offline_and_its_job_counts_grow_linearly(tmp_path):
    """The full paper100 DAG builds offline (hub models, Flair and GloVe missing here only
    warn in a dry run); per rule, the job count is linear in the number of spaces."""
    models = list(load("paper100")["features"]["models"])
    rows, keep_of = [], {}
    for keep in (models[:9] + ["bert"], models[:9] + ["bert", "albert", "gpt2_medium"], models):
        cfg, n = paper_subset(models, keep)
        keep_of[n] = keep
        _, counts, out = dry_run("paper100", tmp_path / str(n), overrides=cfg)
        rows.append((n, counts))
        if keep == models:
            assert "not available here" in out  # models missing here are named, not fatal
    for n, counts in rows:
        subjects = 8
        # transfer.spaces_per_job: 1 (one encoder and one decoder job per space)
        assert sum(v for k, v in counts.items() if k.startswith("transfer_encode_")) == n
        assert sum(v for k, v in counts.items() if k.startswith("transfer_decode_")) == n
        spaces = resolve_spaces(config.validate(paper_subset(models, keep_of[n])[0])["features"]["models"])
        assert sum(v for k, v in counts.items() if k.startswith("encode_")) == subjects * n_encode_jobs(spaces, 4)
        print(f"paper100 subset with {n} spaces:", counts)
    (n1, c1), (n2, c2), (n3, c3) = rows
    per_space = (c3["total"] - c1["total"]) / (n3 - n1)
    assert abs((c2["total"] - c1["total"]) / (n2 - n1) - per_space) < 1.0  # the same slope


def lre_check(path):
    """``lre check <path>`` as a user runs it (offline), its completed process."""
    import os
    import subprocess
    import sys

    env = dict(os.environ, HF_HUB_OFFLINE="1")
    return subprocess.run(
        [sys.executable, "-m", "lre", "check", str(path)], capture_output=True, text=True, env=env, timeout=300
    )


def test_lre_check_lists_the_spaces_and_every_model_missing_here():
    run = lre_check
    ok = run(ROOT / "config.yaml")
    assert ok.returncode == 0 and "36 spaces" in ok.stdout, ok.stdout + ok.stderr
    paper = run(CONFIGS / "paper100.yaml")
    assert paper.returncode == 1
    assert "15 models, 100 spaces" in paper.stdout and "frame.tags" in paper.stdout
    missing = [line for line in paper.stdout.splitlines() if line.startswith("  config field")]
    assert any("features.models.glove.source" in m for m in missing)
    assert any("features.models.gpt2_medium.source" in m and "HF_HUB_OFFLINE=1" in m for m in missing)


def test_lebel2023_and_narratives_share_one_corpus_side(tmp_path):
    """Both dataset configs point corpus_results at one folder; every job there (the corpus'
    documents and features, the transfer maps, the comparisons, the embedding) gets the same
    slice from either config, so the second dataset reuses what the first made (the run of
    it: tests/workflow/test_workflow.py, the second dataset on the demo)."""
    a = load("lebel2023")
    b = load("narratives")
    a["data_root"], b["data_root"] = str(tmp_path / "ds003020"), str(tmp_path / "ds002345")
    a, b = config.validate(a), config.validate(b)
    assert a["corpus_results"] == b["corpus_results"] and a["corpus_results"] not in (a["results"], b["results"])
    assert a["dataset"] != b["dataset"]
    spaces = resolve_spaces(a["features"]["models"])
    names = [s.name for s in config.transfer_spaces(a, spaces)]
    tspaces = config.transfer_spaces(a, spaces)
    sources = config.transfer_sources(a, names)
    slices = {
        "corpus": lambda c: lre_jobs.corpus_job(c),
        "split": lambda c: lre_jobs.transfer_prepare_job(c),
        "embedding": lambda c: [lre_jobs.embedding_job(c, m, tspaces) for m in c["embedding"]["methods"]],
        "compare": lambda c: lre_jobs.compare_job(c, tspaces),
        "similarity": lambda c: lre_jobs.similarity_job(c, names),
    }
    for model in a["features"]["models"]:
        slices[f"features {model}"] = lambda c, m=model: lre_jobs.features_job(c, m, "corpus")
    for method in ("bottleneck", "mlp"):
        for chunk in lre_jobs.transfer_chunks(a, names).values():
            slices[f"decoder {method} {chunk[0]}"] = lambda c, m=method, ch=chunk: lre_jobs.decoder_job(
                c, m, ch, sources
            )
        for chunk in lre_jobs.transfer_chunks(a, sources).values():
            slices[f"encoder {method} {chunk[0]}"] = lambda c, m=method, ch=chunk: lre_jobs.encoder_job(c, m, ch)
            slices[f"direct {chunk[0]}"] = lambda c, ch=chunk: lre_jobs.direct_job(c, ch, names)
    for what, job in slices.items():
        assert job(a) == job(b), what
    # and the stories' side is each dataset's own
    assert lre_jobs.features_job(a, "glove", "stories") != lre_jobs.features_job(b, "glove", "stories")


#: every config the repository ships: (file, its fixture tree or None for the demo's own data)
SHIPPED = [
    ("config.yaml", None),
    ("config/encoding_only.yaml", None),
    ("config/embedding_only.yaml", None),
    ("config/lebel2023.yaml", "ds003020"),
    ("config/narratives.yaml", "ds002345"),
    ("config/paper100.yaml", "ds003020"),
]


def test_every_config_the_repository_ships_is_checked():
    """By test_every_shipped_config_passes_lre_check_and_plans_its_jobs, and offline100 by
    test_offline100_has_about_100_spaces_from_real_networks_and_plans_its_jobs."""
    shipped = {"config.yaml"} | {f"config/{p.name}" for p in CONFIGS.glob("*.yaml")}
    assert shipped == {path for path, _ in SHIPPED} | {"config/offline100.yaml"}


def test_offline100_has_about_100_spaces_from_real_networks_and_plans_its_jobs(tmp_path):
    """config/offline100.yaml: at least 95 spaces, from at least five distinct trained networks
    whose weights ship inside packages (all available here: lre check passes), with the
    untrained twins and controls; a dry run plans every job of the three analyses."""
    cfg = config.validate(load("offline100"))
    models = cfg["features"]["models"]
    spaces = resolve_spaces(models)
    per_model = collections.Counter(s.model for s in spaces)
    trained = [m for m, e in models.items() if e["family"] in ("hf", "charlm", "tokens") and not e.get("untrained")]
    print("offline100:", len(spaces), "spaces;", dict(per_model))
    assert len(spaces) >= 95 and len(trained) >= 5
    assert config.gpu_settings(cfg) == []  # nothing that needs a GPU this machine lacks
    assert per_model["smollm2"] == 32 and per_model["mpnet"] == 13 and per_model["charlm"] == 4
    check = lre_check(CONFIGS / "offline100.yaml")
    assert check.returncode == 0 and f"17 models, {len(spaces)} spaces" in check.stdout, check.stdout + check.stderr
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(load("offline100"), sort_keys=False))
    proc = run_snakemake(["-n", "--configfile", "c.yaml"], tmp_path, timeout=900)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 0, out[-4000:]
    table = out[out.index("Job stats:") :]
    counts = {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", table, re.M)}
    n_subjects = len(cfg["dataset"]["subjects"])
    assert counts["features"] == len(models) and counts["brainlink"] == n_subjects
    assert sum(v for k, v in counts.items() if k.startswith("encode_")) == n_subjects * n_encode_jobs(spaces, 11)
    print("offline100 jobs:", counts["total"])


@pytest.mark.parametrize("path, tree", SHIPPED, ids=lambda v: str(v).removeprefix("config/") if v else "demo")
def test_every_shipped_config_passes_lre_check_and_plans_its_jobs(path, tree, tmp_path):
    """lre check says valid (and names its analyses) on this CPU machine: no shipped config
    asks for a GPU it cannot have; a dry run plans every job (the real-data configs on a
    fixture tree in their dataset's layout: their job counts are checked by
    test_dataset_configs_plan_the_whole_dag_on_their_layout and, for paper100,
    test_paper100_plans_offline_and_its_job_counts_grow_linearly)."""

    cfg = yaml.safe_load((ROOT / path).read_text())
    if tree:
        root = tmp_path / "data" / tree
        (ds002345 if tree == "ds002345" else ds003020)(root, config.validate(dict(cfg, data_root=str(root))))
        cfg["data_root"] = str(root)
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    check = lre_check(tmp_path / "c.yaml")
    assert ": valid; analyses " in check.stdout, check.stdout + check.stderr
    assert check.returncode == (1 if "paper100" in path else 0), check.stdout + check.stderr  # paper100: hub models
    assert config.gpu_settings(config.validate(cfg)) == []  # nothing that needs a GPU this machine lacks
    if tree:  # planned, with their job counts, by the tests named above
        return
    proc = run_snakemake(["-n", "--configfile", "c.yaml"], tmp_path, timeout=900)
    assert proc.returncode == 0, (proc.stdout + proc.stderr)[-4000:]
    assert "report" in proc.stdout + proc.stderr


def test_lre_check_and_the_run_refuse_a_gpu_setting_here_and_a_dry_run_plans_it(tmp_path):
    """encoding.backend: torch_cuda on a machine without a GPU: lre check refuses it with the
    fix (lre check --cluster accepts it, for a cluster's login node); a dry run plans the
    jobs (each asking for a GPU); a real local run stops before any job, saying why."""
    import os
    import subprocess
    import sys

    from conftest import tiny_config

    from lre.encoding.models import cuda_available

    if cuda_available():
        pytest.skip("this machine has a GPU: a torch_cuda setting is valid here")
    cfg = tiny_config()
    cfg["encoding"]["backend"] = "torch_cuda"
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    lre = [sys.executable, "-m", "lre", "check", str(tmp_path / "c.yaml")]
    refused = subprocess.run(lre, capture_output=True, text=True, env=env, timeout=300)
    assert refused.returncode == 2
    assert "config field 'encoding.backend': is torch_cuda, but torch sees no CUDA device" in refused.stderr
    assert "Fix: use auto (CUDA where torch sees a device, else numpy)" in refused.stderr
    cluster = subprocess.run(lre + ["--cluster"], capture_output=True, text=True, env=env, timeout=300)
    assert cluster.returncode == 0, cluster.stderr
    plan = run_snakemake(["-n", "--configfile", "c.yaml"], tmp_path)
    assert plan.returncode == 0 and "gpu=1" in plan.stdout + plan.stderr
    run = run_snakemake(["--cores", "1", "--configfile", "c.yaml"], tmp_path)
    out = run.stdout + run.stderr
    assert run.returncode != 0 and "encoding.backend" in out and "torch sees no CUDA device" in out
    assert not (tmp_path / "results").exists() or not list((tmp_path / "results").rglob("*.h5"))  # no job ran


def test_a_config_asking_for_yte_is_refused_by_the_workflow(tmp_path):
    """Snakemake evaluates a YTE config when it loads it; the workflow's start refuses it."""
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    (tmp_path / "c.yaml").write_text("__use_yte__: true\n" + yaml.safe_dump(cfg, sort_keys=False))
    proc = run_snakemake(["-n", "--configfile", "c.yaml"], tmp_path)
    assert proc.returncode != 0 and "config field '__use_yte__'" in proc.stdout + proc.stderr


def test_a_full_temporary_folder_is_named_before_the_run(tmp_path):
    """TMPDIR on a full file system (a 64 kB tmpfs, filled): the run stops at its start,
    naming the folder and the fix, where Snakemake's scheduler died midway with a traceback."""
    import os
    import subprocess

    full = tmp_path / "full"
    full.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", str(full)], capture_output=True)
    if mounted.returncode != 0:
        if os.environ.get("CI"):
            pytest.fail(f"cannot mount a tmpfs for the test: {mounted.stderr.decode()}")
        pytest.skip("mounting a tmpfs needs root")
    try:
        (full / "fill").write_bytes(b"\0" * 60_000)
        cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
        (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
        env = dict(os.environ, TMPDIR=str(full))
        proc = subprocess.run(
            [*SNAKEMAKE, "-n", "--configfile", "c.yaml"], cwd=tmp_path, env=env, capture_output=True, text=True
        )
        out = proc.stdout + proc.stderr
        assert proc.returncode != 0 and f"the temporary folder {full} cannot take a file" in out, out[-2000:]
        assert "Traceback" not in out
    finally:
        subprocess.run(["umount", str(full)])
