"""The demo's fMRI commands: the synthetic dataset with planted truth, and the check of one
subject's fits against that truth."""

from __future__ import annotations

import logging

import numpy as np

from .. import io, provenance
from ..commands import Arg, Command
from ..encoding.stage import read_ceiling, read_scores
from ..features import model_of
from ..features.store import FeatureFile
from ..stimuli.documents import read as read_documents
from . import synthetic

log = logging.getLogger(__name__)


def run_demo_respdict(job: dict, documents, out) -> None:
    """Write the demo's respdict.json (each story's volume count) from the documents file."""
    documents_path = documents
    with io.h5_open(documents_path) as f:
        provenance.check_h5(documents_path, f, job.get("expects", {}).get("documents"), job, "documents file")
    docs = read_documents(documents_path)
    io.write_json(out, synthetic.respdict(docs, job["stories"], job["lebel"]))


def run_demo_fmri(job: dict, documents, features: dict, responses: dict, mask, truth, gradient) -> None:
    """Write one subject's synthetic responses, mask and planted truth.

    Parameters
    ----------
    documents : the documents file (word and volume times)
    features : planted space -> feature file
    responses : story -> response file to write
    mask, truth, gradient : the mask NIfTI, truth HDF5 and gradient NIfTI to write
    """
    docs = read_documents(documents)
    feats = {
        space: FeatureFile(path, expect=provenance.expected_features(job, model_of(space))).load(space, "stories")
        for space, path in features.items()
    }
    synthetic.make_subject(
        job["subject"],
        job["stories"],
        job["test_story"],
        docs,
        feats,
        job["fmri"],
        job["lebel"],
        job["seed"],
        responses,
        mask,
        truth,
        gradient,
        record=io.provenance(job),
    )


def run_recovery(job: dict, truth, ceiling, inputs: dict, out) -> None:
    """Compare one subject's fitted results (``inputs``: space -> result file) with the planted
    ``truth`` and the fitted noise ``ceiling``; write the comparison (JSON) to ``out`` (its
    ``ceiling_correlation`` null, and ``ceiling`` "none (1 repeat)", without a ceiling)."""
    truth_path, ceiling_path, scores = truth, ceiling, inputs
    truth = synthetic.read_truth(truth_path, job)
    names = list(scores)
    S = np.stack([read_scores(scores[n], job, n)["scores"] for n in names])
    ceiling = read_ceiling(ceiling_path, job)
    res = synthetic.recovery(truth, names, S, ceiling["ceiling"], job["controls"])
    res["subject"] = job["subject"]
    res["ceiling"] = ceiling["label"]
    io.write_json(out, res)
    log.info(
        "%s: %.1f%% of %d signal voxels recovered; ceiling correlation %s; controls %s",
        job["subject"],
        100 * res["recovered"],
        res["n_signal"],
        "none (no ceiling: 1 repeat)" if ceiling["ceiling"] is None else f"{res['ceiling_correlation']:.3f}",
        res["control_mean_r"],
    )


COMMANDS = (
    Command(
        "demo-respdict",
        "write the demo's respdict.json (volumes per story)",
        run_demo_respdict,
        (Arg("--documents", "documents file (stimuli stage)"), Arg("--out", "respdict.json to write")),
    ),
    Command(
        "demo-fmri",
        "write one subject's synthetic responses with planted truth",
        run_demo_fmri,
        (
            Arg("--documents", "documents file (stimuli stage)"),
            Arg("--features", "feature files of the planted spaces, in the job's order", many=True, per="fmri.planted"),
            Arg("--responses", "response files to write, one per story of the job", many=True, per="stories"),
            Arg("--mask", "brain mask NIfTI to write"),
            Arg("--truth", "planted truth HDF5 to write"),
            Arg("--gradient", "planted gradient NIfTI to write"),
        ),
    ),
    Command(
        "recovery",
        "compare a subject's fitted results with the planted truth",
        run_recovery,
        (
            Arg("--truth", "the subject's planted truth"),
            Arg("--ceiling", "the subject's noise ceiling"),
            Arg("--inputs", "result files, one per space of the job", many=True, per="spaces"),
            Arg("--out", "JSON file to write"),
        ),
    ),
)
