"""``random``: i.i.d. standard normal vectors, one per word (a control).

A random space has no relation to language: it must predict neither the brain nor other
spaces. Its values depend only on the seed, the model's name and the documents' lengths.
"""

from __future__ import annotations

import zlib

import numpy as np

KEYS = ("dim", "seed")


def outputs(name: str, entry: dict, models: dict) -> list[str]:
    return ["vec"]


def dims(name: str, entry: dict, models: dict) -> dict[str, int | None]:
    return {"vec": int(entry["dim"])}


def check(name: str, entry: dict, models: dict) -> None:
    return None


def extract(name: str, entry: dict, docs: list[list[str]], settings: dict, inputs: dict):
    seed = int(entry.get("seed", settings.get("seed", 0)))
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    dim = int(entry["dim"])
    arrays = [rng.standard_normal((len(words), dim)).astype(np.float32) for words in docs]
    return {"vec": arrays}, {"dim": dim, "seed": seed}
