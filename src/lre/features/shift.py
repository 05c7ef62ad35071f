"""``shift``: another model's spaces moved by +k words (the paper's "GloVe next word").

Word i of a document gets the features of word i + k of the same document; positions past
either end get zeros. With k > 0 these spaces deliberately look ahead: they model
prediction of upcoming words, not causal features.
"""

from __future__ import annotations

import numpy as np

from ..errors import InputError

KEYS = ("of", "shift")


def outputs(name: str, entry: dict, models: dict) -> list[str]:
    from . import model_outputs

    return model_outputs(entry["of"], models)


def dims(name: str, entry: dict, models: dict) -> dict[str, int | None]:
    from . import model_dims

    return model_dims(entry["of"], models)


def check(name: str, entry: dict, models: dict) -> None:
    from ..errors import ConfigError
    from . import model_field, volume_level

    outputs(name, entry, models)
    if volume_level(models.get(entry["of"], {})):
        raise ConfigError(
            model_field(name, "of"),
            f"{entry['of']!r} has volume-level features; a shift moves features by words.",
            fix="shift a word-level model.",
        )


def shift_rows(x: np.ndarray, k: int) -> np.ndarray:
    """Rows moved by k: ``out[i] = x[i + k]`` where ``0 <= i + k < n``, zeros elsewhere."""
    out = np.zeros_like(x)
    n = len(x)
    if k >= 0:
        if k < n:
            out[: n - k] = x[k:]
    elif -k < n:
        out[-k:] = x[: n + k]
    return out


def extract(name: str, entry: dict, docs: list[list[str]], settings: dict, inputs: dict):
    from ..errors import UsageError
    from .store import FeatureFile

    if not inputs.get("of"):
        raise UsageError(
            "features",
            f"model {name!r} shifts the spaces of {entry['of']!r}, so it needs the feature file of {entry['of']!r}.",
            fix=f"pass --of with the feature file of {entry['of']!r} (the workflow's rule does).",
        )

    src = FeatureFile(inputs["of"], expect=inputs.get("of_job"))
    k = int(entry["shift"])
    sets = src.sets()
    stored = [w for set_ in sets for w in src.words(set_).values()]
    if stored != list(docs):
        raise InputError(
            src.path,
            f"its documents differ from the current stimuli, so {name!r} cannot shift them.",
            fix=f"re-run the features of {entry['of']!r} first.",
        )
    result = {}
    for space in src.spaces:
        arrays = [a for set_ in sets for a in src.load(space, set_).values()]
        result[space.split(".", 1)[1]] = [shift_rows(a, k) for a in arrays]
    info = {"of": entry["of"], "shift": k, "of_config_hash": src.provenance.get("config_hash")}
    return result, info
