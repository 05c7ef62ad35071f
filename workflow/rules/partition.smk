# Stage 4b: variance partitioning (partition.spaces). One job per subject: the baseline
# alone once, then each tested space joined to it by banded ridge.

rule partition:
    input:
        features=[space_features(s, "stories") for s in PBASE + PSPACES],
        scores=expand(PATHS["encoding"], space=PSPACES, allow_missing=True),
        ceiling=PATHS["noise_ceiling"],
        dataset=dataset_inputs,
        truth=PATHS["demo_truth"] if DEMO_FMRI else [],
    output:
        h5=expand(PATHS["partition"], space=PSPACES, allow_missing=True),
        nii=expand(PATHS["partition_nii"], space=PSPACES, allow_missing=True) if HAS_MAPS else [],
        nii_right=right_hemis(expand(PATHS["partition_nii"], space=PSPACES, allow_missing=True)),
        table=report(PATHS["partition_table"], caption="../report/partition_table.rst",
                     category="3. Encoding", subcategory="{subject}"),
        png=report(PATHS["partition_png"], caption="../report/partition.rst", category="3. Encoding",
                   subcategory="{subject}"),
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_jobs.partition_job(CFG, wildcards.subject)),
        extra=lambda wildcards, input, output: " ".join(
            [path_option("--nii", output.nii), path_option("--truth", input.truth)]
        ),
    log:
        log_path("partition"),
    threads: CFG["encoding"]["threads"]
    resources:
        mem_mb=partition_mem_mb,
        runtime=runtime_from_inputs(20, {"dataset": 60 * len(CFG["partition"]["band_weights"]), "features": 10}),
        gpu=encoding_gpu,
    conda:
        "../envs/fit.yaml"
    shell:
        "{params.lre} partition --job {params.job:q} --features {input.features:q} --scores {input.scores:q}"
        " --ceiling {input.ceiling:q} --out {output.h5:q} --table {output.table:q} --png {output.png:q} {params.extra}"
        " --threads {threads} > {log:q} 2>&1"
