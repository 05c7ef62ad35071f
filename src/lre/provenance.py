"""Provenance checks: a stage refuses an input made for a different config.

Every output records the job (the config slice) that made it and its hash
(:func:`lre.io.provenance`). A job that reads another stage's output carries what it expects
that output's job to be (``job["upstream"]``, filled by :func:`lre.jobs.upstream`); on a mismatch the
stage stops and names the fields that differ, unless told to accept it
(``--accept-provenance`` on a stage command, or ``LRE_ACCEPT_PROVENANCE=1`` in the
environment of a Snakemake run), which logs a warning instead.

Package versions are recorded with the environment (``sys.prefix``) that wrote the file. A
file made in the reading stage's own environment before one of its packages changed (an
upgrade halfway through a run) is refused the same way; a file from another environment
(the legacy environment makes Flair and Transformer-XL features with transformers 4.37 by
design) may differ, and the differences are logged.
"""

from __future__ import annotations

import logging
import os
import sys

from . import io
from .errors import InputError

log = logging.getLogger(__name__)

STIMULI_REF = "@stimuli"  #: stands for upstream["stimuli"] inside each expected features job

#: set by ``--accept-provenance``
ACCEPT = False


def expected_features(job: dict, model: str) -> dict | None:
    """The features job a feature file of ``model`` must record (None: the job expects nothing)."""
    up = job.get("upstream")
    if not up or model not in up.get("features", {}):
        return None

    def fill(j):
        j = dict(j)
        if j.get("stimuli") == STIMULI_REF:
            j["stimuli"] = up["stimuli"]
        if "of" in j:
            j["of"] = fill(j["of"])
        return j

    return fill(up["features"][model])


def differences(recorded, expected, prefix: str = "") -> list[tuple[str, object, object]]:
    """``[(field, recorded value, expected value)]`` of two job dicts, field by field."""
    if isinstance(recorded, dict) and isinstance(expected, dict):
        out = []
        for key in sorted(set(recorded) | set(expected), key=str):
            field = f"{prefix}.{key}" if prefix else str(key)
            out += differences(recorded.get(key, "<absent>"), expected.get(key, "<absent>"), field)
        return out
    return [] if recorded == expected else [(prefix or "<job>", recorded, expected)]


def shared_differences(recorded, current, prefix: str = "") -> list[tuple[str, object, object]]:
    """Like :func:`differences`, but only over the keys both jobs have (jobs of different
    stages share sections such as ``seed`` or ``transfer``)."""
    if isinstance(recorded, dict) and isinstance(current, dict):
        out = []
        for key in sorted(set(recorded) & set(current) - {"stage", "upstream", "expects"}, key=str):
            out += shared_differences(recorded[key], current[key], f"{prefix}.{key}" if prefix else str(key))
        return out
    return [] if recorded == current else [(prefix or "<job>", recorded, current)]


def check_hash(path, recorded: dict | None, expected_hash: str | None, job: dict, what: str) -> None:
    """Refuse ``path`` unless it records ``expected_hash``; name the fields it shares with
    ``job`` (the reading stage's job) that differ."""
    if not expected_hash:
        return
    if recorded and recorded.get("config_hash") == expected_hash:
        _versions(path, recorded, what)
        return
    if not recorded or "job" not in recorded:
        problem = f"this {what} records no provenance, so it cannot be matched to this config."
    else:
        diffs = shared_differences(recorded["job"], job)
        shown = "; ".join(f"{f}: file has {_short(a)}, this config gives {_short(b)}" for f, a, b in diffs[:4])
        problem = (
            f"this {what} was made for a different config (config_hash {recorded.get('config_hash')}, "
            f"expected {expected_hash})" + (f": {shown}." if shown else ".")
        )
    refuse(path, problem)


def check_h5(path, f, expected_hash: str | None, job: dict, what: str) -> None:
    """:func:`check_hash` for an open HDF5 file of lre's."""
    if expected_hash:
        check_hash(path, h5_provenance(f), expected_hash, job, what)


def h5_provenance(f) -> dict | None:
    """The provenance record of an open HDF5 file of lre's (None when it has none)."""
    return io.h5_get_json(f, "provenance") if "provenance" in f.attrs else None


#: stage of the job that makes each kind of file -> how to name that kind
KINDS = {
    "stimuli": "documents file",
    "corpus": "corpus documents file",
    "features": "feature file",
    "transfer-prepare": "transfer split",
    "transfer-encode": "encoder file",
    "transfer-decode": "decoder file",
    "transfer-gather": "error tensor",
    "transfer-direct": "direct-transfer file",
    "direct-gather": "direct-transfer matrix",
    "similarity": "similarity file",
    "embedding": "embedding file",
    "encode": "encoding result",
    "noise-ceiling": "noise ceiling",
    "brainlink": "brain-link file",
    "demo-fmri": "planted truth",
}


def expect_kind(path, recorded: dict | None, stages, what: str) -> None:
    """Refuse ``path`` when its provenance says another stage made it (a feature file given
    where the documents file belongs, say); ``stages``: the stage(s) that make ``what``."""
    stages = (stages,) if isinstance(stages, str) else tuple(stages)
    made_by = ((recorded or {}).get("job") or {}).get("stage")
    if made_by is None or made_by in stages:
        return
    from .errors import InputError

    model = recorded["job"].get("model") or recorded["job"].get("space") or recorded["job"].get("subject") or ""
    raise InputError(
        path,
        f"is {_article(KINDS.get(made_by, made_by + ' output'))}{f' (of {model})' if model else ''}, "
        f"not {_article(what)}.",
        fix=f"pass {_article(what)} here (lre.paths names each file; e.g. `python -m lre <command> --help`).",
    )


def _article(noun: str) -> str:
    return ("an " if noun[:1] in "aeiou" else "a ") + noun


def accepting() -> bool:
    return ACCEPT or os.environ.get("LRE_ACCEPT_PROVENANCE", "") not in ("", "0")


def check(path, recorded: dict | None, expected: dict | None, what: str) -> None:
    """Refuse ``path`` (``what`` it is) if it was made for another job than ``expected``."""
    if not expected:
        return
    if not recorded or "job" not in recorded:
        problem = f"this {what} records no provenance, so it cannot be matched to this config."
    elif recorded.get("config_hash") == io.config_hash(expected):
        _versions(path, recorded, what)
        return
    else:
        diffs = differences(recorded["job"], expected)
        shown = "; ".join(f"{f}: file has {_short(a)}, this config gives {_short(b)}" for f, a, b in diffs[:4])
        more = f" (and {len(diffs) - 4} more)" if len(diffs) > 4 else ""
        problem = (
            f"this {what} was made for a different config (config_hash {recorded.get('config_hash')}, "
            f"expected {io.config_hash(expected)}): {shown}{more}."
        )
    refuse(path, problem)


_ACCEPT_HINT = "or accept it with LRE_ACCEPT_PROVENANCE=1 / --accept-provenance."


def refuse(path, problem: str, fix: str | None = None) -> None:
    """Stop on ``path`` (or, when mismatches are accepted, log a warning)."""
    if accepting():
        log.warning("%s: %s Used anyway (provenance mismatches accepted).", path, problem)
        return
    raise InputError(
        path,
        problem,
        fix=fix
        or "rerun the rule that makes it (Snakemake does so when it sees the changed parameters), " + _ACCEPT_HINT,
    )


#: packages whose version does not change any number lre writes
_NOT_NUMERIC = ("snakemake",)


def _versions(path, recorded: dict, what: str = "file") -> None:
    """Package versions: a file made in *this* environment (same ``sys.prefix``) before one of
    its packages changed is refused; a file from another environment (the legacy one, another
    machine's) may differ by design, so differences are logged."""
    have = io.package_versions()
    changed = {k: (v, have[k]) for k, v in recorded.get("packages", {}).items() if k in have and have[k] != v}
    if not changed:
        return

    def shown(versions):
        return ", ".join(f"{k} {a} (now {b})" for k, (a, b) in sorted(versions.items()))

    numeric = {k: ab for k, ab in changed.items() if k not in _NOT_NUMERIC}
    if numeric and recorded.get("environment") == sys.prefix:
        refuse(
            path,
            f"this {what} was made in this environment ({sys.prefix}) before its packages changed: {shown(numeric)}.",
            fix="rerun what made it with the packages installed now (Snakemake does not see package "
            "changes: snakemake --forcerun <rule>, or --forceall), " + _ACCEPT_HINT,
        )
        return
    log.info("%s was made with other package versions: %s", path, shown(changed))


def _short(value, limit: int = 60) -> str:
    text = io.canonical_json(value) if not isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
