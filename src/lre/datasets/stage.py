"""The demo's fMRI commands: the synthetic dataset with planted truth, and the check of one
subject's fits against that truth."""

from __future__ import annotations

import logging

import numpy as np

from .. import io, provenance
from ..commands import Arg, Command
from ..encoding.stage import read_scores
from ..features import model_of
from ..features.store import FeatureFile
from ..stimuli import documents
from . import synthetic

log = logging.getLogger(__name__)


def run_demo_fmri(job: dict, documents_path, features: dict, root) -> None:
    """Write the synthetic dataset under ``root`` (``features`` maps each planted space ->
    feature file)."""
    docs = documents.read(documents_path)
    feats = {space: FeatureFile(path, expect=provenance.expected_features(job, model_of(space)))
             .load(space, "stories") for space, path in features.items()}
    synthetic.make(root, job["subjects"], job["stories"], job["test_story"], docs, feats, job["fmri"], job["lebel"],
                   job["seed"], record=io.provenance(job))


def run_recovery(job: dict, truth, ceiling, inputs: dict, out) -> None:
    """Compare one subject's fitted results (``inputs``: space -> result file) with the planted
    ``truth`` and the fitted noise ``ceiling``; write the comparison (JSON) to ``out``."""
    truth_path, ceiling_path, scores = truth, ceiling, inputs
    truth = synthetic.read_truth(truth_path, job)
    names = list(scores)
    S = np.stack([read_scores(scores[n], job, n)["scores"] for n in names])
    with io._h5().File(ceiling_path, "r") as f:
        provenance.check_h5(ceiling_path, f, job.get("expects", {}).get("ceiling"), job, "noise ceiling")
        ceiling = f["ceiling"][()]
    res = synthetic.recovery(truth, names, S, ceiling, job["controls"])
    res["subject"] = job["subject"]
    io.write_json(out, res)
    log.info("%s: %.1f%% of %d signal voxels recovered; ceiling correlation %.3f; controls %s", job["subject"],
             100 * res["recovered"], res["n_signal"], res["ceiling_correlation"], res["control_mean_r"])


def _run_demo_fmri(job: dict, documents, features: dict, root) -> None:
    run_demo_fmri(job, documents, features, root)


COMMANDS = (
    Command("demo-fmri", "write the synthetic fMRI dataset with planted truth", _run_demo_fmri,
            (Arg("--documents", "documents file (stimuli stage)"),
             Arg("--features", "feature files of the planted spaces, in the job's order", many=True,
                 per="fmri.planted"),
             Arg("--root", "folder to write the dataset into"))),
    Command("recovery", "compare a subject's fitted results with the planted truth", run_recovery,
            (Arg("--truth", "the subject's planted truth"), Arg("--ceiling", "the subject's noise ceiling"),
             Arg("--inputs", "result files, one per space of the job", many=True, per="spaces"),
             Arg("--out", "JSON file to write"))),
)
