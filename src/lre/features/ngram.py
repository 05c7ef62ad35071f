"""Word surprisal from an n-gram language model, read with pocketsphinx: by default CMU
Sphinx's English trigram model (``en-us.lm.bin``, 72,547 words), which ships inside the
``pocketsphinx`` package; or any ARPA or binary n-gram file by path.

Per word, causally: ``surprisal`` = -log2 p(word | the n-1 words before it in the document),
with the model's own backoff; the first words of a document are conditioned on the sentence
start ``<s>``. Words are looked up lower-cased, with the punctuation around them removed
(``"Hello,"`` -> ``hello``; apostrophes inside a word stay, as in the model's ``don't``). A word
the model does not know gets ``oov_bits`` (default 21 bits, about the surprisal of the English
model's rarest words) and cuts the history of the words after it; how many there were is
logged and recorded.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import logging
import math
import os
import re
from pathlib import Path

import numpy as np

from ..errors import ConfigError, MissingModelError
from . import model_field

log = logging.getLogger(__name__)

KEYS = ("source", "oov_bits")

PACKAGED = "pocketsphinx-en-us"
INSTALL = "pip install pocketsphinx==5.1.1"
#: pocketsphinx's log base (LogMath's default): a score s is log_{1.0001} p
LOG_BASE = 1.0001
#: scores at or below this are pocketsphinx's "log zero" (a word the model does not have)
LOG_ZERO = -(2**28)
_EDGES = re.compile(r"^[^\w']+|[^\w']+$")


def model_path(source: str, field: str) -> Path:
    """The model file of ``source``: the packaged English trigram model, or a path."""
    if source == PACKAGED:
        spec = importlib.util.find_spec("pocketsphinx")
        if spec is None or not spec.submodule_search_locations:
            raise MissingModelError(field, "the package 'pocketsphinx' is not installed.", fix=f"run `{INSTALL}`.")
        path = Path(list(spec.submodule_search_locations)[0]) / "model" / "en-us" / "en-us.lm.bin"
        if not path.is_file():
            raise MissingModelError(field, f"{path} is missing.", fix=f"reinstall it: `{INSTALL}`.")
        return path
    path = Path(os.path.expanduser(source))
    if not path.is_file():
        raise MissingModelError(
            field,
            f"{source!r} is neither {PACKAGED!r} nor an n-gram model file.",
            fix=f"use {PACKAGED!r} or the path of an ARPA (.arpa, .lm) or binary (.lm.bin) model.",
        )
    return path


def outputs(name: str, entry: dict, models: dict) -> list[str]:
    return ["surprisal"]


def dims(name: str, entry: dict, models: dict) -> dict[str, int | None]:
    return {"surprisal": 1}


def check(name: str, entry: dict, models: dict) -> None:
    model_path(entry["source"], model_field(name, "source"))
    if importlib.util.find_spec("pocketsphinx") is None:
        raise MissingModelError(
            model_field(name, "source"), "reading an n-gram model needs pocketsphinx.", fix=f"run `{INSTALL}`."
        )
    if not entry["oov_bits"] > 0:
        raise ConfigError(model_field(name, "oov_bits"), f"{entry['oov_bits']} bits; a surprisal is positive.")


def lookup(word: str) -> str:
    """The form a word is looked up in (lower-cased, the punctuation around it removed)."""
    return _EDGES.sub("", word.lower())


def load(path: Path, field: str):
    """The n-gram model of a file (pocketsphinx ``NGramModel``) and its order."""
    from pocketsphinx import NGramModel

    try:
        model = NGramModel.readfile(str(path))
    except Exception as e:  # pocketsphinx raises RuntimeError or ValueError for a bad file
        raise MissingModelError(field, f"{path} is not an n-gram model pocketsphinx can read ({e}).") from None
    return model, int(model.size())


def surprisal(model, order: int, words: list[str], oov_bits: float) -> tuple[np.ndarray, int]:
    """-log2 p(word | its n-1 predecessors) of each word of one document, (n_words,) float64,
    and how many words the model does not know. A word the model does not know gets
    ``oov_bits`` and cuts the history of the words after it (they are conditioned on the
    known words since)."""
    known: dict[str, bool] = {}

    def knows(w: str) -> bool:
        if w not in known:
            known[w] = bool(w) and model.prob([w]) > LOG_ZERO
        return known[w]

    to_bits = math.log2(LOG_BASE)
    out = np.empty(len(words), dtype=np.float64)
    history: list[str] = ["<s>"] * (order - 1)
    unknown = 0
    for i, w in enumerate(words):
        key = lookup(w)
        if not knows(key):
            out[i], unknown, history = oov_bits, unknown + 1, []
            continue
        context = history[len(history) - (order - 1) :] if order > 1 else []
        out[i] = -model.prob([key, *context[::-1]]) * to_bits  # pocketsphinx wants the history reversed
        history.append(key)
    return out, unknown


def extract(name: str, entry: dict, docs: list[list[str]], settings: dict, inputs: dict):
    """Each word's surprisal in bits: ``({"surprisal": [float32 (n_words, 1) per doc]}, info)``."""
    field = model_field(name, "source")
    path = model_path(entry["source"], field)
    model, order = load(path, field)
    out, unknown = [], 0
    for words in docs:
        bits, n = surprisal(model, order, words, float(entry["oov_bits"]))
        out.append(bits.astype(np.float32)[:, None])
        unknown += n
    n_words = sum(map(len, docs))
    log.info(
        "%s: %d words, %d unknown to the %d-gram model %s (given %g bits)",
        name,
        n_words,
        unknown,
        order,
        path.name,
        entry["oov_bits"],
    )
    from .converted import file_hash

    info = {
        "family": "ngram",
        "source": entry["source"],
        "model_file": str(path),
        "model_sha256": file_hash(path),
        "order": order,
        "unknown_words": unknown,
        "oov_bits": float(entry["oov_bits"]),
        "package_version": importlib.metadata.version("pocketsphinx"),
    }
    return {"surprisal": out}, info
