# Stage 1: features. One job per model: all of its spaces (layers, heads) from one pass.

NEURAL = ("hf", "untrained")


def features_inputs(wildcards):
    entry = CFG["features"]["models"][wildcards.model]
    files = {"documents": PATHS["documents"]}
    if entry["family"] == "shift":
        files["of"] = PATHS["features"].format(model=entry["of"])
    return files


def features_threads(wildcards):
    family = CFG["features"]["models"][wildcards.model]["family"]
    return CFG["features"]["threads"] if family in NEURAL + ("tagger",) else 1


def features_resources(wildcards, key):
    """Memory (MB), runtime (min) and GPUs of one model's extraction job."""
    family = CFG["features"]["models"][wildcards.model]["family"]
    neural = family in NEURAL
    return {
        "mem_mb": 4000 if neural else 2000,
        "runtime": 120 if neural else 30,
        "gpu": int(neural and CFG["features"]["device"] != "cpu"),
    }[key]


rule features:
    input:
        unpack(features_inputs),
    output:
        PATHS["features"],
    wildcard_constraints:
        model="|".join(MODELS),
    params:
        job=lambda wildcards: job_json(lre_config.features_job(CFG, wildcards.model)),
        of=lambda wildcards, input: f"--of {input.of}" if "of" in input.keys() else "",
        device=CFG["features"]["device"],
    log:
        log_path("features", "{model}.log"),
    threads: features_threads
    resources:
        mem_mb=lambda wildcards: features_resources(wildcards, "mem_mb"),
        runtime=lambda wildcards: features_resources(wildcards, "runtime"),
        gpu=lambda wildcards: features_resources(wildcards, "gpu"),
    conda:
        "../envs/extract.yaml"
    shell:
        "{LRE} features --job {params.job:q} --documents {input.documents:q} {params.of}"
        " --out {output:q} --device {params.device} --threads {threads} > {log:q} 2>&1"
