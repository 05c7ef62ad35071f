"""Flair models (``flair``): contextual string embeddings and sequence taggers.

Flair needs transformers < 5, so this family runs in the ``legacy`` environment
(``workflow/envs/legacy.yaml``, or ``pip install -e '.[legacy]'`` into a separate virtual
environment); in an environment without flair it refuses with that message.

Outputs (a float32 ``(n_words, dim)`` array per document):

- ``kind: embeddings`` -> ``emb``: the character language model's state at the end of each
  word (``FlairEmbeddings``; 2048-d for ``news-forward``). Documents are read in windows of
  ``context_words`` words with a stride of half of that; each word is taken from the
  window that gives it the most past, as for causal transformers. With a forward language
  model a word's vector never depends on later words.
- ``kind: tagger`` -> ``tags``: the tagger's probability distribution over its tag set for
  each word (``SequenceTagger``; e.g. the Penn Treebank tags of ``flair/pos-english``).
  Word i is tagged inside the window of the ``context_words`` words ending at it, so its
  tags never depend on later words. The tag list is written to the provenance.

``source`` is a Flair model name (``news-forward``), a hub id (``flair/pos-english``) or a
local ``.pt`` file written by Flair's ``save``.
"""

from __future__ import annotations

import glob
import importlib.util
import logging
import os
import time

import numpy as np

from ..errors import ConfigError, MissingModelError
from . import catalogue, model_field

log = logging.getLogger(__name__)

KEYS = ("source", "kind", "context_words")
KINDS = {"embeddings": "emb", "tagger": "tags"}
INSTALL = (
    "flair runs in the legacy environment: `snakemake --use-conda` (workflow/envs/legacy.yaml), or "
    "`pip install -e '.[legacy]'` into a separate virtual environment (flair needs transformers < 5)"
)


def kind_of(name: str, entry: dict) -> str:
    kind = entry.get("kind")
    if kind is None:
        known = catalogue.lookup(entry["source"])
        if known is None or known.family != "flair":
            raise ConfigError(
                model_field(name, "kind"),
                f"cannot tell whether {entry['source']!r} is Flair embeddings or a tagger.",
                fix="set kind: embeddings or kind: tagger.",
            )
        kind = "embeddings" if known.model_type == "flair-embeddings" else "tagger"
    if kind not in KINDS:
        raise ConfigError(model_field(name, "kind"), f"unknown kind {kind!r}.", fix=f"use one of {sorted(KINDS)}.")
    return kind


def outputs(name: str, entry: dict, models: dict) -> list[str]:
    return [KINDS[kind_of(name, entry)]]


def _local_or_cached(source: str) -> bool:
    if os.path.exists(os.path.expanduser(source)):
        return True
    from .sources import hub_cached_file

    if "/" in source:  # a hub id: flair's taggers are stored as pytorch_model.bin
        return hub_cached_file(source, "pytorch_model.bin") is not None
    root = os.environ.get("FLAIR_CACHE_ROOT", os.path.expanduser("~/.flair"))
    return bool(glob.glob(os.path.join(root, "embeddings", f"{source}*")))


def dims(name: str, entry: dict, models: dict) -> dict[str, int | None]:
    """The width the catalogue gives for a known source (None otherwise)."""
    known = catalogue.lookup(entry["source"])
    return {o: (known.hidden if known else None) for o in outputs(name, entry, models)}


def check(name: str, entry: dict, models: dict) -> None:
    kind_of(name, entry)
    if importlib.util.find_spec("flair") is None:
        raise MissingModelError(model_field(name), "the flair package is not installed here.", fix=INSTALL + ".")
    if os.environ.get("HF_HUB_OFFLINE") == "1" and not _local_or_cached(entry["source"]):
        raise MissingModelError(
            model_field(name, "source"),
            f"Flair model {entry['source']!r} is not on disk and HF_HUB_OFFLINE=1.",
            fix="load it once with network, or give a local .pt file.",
        )


def causal_chunks(n: int, width: int) -> list[tuple[int, int, int]]:
    """Windows ``(start, end, keep_from)`` over ``n`` words: width ``width``, stride half of it;
    a window keeps its words from ``keep_from`` on, so each word is kept once, from the
    window that gives it the most past."""
    stride = max(1, width // 2)
    out, start = [], 0
    while True:
        end = min(n, start + width)
        out.append((start, end, start if start == 0 else start + width - stride))
        if end >= n:
            return out
        start += stride


def _load(name: str, entry: dict, kind: str):
    if importlib.util.find_spec("flair") is None:
        raise MissingModelError(model_field(name), "the flair package is not installed here.", fix=INSTALL + ".")
    import flair
    from flair.embeddings import FlairEmbeddings
    from flair.models import SequenceTagger

    src = os.path.expanduser(entry["source"])
    model = FlairEmbeddings(src) if kind == "embeddings" else SequenceTagger.load(src)
    info = {"family": "flair", "kind": kind, "source": entry["source"], "flair_version": flair.__version__}
    return model, info


def extract(name: str, entry: dict, docs: list[list[str]], settings: dict, inputs: dict):
    """``({"emb" or "tags": [arrays]}, info)``; see the module docstring."""
    import flair
    import torch
    from flair.data import Sentence
    from tqdm import tqdm

    from .hf import pick_device

    torch.set_num_threads(int(settings.get("threads", 1)))
    flair.device = torch.device(pick_device(settings.get("device", "cpu")))
    kind = kind_of(name, entry)
    model, info = _load(name, entry, kind)
    model.to(flair.device)
    model.eval()
    width = int(entry["context_words"])
    batch = int(settings.get("batch_size", 32))
    t0 = time.perf_counter()
    out = []
    if kind == "embeddings":
        for words in tqdm(docs, desc=f"{name} documents", mininterval=5.0):
            feats = np.zeros((len(words), model.embedding_length), dtype=np.float32)
            chunks = causal_chunks(len(words), width) if words else []
            for b0 in range(0, len(chunks), batch):
                part = chunks[b0 : b0 + batch]
                sents = [Sentence(words[a:b]) for a, b, _ in part]
                with torch.no_grad():
                    model.embed(sents)
                for (a, b, keep), s in zip(part, sents):
                    for i in range(keep, b):
                        feats[i] = s[i - a].embedding.float().cpu().numpy()
                    s.clear_embeddings()
            out.append(feats)
        info["dim"] = int(model.embedding_length)
    else:
        tags = list(model.label_dictionary.get_items())
        index = {t: k for k, t in enumerate(tags)}
        for words in tqdm(docs, desc=f"{name} documents", mininterval=5.0):
            feats = np.zeros((len(words), len(tags)), dtype=np.float32)
            sents = [Sentence(words[max(0, i - width + 1) : i + 1]) for i in range(len(words))]
            for b0 in range(0, len(sents), batch):
                part = sents[b0 : b0 + batch]
                model.predict(part, mini_batch_size=batch, return_probabilities_for_all_classes=True)
                for i, s in enumerate(part, start=b0):
                    for label in s[-1].get_tags_proba_dist(model.label_type):
                        feats[i, index[label.value]] = label.score
            out.append(feats)
        info.update({"dim": len(tags), "tags": tags, "label_type": model.label_type})
    dt = time.perf_counter() - t0
    n = sum(len(w) for w in docs)
    log.info("%s: %d words, %.1f words/s on %s", name, n, n / max(dt, 1e-9), flair.device)
    info.update({"context_words": width, "device": str(flair.device)})
    return {KINDS[kind]: out}, info
