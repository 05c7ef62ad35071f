# The tables over every space and the run's report: what the analyses the config runs made,
# in one self-contained HTML page.


rule space_table:
    input:
        embedding=PATHS["embedding_h5"].format(method=lre_jobs.space_table_method(CFG)) if EMBED else [],
        summaries=expand(PATHS["encoding_summary"], subject=SUBJECTS),
        brainlinks=expand(PATHS["brainlink"], subject=SUBJECTS) if LINK else [],
        partitions=expand(PATHS["partition_table"], subject=SUBJECTS) if PSPACES else [],
    output:
        table=report(PATHS["space_table"], caption="../report/space_table.rst", category="5. All spaces"),
        brainlink=report(PATHS["brainlink_summary"], caption="../report/brainlink_summary.rst",
                         category="4. Brain link") if LINK else [],
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_jobs.space_table_job(CFG, SPACES)),
        options=lambda wildcards, input, output: " ".join(
            [
                path_option("--embedding", input.embedding),
                path_option("--summaries", input.summaries),
                path_option("--brainlinks", input.brainlinks),
                path_option("--brainlink-summary-out", output.brainlink),
                path_option("--partitions", input.partitions),
            ]
        ),
    log:
        log_path("space_table"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/fit.yaml"
    shell:
        "{params.lre} space-table --job {params.job:q} --out {output.table:q} {params.options} > {log:q} 2>&1"


rule report:
    input:
        analysis_targets(),
    output:
        PATHS["report"],
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_jobs.report_job(CFG, FLATMAPS)),
        captions=os.path.join(workflow.basedir, "workflow", "report"),
    log:
        log_path("report"),
    threads: 1
    resources:
        mem_mb=mem_from_inputs(1000, 2),
        runtime=10,
    conda:
        "../envs/fit.yaml"
    shell:
        "{params.lre} report --job {params.job:q} --captions {params.captions:q} --out {output:q} > {log:q} 2>&1"
