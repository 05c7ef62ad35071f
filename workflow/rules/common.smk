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
from lre import lock as lre_lock
from lre import jobs as lre_jobs
from lre import resources as lre_resources
from lre import results as lre_results
from lre.stimuli import documents as lre_documents
from lre.brainlink import flatmap as lre_flatmap
from lre.datasets import check_tr, in_mni_space, lebel2023, subject_files
from lre.datasets.geometry import has_maps, on_surface
from lre.datasets.surface import hemi_path
from lre.features import check_models, resolve_spaces
from lre.features import precomputed as lre_precomputed
from lre.paths import Layout

# Run the package from this checkout: with the interpreter running Snakemake, or inside the
# rule's own environment with --use-conda.
USE_CONDA = DeploymentMethod.CONDA in workflow.deployment_settings.deployment_method
LRE = "PYTHONPATH={}${{PYTHONPATH:+:$PYTHONPATH}} {} -m lre".format(
    shlex.quote(os.path.join(workflow.basedir, "src")), "python" if USE_CONDA else shlex.quote(sys.executable)
)

# Validate once (fills defaults; unknown keys and unavailable models fail here, before any job).
# With --use-conda the models live in the rules' environments, so each job checks its own;
# a job running on a cluster node (not the main process) was checked before submission.
# a config is data: one that asks Snakemake to evaluate it as a YTE template is refused
lre_config.check_config_files(workflow.configfiles)
CFG = lre_config.validate(config, source=", ".join(map(str, workflow.configfiles)) or "config")
# A model that is not available here (not installed, not cached offline) is named at once;
# a dry run still plans the whole DAG (e.g. a paper-scale config on a login node), a real
# run stops before any job (see onstart in the Snakefile).
MISSING_MODELS = []
if not USE_CONDA and workflow.is_main_process:
    MISSING_MODELS = check_models(CFG["features"]["models"], collect=True)
    for _name, _err in MISSING_MODELS:
        logger.warning(f"not available here: {_err}")
if workflow.is_main_process and lre_config.runs(CFG, "encoding"):
    check_tr(CFG)  # the dataset's TR against the stories' volume times
MODELS = list(CFG["features"]["models"])
SPACES = resolve_spaces(CFG["features"]["models"])
lre_config.check_transfer(CFG, SPACES)
lre_config.check_dataset(CFG, SPACES)
# the analyses this config runs (config `analyses`): each plans only the jobs it needs
EMBED, ENCODE, PARTITION, LINK = (lre_config.runs(CFG, a) for a in lre_config.ANALYSES)
TSPACES = lre_config.transfer_spaces(CFG, SPACES)  # the spaces in transfer and the embedding (none: no embedding)
TNAMES = [s.name for s in TSPACES]
MODEL_OF = {s.name: s.model for s in SPACES}
STORIES = CFG["stimuli"]["stories"] if "stimuli" in CFG else []
TMETHODS = CFG["transfer"]["methods"] if EMBED else []
ENCODERS = [m for m in TMETHODS if m in ("bottleneck", "mlp")]
EMETHODS = CFG["embedding"]["methods"] if EMBED else []
TSOURCES = lre_config.transfer_sources(CFG, TNAMES)  # transferred and encoded (all but transfer.targets_only)
SOURCE_CHUNKS = lre_jobs.transfer_chunks(CFG, TSOURCES)  # encoder and direct-transfer jobs, per model
TARGET_CHUNKS = lre_jobs.transfer_chunks(CFG, TNAMES)  # decoder jobs, per model
DEMO_FMRI = lre_config.demo_fmri(CFG)
SUBJECTS = CFG["dataset"]["subjects"] if ENCODE else []
ESPACES = lre_config.encoding_spaces(CFG, SPACES)  # none without the encoding analysis
ENAMES = [s.name for s in ESPACES]
ENC_CHUNKS = lre_jobs.encoding_chunks(CFG, ENAMES)
BSPACES = lre_config.linked_spaces(CFG, SPACES)  # embedded and encoded: linked to the brain
HAS_MAPS = ENCODE and has_maps(CFG["dataset"])  # a mask, or runs on a cortical surface
SURFACE = ENCODE and on_surface(CFG["dataset"])  # maps: a GIfTI file per hemisphere


def right_hemis(paths):
    """On the surface, the hemi-R file of each map (written beside its hemi-L file, the one
    the command is given); nothing in a volume."""
    paths = [paths] if isinstance(paths, str) else list(paths)
    return [str(hemi_path(p, "R")) for p in paths] if SURFACE else []

# variance partitioning: the baseline's spaces and the spaces tested against it (none: no jobs)
PBASE, PSPACES = lre_config.partition_spaces(CFG, SPACES)
# whose features are needed on which documents: the corpus' for transfer, the stories' for
# encoding (and the demo's planted responses)
_ON_CORPUS = {MODEL_OF[s] for s in TNAMES + ([CFG["transfer"]["universal"]["space"]] if EMBED else [])}
_ON_STORIES = {MODEL_OF[s] for s in ENAMES + PBASE + (CFG["demo"]["fmri"]["planted"] if DEMO_FMRI else [])}


def feature_files():
    """Every feature file of the run, model by model in config order (the features summary
    lists the spaces so)."""
    return [
        PATHS[name].format(model=m)
        for m in MODELS
        for name, wanted in (("corpus_features", m in _ON_CORPUS), ("features", m in _ON_STORIES))
        if wanted
    ]
# Flatmaps need pycortex: in the flatmap rule's env with --use-conda, else installed here.
PYCORTEX = CFG["brainlink"]["pycortex"] if LINK else None
FLATMAPS = bool(PYCORTEX) and (USE_CONDA or lre_flatmap.available())
if PYCORTEX and not FLATMAPS and workflow.is_main_process:
    logger.warning("lre: brainlink.pycortex is set, but pycortex is not installed here, so the flatmaps are "
                   f"skipped. To draw them: {lre_flatmap.INSTALL}.")



# One run at a time per results folder (lre.lock): a second run stops here, naming the run
# that holds the folder, before Snakemake's own lock of the working directory would advise
# --unlock. Dry runs and other read-only commands only warn.
_READ_ONLY_FLAGS = ("--dry-run", "--dryrun", "--lint", "--report", "--list-rules", "--summary", "--detailed-summary",
                    "--dag", "--rulegraph", "--filegraph", "--list-changes", "--unlock", "--containerize")


def _read_only_invocation():
    for arg in sys.argv[1:]:
        if arg.split("=")[0] in _READ_ONLY_FLAGS or (arg.startswith("-") and not arg.startswith("--") and "n" in arg):
            return True
    return False


def _in_use_message(results):
    try:
        lre_lock.check(results)
    except lre_lock.ResultsInUse as e:
        return e
    return ""


# Snakemake's scheduler and the jobs write temporary files: a full TMPDIR is named now, not
# met midway as a traceback.
if workflow.is_main_process:
    try:
        lre_lock.check_tmpdir()
    except lre_lock.TempFolderFull as _e:
        raise SystemExit(f"lre: {_e}")


# The folders this run writes: the results folder and, when it is apart, the corpus root.
ROOTS = list(dict.fromkeys([CFG["results"], CFG["corpus_results"] or CFG["results"]]))
for _root in ROOTS if workflow.is_main_process else []:
    if lre_lock.holder(_root) is None:
        continue
    if _read_only_invocation():
        logger.warning(f"lre: {_root} is in use by another run "
                       f"({lre_lock.describe(lre_lock.holder(_root))}); its files may still change.")
    else:
        raise SystemExit(f"lre: {_in_use_message(_root)}")


# The naming scheme of everything under results/ (written once, in lre.paths).
LAYOUT = lre_config.layout(CFG)
PATHS = LAYOUT.templates()

if CFG["demo"]["enabled"]:
    lre_config.check_demo_paths(CFG)


def run_start(log):
    """Before the first job of a real run: take the results folder (and the corpus root), and
    refuse stimulus files whose content changed behind an old modification time (unless the
    documents are rerun)."""
    taken = []
    try:
        if workflow.local_exec:  # the jobs run here: a GPU-only setting needs a GPU here
            lre_config.check_devices(CFG, source=", ".join(map(str, workflow.configfiles)) or "config")
        for root in ROOTS:
            lre_lock.acquire(root, " ".join(sys.argv))
            taken.append(root)
        lre_results.record_corpus_root(CFG["results"], ROOTS[-1])
        side = lre_jobs.corpus_side_job(CFG)
        if side is not None:  # a corpus root never changes under another results folder's finished results
            read = None if CFG["demo"]["enabled"] else CFG["corpus"]["path"]  # the demo makes its corpus
            lre_lock.claim_corpus_root(ROOTS[-1], CFG["results"], side, read)
        for rule, documents in (("stimuli", PATHS["documents"]), ("corpus_documents", PATHS["corpus_documents"])):
            forced = workflow.dag_settings.forceall or {rule, documents} & set(workflow.dag_settings.forcerun)
            if not forced:
                lre_lock.check_inputs(documents, rule)
    except (lre_lock.StaleInputs, lre_lock.ResultsInUse, lre_lock.CorpusSideInUse, lre_config.ConfigError) as e:
        for root in taken:
            lre_lock.release(root)
        raise SystemExit(f"lre: {e}")


def run_end(log):
    for root in ROOTS:
        lre_lock.release(root)


def job_json(job):
    return json.dumps(job, sort_keys=True, separators=(",", ":"))


def log_path(rule, **wildcards):
    return LAYOUT.log(rule, **wildcards)


def all_targets():
    """Every final output of the analyses the config runs, and the report."""
    return analysis_targets() + [PATHS["report"]]


def analysis_targets():
    targets = [PATHS["features_summary"], PATHS["space_table"]]
    for method in EMETHODS:
        targets += expand(PATHS["embedding_h5"], method=method)
        if CFG["embedding"]["n_components"] >= 3:
            targets += expand(PATHS["viewer_embedding"], method=method)
    if len(comparison_inputs()) > 1:
        targets += [PATHS["comparison_png"]]
    if ENCODE:
        targets += expand(PATHS["encoding_summary"], subject=SUBJECTS)
        targets += expand(PATHS["noise_ceiling"], subject=SUBJECTS)
        targets += [PATHS["performance_png"]]
        if HAS_MAPS:
            targets += expand(PATHS["noise_ceiling_png"], subject=SUBJECTS)
            targets += expand(PATHS["viewer_map"], subject=SUBJECTS, kind=lre_jobs.viewer_maps(CFG))
    if LINK:
        targets += expand(PATHS["brainlink"], subject=SUBJECTS)
        if FLATMAPS:
            targets += expand(PATHS["flatmap_principal"], subject=SUBJECTS)
    if PSPACES:
        targets += expand(PATHS["partition_table"], subject=SUBJECTS)
    if EMBED and ENCODE:
        targets += [PATHS["corpus_check"]]
    if DEMO_FMRI:
        targets += expand(PATHS["recovery"], subject=SUBJECTS)
    if DEMO_FMRI and LINK:
        targets += expand(PATHS["brainlink_check"], subject=SUBJECTS)
    return targets


# ----------------------------------------------------------------------------- stimuli


def stimuli_inputs(wildcards):
    st = CFG["stimuli"]
    files = {"stories": expand(st["path"], story=STORIES)}
    if st["tr_times"]["source"] == "file":
        files["trfiles"] = expand(st["tr_times"]["path"], story=STORIES)
    return files


# ----------------------------------------------------------------------------- features

NEURAL = ("hf", "untrained", "charlm", "flair")


def model_family(wildcards):
    return CFG["features"]["models"][wildcards.model]["family"]


def features_inputs(part):
    """The inputs of a features job on the corpus or on the stories."""
    documents, features = (
        (PATHS["corpus_documents"], PATHS["corpus_features"]) if part == "corpus" else (PATHS["documents"], PATHS["features"])
    )

    def inputs(wildcards):
        entry = CFG["features"]["models"][wildcards.model]
        files = {"documents": documents}
        if entry["family"] == "shift":
            files["of"] = features.format(model=entry["of"])
        if entry["family"] == "precomputed":  # a change to the user's files reruns the job
            files["precomputed"] = lre_precomputed.input_files(entry, part)
        return files

    return inputs


def features_threads(wildcards):
    return CFG["features"]["threads"] if model_family(wildcards) in NEURAL + ("tagger",) else 1


def features_mem_mb(wildcards, input):
    """Model, one batch and one group of documents (neural models stream); the features of
    every word for the other families (lre.resources.features_mem_mb)."""
    entry = CFG["features"]["models"][wildcards.model]
    longest = lre_documents.longest(input.documents)
    return lre_resources.features_mem_mb(entry, input.size_mb, CFG["features"], longest)


def features_runtime(wildcards, input):
    """Minutes: words / a conservative CPU speed for the family (GPUs are far faster)."""
    entry = CFG["features"]["models"][wildcards.model]
    return lre_resources.features_runtime_min(entry, input.size_mb)


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
    return "../envs/{}.yaml".format(lre_resources.features_env(CFG["features"]["models"][wildcards.model]))


def features_gpu(wildcards):
    return int(model_family(wildcards) in NEURAL and CFG["features"]["device"] != "cpu")


# ----------------------------------------------------------------------------- transfer


def space_features(space, part="corpus"):
    """The feature file of a space on the corpus (transfer) or on the stories (encoding)."""
    return PATHS["corpus_features" if part == "corpus" else "features"].format(model=MODEL_OF[space])


def comparison_inputs():
    """method label -> file of every space-by-space matrix to compare (the labels and order of
    lre.jobs.compared)."""
    files = {"direct R^2": PATHS["direct"], "CKA": PATHS["similarity"], "RSA": PATHS["similarity"]}
    return {
        label: files.get(label) or PATHS["embedding_h5"].format(method=label[len("affinity (") : -1])
        for label in lre_jobs.compared(CFG)
    }


# ----------------------------------------------------------------------------- encoding


def dataset_inputs(wildcards):
    """The files one subject's jobs read, as the dataset's loader names them (so missing data
    fails before any job)."""
    return subject_files(CFG["dataset"], wildcards.subject)


def path_option(flag, files):
    """A command-line option listing files (quoted), or nothing when there are none."""
    files = [files] if isinstance(files, str) else list(files)
    return f"{flag} " + " ".join(shlex.quote(f) for f in files) if files else ""


# The demo's synthetic responses, in the layout of the LeBel dataset's loader (under demo/).
DATASET_STORIES = CFG["dataset"]["train_stories"] + CFG["dataset"]["test_stories"] if ENCODE else []
DEMO_RESPDICT = str(lebel2023.respdict_path(PATHS["demo_root"]))


def demo_response(story):
    return str(lebel2023.response_path(PATHS["demo_root"], "{subject}", story))


def rule_suffix(name):
    """A chunk or model name as it may appear in a rule name."""
    return re.sub(r"\W", "_", name)


def encoding_mem_mb(wildcards, chunk):
    """The subject's responses held once, the solver's batch of voxels and the scoring, from
    the runs' file headers and the spaces' widths (lre.resources.encoding_mem_mb)."""
    job = lre_jobs.encoding_job(CFG, wildcards.subject, chunk)
    return lre_resources.encoding_job_mem_mb(job, CFG["features"]["models"])


def partition_mem_mb(wildcards):
    """An encoding job's memory at the joint design's width (the baseline's and the widest
    tested space's columns; lre.resources.encoding_job_mem_mb)."""
    job = lre_jobs.partition_job(CFG, wildcards.subject)
    return lre_resources.encoding_job_mem_mb(job, CFG["features"]["models"], joint=True)


def encoding_gpu(wildcards):
    """torch_cuda asks for a GPU, and so does auto (CUDA where a job's torch sees one), as
    features.device auto does."""
    return int(CFG["encoding"]["backend"] in ("torch_cuda", "auto"))
