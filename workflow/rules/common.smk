# Shared definitions: the validated config, the results naming scheme, helpers for rules.
import json
import os
import re
import shlex
import sys

from snakemake.logging import logger
from snakemake_interface_executor_plugins.settings import DeploymentMethod

sys.path.insert(0, os.path.join(workflow.basedir, "src"))

from lre import config as lre_config
from lre import flatmap as lre_flatmap
from lre.features import check_models, resolve_spaces

# Run the package from this checkout: with the interpreter running Snakemake, or inside the
# rule's own environment with --use-conda.
USE_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
LRE = "PYTHONPATH={}${{PYTHONPATH:+:$PYTHONPATH}} {} -m lre".format(
    shlex.quote(os.path.join(workflow.basedir, "src")), "python" if USE_CONDA else shlex.quote(sys.executable)
)

# Validate once (fills defaults; unknown keys and unavailable models fail here, before any job).
# With --use-conda the models live in the rules' environments, so each job checks its own;
# a job running on a cluster node (not the main process) was checked before submission.
CFG = lre_config.validate(config, source=", ".join(map(str, workflow.configfiles)) or "config")
# A model that is not available here (not installed, not cached offline) is named at once;
# a dry run still plans the whole DAG (e.g. a paper-scale config on a login node), a real
# run stops before any job (see onstart in the Snakefile).
MISSING_MODELS = []
if not USE_CONDA and workflow.is_main_process:
    MISSING_MODELS = check_models(CFG["features"]["models"], collect=True)
    for _name, _err in MISSING_MODELS:
        logger.warning(f"not available here: {_err}")
MODELS = list(CFG["features"]["models"])
SPACES = resolve_spaces(CFG["features"]["models"])
lre_config.check_transfer(CFG, SPACES)
lre_config.check_dataset(CFG, SPACES)
TSPACES = lre_config.transfer_spaces(CFG, SPACES)  # the spaces in transfer and the embedding
TNAMES = [s.name for s in TSPACES]
MODEL_OF = {s.name: s.model for s in SPACES}
STORIES = CFG["stimuli"]["stories"]
TMETHODS = CFG["transfer"]["methods"]
ENCODERS = [m for m in TMETHODS if m in ("bottleneck", "mlp")]
SPACE_PATTERN = "|".join(re.escape(n) for n in TNAMES)
HAS_DATASET = "dataset" in CFG
DEMO_FMRI = HAS_DATASET and CFG["demo"]["enabled"] and CFG["demo"]["fmri"]["enabled"]
SUBJECTS = CFG["dataset"]["subjects"] if HAS_DATASET else []
ESPACES = lre_config.encoding_spaces(CFG, SPACES) if HAS_DATASET else []
ENAMES = [s.name for s in ESPACES]
ENC_CHUNKS = lre_config.encoding_chunks(CFG, ENAMES)
BSPACES = [s for s in TSPACES if s.name in ENAMES]  # embedded and encoded: linked to the brain
HAS_MASK = HAS_DATASET and bool(CFG["dataset"]["mask"])
# Flatmaps need pycortex: in the flatmap rule's env with --use-conda, else installed here.
PYCORTEX = CFG["brainlink"]["pycortex"] if HAS_DATASET else None
FLATMAPS = bool(PYCORTEX) and (USE_CONDA or lre_flatmap.available())
if PYCORTEX and not FLATMAPS and workflow.is_main_process:
    logger.warning("lre: brainlink.pycortex is set, but pycortex is not installed here, so the flatmaps are "
                   f"skipped. To draw them: {lre_flatmap.INSTALL}.")



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
    "split": res("transfer", "split.json"),
    "universal": res("transfer", "universal.h5"),
    "encoder": res("transfer", "{method}", "encoders", "{space}.h5"),
    "decoder": res("transfer", "{method}", "decoders", "{space}.h5"),
    "mse": res("transfer", "{method}", "mse.h5"),
    "direct_source": res("transfer", "direct", "sources", "{space}.h5"),
    "direct": res("transfer", "direct.h5"),
    "similarity": res("transfer", "similarity.h5"),
    "comparison_png": res("transfer", "comparison.png"),
    "comparison_csv": res("transfer", "comparison.csv"),
    "embedding_dir": res("embedding", "{method}"),
    "demo_mask": res("demo", "derivative", "masks", "{subject}_mask.nii.gz"),
    "demo_response": res("demo", "derivative", "preprocessed_data", "{subject}", "{story}.hf5"),
    "demo_respdict": res("demo", "derivative", "respdict.json"),
    "demo_truth": res("demo", "truth", "{subject}.h5"),
    "encoding": res("encoding", "{subject}", "{space}.h5"),
    "encoding_nii": res("encoding", "{subject}", "{space}_r.nii.gz"),
    "noise_ceiling": res("encoding", "{subject}", "noise_ceiling.h5"),
    "noise_ceiling_nii": res("encoding", "{subject}", "noise_ceiling.nii.gz"),
    "encoding_summary": res("encoding", "{subject}", "summary.csv"),
    "recovery": res("encoding", "{subject}", "recovery.json"),
    "noise_ceiling_png": res("encoding", "{subject}", "noise_ceiling.png"),
    "performance_png": res("encoding", "performance.png"),
    "brainlink": res("brainlink", "{subject}.h5"),
    "brainlink_scatter": res("brainlink", "{subject}_scatter.png"),
    "brainlink_score_nii": res("brainlink", "{subject}_score.nii.gz"),
    "brainlink_score_png": res("brainlink", "{subject}_score.png"),
    "brainlink_principal_nii": res("brainlink", "{subject}_principal.nii.gz"),
    "brainlink_principal_png": res("brainlink", "{subject}_principal.png"),
    "brainlink_check": res("brainlink", "{subject}_check.json"),
    "flatmap_principal": res("brainlink", "{subject}_principal_flat.png"),
    "flatmap_score": res("brainlink", "{subject}_score_flat.png"),
    "space_table": res("summary.csv"),
    "logs": res("logs"),
}

if CFG["demo"]["enabled"]:
    lre_config.check_demo_paths(CFG, PATHS)


def job_json(job):
    return json.dumps(job, sort_keys=True, separators=(",", ":"))


def log_path(*parts):
    return os.path.join(PATHS["logs"], *parts)


def embedding_file(name):
    return os.path.join(PATHS["embedding_dir"], name)


def all_targets():
    targets = [PATHS["features_summary"]]
    for method in CFG["embedding"]["methods"]:
        targets += expand(embedding_file("embedding.h5"), method=method)
    if len(comparison_inputs()) > 1:
        targets += [PATHS["comparison_png"]]
    if HAS_DATASET:
        targets += expand(PATHS["encoding_summary"], subject=SUBJECTS)
        targets += expand(PATHS["noise_ceiling"], subject=SUBJECTS)
        targets += [PATHS["performance_png"], PATHS["space_table"]]
        targets += expand(PATHS["brainlink"], subject=SUBJECTS)
        if HAS_MASK:
            targets += expand(PATHS["noise_ceiling_png"], subject=SUBJECTS)
        if FLATMAPS:
            targets += expand(PATHS["flatmap_principal"], subject=SUBJECTS)
    if DEMO_FMRI:
        targets += expand(PATHS["recovery"], subject=SUBJECTS)
        targets += expand(PATHS["brainlink_check"], subject=SUBJECTS)
    return targets


# ----------------------------------------------------------------------------- stimuli


def stimuli_inputs(wildcards):
    st = CFG["stimuli"]
    files = {"stories": expand(st["path"], story=STORIES), "corpus": CFG["corpus"]["path"]}
    if st["tr_times"]["source"] == "file":
        files["trfiles"] = expand(st["tr_times"]["path"], story=STORIES)
    return files


# ----------------------------------------------------------------------------- features

NEURAL = ("hf", "untrained", "flair")


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


def features_mem_mb(wildcards, input):
    """Model plus features held in memory (float64 sums per layer while extracting)."""
    entry = CFG["features"]["models"][wildcards.model]
    return lre_config.features_mem_mb(entry, input.size_mb)


def features_runtime(wildcards, input):
    """Minutes: words / a conservative CPU speed for the family (GPUs are far faster)."""
    entry = CFG["features"]["models"][wildcards.model]
    return lre_config.features_runtime_min(entry, input.size_mb)


def _inputs_mb(input, factors):
    """factors: a number (times all inputs' MB) or {input group: number}. Each file counts
    once (a model's feature file is listed once per space of a chunk)."""
    from snakemake.iocontainers import InputFiles

    groups = factors.items() if isinstance(factors, dict) else [(None, factors)]
    total = 0.0
    for group, factor in groups:
        files = input if group is None else getattr(input, group)
        files = [files] if isinstance(files, str) else files
        total += factor * InputFiles(toclone=list(dict.fromkeys(files))).size_mb
    return total


def mem_from_inputs(base_mb, factors):
    """A memory request of base_mb plus factors times the inputs' size in MB (see _inputs_mb)."""
    return lambda wildcards, input: int(base_mb + _inputs_mb(input, factors))


def runtime_from_inputs(base_min, min_per_gb):
    """A runtime request (minutes) of base_min plus min_per_gb per GB of distinct inputs."""
    return lambda wildcards, input: int(base_min + _inputs_mb(input, min_per_gb) / 1000)


def features_env(wildcards):
    """extract.yaml, or legacy.yaml for Flair and architectures transformers 5 dropped."""
    return "../envs/{}.yaml".format(lre_config.features_env(CFG["features"]["models"][wildcards.model]))


def features_gpu(wildcards):
    return int(model_family(wildcards) in NEURAL and CFG["features"]["device"] != "cpu")


# ----------------------------------------------------------------------------- transfer


def space_features(space):
    return PATHS["features"].format(model=MODEL_OF[space])


def comparison_inputs():
    """method -> (file, dataset) of every space-by-space matrix to compare."""
    out = {}
    for method in CFG["embedding"]["methods"]:
        out[f"affinity ({method})"] = (embedding_file("embedding.h5").format(method=method), "affinity")
    if "direct" in TMETHODS:
        out["direct R^2"] = (PATHS["direct"], "r2")
    for m in ("cka", "rsa"):
        if m in TMETHODS:
            out[m.upper()] = (PATHS["similarity"], m)
    return out


# ----------------------------------------------------------------------------- encoding


def dataset_inputs(wildcards):
    """The response files one subject's jobs read (so missing data fails before any job)."""
    d = CFG["dataset"]
    stories = d["train_stories"] + d["test_stories"]
    files = []
    if d["format"] == "lebel2023":
        root = os.path.join(d["root"], "derivative")
        files.append(os.path.join(root, "respdict.json"))
        files += [os.path.join(root, "preprocessed_data", wildcards.subject, f"{s}.hf5") for s in stories]
    else:
        files += [os.path.join(d["root"], d["narratives"]["bold"].format(subject=wildcards.subject, story=s))
                  for s in stories]
    if d["mask"]:
        files.append(d["mask"].format(subject=wildcards.subject))
    return files


def encoding_gpu(wildcards):
    return int(CFG["encoding"]["backend"] == "torch_cuda")
