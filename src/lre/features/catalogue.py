"""What lre knows about the hub models of the paper's catalogue, without the network.

A config that names these hub ids plans its whole DAG offline: the number of layers (for
``layers: all``), the width (for memory requests), whether the model reads causally, and
the conda environment its features rule runs in. ``config/paper100.yaml`` uses them all.

The facts are those of each model's ``config.json`` on the hub; ``tests/test_catalogue.py``
builds a tiny randomly initialised model of every architecture class here and checks that
lre extracts it as described.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class HubModel:
    hub_id: str
    family: str  #: the lre family that reads it (hf or flair)
    model_type: str  #: transformers model_type, or flair-embeddings / flair-tagger
    layers: int  #: transformer blocks (of the encoder for translation models)
    hidden: int  #: width of a word's vector (for taggers, about the size of the tag set)
    attention: str  #: causal or bidirectional
    env: str  #: conda env of its features rule (workflow/envs/<env>.yaml)
    description: str


#: architectures that current transformers no longer ships, with the env that has them
LEGACY_MODEL_TYPES = {"transfo-xl": "legacy"}

HUB: dict[str, HubModel] = {
    m.hub_id: m
    for m in (
        HubModel("openai-community/gpt2", "hf", "gpt2", 12, 768, "causal", "extract", "GPT-2 small"),
        HubModel("openai-community/gpt2-medium", "hf", "gpt2", 24, 1024, "causal", "extract", "GPT-2 medium"),
        HubModel(
            "transfo-xl/transfo-xl-wt103",
            "hf",
            "transfo-xl",
            18,
            1024,
            "causal",
            "legacy",
            "Transformer-XL (WikiText-103); removed from transformers 5, runs in the legacy env",
        ),
        HubModel(
            "google-bert/bert-base-uncased", "hf", "bert", 12, 768, "bidirectional", "extract", "BERT base, uncased"
        ),
        HubModel("albert/albert-base-v2", "hf", "albert", 12, 768, "bidirectional", "extract", "ALBERT base v2"),
        HubModel(
            "Helsinki-NLP/opus-mt-en-zh",
            "hf",
            "marian",
            6,
            512,
            "bidirectional",
            "extract",
            "Marian English->Chinese translation model (its encoder)",
        ),
        HubModel(
            "Helsinki-NLP/opus-mt-en-de",
            "hf",
            "marian",
            6,
            512,
            "bidirectional",
            "extract",
            "Marian English->German translation model (its encoder)",
        ),
        HubModel(
            "news-forward",
            "flair",
            "flair-embeddings",
            1,
            2048,
            "causal",
            "legacy",
            "Flair contextual string embeddings (forward character LM, news)",
        ),
        HubModel(
            "flair/pos-english",
            "flair",
            "flair-tagger",
            1,
            50,
            "bidirectional",
            "legacy",
            "Flair part-of-speech tagger (Penn Treebank tags)",
        ),
        HubModel(
            "flair/chunk-english", "flair", "flair-tagger", 1, 25, "bidirectional", "legacy", "Flair phrase chunker"
        ),
        HubModel(
            "flair/ner-english",
            "flair",
            "flair-tagger",
            1,
            20,
            "bidirectional",
            "legacy",
            "Flair named-entity tagger (4 classes)",
        ),
        HubModel(
            "flair/frame-english",
            "flair",
            "flair-tagger",
            1,
            4000,
            "bidirectional",
            "legacy",
            "Flair semantic frame detector (PropBank frames)",
        ),
    )
}


def lookup(source: str) -> HubModel | None:
    """The catalogue entry of a hub id, or None."""
    return HUB.get(source)


def model_config(source: str) -> dict | None:
    """The parts of a catalogued model's config.json that planning needs."""
    m = HUB.get(source)
    if m is None or m.family != "hf":
        return None
    layer_key = "encoder_layers" if m.model_type == "marian" else "num_hidden_layers"
    return {
        "model_type": m.model_type,
        layer_key: m.layers,
        "hidden_size": m.hidden,
        "is_encoder_decoder": m.model_type == "marian",
    }
