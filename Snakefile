# lre: language representation embeddings and their reflection in brain responses.
# Thin by design: configuration, includes and the final targets. All logic lives in src/lre.
from snakemake.utils import min_version

min_version("9.0")

# The default is the offline demo; `--configfile other.yaml` replaces it (no merging).
if not workflow.overwrite_configfiles:

    configfile: "config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/stimuli.smk"
include: "workflow/rules/features.smk"


# each analysis (config `analyses`) brings its rules
if EMBED:

    include: "workflow/rules/transfer.smk"
    include: "workflow/rules/embedding.smk"


if ENCODE:

    include: "workflow/rules/encoding.smk"


if PARTITION:

    include: "workflow/rules/partition.smk"


if LINK:

    include: "workflow/rules/brainlink.smk"


include: "workflow/rules/viewer.smk"
include: "workflow/rules/report.smk"


onstart:
    if MISSING_MODELS:
        raise SystemExit(
            "lre: models not available here (see the messages above):\n"
            + "\n".join(f"  {err}" for _, err in MISSING_MODELS)
        )
    run_start(log)


onsuccess:
    run_end(log)


onerror:
    run_end(log)


rule all:
    input:
        all_targets(),
    default_target: True
