# Interactive views, each one self-contained HTML file (no server, works offline): the
# embedding in 3-D, and per subject the brain maps (on fsaverage too for MNI-space data).


if EMBED:

    rule viewer_embedding:
        input:
            embedding=PATHS["embedding_h5"],
            summaries=expand(PATHS["encoding_summary"], subject=SUBJECTS),
        output:
            report(PATHS["viewer_embedding"], caption="../report/viewer_embedding.rst", category="2. Embedding",
                   subcategory="{method}"),
        wildcard_constraints:
            method="|".join(ENCODERS) or "none",
        params:
            lre=LRE,
            job=lambda wildcards: job_json(lre_jobs.viewer_embedding_job(CFG, wildcards.method, TSPACES)),
            summaries=lambda wildcards, input: path_option("--summaries", input.summaries),
        log:
            log_path("viewer_embedding"),
        threads: 1
        resources:
            mem_mb=1000,
            runtime=10,
        conda:
            "../envs/fit.yaml"
        shell:
            "{params.lre} embedding-viewer --job {params.job:q} --embedding {input.embedding:q} --out {output:q}"
            " {params.summaries} > {log:q} 2>&1"


if HAS_MAPS:
    VIEWER_SURFACE = in_mni_space(CFG["dataset"])  # MNI space: also on fsaverage5

    rule viewer_maps:
        input:
            brainlink=PATHS["brainlink"] if LINK else [],
            scores=expand(PATHS["encoding"], space=ENAMES, allow_missing=True),
        output:
            maps=[report(PATHS["viewer_map"].replace("{kind}", kind), caption="../report/viewer_map.rst",
                         category="4. Brain link", subcategory="{subject}") for kind in lre_jobs.viewer_maps(CFG)],
            surface=[PATHS["viewer_surface"].replace("{kind}", kind) for kind in lre_jobs.viewer_maps(CFG)]
            if VIEWER_SURFACE else [],
        params:
            lre=LRE,
            job=lambda wildcards: job_json(lre_jobs.viewer_maps_job(CFG, wildcards.subject, SPACES)),
            surface=lambda wildcards, output: path_option("--surface", output.surface),
            brainlink=lambda wildcards, input: path_option("--brainlink", input.brainlink),
        log:
            log_path("viewer_maps"),
        threads: 1
        resources:
            mem_mb=mem_from_inputs(1000, 2),
            runtime=10,
        conda:
            "../envs/fit.yaml"
        shell:
            "{params.lre} interactive-maps --job {params.job:q} {params.brainlink}"
            " --scores {input.scores:q} --out {output.maps:q} {params.surface} > {log:q} 2>&1"
