"""The stimuli stage's commands: the demo's stimuli, and the documents file."""

from __future__ import annotations

import logging

from .. import io, jobs
from ..commands import Arg, Command
from . import demo, documents

log = logging.getLogger(__name__)


def run_demo(job: dict, corpus, manifest, textgrids: dict | None = None, trfiles: dict | None = None) -> None:
    """Write the demo stimuli (``job`` from :func:`lre.jobs.demo_job`).

    Parameters
    ----------
    corpus, manifest : paths to write
    textgrids, trfiles : story -> path to write (none when the job has no stories: the
        corpus alone, for the embedding analysis)
    """
    demo.make(job["stories"], job["demo"], job["seed"], textgrids or {}, trfiles or {}, corpus, manifest)


def run_stimuli(job: dict, out) -> None:
    """Read the stories (``job`` from :func:`lre.jobs.stimuli_job`) or the corpus (from
    :func:`lre.jobs.corpus_job`) into the documents file ``out``."""
    docs = documents.build(job)
    n = docs.n_words()
    if "stimuli" in job:
        log.info("%d stories (%d words)", len(docs.stories), n["stories"])
    if "corpus" in job:
        log.info("%d corpus documents (%d words)", len(docs.corpus), n["corpus"])
    inputs = {str(p): io.file_sha256(p) for p in documents.input_files(job)}
    documents.write(out, docs, io.provenance(job, inputs=inputs))


COMMANDS = (
    Command(
        "demo",
        "write the offline demo stimuli (TextGrids, TR files, corpus)",
        run_demo,
        (
            Arg(
                "--textgrids",
                "TextGrid files to write, one per story of the job (none: the corpus only)",
                many=True,
                per="stories",
                required=False,
            ),
            Arg(
                "--trfiles",
                "TR files to write, one per story of the job (none: the corpus only)",
                many=True,
                per="stories",
                required=False,
            ),
            Arg("--corpus", "corpus text file to write"),
            Arg("--manifest", "manifest JSON to write"),
        ),
        job_from_config=lambda cfg, args: jobs.demo_job(cfg),
    ),
    Command(
        "stimuli",
        "read the stories (word and volume times) into their documents file",
        run_stimuli,
        (Arg("--out", "documents HDF5 file to write"),),
        job_from_config=lambda cfg, args: jobs.stimuli_job(cfg),
    ),
    Command(
        "corpus",
        "read the transfer corpus into its documents file",
        run_stimuli,
        (Arg("--out", "documents HDF5 file to write"),),
        job_from_config=lambda cfg, args: jobs.corpus_job(cfg),
    ),
)
