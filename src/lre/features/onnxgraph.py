"""BERT weights from an ONNX graph (a sentence-transformers export) as a source of the ``hf``
family.

The graph's initializers are the weights of a ``BertModel``: the named ones carry their
PyTorch names after the export's prefix (``model.0.auto_model.``); the dense layers' weight
matrices are unnamed (``onnx::MatMul_470``) and are named here from the path of the MatMul
node that reads them (``/model/model.0/auto_model/encoder/layer.0/attention/self/query/MatMul``
-> ``encoder.layer.0.attention.self.query.weight``), transposed (a MatMul multiplies by the
matrix, a ``Linear`` by its transpose). The graph holds no tokenizer and no config: both come
from the packaged entry (the tokenizer of another packaged model with the same vocabulary,
and the architecture's facts). The result is saved as a transformers folder in the cache of
converted weights (:mod:`lre.features.converted`, ``$LRE_CACHE/onnx/<sha256[:16]>/``).

The ONNX file is data: it is parsed by the ``onnx`` package as a protobuf message and its
tensors read as arrays; no operator of the graph is run here.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from ..errors import MissingModelError
from . import converted as converted_cache

log = logging.getLogger(__name__)

INSTALL = "pip install onnx==1.23.2"
#: the export's prefix of the model's own weights
PREFIX = "model.0.auto_model."


def is_onnx(path) -> bool:
    return str(path).lower().endswith(".onnx")


def _load(path: Path, field: str):
    try:
        import onnx
    except ImportError as e:
        raise MissingModelError(
            field, f"reading an ONNX graph needs the onnx package ({e}).", fix=f"run `{INSTALL}`."
        ) from None
    return onnx.load(str(path))


def state_dict(path, field: str) -> dict[str, np.ndarray]:
    """The graph's weights under their ``BertModel`` names, float32 arrays (Linear weights as
    (out, in)). Raises MissingModelError for a graph whose dense weights cannot be named."""
    from onnx import numpy_helper

    graph = _load(Path(path), field).graph
    inits = {t.name: numpy_helper.to_array(t) for t in graph.initializer}
    out = {name[len(PREFIX) :]: np.array(a, np.float32) for name, a in inits.items() if name.startswith(PREFIX)}
    for node in graph.node:
        if node.op_type != "MatMul":
            continue
        for name in node.input:
            if name in inits and not name.startswith(PREFIX):
                where = node.name.strip("/").split("/")
                if where[:2] != ["model", "model.0"] or where[2] != "auto_model" or where[-1] != "MatMul":
                    raise MissingModelError(
                        field, f"{path}: cannot name the weight {name!r} of node {node.name!r} (not a BERT export)."
                    )
                out[".".join(where[3:-1]) + ".weight"] = np.ascontiguousarray(inits[name].T, dtype=np.float32)
    return out


def _converter(config: dict, tokenizer_folder: Path, field: str):
    def convert(path: Path, folder: Path) -> dict:
        """Build the ``BertModel`` of ``config`` from the graph's weights and save it, with the
        tokenizer's files, into ``folder``; what the record says of the graph."""
        import shutil

        import torch
        from transformers import BertConfig, BertModel

        weights = state_dict(path, field)
        model = BertModel(BertConfig(**config)).eval()
        # the graph has no pooler (sentence-transformers averages the last layer): written as
        # zeros, so the folder loads without newly initialised weights, and never used here
        for key in ("pooler.dense.weight", "pooler.dense.bias"):
            weights.setdefault(key, np.zeros(tuple(model.state_dict()[key].shape), np.float32))
        own = model.state_dict()
        missing = sorted(set(own) - set(weights) - {"embeddings.position_ids", "embeddings.token_type_ids"})
        extra = sorted(set(weights) - set(own))
        shapes = [k for k in weights if k in own and tuple(own[k].shape) != weights[k].shape]
        if missing or extra or shapes:
            raise MissingModelError(
                field,
                f"{path} does not hold the weights of the configured BERT: missing {missing[:4]}, unexpected "
                f"{extra[:4]}, other shapes {shapes[:4]}.",
            )
        model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()}, strict=False)
        model.save_pretrained(folder)
        for f in tokenizer_folder.iterdir():
            if f.name.startswith(("tokenizer", "vocab", "special_tokens")):
                shutil.copy2(f, folder / f.name)
        return {"onnx_file": str(path), "onnx_sha256": converted_cache.file_hash(path), "tensors": len(weights)}

    return convert


def loadable(path, config: dict, tokenizer_folder, field: str):
    """A transformers folder of the ONNX graph for a ``with`` block (converted once and
    cached: :func:`lre.features.converted.loadable`)."""
    return converted_cache.loadable("onnx", path, _converter(config, Path(tokenizer_folder), field))


def describe(path) -> dict:
    """Provenance of an ONNX source: the file and its SHA-256."""
    return {"onnx_file": str(path), "onnx_sha256": converted_cache.file_hash(path)}
