# Stage 4: voxelwise encoding models. Jobs: one per subject and model (at most
# encoding.spaces_per_job spaces each; a job loads the subject's responses once), plus the
# noise ceiling and a table per subject.

if DEMO_FMRI:

    rule demo_respdict:
        input:
            PATHS["documents"],
        output:
            DEMO_RESPDICT,
        params:
            lre=LRE,
            job=lambda wildcards: job_json(lre_jobs.demo_respdict_job(CFG)),
        log:
            log_path("demo_respdict"),
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../envs/extract.yaml"
        shell:
            "{params.lre} demo-respdict --job {params.job:q} --documents {input:q} --out {output:q} > {log:q} 2>&1"

    # one job per subject, seeded by the subject's name: adding a subject leaves the others alone
    rule demo_fmri:
        input:
            documents=PATHS["documents"],
            features=[space_features(s, "stories") for s in CFG["demo"]["fmri"]["planted"]],
        output:
            responses=[demo_response(story) for story in DATASET_STORIES],
            mask=PATHS["demo_mask"],
            truth=PATHS["demo_truth"],
            gradient=PATHS["demo_gradient"],
        wildcard_constraints:
            subject="|".join(re.escape(s) for s in SUBJECTS),
        params:
            lre=LRE,
            job=lambda wildcards: job_json(lre_jobs.demo_fmri_job(CFG, wildcards.subject)),
        log:
            log_path("demo_fmri"),
        threads: 1
        resources:
            mem_mb=2000,
            runtime=20,
        conda:
            "../envs/extract.yaml"
        shell:
            "{params.lre} demo-fmri --job {params.job:q} --documents {input.documents:q}"
            " --features {input.features:q} --responses {output.responses:q} --mask {output.mask:q}"
            " --truth {output.truth:q} --gradient {output.gradient:q} > {log:q} 2>&1"


for _k, _chunk in ENC_CHUNKS.items():

    rule:
        name:
            f"encode_{rule_suffix(_k)}"
        input:
            features=[space_features(s, "stories") for s in _chunk],
            dataset=dataset_inputs,
        output:
            h5=expand(PATHS["encoding"], space=_chunk, allow_missing=True),
            nii=expand(PATHS["encoding_nii"], space=_chunk, allow_missing=True) if HAS_MAPS else [],
            nii_right=right_hemis(expand(PATHS["encoding_nii"], space=_chunk, allow_missing=True)),
        params:
            lre=LRE,
            job=lambda wildcards, chunk=_chunk: job_json(lre_jobs.encoding_job(CFG, wildcards.subject, chunk)),
            nii=lambda wildcards, output: path_option("--nii", output.nii),
        log:
            log_path("encode", chunk=_k),
        threads: CFG["encoding"]["threads"]
        resources:
            mem_mb=lambda wildcards, chunk=_chunk: encoding_mem_mb(wildcards, chunk),
            runtime=runtime_from_inputs(20, {"dataset": 60, "features": 10}),
            gpu=encoding_gpu,
        conda:
            "../envs/fit.yaml"
        shell:
            "{params.lre} encode --job {params.job:q} --features {input.features:q} --out {output.h5:q} {params.nii}"
            " --threads {threads} > {log:q} 2>&1"


rule noise_ceiling:
    input:
        dataset=dataset_inputs,
    output:
        h5=PATHS["noise_ceiling"],
        nii=PATHS["noise_ceiling_nii"] if HAS_MAPS else [],
        nii_right=right_hemis(PATHS["noise_ceiling_nii"]),
        png=report(PATHS["noise_ceiling_png"], caption="../report/noise_ceiling.rst", category="3. Encoding",
                   subcategory="{subject}") if HAS_MAPS else [],
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_jobs.noise_ceiling_job(CFG, wildcards.subject)),
        nii=lambda wildcards, output: " ".join([path_option("--nii", output.nii), path_option("--png", output.png)]),
    log:
        log_path("noise_ceiling"),
    threads: 1
    resources:
        mem_mb=mem_from_inputs(1000, 3),
        runtime=runtime_from_inputs(10, 10),
    conda:
        "../envs/fit.yaml"
    shell:
        "{params.lre} noise-ceiling --job {params.job:q} --out {output.h5:q} {params.nii} > {log:q} 2>&1"


rule encoding_summary:
    input:
        scores=expand(PATHS["encoding"], space=ENAMES, allow_missing=True),
        ceiling=PATHS["noise_ceiling"],
    output:
        report(PATHS["encoding_summary"], caption="../report/encoding_summary.rst", category="3. Encoding",
               subcategory="{subject}"),
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_jobs.encoding_summary_job(CFG, wildcards.subject, ESPACES)),
    log:
        log_path("encoding_summary"),
    threads: 1
    resources:
        mem_mb=mem_from_inputs(1000, 2),
        runtime=runtime_from_inputs(10, 5),
    conda:
        "../envs/fit.yaml"
    shell:
        "{params.lre} encoding-summary --job {params.job:q} --inputs {input.scores:q} --ceiling {input.ceiling:q}"
        " --out {output:q} > {log:q} 2>&1"


rule performance_figure:
    input:
        expand(PATHS["encoding_summary"], subject=SUBJECTS),
    output:
        report(PATHS["performance_png"], caption="../report/performance.rst", category="3. Encoding"),
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_jobs.performance_figure_job(CFG, ESPACES)),
    log:
        log_path("performance_figure"),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    conda:
        "../envs/fit.yaml"
    shell:
        "{params.lre} performance-figure --job {params.job:q} --summaries {input:q} --out {output:q} > {log:q} 2>&1"


if DEMO_FMRI:

    rule recovery:
        input:
            truth=PATHS["demo_truth"],
            ceiling=PATHS["noise_ceiling"],
            scores=expand(PATHS["encoding"], space=ENAMES, allow_missing=True),
        output:
            report(PATHS["recovery"], caption="../report/recovery.rst", category="3. Encoding",
                   subcategory="{subject}"),
        params:
            lre=LRE,
            job=lambda wildcards: job_json(lre_jobs.recovery_job(CFG, wildcards.subject, ESPACES)),
        log:
            log_path("recovery"),
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../envs/fit.yaml"
        shell:
            "{params.lre} recovery --job {params.job:q} --truth {input.truth:q} --ceiling {input.ceiling:q}"
            " --inputs {input.scores:q} --out {output:q} > {log:q} 2>&1"
