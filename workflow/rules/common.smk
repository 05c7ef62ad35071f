# Shared definitions: the validated config, the results naming scheme, helpers for rules.
import json
import os
import sys

from snakemake_interface_executor_plugins.settings import DeploymentMethod

sys.path.insert(0, os.path.join(workflow.basedir, "src"))

from lre import config as lre_config
from lre.features import check_models, resolve_spaces

# Validate once (fills defaults; unknown keys and unavailable models fail here, before any job).
# With --use-conda the models live in the rules' environments, so each job checks its own.
CFG = lre_config.validate(config, source=", ".join(map(str, workflow.configfiles)) or "config")
if DeploymentMethod.CONDA not in workflow.deployment_settings.deployment_method:
    check_models(CFG["features"]["models"])
MODELS = list(CFG["features"]["models"])
SPACES = resolve_spaces(CFG["features"]["models"])
STORIES = CFG["stimuli"]["stories"]

# Run the package from this checkout, also inside per-rule conda environments.
LRE = "PYTHONPATH={}${{PYTHONPATH:+:$PYTHONPATH}} python -m lre".format(os.path.join(workflow.basedir, "src"))


def res(*parts):
    return lre_config.results_path(CFG, *parts)


# The naming scheme of everything under results/, written once.
PATHS = {
    "demo_root": res("demo"),
    "demo_textgrid": res("demo", "derivative", "TextGrids", "{story}.TextGrid"),
    "demo_trfile": res("demo", "derivative", "trfiles", "{story}.tr"),
    "demo_corpus": res("demo", "corpus.txt"),
    "demo_manifest": res("demo", "manifest.json"),
    "documents": res("stimuli", "documents.h5"),
    "features": res("features", "{model}.h5"),
    "features_summary": res("features", "summary.csv"),
    "logs": res("logs"),
}

if CFG["demo"]["enabled"]:
    lre_config.check_demo_paths(CFG, PATHS)


def job_json(job):
    return json.dumps(job, sort_keys=True, separators=(",", ":"))


def log_path(*parts):
    return os.path.join(PATHS["logs"], *parts)


def all_targets():
    return [PATHS["features_summary"]]


# ----------------------------------------------------------------------------- stimuli


def stimuli_inputs(wildcards):
    st = CFG["stimuli"]
    files = {"stories": expand(st["path"], story=STORIES), "corpus": CFG["corpus"]["path"]}
    if st["tr_times"]["source"] == "file":
        files["trfiles"] = expand(st["tr_times"]["path"], story=STORIES)
    return files


# ----------------------------------------------------------------------------- features

NEURAL = ("hf", "untrained")


def model_family(wildcards):
    return CFG["features"]["models"][wildcards.model]["family"]


def features_inputs(wildcards):
    entry = CFG["features"]["models"][wildcards.model]
    files = {"documents": PATHS["documents"]}
    if entry["family"] == "shift":
        files["of"] = PATHS["features"].format(model=entry["of"])
    return files


def features_threads(wildcards):
    return CFG["features"]["threads"] if model_family(wildcards) in NEURAL + ("tagger",) else 1


def features_mem_mb(wildcards):
    return 4000 if model_family(wildcards) in NEURAL else 2000


def features_runtime(wildcards):
    return 120 if model_family(wildcards) in NEURAL else 30


def features_gpu(wildcards):
    return int(model_family(wildcards) in NEURAL and CFG["features"]["device"] != "cpu")
