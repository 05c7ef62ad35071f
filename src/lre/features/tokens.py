"""Token-embedding tables with their tokenizer: WordLlama, a 32,000 x 256 table
trained over the LLaMA-2 vocabulary, shipped inside the ``wordllama`` package.

A word's vector is WordLlama's own embedding of the word alone: the mean of the table's rows
of the tokens the tokenizer gives it (no special token), not normalised. Every word gets a
vector (the tokenizer splits any word into known pieces); a word's vector never depends on
the words around it. Only the package's two data files are read, the weights with
safetensors and the tokenizer with ``tokenizers`` (the package's own code, and its
dependencies, are not needed).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
from pathlib import Path

import numpy as np

from ..errors import ConfigError, MissingModelError
from . import model_field

log = logging.getLogger(__name__)

KEYS = ("source",)

#: source -> (module, weights file, tokenizer file, dimension), the files inside the module's folder
SOURCES = {
    "wordllama": (
        "wordllama",
        "weights/l2_supercat_256.safetensors",
        "tokenizers/l2_supercat_tokenizer_config.json",
        256,
    )
}
INSTALL = "pip install --no-deps wordllama==0.4.0.post1"


def files(source: str, field: str) -> tuple[Path, Path]:
    """The weights and tokenizer files of an installed ``source`` (found without importing it)."""
    if source not in SOURCES:
        raise ConfigError(field, f"unknown token-embedding table {source!r}.", fix=f"use one of {sorted(SOURCES)}.")
    module, weights, tokenizer, _ = SOURCES[source]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingModelError(field, f"the package {module!r} is not installed.", fix=f"run `{INSTALL}`.")
    folder = Path(list(spec.submodule_search_locations)[0])
    paths = (folder / weights, folder / tokenizer)
    for p in paths:
        if not p.is_file():
            raise MissingModelError(field, f"{p} is missing.", fix=f"reinstall it: `{INSTALL}`.")
    return paths


def outputs(name: str, entry: dict, models: dict) -> list[str]:
    return ["vec"]


def dims(name: str, entry: dict, models: dict) -> dict[str, int | None]:
    return {"vec": SOURCES[entry["source"]][3] if entry.get("source") in SOURCES else None}


def check(name: str, entry: dict, models: dict) -> None:
    files(entry["source"], model_field(name, "source"))


def word_vectors(table: np.ndarray, tokenizer, words: list[str]) -> np.ndarray:
    """Each word's vector, the mean of its tokens' rows: (len(words), dim) float32."""
    out = np.zeros((len(words), table.shape[1]), dtype=np.float32)
    for i, enc in enumerate(tokenizer.encode_batch(words, add_special_tokens=False)):
        ids = np.asarray(enc.ids, dtype=np.int64)[np.asarray(enc.attention_mask, dtype=bool)]
        out[i] = table[ids].mean(0)
    return out


def extract(name: str, entry: dict, docs: list[list[str]], settings: dict, inputs: dict):
    """One vector per word: ``({"vec": [float32 (n_words, dim) per doc]}, info)``."""
    from safetensors.numpy import load_file
    from tokenizers import Tokenizer

    weights, tok_file = files(entry["source"], model_field(name, "source"))
    tables = load_file(str(weights))  # a safetensors file is data: no code runs on loading it
    if len(tables) != 1:
        raise MissingModelError(model_field(name, "source"), f"{weights} holds {sorted(tables)}, not one table.")
    table = np.asarray(next(iter(tables.values())), dtype=np.float32)
    tokenizer = Tokenizer.from_file(str(tok_file))
    tokenizer.no_padding()
    tokenizer.no_truncation()
    vocab = sorted({w for d in docs for w in d})
    vec = dict(zip(vocab, word_vectors(table, tokenizer, vocab))) if vocab else {}
    out = [np.stack([vec[w] for w in d]) if d else np.zeros((0, table.shape[1]), np.float32) for d in docs]
    log.info(
        "%s: %d words (%d distinct) from %s's %d x %d table",
        name,
        sum(map(len, docs)),
        len(vocab),
        entry["source"],
        *table.shape,
    )
    module = SOURCES[entry["source"]][0]
    info = {
        "family": "tokens",
        "source": entry["source"],
        "package_version": importlib.metadata.version(module),
        "weights_file": str(weights),
        "table": list(table.shape),
        "doc_vocabulary_size": len(vocab),
    }
    return {"vec": out}, info
