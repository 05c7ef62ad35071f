# Stage 0: stimuli. The demo data (offline default) and the documents files every feature
# space is computed on: the stories with word times and volume times (under the results
# folder), and the transfer corpus (under the corpus root, corpus_results).

if CFG["demo"]["enabled"]:

    rule demo_data:
        output:
            textgrids=expand(PATHS["demo_textgrid"], story=STORIES),
            trfiles=expand(PATHS["demo_trfile"], story=STORIES),
            corpus=PATHS["demo_corpus"],
            manifest=PATHS["demo_manifest"],
        params:
            lre=LRE,
            job=lambda wildcards: job_json(lre_jobs.demo_job(CFG)),
        log:
            log_path("demo_data"),
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../envs/extract.yaml"
        shell:
            "{params.lre} demo --job {params.job:q} --textgrids {output.textgrids:q} --trfiles {output.trfiles:q}"
            " --corpus {output.corpus:q} --manifest {output.manifest:q} > {log:q} 2>&1"


if EMBED:

    rule corpus_documents:
        input:
            CFG["corpus"]["path"],
        output:
            PATHS["corpus_documents"],
        params:
            lre=LRE,
            job=lambda wildcards: job_json(lre_jobs.corpus_job(CFG)),
        log:
            log_path("corpus_documents"),
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../envs/extract.yaml"
        shell:
            "{params.lre} corpus --job {params.job:q} --out {output:q} > {log:q} 2>&1"


if ENCODE:

    rule stimuli:
        input:
            unpack(stimuli_inputs),
        output:
            PATHS["documents"],
        params:
            lre=LRE,
            job=lambda wildcards: job_json(lre_jobs.stimuli_job(CFG)),
        log:
            log_path("stimuli"),
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../envs/extract.yaml"
        shell:
            "{params.lre} stimuli --job {params.job:q} --out {output:q} > {log:q} 2>&1"


if EMBED and ENCODE:

    # the transfer corpus must not hold the fMRI stories
    rule corpus_check:
        input:
            documents=PATHS["documents"],
            corpus=PATHS["corpus_documents"],
        output:
            PATHS["corpus_check"],
        params:
            lre=LRE,
            job=lambda wildcards: job_json(lre_jobs.corpus_check_job(CFG)),
        log:
            log_path("corpus_check"),
        threads: 1
        resources:
            mem_mb=mem_from_inputs(1000, 10),
            runtime=10,
        conda:
            "../envs/extract.yaml"
        shell:
            "{params.lre} corpus-check --job {params.job:q} --documents {input.documents:q}"
            " --corpus {input.corpus:q} --out {output:q} > {log:q} 2>&1"
