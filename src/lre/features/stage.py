"""The features stage's commands: extract every space of one model on every document, and
the table of all spaces."""

from __future__ import annotations

import logging
import time

import numpy as np

from .. import io, jobs, provenance
from ..commands import Arg, Command
from ..errors import ConfigError, LreError
from ..stimuli import documents
from . import family_module, store, volume_level

log = logging.getLogger(__name__)


def models_of_job(job: dict) -> dict:
    """The model entries a job needs (the model itself and, for shift, its sources)."""
    models = {}
    while job is not None:
        models[job["model"]] = job["entry"]
        job = job.get("of")
    return models


def run(job: dict, documents_path, out_path, runtime: dict, of_path=None) -> None:
    """Extract one model's spaces (``job`` from :func:`lre.jobs.features_job`) and write them.

    Parameters
    ----------
    documents_path : the documents file of the stimuli stage
    out_path : the feature file to write
    runtime : ``{"device": auto | cpu | cuda, "threads": int}`` (where and how fast, not what)
    of_path : the feature file of the shifted model (family ``shift``)
    """
    name, entry = job["model"], job["entry"]
    models = models_of_job(job)
    mod = family_module(entry["family"])
    mod.check(name, entry, models)
    outs = mod.outputs(name, entry, models)
    docs = documents.read(documents_path)
    provenance.check(documents_path, documents.read_provenance(documents_path), job.get("stimuli"), "documents file")
    words = [w for _, _, w in docs.items()]
    counts = docs.n_words()
    log.info(
        "model %s (%s): %d spaces, %d corpus words, %d story words",
        name,
        entry["family"],
        len(outs),
        counts["corpus"],
        counts["stories"],
    )
    settings = {**job["settings"], **runtime, "seed": job["seed"]}
    inputs = {"of": of_path, "of_job": job.get("of"), "documents": [(s, d) for s, d, _ in docs.items()]}
    t0 = time.perf_counter()
    if hasattr(mod, "extract_stream"):  # document by document, in bounded memory
        per_doc, info = mod.extract_stream(name, entry, words, settings, inputs)
    else:
        feats, info = mod.extract(name, entry, words, settings, inputs)
        if list(feats) != outs:
            raise LreError(f"{name}: family {entry['family']} returned outputs {list(feats)}, expected {outs}")
        per_doc = ({out: feats[out][k] for out in outs} for k in range(len(words)))
    dims: dict[str, int] = {}
    level = store.VOLUME if volume_level(entry) else store.WORD

    def checked():
        for (set_, doc, w), arrays in zip(docs.items(), per_doc):
            if list(arrays) != outs:
                raise LreError(f"{name}: family {entry['family']} returned outputs {list(arrays)}, expected {outs}")
            out = {}
            for o, a in arrays.items():
                space = f"{name}.{o}"
                if (
                    a.ndim != 2
                    or (level == store.WORD and a.shape[0] != len(w))  # a row per volume: checked when encoding
                    or dims.setdefault(space, a.shape[1]) != a.shape[1]
                ):
                    raise LreError(
                        f"{space}: document {set_}/{doc} has shape {a.shape}; expected "
                        f"({len(w)}, {dims.get(space, 'dim')}) with one dim for all documents"
                    )
                if not np.isfinite(a).all():
                    raise LreError(
                        f"{space}: document {set_}/{doc} has non-finite values; the model "
                        "diverged or the input is degenerate (try features.compute_dtype: float32)"
                    )
                out[space] = a
            yield out

    def record():
        log.info("model %s: extracted in %.1f s", name, time.perf_counter() - t0)
        for space, d in dims.items():
            log.info("space %s: dim %d", space, d)
        return io.provenance(job, model_info=info)

    spaces = [f"{name}.{o}" for o in outs]
    store.write_stream(out_path, name, entry["family"], docs, spaces, checked(), record, level=level)


def _features_job(cfg: dict, args) -> dict:
    if args.model not in cfg["features"]["models"]:
        raise ConfigError(
            "features.models",
            f"--model {args.model!r} is not a model of this config.",
            fix=f"name one of {sorted(cfg['features']['models'])}.",
        )
    part = args.part or "corpus"
    if part not in jobs.PARTS:
        raise ConfigError("--part", f"{part!r} is not a set of documents.", fix=f"name one of {list(jobs.PARTS)}.")
    return jobs.features_job(cfg, args.model, part)


def _run_features(job: dict, documents, out, runtime: dict, of=None) -> None:
    run(job, documents, out, runtime, of_path=of)


def _run_summary(job, features, out) -> None:
    store.write_summary(features, out)


COMMANDS = (
    Command(
        "features",
        "extract every space of one model",
        _run_features,
        (
            Arg("--documents", "documents HDF5 file from the stimuli stage"),
            Arg("--of", "feature file of the shifted model (family shift)", required=False),
            Arg("--out", "feature HDF5 file to write"),
        ),
        job_from_config=_features_job,
        config_args=(
            Arg("--model", "model name (with --config)", required=False),
            Arg("--part", "with --config: corpus (default) or stories, the documents of --documents", required=False),
        ),
        runtime=True,
    ),
    Command(
        "features-summary",
        "table of all spaces of the given feature files (CSV)",
        _run_summary,
        (Arg("--features", "feature HDF5 files", many=True), Arg("--out", "CSV file to write")),
        takes_job=False,
    ),
)
