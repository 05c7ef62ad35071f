# Stage 5: the brain link. Per subject: the embedding predicts each voxel's encoding
# performance across spaces; the principal-dimension map.


rule brainlink:
    input:
        embedding=PATHS["embedding_h5"].format(method=CFG["brainlink"]["method"]),
        scores=expand(PATHS["encoding"], space=[s.name for s in BSPACES], allow_missing=True),
    output:
        h5=PATHS["brainlink"],
        scatter=report(PATHS["brainlink_scatter"], caption="../report/brainlink_scatter.rst",
                       category="4. Brain link", subcategory="{subject}"),
        score_nii=PATHS["brainlink_score_nii"] if HAS_MAPS else [],
        principal_nii=PATHS["brainlink_principal_nii"] if HAS_MAPS else [],
        maps_right=right_hemis([PATHS["brainlink_score_nii"], PATHS["brainlink_principal_nii"]]),
        principal_png=report(PATHS["brainlink_principal_png"], caption="../report/principal.rst",
                             category="4. Brain link", subcategory="{subject}") if HAS_MAPS else [],
        score_png=report(PATHS["brainlink_score_png"], caption="../report/brainlink_map.rst",
                         category="4. Brain link", subcategory="{subject}") if HAS_MAPS else [],
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_jobs.brainlink_job(CFG, wildcards.subject, BSPACES)),
        maps=lambda wildcards, output: " ".join(
            path_option(f"--{key.replace('_', '-')}", output[key])
            for key in ("score_nii", "principal_nii", "score_png", "principal_png")
        ),
    log:
        log_path("brainlink"),
    threads: 1
    resources:
        mem_mb=mem_from_inputs(1000, 4),
        runtime=runtime_from_inputs(10, 20),
    conda:
        "../envs/fit.yaml"
    shell:
        "{params.lre} brainlink --job {params.job:q} --embedding {input.embedding:q} --scores {input.scores:q}"
        " --out {output.h5:q} --scatter {output.scatter:q} {params.maps} > {log:q} 2>&1"


if FLATMAPS:

    rule flatmap:
        input:
            PATHS["brainlink"],
        output:
            principal=report(PATHS["flatmap_principal"], caption="../report/flatmap_principal.rst",
                             category="4. Brain link", subcategory="{subject}"),
            score=report(PATHS["flatmap_score"], caption="../report/flatmap_score.rst", category="4. Brain link",
                         subcategory="{subject}"),
        params:
            lre=LRE,
            job=lambda wildcards: job_json(lre_jobs.flatmap_job(CFG, wildcards.subject, BSPACES)),
        log:
            log_path("flatmap"),
        threads: 1
        resources:
            mem_mb=4000,
            runtime=20,
        conda:
            "../envs/flatmap.yaml"
        shell:
            "{params.lre} flatmap --job {params.job:q} --brainlink {input:q} --principal {output.principal:q}"
            " --score {output.score:q} > {log:q} 2>&1"


if DEMO_FMRI:

    rule brainlink_check:
        input:
            truth=PATHS["demo_truth"],
            brainlink=PATHS["brainlink"],
            scores=expand(PATHS["encoding"], space=[s.name for s in BSPACES], allow_missing=True),
        output:
            report(PATHS["brainlink_check"], caption="../report/brainlink_check.rst", category="4. Brain link",
                   subcategory="{subject}"),
        params:
            lre=LRE,
            job=lambda wildcards: job_json(lre_jobs.brainlink_check_job(CFG, wildcards.subject, BSPACES)),
        log:
            log_path("brainlink_check"),
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../envs/fit.yaml"
        shell:
            "{params.lre} brainlink-check --job {params.job:q} --truth {input.truth:q}"
            " --brainlink {input.brainlink:q} --scores {input.scores:q} --out {output:q} > {log:q} 2>&1"
