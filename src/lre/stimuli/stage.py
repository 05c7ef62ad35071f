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


#: a story sharing more than this share of its 8-grams with the transfer corpus is in it
CORPUS_OVERLAP = 0.5


def run_corpus_check(job: dict, documents, corpus, out) -> None:
    """Refuse a transfer corpus that holds the fMRI stories (their text, copied in): the
    transfer maps and the embedding would then be fitted on the very stories whose responses
    the brain link scores. Writes each story's overlap (share of its 8-grams in the corpus) to
    the JSON ``out``."""
    from ..errors import InputError
    from .documents import corpus_overlap

    stories = {name: list(s.words.words) for name, s in documents_read(documents, job, "documents").stories.items()}
    docs = documents_read(corpus, job, "corpus").corpus
    overlap = corpus_overlap(stories, docs, job["ngram"])
    worst = max(overlap, key=lambda s: overlap[s][0]) if overlap else None
    if worst is not None and overlap[worst][0] > job["max_share"]:
        share, doc = overlap[worst]
        raise InputError(
            corpus,
            f"holds the story {worst!r}: {100 * share:.0f} % of its {job['ngram']}-word sequences are in corpus "
            f"document {doc!r}. The transfer maps and the embedding would be fitted on the stories the brain link "
            "scores.",
            fix="take the fMRI stories out of the transfer corpus (corpus.path).",
        )
    io.write_json(out, {s: {"share": share, "document": doc} for s, (share, doc) in overlap.items()})
    log.info(
        "stories in the transfer corpus: at most %.1f %% of a story's %d-grams",
        100 * max((v[0] for v in overlap.values()), default=0.0),
        job["ngram"],
    )


def documents_read(path, job: dict, which: str):
    """A documents file, checked against the documents job the check expects."""
    from .. import provenance
    from .documents import read, read_provenance

    provenance.check_hash(path, read_provenance(path), job.get("expects", {}).get(which), job, "documents file")
    return read(path)


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
        "corpus-check",
        "refuse a transfer corpus that holds the fMRI stories",
        run_corpus_check,
        (
            Arg("--documents", "the stories' documents file"),
            Arg("--corpus", "the corpus' documents file"),
            Arg("--out", "JSON file to write (each story's overlap with the corpus)"),
        ),
    ),
    Command(
        "corpus",
        "read the transfer corpus into its documents file",
        run_stimuli,
        (Arg("--out", "documents HDF5 file to write"),),
        job_from_config=lambda cfg, args: jobs.corpus_job(cfg),
    ),
)
