# Stage 1: features. One job per model and set of documents: all of its spaces (layers,
# heads) from one pass, over the corpus (corpus_features, under the corpus root that datasets
# may share) or over the stories (features, under the results folder).


rule corpus_features:
    input:
        unpack(features_inputs("corpus")),
    output:
        PATHS["corpus_features"],
    wildcard_constraints:
        model="|".join(MODELS),
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_jobs.features_job(CFG, wildcards.model, "corpus")),
        of=lambda wildcards, input: path_option("--of", input.of) if "of" in input.keys() else "",
        device=CFG["features"]["device"],
    log:
        log_path("corpus_features"),
    threads: features_threads
    # the long jobs on the critical path (features -> transfer -> embedding) go first; the
    # encoding jobs of the models already done fill the gaps
    priority: 20
    resources:
        mem_mb=features_mem_mb,
        runtime=features_runtime,
        gpu=features_gpu,
    conda:
        features_env
    shell:
        "{params.lre} features --job {params.job:q} --documents {input.documents:q} {params.of}"
        " --out {output:q} --device {params.device} --threads {threads} > {log:q} 2>&1"


use rule corpus_features as features with:
    input:
        unpack(features_inputs("stories")),
    output:
        PATHS["features"],
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_jobs.features_job(CFG, wildcards.model, "stories")),
        of=lambda wildcards, input: path_option("--of", input.of) if "of" in input.keys() else "",
        device=CFG["features"]["device"],
    log:
        log_path("features"),


rule features_summary:
    input:
        feature_files(),
    output:
        report(
            PATHS["features_summary"],
            caption="../report/features_summary.rst",
            category="1. Features",
        ),
    params:
        lre=LRE,
    log:
        log_path("features_summary"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/extract.yaml"
    shell:
        "{params.lre} features-summary --features {input:q} --out {output:q} > {log:q} 2>&1"
