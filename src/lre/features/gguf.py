"""GGUF weights (llama.cpp's file format, often quantised) as a source of the ``hf`` family.

transformers reads a GGUF file (``from_pretrained(folder, gguf_file=name)``, with the
``gguf`` package) and dequantises its tensors to float32, which takes about a minute for a
135M-parameter model on 2 CPU cores. lre does that once per file: the converted model and
its tokenizer (which the GGUF file also holds) are saved as a transformers folder in the
cache, keyed by the file's SHA-256, and later jobs load that folder in seconds.

The cache lives in ``$LRE_CACHE/gguf/<sha256[:16]>/`` (``$LRE_CACHE`` defaults to
``$XDG_CACHE_HOME/lre``, i.e. ``~/.cache/lre``). A conversion is written to a temporary
folder beside it and renamed into place when complete, so a killed job never leaves a
half-written model that another would trust; two jobs converting at once both finish and
one rename wins. Its record holds the size and SHA-256 of every file; a folder whose files
differ (truncated, altered, missing) is said and converted again, and where the cache cannot
be written the job converts into a temporary folder of its own.

A dequantised model computes with the quantised weights: a Q4_1 file is not the original
bf16 checkpoint, and its features differ from those of the original by the quantisation
error.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import shutil
import tempfile
import time
from functools import lru_cache
from pathlib import Path

from .. import io
from ..errors import MissingModelError

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


def cache_root() -> Path:
    """Where converted models are kept: ``$LRE_CACHE``, else ``$XDG_CACHE_HOME/lre``, else ``~/.cache/lre``."""
    if os.environ.get("LRE_CACHE"):
        return Path(os.environ["LRE_CACHE"]).expanduser()
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "lre"


@lru_cache(maxsize=16)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    return io.file_sha256(path)


def file_hash(path) -> str:
    """SHA-256 of the file (computed once per path, size and modification time)."""
    st = os.stat(path)
    return _sha256(str(path), st.st_size, st.st_mtime_ns)


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


def _content(folder: Path, names=None) -> dict[str, dict]:
    """name -> {"size", "sha256"} of the files of a converted folder (``names``: these only)."""
    names = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name != RECORD) if names is None else names
    return {n: {"size": (folder / n).stat().st_size, "sha256": io.file_sha256(folder / n)} for n in names}


#: the record a converted folder carries: the GGUF file's provenance and its files' hashes
RECORD = "lre-gguf.json"


def problem(folder: Path) -> str | None:
    """Why a converted folder cannot be trusted (None when every file it records is there with
    its size and SHA-256): the content is checked, not only the presence of the record."""
    try:
        record = json.loads((folder / RECORD).read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        return f"its record {RECORD} cannot be read ({e})"
    files = record.get("files")
    if not files:
        return f"its record {RECORD} lists no file hashes (written by an older lre)"
    for name, want in files.items():
        p = folder / name
        if not p.is_file():
            return f"{name} is missing"
        size = p.stat().st_size
        if size != want["size"]:
            return f"{name} has {size} bytes, {want['size']} when written (truncated or replaced)"
        if io.file_sha256(p) != want["sha256"]:
            return f"{name} differs from what was written (SHA-256 {want['sha256'][:16]}...)"
    return None


def _convert(path: Path, folder: Path, field: str) -> None:
    """Dequantise the GGUF file into ``folder`` (written under a temporary name beside it and
    renamed when complete, with the hashes of its files in its record)."""
    try:
        import accelerate  # noqa: F401  (transformers needs it to load GGUF weights)
        import gguf  # noqa: F401
    except ImportError as e:
        raise MissingModelError(
            field, f"loading a GGUF file needs the gguf and accelerate packages ({e}).", fix=f"run `{INSTALL}`."
        ) from None
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    t0 = time.perf_counter()
    log.info("%s: dequantising to float32 (kept in %s)", path.name, folder)
    model = AutoModelForCausalLM.from_pretrained(str(path.parent), gguf_file=path.name, dtype=torch.float32)
    tokenizer = AutoTokenizer.from_pretrained(str(path.parent), gguf_file=path.name)
    folder.parent.mkdir(parents=True, exist_ok=True)
    tmp = folder.with_name(f".{folder.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    # the weights are plain float32 tensors now; transformers still marks the model as GGUF
    # quantised, which would refuse to save it
    model.hf_quantizer = None
    model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        record = {"gguf_file": str(path), "gguf_sha256": file_hash(path), **metadata(path, field)}
        record["files"] = _content(tmp)
        (tmp / RECORD).write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        if folder.exists() and problem(folder):  # an untrustworthy conversion makes way
            shutil.rmtree(folder, ignore_errors=True)
        try:
            os.replace(tmp, folder)
        except OSError:  # another job finished first: its folder is as good as ours
            if problem(folder):
                raise
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    log.info("%s: converted in %.1f s", path.name, time.perf_counter() - t0)


def converted(path, field: str) -> Path:
    """The cached transformers folder of a GGUF file, converted first if needed.

    A cached folder is used only when every file it records has its size and SHA-256 (about a
    second for SmolLM2's 538 MB); a missing, truncated or altered one is said and converted
    again. Raises OSError when the cache cannot be written (:func:`loadable` then converts
    into a temporary folder)."""
    digest = file_hash(path)
    folder = cache_root() / "gguf" / digest[:16]
    if (folder / RECORD).exists():
        why = problem(folder)
        if why is None:
            return folder
        log.warning(
            "%s: the cached conversion %s cannot be trusted: %s. Converting it again.", Path(path).name, folder, why
        )
    _convert(Path(path), folder, field)
    return folder


@contextlib.contextmanager
def loadable(path, field: str):
    """A transformers folder of the GGUF file, for the duration of the ``with`` block: the
    cached one (:func:`converted`), or, where the cache cannot be written (read-only, full, not
    a folder), a conversion in a temporary folder removed afterwards, said once with the fix."""
    try:
        yield converted(path, field)
        return
    except OSError as e:
        root = cache_root()
        log.warning(
            "%s: the cache %s cannot be written (%s): converting into a temporary folder for this job only, "
            "again in every job (about a minute each). Fix: set LRE_CACHE to a writable folder.",
            Path(path).name,
            root,
            e.strerror or e,
        )
    with tempfile.TemporaryDirectory(prefix="lre-gguf-") as tmp:
        folder = Path(tmp) / "model"
        _convert(Path(path), folder, field)
        yield folder
