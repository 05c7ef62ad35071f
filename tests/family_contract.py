"""What every feature family promises (see lre.features), as one function: the contract tests
call it in this environment, and inside the legacy environment for the families that live
there. Plain Python (no pytest), so that any interpreter with lre on its path can run it."""

from __future__ import annotations

import json

import numpy as np


def check_family_contract(
    name: str, entry: dict, models: dict, docs: list[list[str]], settings: dict, inputs: dict
) -> dict:
    """Check the family of ``entry`` against its contract on ``docs``; return its features."""
    from lre import io
    from lre.features import COMMON_KEYS, family_module

    mod = family_module(entry["family"])
    keys = mod.KEYS_BY_FAMILY[entry["family"]] if hasattr(mod, "KEYS_BY_FAMILY") else mod.KEYS
    assert set(entry) - set(COMMON_KEYS) <= set(keys), f"{name}: keys outside the family's KEYS"
    outs = mod.outputs(name, entry, models)
    assert outs and len(set(outs)) == len(outs), f"{name}: outputs {outs}"
    assert all("." not in o for o in outs), f"{name}: an output name holds a dot: {outs}"
    mod.check(name, entry, models)
    feats, info = mod.extract(name, entry, docs, settings, inputs)
    assert list(feats) == outs, f"{name}: extracted {list(feats)}, declared {outs}"
    for out, arrays in feats.items():
        assert len(arrays) == len(docs), f"{name}.{out}: {len(arrays)} arrays for {len(docs)} documents"
        dims = {a.shape[1] for a in arrays}
        assert len(dims) == 1, f"{name}.{out}: dimensions {dims} differ between documents"
        for a, words in zip(arrays, docs):
            assert a.ndim == 2 and a.shape[0] == len(words), f"{name}.{out}: {a.shape} for {len(words)} words"
            assert np.isfinite(a).all(), f"{name}.{out}: non-finite values"
    json.loads(io.canonical_json(info))  # the provenance it returns can be recorded
    again, _ = mod.extract(name, entry, docs, settings, inputs)
    for out in outs:
        for a, b in zip(feats[out], again[out]):
            np.testing.assert_array_equal(a, b, err_msg=f"{name}.{out}: two extractions differ")
    return feats
