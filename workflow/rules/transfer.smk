# Stage 2: transfer maps. Jobs grow linearly with the number of models: per model (at most
# transfer.spaces_per_job spaces), one encoder job, one decoder job (its spaces as targets,
# every source) and one direct-transfer job (its spaces as sources).


rule transfer_prepare:
    input:
        space_features(CFG["transfer"]["universal"]["space"]),
    output:
        split=PATHS["split"],
        universal=PATHS["universal"],
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_jobs.transfer_prepare_job(CFG)),
    log:
        log_path("transfer_prepare"),
    threads: 1
    priority: 10
    resources:
        mem_mb=mem_from_inputs(1000, 4),
        runtime=runtime_from_inputs(10, 10),
    conda:
        "../envs/extract.yaml"
    shell:
        "{params.lre} transfer-prepare --job {params.job:q} --features {input:q}"
        " --split {output.split:q} --universal {output.universal:q} > {log:q} 2>&1"


for _c, _chunk in SOURCE_CHUNKS.items():

    rule:
        name:
            f"transfer_encode_{rule_suffix(_c)}"
        input:
            split=PATHS["split"],
            universal=PATHS["universal"],
            features=[space_features(s) for s in _chunk],
        output:
            expand(PATHS["encoder"], space=_chunk, allow_missing=True),
        wildcard_constraints:
            method="|".join(ENCODERS) or "none",
        params:
            lre=LRE,
            job=lambda wildcards, chunk=_chunk: job_json(lre_jobs.encoder_job(CFG, wildcards.method, chunk)),
            device=lambda wildcards: "cpu" if wildcards.method == "bottleneck" else CFG["features"]["device"],
        log:
            log_path("transfer_encode", chunk=_c),
        threads: CFG["transfer"]["threads"]
        priority: 10
        resources:
            mem_mb=mem_from_inputs(1000, 3),
            runtime=runtime_from_inputs(10, 30),
            gpu=lambda wildcards: int(wildcards.method == "mlp" and CFG["features"]["device"] != "cpu"),
        conda:
            "../envs/extract.yaml"
        shell:
            "{params.lre} transfer-encode --job {params.job:q} --split {input.split:q}"
            " --universal {input.universal:q} --features {input.features:q} --out {output:q}"
            " --device {params.device} --threads {threads} > {log:q} 2>&1"

    rule:
        name:
            f"transfer_direct_{rule_suffix(_c)}"
        input:
            split=PATHS["split"],
            features=[space_features(s) for s in _chunk],
            targets=[space_features(s) for s in TNAMES],
        output:
            expand(PATHS["direct_source"], space=_chunk),
        params:
            lre=LRE,
            job=lambda wildcards, chunk=_chunk: job_json(lre_jobs.direct_job(CFG, chunk, TNAMES)),
        log:
            log_path("transfer_direct", chunk=_c),
        threads: CFG["transfer"]["threads"]
        priority: 10
        resources:
            mem_mb=mem_from_inputs(1000, 1),
            runtime=runtime_from_inputs(20, 60),
        conda:
            "../envs/extract.yaml"
        shell:
            "{params.lre} transfer-direct --job {params.job:q} --split {input.split:q} --features {input.features:q}"
            " --targets {input.targets:q} --out {output:q} --threads {threads} > {log:q} 2>&1"


for _c, _chunk in TARGET_CHUNKS.items():

    rule:
        name:
            f"transfer_decode_{rule_suffix(_c)}"
        input:
            split=PATHS["split"],
            features=[space_features(s) for s in _chunk],
            encoders=lambda wildcards: expand(PATHS["encoder"], method=wildcards.method, space=TSOURCES),
        output:
            expand(PATHS["decoder"], space=_chunk, allow_missing=True),
        wildcard_constraints:
            method="|".join(ENCODERS) or "none",
        params:
            lre=LRE,
            job=lambda wildcards, chunk=_chunk: job_json(lre_jobs.decoder_job(CFG, wildcards.method, chunk, TSOURCES)),
        log:
            log_path("transfer_decode", chunk=_c),
        threads: CFG["transfer"]["threads"]
        priority: 10
        resources:
            mem_mb=mem_from_inputs(1000, 2),
            runtime=runtime_from_inputs(10, 30),
        conda:
            "../envs/extract.yaml"
        shell:
            "{params.lre} transfer-decode --job {params.job:q} --split {input.split:q} --features {input.features:q}"
            " --encoders {input.encoders:q} --out {output:q} --threads {threads} > {log:q} 2>&1"


rule transfer_gather:
    input:
        lambda wildcards: expand(PATHS["decoder"], method=wildcards.method, space=TNAMES),
    output:
        PATHS["mse"],
    wildcard_constraints:
        method="|".join(ENCODERS) or "none",
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_jobs.gather_job(CFG, "transfer-gather", TNAMES, wildcards.method)),
    log:
        log_path("transfer_gather"),
    threads: 1
    resources:
        mem_mb=mem_from_inputs(1000, 2),
        runtime=runtime_from_inputs(10, 10),
    conda:
        "../envs/extract.yaml"
    shell:
        "{params.lre} transfer-gather --job {params.job:q} --inputs {input:q} --out {output:q} > {log:q} 2>&1"


rule direct_gather:
    input:
        expand(PATHS["direct_source"], space=TSOURCES),
    output:
        PATHS["direct"],
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_jobs.gather_job(CFG, "direct-gather", TNAMES)),
    log:
        log_path("direct_gather"),
    threads: 1
    resources:
        mem_mb=mem_from_inputs(1000, 2),
        runtime=runtime_from_inputs(10, 10),
    conda:
        "../envs/extract.yaml"
    shell:
        "{params.lre} direct-gather --job {params.job:q} --inputs {input:q} --out {output:q} > {log:q} 2>&1"


rule similarity:
    input:
        split=PATHS["split"],
        features=[space_features(s) for s in TNAMES],
    output:
        PATHS["similarity"],
    params:
        lre=LRE,
        job=lambda wildcards: job_json(lre_jobs.similarity_job(CFG, TNAMES)),
    log:
        log_path("similarity"),
    threads: CFG["transfer"]["threads"]
    resources:
        mem_mb=mem_from_inputs(1000, 1),
        runtime=runtime_from_inputs(10, 30),
    conda:
        "../envs/extract.yaml"
    shell:
        "{params.lre} similarity --job {params.job:q} --split {input.split:q} --features {input.features:q}"
        " --out {output:q} --threads {threads} > {log:q} 2>&1"
