# Stage 3: the language representation embedding, and the comparison of similarity methods.


rule embedding:
    input:
        PATHS["mse"],
    output:
        h5=embedding_file("embedding.h5"),
        coords=report(embedding_file("coords.csv"), caption="../report/coords.rst", category="2. Embedding",
                      subcategory="{method}"),
        affinity=embedding_file("affinity.csv"),
        eigenvalues=embedding_file("eigenvalues.csv"),
        layers=report(embedding_file("layers.csv"), caption="../report/layers.rst", category="2. Embedding",
                      subcategory="{method}"),
        affinity_png=report(embedding_file("affinity.png"), caption="../report/affinity.rst",
                            category="2. Embedding", subcategory="{method}"),
        scree_png=report(embedding_file("scree.png"), caption="../report/scree.rst", category="2. Embedding",
                         subcategory="{method}"),
        embedding2d_png=report(embedding_file("embedding_2d.png"), caption="../report/embedding2d.rst",
                               category="2. Embedding", subcategory="{method}"),
        embedding3d_png=report(embedding_file("embedding_3d.png"), caption="../report/embedding3d.rst",
                               category="2. Embedding", subcategory="{method}"),
    wildcard_constraints:
        method="|".join(ENCODERS) or "none",
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_config.embedding_job(CFG, wildcards.method, TSPACES)),
        outdir=lambda wildcards, output: os.path.dirname(output.h5),
    log:
        log_path("embedding", "{method}.log"),
    threads: 1
    resources:
        mem_mb=mem_from_inputs(1000, 3),
        runtime=runtime_from_inputs(10, 10),
    conda:
        "../envs/extract.yaml"
    shell:
        "{params.lre} embedding --job {params.job:q} --mse {input:q} --outdir {params.outdir:q} > {log:q} 2>&1"


rule compare_methods:
    input:
        [path for path, _ in comparison_inputs().values()],
    output:
        png=report(PATHS["comparison_png"], caption="../report/comparison.rst", category="2. Embedding"),
        csv=report(PATHS["comparison_csv"], caption="../report/comparison_table.rst", category="2. Embedding"),
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_config.compare_job(CFG, TSPACES)),
        inputs=" ".join(f"{m!r}={p}:{k}" for m, (p, k) in comparison_inputs().items()),
    log:
        log_path("transfer", "compare.log"),
    threads: 1
    resources:
        mem_mb=mem_from_inputs(1000, 2),
        runtime=runtime_from_inputs(10, 10),
    conda:
        "../envs/extract.yaml"
    shell:
        "{params.lre} compare --job {params.job:q} --inputs {params.inputs} --png {output.png:q}"
        " --csv {output.csv:q} > {log:q} 2>&1"
