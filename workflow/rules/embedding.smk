# Stage 3: the language representation embedding, and the comparison of similarity methods.


rule embedding:
    input:
        PATHS["mse"],
    output:
        h5=PATHS["embedding_h5"],
        coords=report(PATHS["embedding_coords"], caption="../report/coords.rst", category="2. Embedding",
                      subcategory="{method}"),
        affinity=PATHS["embedding_affinity"],
        eigenvalues=PATHS["embedding_eigenvalues"],
        layers=report(PATHS["embedding_layers"], caption="../report/layers.rst", category="2. Embedding",
                      subcategory="{method}"),
        affinity_png=report(PATHS["embedding_affinity_png"], caption="../report/affinity.rst",
                            category="2. Embedding", subcategory="{method}"),
        scree_png=report(PATHS["embedding_scree_png"], caption="../report/scree.rst", category="2. Embedding",
                         subcategory="{method}"),
        embedding2d_png=report(PATHS["embedding_2d_png"], caption="../report/embedding2d.rst",
                               category="2. Embedding", subcategory="{method}"),
        embedding3d_png=report(PATHS["embedding_3d_png"], caption="../report/embedding3d.rst",
                               category="2. Embedding", subcategory="{method}"),
    wildcard_constraints:
        method="|".join(ENCODERS) or "none",
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_jobs.embedding_job(CFG, wildcards.method, TSPACES)),
    log:
        log_path("embedding"),
    threads: 1
    resources:
        mem_mb=mem_from_inputs(1000, 3),
        runtime=runtime_from_inputs(10, 10),
    conda:
        "../envs/extract.yaml"
    shell:
        "{params.lre} embedding --job {params.job:q} --mse {input:q} --h5 {output.h5:q} --coords {output.coords:q}"
        " --affinity {output.affinity:q} --eigenvalues {output.eigenvalues:q} --layers {output.layers:q}"
        " --affinity-png {output.affinity_png:q} --scree-png {output.scree_png:q}"
        " --embedding2d-png {output.embedding2d_png:q} --embedding3d-png {output.embedding3d_png:q} > {log:q} 2>&1"


rule compare_methods:
    input:
        list(comparison_inputs().values()),
    output:
        png=report(PATHS["comparison_png"], caption="../report/comparison.rst", category="2. Embedding"),
        csv=report(PATHS["comparison_csv"], caption="../report/comparison_table.rst", category="2. Embedding"),
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_jobs.compare_job(CFG, TSPACES)),
    log:
        log_path("compare_methods"),
    threads: 1
    resources:
        mem_mb=mem_from_inputs(1000, 2),
        runtime=runtime_from_inputs(10, 10),
    conda:
        "../envs/extract.yaml"
    shell:
        "{params.lre} compare --job {params.job:q} --inputs {input:q} --png {output.png:q}"
        " --csv {output.csv:q} > {log:q} 2>&1"
