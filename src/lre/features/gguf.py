"""GGUF weights (llama.cpp's file format, often quantised) as a source of the ``hf`` family.

transformers reads a GGUF file (``from_pretrained(folder, gguf_file=name)``, with the
``gguf`` package) and dequantises its tensors to float32, which takes about a minute for a
135M-parameter model on 2 CPU cores. lre does that once per file: the converted model and
its tokenizer (which the GGUF file also holds) are saved as a transformers folder in the
cache, keyed by the file's SHA-256, and later jobs load that folder in seconds.

The cache (``$LRE_CACHE/gguf/<sha256[:16]>/``) and how it is kept trustworthy are
:mod:`lre.features.converted`'s.

A dequantised model computes with the quantised weights: a Q4_1 file is not the original
bf16 checkpoint, and its features differ from those of the original by the quantisation
error.
"""

from __future__ import annotations

import logging
import os
from functools import lru_cache
from pathlib import Path

from ..errors import MissingModelError
from . import converted as converted_cache

log = logging.getLogger(__name__)

#: GGUF architecture name -> transformers model_type
ARCHITECTURES = {
    "llama": "llama",
    "mistral": "mistral",
    "qwen2": "qwen2",
    "gemma": "gemma",
    "gemma2": "gemma2",
    "phi3": "phi3",
    "gpt2": "gpt2",
    "falcon": "falcon",
    "stablelm": "stablelm",
    "starcoder2": "starcoder2",
}

INSTALL = "pip install gguf accelerate"


def is_gguf(path) -> bool:
    return str(path).lower().endswith(".gguf")


cache_root = converted_cache.cache_root
file_hash = converted_cache.file_hash


def _reader(path, field: str):
    try:
        from gguf import GGUFReader
    except ImportError as e:
        raise MissingModelError(
            field, f"reading a GGUF file needs the gguf package ({e}).", fix=f"run `{INSTALL}`."
        ) from None
    return GGUFReader(str(path))


@lru_cache(maxsize=16)
def _metadata(path: str, size: int, mtime_ns: int, field: str) -> dict:
    reader = _reader(path, field)

    def value(key, default=None):
        f = reader.fields.get(key)
        return f.contents() if f is not None else default

    arch = value("general.architecture")
    if arch not in ARCHITECTURES:
        raise MissingModelError(
            field,
            f"{path} holds a {arch!r} model, which lre cannot read through transformers.",
            fix=f"use a GGUF file of one of {sorted(ARCHITECTURES)}.",
        )
    from gguf import LlamaFileType

    file_type = value("general.file_type")
    try:
        quant = LlamaFileType(int(file_type)).name.removeprefix("MOSTLY_") if file_type is not None else "unknown"
    except ValueError:
        quant = f"file_type {file_type}"
    tensor_types = sorted({t.tensor_type.name for t in reader.tensors})
    return {
        "architecture": arch,
        "model_type": ARCHITECTURES[arch],
        "quantisation": quant,
        "tensor_types": tensor_types,
        "num_hidden_layers": int(value(f"{arch}.block_count")),
        "hidden_size": int(value(f"{arch}.embedding_length")),
        "max_position_embeddings": int(value(f"{arch}.context_length", 0)) or None,
        "name": value("general.name"),
    }


def metadata(path, field: str) -> dict:
    """What the file says of its model (read from the header, no weights): architecture,
    model_type, quantisation, tensor_types, num_hidden_layers, hidden_size,
    max_position_embeddings, name."""
    st = os.stat(path)
    return dict(_metadata(str(path), st.st_size, st.st_mtime_ns, field))


def model_config(path, field: str) -> dict:
    """The parts of a config.json that planning needs, from the GGUF header."""
    m = metadata(path, field)
    return {
        k: m[k]
        for k in ("model_type", "num_hidden_layers", "hidden_size", "max_position_embeddings")
        if m[k] is not None
    }


def describe(path, field: str) -> dict:
    """Provenance of a GGUF source: the file, its SHA-256 and its quantisation."""
    m = metadata(path, field)
    return {
        "gguf_file": str(path),
        "gguf_sha256": file_hash(path),
        "quantisation": m["quantisation"],
        "tensor_types": m["tensor_types"],
        "gguf_name": m["name"],
    }


#: the record a converted folder carries: the GGUF file's provenance and its files' hashes
RECORD = converted_cache.record_name("gguf")


def problem(folder: Path) -> str | None:
    """Why a converted folder cannot be trusted (:func:`lre.features.converted.problem`)."""
    return converted_cache.problem(folder, "gguf")


def _converter(field: str):
    def convert(path: Path, folder: Path) -> dict:
        """Dequantise the GGUF file into ``folder``; what the record says of it."""
        try:
            import accelerate  # noqa: F401  (transformers needs it to load GGUF weights)
            import gguf  # noqa: F401
        except ImportError as e:
            raise MissingModelError(
                field, f"loading a GGUF file needs the gguf and accelerate packages ({e}).", fix=f"run `{INSTALL}`."
            ) from None
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        log.info("%s: dequantising to float32 (kept in %s)", path.name, folder)
        model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
        tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
        # the weights are plain float32 tensors now; transformers still marks the model as GGUF
        # quantised, which would refuse to save it
        model.hf_quantizer = None
        model.is_quantized = False
        if hasattr(model.config, "quantization_config"):
            del model.config.quantization_config
        model.save_pretrained(folder)
        tokenizer.save_pretrained(folder)
        return {"gguf_file": str(path), "gguf_sha256": file_hash(path), **metadata(path, field)}

    return convert


def converted(path, field: str) -> Path:
    """The cached transformers folder of a GGUF file, converted first if needed (about a
    second to check SmolLM2's 538 MB against its record; :func:`lre.features.converted.converted`)."""
    return converted_cache.converted("gguf", path, _converter(field))


def loadable(path, field: str):
    """A transformers folder of the GGUF file for a ``with`` block
    (:func:`lre.features.converted.loadable`)."""
    return converted_cache.loadable("gguf", path, _converter(field))
