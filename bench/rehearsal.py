"""A full-size rehearsal of one encoding job, and of SmolLM2's feature extraction, on this machine.

Encoding: one synthetic subject at the paper's size (LeBel et al. 2023: 9,000 training
volumes in 26 stories and a 291-volume test story heard 10 times, 90,000 voxels, float32)
is written story by story in the layout ``lre.datasets.lebel2023`` reads (one hf5 file per
story and ``respdict.json``), with a feature file of one 1,024-dim space in the format
``lre.features.store`` writes (the ``random`` family's features, as its stage makes them,
recording the provenance the job expects). The responses are driven by 16 of the space's
dimensions through the canonical HRF (per-voxel gains; 30 % of the voxels pure noise), so
the fit has something to find. Then ONE encoding job runs through its stage command, as
``workflow/rules/encoding.smk`` calls it (``python -m lre encode --job ... --features ...
--out ... --threads N``, 4 delays: 4,096 columns, ``encoding.n_targets_batch`` voxels per
solver batch), and the script prints its wall time (split by its log into loading, fitting
and writing), its peak RSS (the child's own ``ru_maxrss``, from ``os.wait4``), the memory the
rule asks for (``lre.resources.encoding_mem_mb``) against that peak, the GFLOP/s it reached
counting the lean solver's matrix products from the shapes (``lean_flops``) against a float32
GEMM measured just before and just after it, and the extrapolation to the paper's 800 fits
(its 272 jobs of up to 4 spaces, bench/scaling.py's widths of its 100 spaces). ``--scale``
shrinks volumes, voxels, dims and the solver's batch together.

Features: SmolLM2-135M (the packaged GGUF model, 30 blocks x 576, every hidden state, causal
strided windows) reads ``--words`` words of the Lee corpus in a child process; the rate is
extrapolated to the paper's 154,000 words (``--paper-words``: 54,000 story words, 27
stories of about 2,000, and the 100,000-word transfer corpus, docs/scaling.md).

Ends with a summary block of ``name: value`` lines (``--json FILE`` writes the numbers).

    python bench/rehearsal.py                        # full size: about 13 minutes on 2 CPU cores,
                                                     # 4.3 GB of disk, 8.3 GB of memory
    python bench/rehearsal.py --scale 0.1 --words 300  # a reduced run, under a minute
    python bench/rehearsal.py --scale 0.01 --words 40 --model gpt2_untrained  # the test's (seconds)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SUBJECT = "UTS01"
MODEL = "rand"  #: the feature model (family ``random``); its one space is ``rand.vec``
PLANTED = 16  #: feature dimensions that drive the synthetic responses
#: the paper's size (LeBel et al. 2023 as config/paper100.yaml reads it)
PAPER = dict(train=9000, test=291, repeats=10, voxels=90000, dim=1024, batch=10000)
sys.path.insert(0, str(Path(__file__).parent))
from features import MODELS as FEATURE_MODELS  # noqa: E402  (bench/features.py: the packaged causal LMs)


def shapes(scale: float, repeats: int) -> dict:
    """The subject's shapes at ``scale`` of the paper's (at least 20 volumes a story and 40
    test volumes, so that 4 delays and 10-volume permutation blocks fit)."""
    return {
        "train": max(26 * 20, round(PAPER["train"] * scale)),
        "test": max(40, round(PAPER["test"] * scale)),
        "repeats": repeats,
        "voxels": max(10, round(PAPER["voxels"] * scale)),
        "dim": max(4, round(PAPER["dim"] * scale)),
        "batch": max(1, round(PAPER["batch"] * scale)),
    }


def story_lengths(n: int, k: int, rng, floor: int = 20) -> list[int]:
    """``k`` story lengths (volumes) summing to ``n``, each at least ``floor``, varied by +-20 %."""
    w = rng.uniform(0.8, 1.2, k)
    extra = np.floor((n - floor * k) * w / w.sum()).astype(int)
    extra[: n - floor * k - int(extra.sum())] += 1
    return [int(floor + e) for e in extra]


def paper_config(work: Path, sh: dict, threads: int) -> dict:
    """A validated config: config/paper100.yaml's stories and dataset settings, the data in
    ``work``, one ``random`` model of ``sh["dim"]`` dims, the default encoding settings with
    ``n_targets_batch``."""
    import yaml

    from lre import config

    d = yaml.safe_load((ROOT / "config" / "paper100.yaml").read_text())["dataset"]
    raw = {
        "seed": 0,
        "results": str(work / "results"),
        "stimuli": {
            "stories": d["train_stories"] + d["test_stories"],
            "format": "textgrid",
            "path": str(work / "derivative" / "TextGrids" / "{story}.TextGrid"),  # not read: features are given
            "tr_times": {"source": "respdict", "path": str(work / "derivative" / "respdict.json"), "tr": 2.0},
        },
        "corpus": {"path": str(work / "corpus.txt")},
        "features": {"models": {MODEL: {"family": "random", "dim": sh["dim"], "seed": 0}}},
        "dataset": {
            "format": "lebel2023",
            "root": str(work),
            "subjects": [SUBJECT],
            "train_stories": d["train_stories"],
            "test_stories": d["test_stories"],
            "mask": None,
            "lebel": d["lebel"],
        },
        "encoding": {"delays": [1, 2, 3, 4], "n_targets_batch": sh["batch"], "threads": threads},
        "demo": {"enabled": False},
    }
    raw["stimuli"]["tr_times"]["start"] = -float(d["lebel"]["start_time"])
    return config.validate(raw)


def synthesise(cfg: dict, sh: dict, story_words: float, seed: int) -> dict:
    """Write the subject's responses (story by story) and the feature file; return what was
    written. Memory: one story's responses and the features of all stories (small)."""
    import h5py

    from lre import io, jobs, provenance
    from lre.datasets import lebel2023, synthetic
    from lre.features import random as random_family
    from lre.features import store
    from lre.paths import Layout
    from lre.stimuli.documents import Documents
    from lre.stimuli.readers import Story, WordTimes, simulated_tr_times

    d, lebel = cfg["dataset"], cfg["dataset"]["lebel"]
    root = Path(d["root"])
    train, test = d["train_stories"], d["test_stories"][0]
    rng = np.random.default_rng([seed, 0])
    rows = dict(zip(train, story_lengths(sh["train"], len(train), rng)))
    rows[test] = sh["test"]
    per_volume = story_words / (sh["train"] + sh["test"])
    n_pad = 2 * (int(lebel["pad"]) + int(lebel["trim"]))  # respdict counts the dropped volumes too
    respdict = {s: n + n_pad for s, n in rows.items()}
    io.write_text(lebel2023.respdict_path(root), json.dumps(respdict, indent=1))

    # words: evenly spread over each story with jitter; features as the random family makes them
    stories, words = {}, []
    for k, (story, n) in enumerate(rows.items()):
        srng = np.random.default_rng([seed, 1, k])
        times = lebel2023.volume_times(respdict[story], lebel)
        n_w = max(10, round(per_volume * n))
        onsets = np.sort(srng.uniform(0.0, times[-1] + 1.0, n_w))
        w = [f"w{i}" for i in srng.integers(0, 20000, n_w)]
        words.append(w)
        tr_times = simulated_tr_times(respdict[story], float(lebel["tr"]), -float(lebel["start_time"]))
        stories[story] = Story(story, WordTimes(w, onsets, onsets + 0.3), tr_times, float(lebel["tr"]))
    entry = cfg["features"]["models"][MODEL]
    feats, _ = random_family.extract(MODEL, entry, words, {"seed": cfg["seed"]}, {})
    docs = Documents(corpus={}, stories=stories)
    ff = Layout(cfg["results"]).path("features", model=MODEL)
    job = jobs.encoding_job(cfg, SUBJECT, [f"{MODEL}.vec"])
    record = io.provenance(provenance.expected_features(job, MODEL), model_info={"dim": sh["dim"]})
    store.write(ff, MODEL, "random", docs, {f"{MODEL}.vec": feats["vec"]}, record)

    # responses: planted dims -> Lanczos -> HRF -> per-voxel weights, plus unit noise
    vrng = np.random.default_rng([seed, 2])
    gain = np.where(vrng.uniform(size=sh["voxels"]) < 0.3, 0.0, vrng.uniform(0.1, 1.0, sh["voxels"]))
    k_planted = min(PLANTED, sh["dim"])
    W = (vrng.standard_normal((k_planted, sh["voxels"])) * gain / np.sqrt(k_planted)).astype(np.float32)
    hrf = synthetic.canonical_hrf(float(lebel["tr"]))
    written = 0
    for k, (story, n) in enumerate(rows.items()):
        srng = np.random.default_rng([seed, 3, k])
        st = stories[story]
        vol_times = lebel2023.volume_times(respdict[story], lebel)
        drive = synthetic.drive({"x": feats["vec"][k][:, :k_planted]}, st.words.times, vol_times, hrf)["x"]
        signal = drive.astype(np.float32) @ W
        path = lebel2023.response_path(root, SUBJECT, story)
        path.parent.mkdir(parents=True, exist_ok=True)
        reps = sh["repeats"] if story == test else 1
        with h5py.File(path, "w") as f:
            shape = (reps, n, sh["voxels"]) if story == test else (n, sh["voxels"])
            ds = f.create_dataset(lebel["key"], shape=shape, dtype=np.float32)
            for r in range(reps):
                y = srng.standard_normal((n, sh["voxels"]), dtype=np.float32)
                y += signal
                if story == test:
                    ds[r] = y
                else:
                    ds[...] = y
                written += y.nbytes
        del signal
    return {"rows": rows, "feature_file": ff, "bytes": written, "story_words": sum(len(w) for w in words)}


def gemm_rate(n: int, threads: int, repeat: int = 3) -> float:
    """Best float32 GEMM rate (FLOP/s) of an (n x n) @ (n x n) product on ``threads`` threads."""
    from threadpoolctl import threadpool_limits

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    best = np.inf
    with threadpool_limits(threads):
        a @ b
        for _ in range(repeat):
            t0 = time.perf_counter()
            a @ b
            best = min(best, time.perf_counter() - t0)
    return 2.0 * n**3 / best


def lean_flops(lengths: list[int], n_test: int, p: int, v: int, n_alphas: int, folds: int, chunk: int = 40) -> float:
    """FLOPs of the matrix products of ``lre.encoding.models.lean_ridge_cv`` on the folds of
    ``story_folds(lengths)`` (``lre.encoding.lean_flops``: the basis, the fold matrices and
    every voxel's products); the eigendecomposition, centring and element-wise work are not
    counted."""
    from lre import encoding

    sizes = [len(va) for _, va in encoding.story_folds(lengths, chunk, folds)]
    return encoding.lean_flops(sum(lengths), p, n_test, sizes, n_alphas, v)["total"]


def rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, IndexError, ValueError):
        return 0


def run_stage(cmd: list[str], log_path: Path, env: dict) -> dict:
    """Run a stage command as the rule does (stdout and stderr to its log); return its wall
    time, its peak RSS (``ru_maxrss`` of the child, by ``os.wait4``) and when it peaked."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    samples = {"peak": 0, "at": 0.0, "timeline": []}
    with open(log_path, "w") as log:
        t0, started = time.perf_counter(), time.time()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=ROOT)
        done = threading.Event()

        def sample():  # only to say when the peak came; the peak itself is ru_maxrss
            while not done.wait(0.5):
                rss = rss_bytes(proc.pid)
                samples["timeline"].append((round(time.perf_counter() - t0, 1), rss))
                if rss > samples["peak"]:
                    samples.update(peak=rss, at=time.perf_counter() - t0)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        done.set()
        sampler.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "rc": proc.returncode,
        "started": started,
        "wall": wall,
        "peak": usage.ru_maxrss * 1024,
        "peak_at": samples["at"],
        "timeline": samples["timeline"],  # (seconds, RSS bytes) every 0.5 s
        "cpu": usage.ru_utime + usage.ru_stime,
    }


def log_phases(log_path: Path, started: float, wall: float) -> dict:
    """Seconds of loading (from the start to the stage's 'training volumes' line, imports
    included), fitting and scoring (to its 'mean r' line) and writing (the rest), from the
    log's time stamps (millisecond resolution); empty when the lines are missing."""
    stamps = {}
    for line in log_path.read_text().splitlines():
        m = re.match(r"(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ", line)
        if not m:
            continue
        t = datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp()
        if "training volumes" in line:
            stamps["loaded"] = t
        elif "mean r" in line:
            stamps["fitted"] = t
    if "loaded" not in stamps or "fitted" not in stamps:
        return {}
    load, fit = stamps["loaded"] - started, stamps["fitted"] - stamps["loaded"]
    return {"load": load, "fit": fit, "write": wall - load - fit}


def features_child(args) -> None:
    """Time one model's extraction over ``args.words`` words (this process); print JSON."""
    import torch

    from lre.features import hf
    from lre.stimuli import text_to_words
    from lre.stimuli.demo import lee_corpus_path

    torch.set_num_threads(args.threads)
    words = text_to_words(" ".join(lee_corpus_path().read_text(encoding="utf-8").splitlines()))
    while len(words) < args.words:
        words = words + words
    words = words[: args.words]
    entry = dict(FEATURE_MODELS[args.model], layers="all", context_tokens=args.context, word_vector="last")
    settings = {
        "device": "cpu",
        "threads": args.threads,
        "batch_size": 64,
        "batch_tokens": 4096,
        "chunk_words": 2048,
        "compute_dtype": "float32",
        "seed": 0,
    }
    hf.extract("bench", entry, [words[:100]], settings, {})  # warm-up (a first GGUF load converts and caches it)
    t0 = time.perf_counter()
    model, tok, _ = hf.load_model("bench", entry, seed=0)
    load = time.perf_counter() - t0  # what each extraction call spends loading the model
    n_tokens = len(hf.tokenize_words(tok, words)[0])
    del model
    t0 = time.perf_counter()
    feats, _ = hf.extract("bench", entry, [words], settings, {})
    seconds = time.perf_counter() - t0
    first = next(iter(feats.values()))[0]
    print(
        json.dumps(
            {
                "model": args.model,
                "words": len(words),
                "tokens": n_tokens,
                "spaces": len(feats),
                "dim": int(first.shape[1]),
                "load": load,
                "seconds": seconds,
                "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
            }
        )
    )


def paper_extrapolation(enc: dict, subjects: int = 8) -> dict:
    """The paper's encoding (config/paper100.yaml: its jobs of at most 4 spaces of one model,
    and bench/scaling.py's widths of its 100 spaces) at this job's measured times: each job
    loads its subject once, each fit costs this fit and its writing; with the paper's widths,
    each fit's products (:func:`lean_flops`) at the rate this fit reached."""
    sys.path.insert(0, str(Path(__file__).parent))
    from scaling import PAPER as SPACES  # bench/scaling.py: the 100 spaces' widths

    from lre import config
    from lre import jobs as lre_jobs
    from lre.features import resolve_spaces

    paper = config.load(ROOT / "config" / "paper100.yaml", check_models=False)
    names = [s.name for s in resolve_spaces(paper["features"]["models"])]
    n_jobs = subjects * len(lre_jobs.chunks(names, paper["encoding"]["spaces_per_job"]))
    widths = [w for (n_sp, w, *_rest) in SPACES.values() for _ in range(n_sp)]
    fits = subjects * len(widths)
    lengths = story_lengths(PAPER["train"], 26, np.random.default_rng(0))
    flops = subjects * sum(lean_flops(lengths, PAPER["test"], 4 * w, PAPER["voxels"], 10, 5) for w in widths)
    rate = enc["flops"] / enc["fit"]
    return {
        "fits": fits,
        "jobs": n_jobs,
        "widths": (min(widths), max(widths)),
        "flops": flops,
        "hours_same": (n_jobs * enc["load"] + fits * (enc["fit"] + enc["write"])) / 3600,
        "hours_widths": (n_jobs * enc["load"] + fits * enc["write"] + flops / rate) / 3600,
    }


def encode(args, work: Path, env: dict) -> dict:
    """Write the subject and run its encoding job; return what was measured."""
    import h5py

    from lre import jobs, resources
    from lre.paths import Layout

    sh = shapes(args.scale, args.repeats)
    cfg = paper_config(work, sh, args.threads)
    t0 = time.perf_counter()
    made = synthesise(cfg, sh, args.story_words * sh["train"] / PAPER["train"], args.seed)
    wrote = {
        "seconds": time.perf_counter() - t0,
        "bytes": made["bytes"],
        "peak": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
    }
    p = sh["dim"] * len(cfg["encoding"]["delays"])
    print(
        f"wrote {SUBJECT}: {sh['train']:,} training volumes in 26 stories, a {sh['test']}-volume test story x "
        f"{sh['repeats']} repeats, {sh['voxels']:,} voxels ({fmt_gb(made['bytes'])} float32) and "
        f"{made['story_words']:,} words x {sh['dim']} dims in {wrote['seconds']:.0f} s",
        flush=True,
    )
    n_gemm = max(1024, p)
    rate = gemm_rate(n_gemm, args.threads)
    print(f"float32 GEMM ({n_gemm}^3, {args.threads} threads): {rate / 1e9:.1f} GFLOP/s", flush=True)

    # the encoding job, as workflow/rules/encoding.smk runs it
    space = f"{MODEL}.vec"
    job = jobs.encoding_job(cfg, SUBJECT, [space])
    layout = Layout(cfg["results"])
    result = Path(layout.path("encoding", subject=SUBJECT, space=space))
    log_path = Path(layout.log("encode", subject=SUBJECT, chunk=MODEL))
    job_json = json.dumps(job, sort_keys=True, separators=(",", ":"))  # as common.smk's job_json
    cmd = [sys.executable, "-m", "lre", "encode", "--job", job_json, "--features", str(made["feature_file"])]
    cmd += ["--out", str(result), "--threads", str(cfg["encoding"]["threads"])]
    print(f"running: python -m lre encode --job '<{len(job_json)} chars>' {' '.join(cmd[7:])}", flush=True)
    load_before = os.getloadavg()[0]
    run = run_stage(cmd, log_path, env)
    if run["rc"] != 0:
        sys.stderr.write(log_path.read_text()[-3000:])
        raise SystemExit(f"the encode job failed (exit {run['rc']}); its log: {log_path}")
    phases = log_phases(log_path, run["started"], run["wall"])
    if not phases:
        raise SystemExit(f"the encode job's log lacks its progress lines: {log_path}")
    e = cfg["encoding"]
    lengths = [made["rows"][s] for s in cfg["dataset"]["train_stories"]]
    with h5py.File(result, "r") as f:
        scores = f["scores"][()]
        n_significant = int(f["significant"][()].sum())
    rate_after = gemm_rate(n_gemm, args.threads)
    print(f"float32 GEMM after the job: {rate_after / 1e9:.1f} GFLOP/s", flush=True)
    enc = {
        **run,
        **phases,
        "load_before": load_before,
        "load_after": os.getloadavg()[0],
        "request_mb": resources.encoding_job_mem_mb(job, cfg["features"]["models"]),
        "flops": lean_flops(lengths, sh["test"], p, sh["voxels"], len(e["alphas"]), e["cv_folds"], e["cv_chunk"]),
        "gemm": max(rate, rate_after),  # the best this machine gave, around the job
        "gemm_before": rate,
        "gemm_after": rate_after,
        "gemm_n": n_gemm,
        "result": str(result),
        "mean_r": float(scores.mean()),
        "n_significant": n_significant,
    }
    return {"shapes": dict(sh, columns=p), "write": wrote, "encode": enc}


def extract(args, env: dict) -> dict:
    """Time the feature extraction in a child process."""
    cmd = [sys.executable, __file__, "--child-features", f"--words={args.words}", f"--model={args.model}"]
    cmd += [f"--context={args.context}", f"--threads={args.threads}"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.stderr.write(done.stderr[-3000:])
        raise SystemExit("the feature extraction failed")
    feat = json.loads(done.stdout.strip().splitlines()[-1])
    feat["rate"] = feat["words"] / max(feat["seconds"] - feat["load"], 1e-9)  # the timed call loads the model too
    feat["paper_s"] = feat["load"] + args.paper_words / feat["rate"]
    return feat


def summary(out: dict, args) -> None:
    sh, wrote, enc, ex, feat = out["shapes"], out["write"], out["encode"], out["paper"], out.get("features")
    peak, request = enc["peak"], enc["request_mb"] * 1e6
    fit_rate = enc["flops"] / enc["fit"]
    print("\n== rehearsal summary ==")
    print(f"command: python bench/rehearsal.py {' '.join(sys.argv[1:])}".rstrip())
    print(
        f"machine: {os.cpu_count()} CPU cores, load average {enc['load_before']:.1f} before the job and "
        f"{enc['load_after']:.1f} after (above {args.threads}: shared with other work)"
    )
    print(
        f"shape: {sh['train']:,} training volumes in 26 stories, {sh['test']} test volumes x {sh['repeats']} repeats, "
        f"{sh['voxels']:,} voxels, {sh['dim']:,} dims x 4 delays = {sh['columns']:,} columns, "
        f"{sh['batch']:,} voxels per solver batch"
    )
    print(
        f"data written: {fmt_gb(wrote['bytes'])} in {wrote['seconds']:.1f} s, writer peak RSS {fmt_gb(wrote['peak'])}"
    )
    print(
        f"encode wall: {enc['wall']:.1f} s (load {enc['load']:.1f} s, fit and score {enc['fit']:.1f} s, "
        f"write {enc['write']:.1f} s); CPU {enc['cpu']:.0f} s on {args.threads} threads"
    )
    print(f"encode peak RSS: {fmt_gb(peak)} (at {enc['peak_at']:.0f} s of {enc['wall']:.0f} s)")
    print(f"memory request: {fmt_gb(request)} (lre.resources.encoding_mem_mb); request / peak: {request / peak:.2f}")
    print(
        f"products: {enc['flops'] / 1e12:.3g} TFLOP; {fit_rate / 1e9:.1f} GFLOP/s over the fit and score, "
        f"{enc['flops'] / enc['wall'] / 1e9:.1f} GFLOP/s over the whole job"
    )
    print(
        f"matmul rate: {enc['gemm'] / 1e9:.1f} GFLOP/s (float32 {enc['gemm_n']}^3, the better of "
        f"{enc['gemm_before'] / 1e9:.1f} before and {enc['gemm_after'] / 1e9:.1f} after the job); share: "
        f"{100 * fit_rate / enc['gemm']:.0f} % over the fit, {100 * enc['flops'] / enc['wall'] / enc['gemm']:.0f} % "
        "over the whole job"
    )
    print(f"result: mean test r {enc['mean_r']:.3f}, {enc['n_significant']:,} significant voxels")
    print(
        f"extrapolation: {ex['fits']} fits (100 spaces x 8 subjects) in {ex['jobs']} jobs: {ex['hours_same']:,.0f} h "
        f"on this machine if every fit costs this one ({sh['columns']:,} columns), loading once per job; "
        f"{ex['hours_widths']:,.0f} h with the paper's widths ({ex['widths'][0]}-{ex['widths'][1]} dims, "
        f"{ex['flops'] / 1e15:.1f} PFLOP of products) at this fit's rate"
    )
    if feat:
        print(
            f"features: {feat['model']} ({feat['spaces']} spaces x {feat['dim']}), {feat['words']:,} words "
            f"({feat['tokens']:,} tokens, {args.context} of context): {feat['seconds']:.1f} s, "
            f"{feat['rate']:,.0f} words/s; model load {feat['load']:.1f} s; peak RSS {fmt_gb(feat['peak'])}"
        )
        print(
            f"features extrapolation: {args.paper_words:,.0f} words (the paper's 54,000 story words and "
            f"100,000-word corpus, docs/scaling.md): {feat['paper_s'] / 60:,.1f} min for this model on this machine"
        )


def fmt_gb(b: float) -> str:
    return f"{b / 1e9:,.2f} GB"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--scale", type=float, default=1.0, help="shapes as a share of the paper's (volumes, voxels, dims)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--repeats", type=int, default=PAPER["repeats"], help="repeats of the test story")
    ap.add_argument("--threads", type=int, default=2, help="threads of the encoding job, the GEMM and the extraction")
    ap.add_argument("--story-words", type=float, default=54000, help="words of all 27 stories at full size")
    ap.add_argument("--workdir", type=Path, help="where to write the data and results (default: a temporary folder)")
    ap.add_argument("--keep", action="store_true", help="keep the temporary folder")
    ap.add_argument("--words", type=int, default=2000, help="words for the feature extraction (0: skip it)")
    ap.add_argument("--model", choices=sorted(FEATURE_MODELS), default="smollm2", help="the model to extract with")
    ap.add_argument("--context", type=int, default=256, help="tokens of context per word (extraction)")
    ap.add_argument("--paper-words", type=float, default=154000, help="story + corpus words of the paper's run")
    ap.add_argument("--json", type=Path, help="write the numbers to this JSON file")
    ap.add_argument("--child-features", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child_features:
        features_child(args)
        return

    # the rule's prefix: PYTHONPATH=<repo>/src${PYTHONPATH:+:$PYTHONPATH}
    pythonpath = [str(ROOT / "src")] + ([os.environ["PYTHONPATH"]] if os.environ.get("PYTHONPATH") else [])
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(pythonpath))
    work = args.workdir or Path(tempfile.mkdtemp(prefix="lre-rehearsal-"))
    work.mkdir(parents=True, exist_ok=True)
    try:
        out = {"scale": args.scale, "threads": args.threads, "workdir": str(work), **encode(args, work, env)}
    finally:
        if not args.keep and not args.workdir:
            shutil.rmtree(work, ignore_errors=True)
    out["paper"] = paper_extrapolation(out["encode"])
    if args.words:
        out["features"] = extract(args, env)
    summary(out, args)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
