"""Feature families and the registry of feature spaces.

A *family* is code (one module here); a *model* is a config entry naming a family; a *space*
is one output of a model (a layer, a tagger head, a lexical control), named
``<model>.<output>``. Registering costs nothing: family modules import their heavy
dependencies (torch, transformers, spaCy) only inside ``extract``.

Each family module provides

- ``KEYS``: the config keys it accepts (besides ``family``, ``label``, ``group``);
- ``outputs(name, entry, models) -> list[str]``: its outputs, cheaply (no weights loaded);
- ``check(name, entry, models)``: refuse what cannot run offline, before any work starts;
- ``extract(name, entry, docs, settings, inputs) -> (dict[output, list[array]], info)``:
  per output, one float32 ``(n_words, dim)`` array per document, and provenance.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from types import ModuleType

from ..errors import ConfigError

#: family name -> module (imported on first use)
FAMILIES: dict[str, str] = {
    "hf": "lre.features.hf",
    "untrained": "lre.features.hf",
    "charlm": "lre.features.charlm",
    "static": "lre.features.static",
    "tokens": "lre.features.tokens",
    "ngram": "lre.features.ngram",
    "tagger": "lre.features.tagger",
    "flair": "lre.features.flair",
    "lexical": "lre.features.lexical",
    "shift": "lre.features.shift",
    "random": "lre.features.random",
    "precomputed": "lre.features.precomputed",
}

COMMON_KEYS = ("family", "label", "group", "env")


def model_field(name: str, key: str | None = None) -> str:
    """The config field of a model (or of one of its keys), for error messages."""
    return f"features.models.{name}" + (f".{key}" if key else "")


def volume_level(entry: dict) -> bool:
    """Whether a model's features are at the fMRI volumes (``precomputed`` with ``level: volume``):
    encoded, but not transferred or embedded (those work on words)."""
    return entry.get("family") == "precomputed" and entry.get("level", "word") == "volume"


def model_of(space: str) -> str:
    """The model of a space name ``<model>.<output>`` (outputs never contain a dot)."""
    return space.rsplit(".", 1)[0]


def family_module(family: str) -> ModuleType:
    if family not in FAMILIES:
        raise ConfigError(
            "features.models", f"unknown feature family {family!r}.", fix=f"use one of {sorted(FAMILIES)}."
        )
    return importlib.import_module(FAMILIES[family])


@dataclass(frozen=True)
class Space:
    """One feature space: ``name`` is ``<model>.<output>``."""

    name: str
    model: str
    output: str
    family: str
    group: str
    label: str


def check_models(models: dict, collect: bool = False):
    """Per-family key checks and availability checks of every model (cheap, no weights).

    With ``collect``, models that are not available here (:class:`MissingModelError`) are
    returned as ``[(name, error)]`` instead of raised; other errors are raised.
    """
    from ..errors import MissingModelError

    missing = []
    for name, entry in models.items():
        mod = family_module(entry["family"])
        allowed = set(COMMON_KEYS) | set(
            mod.KEYS_BY_FAMILY[entry["family"]] if hasattr(mod, "KEYS_BY_FAMILY") else mod.KEYS
        )
        extra = sorted(set(entry) - allowed)
        if extra:
            raise ConfigError(
                f"features.models.{name}",
                f"key(s) {extra} do not apply to family {entry['family']!r}.",
                fix=f"remove them; this family accepts {sorted(allowed)}.",
            )
        try:
            mod.check(name, entry, models)
        except MissingModelError as err:
            if not collect:
                raise
            missing.append((name, err))
    return missing if collect else None


def model_outputs(name: str, models: dict) -> list[str]:
    entry = models[name]
    return family_module(entry["family"]).outputs(name, entry, models)


def model_dims(name: str, models: dict) -> dict[str, int | None]:
    """Each output's dimension where the config alone tells it (None where the weights or
    tables must be read); families without a ``dims`` function tell none."""
    entry = models[name]
    mod = family_module(entry["family"])
    if hasattr(mod, "dims"):
        return mod.dims(name, entry, models)
    return {o: None for o in model_outputs(name, models)}


def resolve_spaces(models: dict) -> list[Space]:
    """Every space of every model, in config order.

    A space's ``group`` (used for colours and embedding weights) is the model's ``group``
    key when set, otherwise the model itself, so every model counts as one family.
    """
    spaces = []
    for name, entry in models.items():
        for out in model_outputs(name, models):
            spaces.append(
                Space(
                    f"{name}.{out}",
                    name,
                    out,
                    entry["family"],
                    entry.get("group") or name,
                    entry.get("label", name) + f" {out}",
                )
            )
    return spaces
