"""The encoding stage's commands: fit and score spaces for one subject (per voxel: test r,
R^2, penalty, CV score, block-permutation p-value, FDR significance; and the test-r map),
the noise ceiling, the per-subject table and the performance figure.

A noise ceiling needs the test story's repeats. With a single repeat (the ds003020
derivative stores its test story averaged over them) there is none, and nothing stands in
for it: the ceiling file holds no ``ceiling`` dataset and says ``status = "single repeat"``,
its map is empty (NaN) and its figure says why, and the tables leave the ceiling's cells
empty beside the words ``none (1 repeat)`` (:data:`NO_CEILING`)."""

from __future__ import annotations

import csv
import dataclasses
import io as _io
import json
import logging
import re
import zlib

import numpy as np

from .. import io, plots, provenance, timing
from ..commands import Arg, Command
from ..datasets import NONFINITE_FIX, geometry, loader, nonfinite_voxels, synthetic
from ..errors import ConfigError, InputError
from ..features import model_of, store
from ..features.precomputed import check_volumes
from ..features.store import FeatureFile
from . import models as encoding
from . import selection
from .partition import partition as partition_parts

log = logging.getLogger(__name__)


class Subject:
    """One subject's responses (z-scored per story and repeat) and mask."""

    def __init__(self, dcfg: dict, subject: str, stories: list[str] | None = None):
        self.dcfg, self.subject = dcfg, subject
        self.geometry = geometry.of(dcfg, subject)  # where the columns live (None: bare columns)
        self.mask = self.affine = None
        if isinstance(self.geometry, geometry.Volume):
            self.mask, self.affine = self.geometry.mask, self.geometry.affine
        mod = loader(dcfg["format"])
        self.runs = {}
        for story in stories or dcfg["train_stories"] + dcfg["test_stories"]:
            self.runs[story] = mod.load_run(dcfg, subject, story, self.mask, self.affine)
        n_vox = {r.data.shape[2] for r in self.runs.values()}
        if len(n_vox) != 1:
            counts = ", ".join(f"{r.source}: {r.data.shape[2]}" for r in self.runs.values())
            raise InputError(
                None,
                f"{subject}'s runs have different voxel counts ({counts}).",
                fix="all runs of a subject must come from the same mask.",
            )
        self.n_voxels = n_vox.pop()
        if self.geometry is not None and self.geometry.n_columns != self.n_voxels:
            raise InputError(
                dcfg["mask"].format(subject=subject) if self.mask is not None else None,
                f"has {self.geometry.n_columns} {self.geometry.kind} columns but the responses of {subject} have "
                f"{self.n_voxels}.",
                fix="use the mask the responses were extracted with.",
            )
        self.dropped = np.zeros(self.n_voxels, dtype=bool)
        for run in self.runs.values():
            self.dropped |= nonfinite_voxels(run.data)
        if dcfg.get("nonfinite", "error") == "drop":  # the same voxels in every job: scan the other runs too
            for story in dcfg["train_stories"] + dcfg["test_stories"]:
                if story not in self.runs:
                    other = mod.load_run(dcfg, subject, story, self.mask, self.affine).data
                    if other.shape[2] == self.n_voxels:
                        self.dropped |= nonfinite_voxels(other)
                    del other
        if self.dropped.any():
            if dcfg.get("nonfinite", "error") != "drop":  # a loader that let them through
                run = next(r for r in self.runs.values() if nonfinite_voxels(r.data).any())
                raise InputError(
                    run.source, f"has non-finite values in {int(self.dropped.sum())} voxels.", fix=NONFINITE_FIX
                )
            for run in self.runs.values():
                run.data[:, :, self.dropped] = 0.0  # constant: z-scored to zeros, fitted to nothing
            log.warning(
                "%s: %d of %d voxels have NaN or infinite values in some run (first: %s); dataset.nonfinite is drop, "
                "so they are left out of every fit and their results and maps are NaN.",
                subject,
                int(self.dropped.sum()),
                self.n_voxels,
                np.flatnonzero(self.dropped)[:5].tolist(),
            )
        for story in dcfg["test_stories"]:
            if story in self.runs:
                check_repeats(self.runs[story], subject, story)

    @property
    def unit(self) -> str:
        """What a response column is: "vertices" on the surface, else "voxels"."""
        return "vertices" if isinstance(self.geometry, geometry.Surface) else "voxels"

    def blank(self, values: np.ndarray, fill=np.nan) -> np.ndarray:
        """``values`` (voxels on the last axis) with the dropped voxels set to ``fill``."""
        values = np.array(values, copy=True)
        if self.dropped.any():
            values[..., self.dropped] = fill
        return values

    def check_design(self, delays) -> None:
        """Refuse what can only give a meaningless fit: a delay as long as a story, and a test
        story whose responses equal a training story's (a leak, whatever the names)."""
        for story, run in self.runs.items():
            if max(delays) >= run.data.shape[1]:
                raise ConfigError(
                    "encoding.delays",
                    f"the longest delay ({max(delays)} volumes) is as long as {self.subject}'s run of {story!r} "
                    f"({run.data.shape[1]} volumes after trimming): that delay sees no words.",
                    fix="use shorter delays, or leave the story out.",
                )
        for test in self.dcfg["test_stories"]:
            for train in self.dcfg["train_stories"]:
                a, b = self.runs.get(test), self.runs.get(train)
                if a is None or b is None or a.data.shape[1:] != b.data.shape[1:]:
                    continue
                r = max(_similarity(rep, b.data[0]) for rep in a.data)
                if r > LEAK_R:
                    same = "equal those" if r >= 1 - 1e-12 else f"correlate at r = {r:.4f} with those"
                    raise InputError(
                        a.source,
                        f"{self.subject}'s responses to the test story {test!r} {same} to the training story "
                        f"{train!r} ({b.source}): the test story is a copy of a training story (perhaps re-exported "
                        "with noise), and testing on it would score the training data (a leak).",
                        fix="check the dataset's files (a copy under another name?) and dataset.test_stories.",
                    )

    def train(self, release: bool = False) -> tuple[np.ndarray, list[int]]:
        """Training responses, z-scored per story (repeats averaged first), as one float32
        array of shape (sum of the stories' volumes, voxels), and the story lengths.

        Each story is z-scored on its own and copied into its rows of the preallocated array,
        so the job never holds a second copy of all of them (9,000 x 90,000 float32 is 3.2 GB,
        and a float64 stack of them twice that). With ``release``, each training run hands
        its responses over once copied (its ``data`` becomes None; its times stay): the job
        then holds them once.
        """
        stories = self.dcfg["train_stories"]
        lengths = [self.runs[s].data.shape[1] for s in stories]
        Y = np.empty((sum(lengths), self.n_voxels), dtype=np.float32)
        start = 0
        for story, n in zip(stories, lengths):
            run = self.runs[story]
            Y[start : start + n] = timing.zscore(run.data.mean(0))
            start += n
            if release:
                run.data = None
        return Y, lengths

    def test(self, release: bool = False) -> np.ndarray:
        """Test responses, float32 of shape (repeats, volumes, voxels), each repeat z-scored;
        stories stacked in time. With ``release``, the test runs hand their responses over
        (as in :meth:`train`; a single test story is z-scored in place)."""
        runs = [self.runs[s] for s in self.dcfg["test_stories"]]
        counts = {s: r.n_repeats for s, r in zip(self.dcfg["test_stories"], runs)}
        if len(set(counts.values())) > 1:
            raise InputError(
                runs[0].source,
                f"{self.subject}'s test stories have different numbers of repeats ({counts}); their repeats are "
                "stacked in time, so the extra ones would be dropped without a word.",
                fix="give every test story the same repeats (leave the extra ones out of dataset.lebel.test_repeats), "
                "or test on one story.",
            )
        R = runs[0].n_repeats
        if release and len(runs) == 1:  # z-scored in place: no second copy of the repeats
            Y, runs[0].data = runs[0].data[:R], None
            for k in range(R):
                Y[k] = timing.zscore(Y[k])
            return Y
        Y = np.empty((R, sum(r.data.shape[1] for r in runs), self.n_voxels), dtype=np.float32)
        start = 0
        for run in runs:
            n = run.data.shape[1]
            for k in range(R):
                Y[k, start : start + n] = timing.zscore(run.data[k])
            start += n
            if release:
                run.data = None
        return Y


def check_repeats(run, subject: str, story: str) -> None:
    """Repeats that are copies of each other agree perfectly: the noise ceiling would be 1
    everywhere and the test scores would average one run several times. Each pair is compared
    on a sample of values first, in full only where the sample agrees."""
    for a in range(run.n_repeats):
        for b in range(a + 1, run.n_repeats):
            x, y = run.data[a], run.data[b]
            if np.array_equal(x.ravel()[:1000], y.ravel()[:1000]) and np.array_equal(x, y):
                raise InputError(
                    run.source,
                    f"repeats {a + 1} and {b + 1} of {subject}'s test story {story!r} are identical copies: "
                    "the noise ceiling would be 1.000 everywhere and the scores would average one run.",
                    fix="give each repeat its own preprocessed run (dataset.lebel.test_repeats lists them), or "
                    "leave the copies out.",
                )


#: two runs of the same length whose responses correlate above this are copies (a leak)
LEAK_R = 0.99


def _similarity(x: np.ndarray, y: np.ndarray, chunk: int = 1 << 22) -> float:
    """Pearson r between two runs' responses, all volumes and voxels at once (1 for copies),
    accumulated in float64 over chunks (no float64 copy of a whole run)."""
    x, y = x.ravel(), y.ravel()
    mx, my = x.mean(dtype=np.float64), y.mean(dtype=np.float64)
    sxy = sxx = syy = 0.0
    for i in range(0, x.size, chunk):
        a = x[i : i + chunk].astype(np.float64) - mx
        b = y[i : i + chunk].astype(np.float64) - my
        sxy, sxx, syy = sxy + float(a @ b), sxx + float(a @ a), syy + float(b @ b)
    den = np.sqrt(sxx * syy)
    return sxy / den if den > 0 else float(np.array_equal(x, y))


def check_story_words(ff: FeatureFile, dcfg: dict) -> None:
    """A test story whose words equal a training story's is a leak, whatever its name."""
    words = ff.words("stories")
    for test in dcfg["test_stories"]:
        for train in dcfg["train_stories"]:
            if test in words and train in words and words[test] == words[train]:
                raise ConfigError(
                    "dataset.test_stories",
                    f"the test story {test!r} has exactly the words of the training story {train!r} "
                    f"({len(words[test])} words): testing on it would score the training data (a leak).",
                    fix="check stimuli.path (two stories read from one file?) and dataset.test_stories.",
                )


def design(
    ff: FeatureFile, space: str, stories: list[str], runs: dict, delays, subject: str = "the subject"
) -> np.ndarray:
    """Delayed, z-scored features of ``stories`` at their response volumes, stacked in time:
    an array of shape (sum of the stories' volumes, dim * len(delays)), float32.

    Word-level features are resampled to the volumes; volume-level ones (``precomputed`` with
    ``level: volume``) are taken as they are, once their rows are checked against the volumes."""
    feats = ff.load(space, "stories")
    missing = [s for s in stories if s not in feats]
    if missing:
        raise InputError(ff.path, f"has no features for stories {missing}.", fix="re-run the features stage.")
    if ff.level == store.VOLUME:
        files = ff.provenance.get("model_info", {}).get("story_files", {})
        blocks = []
        for s in stories:
            check_volumes(feats[s], files.get(s, str(ff.path)), s, subject, len(runs[s].times), runs[s].source)
            blocks.append(encoding.prepare_volumes(feats[s], delays))
        X = np.vstack(blocks)
        check_not_constant(X, ff.path, space, stories)
        return X
    times = ff.times()
    for s in stories:
        check_words_within_responses(times[s], runs[s], s, subject)
    X = np.vstack([encoding.prepare_story(times[s], feats[s], runs[s].times, delays) for s in stories])
    check_not_constant(X, ff.path, space, stories)
    return X


#: words may run past a run's last volume by this share of the story at most (the trimmed
#: volumes at its end): more, and the responses end long before the words
LATE_WORDS = 0.1


def check_words_within_responses(word_times: np.ndarray, run, story: str, subject: str) -> None:
    """The responses must cover the story's words: a run that ends long before them (a
    truncated file, wrong trimming) would fit the words to silence."""
    late = np.asarray(word_times) > run.times[-1]
    if late.mean() > LATE_WORDS:
        raise InputError(
            run.source,
            f"{subject}'s responses to {story!r} end at {run.times[-1]:.1f} s, but {int(late.sum())} of its "
            f"{len(late)} words ({100 * late.mean():.0f} %) come later (up to {float(np.max(word_times)):.1f} s).",
            fix="check that the run is complete and the dataset's trimming and start time (dataset.lebel: pad, trim, "
            "start_time; dataset.bids: trim, onsets) fit it.",
        )


def check_not_constant(X: np.ndarray, path, space: str, stories) -> None:
    """A design with no variance (a space constant over the stories) predicts nothing; as a
    partition baseline it would make every tested space's unique variance its whole R^2."""
    if not np.any(X):
        raise InputError(
            path,
            f"space {space} is constant over the stories {list(stories)} (zero variance once z-scored per story): "
            "it cannot predict anything, and as a partition baseline it would explain nothing.",
            fix="leave it out of encoding.spaces and partition.baseline, or give it features that vary.",
        )


def _seed(seed: int, *names: str) -> list[int]:
    return [seed] + [zlib.crc32(n.encode()) for n in names]


def run_encode(job: dict, features: dict, out: dict, nii: dict | None = None) -> None:
    """Fit every space of ``job["spaces"]`` for one subject.

    Parameters
    ----------
    features : space -> feature file
    out : space -> result HDF5 file to write
    nii : space -> test-r map to write (NIfTI through ``dataset.mask``, or the ``hemi-L`` file of a
        GIfTI pair for surface data)
    """
    if nii and not geometry.has_maps(job["dataset"]):
        raise InputError(
            None,
            "--nii maps were asked for, but dataset.mask is not set (nor are the runs on a surface).",
            fix="set dataset.mask, or leave out --nii.",
        )
    outputs = {space: {"h5": out[space], "nii": (nii or {}).get(space)} for space in job["spaces"]}
    dcfg, ecfg, subject = job["dataset"], job["encoding"], job["subject"]
    subj = Subject(dcfg, subject)
    subj.check_design(ecfg["delays"])
    Y_train, lengths = subj.train(release=True)
    Y_test = subj.test(release=True)
    cv = encoding.story_folds(lengths, ecfg["cv_chunk"], ecfg["cv_folds"])
    log.info(
        "%s: %d training volumes in %d stories, %d test volumes x %d repeats, %d voxels",
        subject,
        len(Y_train),
        len(lengths),
        Y_test.shape[1],
        Y_test.shape[0],
        subj.n_voxels,
    )
    for k, space in enumerate(job["spaces"]):
        ff = FeatureFile(features[space], expect=provenance.expected_features(job, model_of(space)))
        if k == 0:
            check_story_words(ff, dcfg)
        X_train = design(ff, space, dcfg["train_stories"], subj.runs, ecfg["delays"], subject)
        X_test = design(ff, space, dcfg["test_stories"], subj.runs, ecfg["delays"], subject)
        res = encoding.fit_and_score(
            X_train,
            Y_train,
            X_test,
            Y_test,
            ecfg["alphas"],
            cv=cv,
            backend=ecfg["backend"],
            n_targets_batch=job["runtime"]["n_targets_batch"],
            solver=ecfg["solver"],
        )
        pvals, pvals_normal = encoding.block_permutation_test(
            res["prediction"],
            Y_test.mean(0, dtype=np.float64),
            ecfg["permutation_block"],
            ecfg["permutations"],
            _seed(job["seed"], subject, space),
        )
        if subj.dropped.any():  # the dropped voxels: no score, no test
            kept = ~subj.dropped
            for key in ("scores", "r2", "alphas", "cv_scores", "repeat_scores"):
                res[key] = subj.blank(np.asarray(res[key], dtype=np.float64))
            pvals, pvals_normal = subj.blank(pvals), subj.blank(pvals_normal)
            significant = np.zeros(subj.n_voxels, dtype=bool)
            significant[kept] = encoding.fdr_bh(pvals[kept], ecfg["fdr_q"])
        else:
            significant = encoding.fdr_bh(pvals, ecfg["fdr_q"])
        log.info(
            "%s %s (%s, %d features): mean r %.3f, max %.3f, %d significant voxels (FDR %.2g)",
            subject,
            space,
            res["solver"],
            X_train.shape[1],
            np.nanmean(res["scores"]),
            np.nanmax(res["scores"]),
            int(significant.sum()),
            ecfg["fdr_q"],
        )
        out = outputs[space]
        with io.h5_atomic(out["h5"]) as f:
            io.h5_set_json(f, "provenance", io.provenance(job, space=space, features=ff.provenance["config_hash"]))
            for key in ("scores", "r2", "alphas", "cv_scores", "repeat_scores"):
                f[key] = np.asarray(res[key], dtype=np.float32)
            f["pvalues"] = pvals.astype(np.float32)
            f["pvalues_normal"] = pvals_normal  # float64: its tail goes far below float32's range
            f["significant"] = significant
            f.attrs.update(
                {
                    "solver": res["solver"],
                    "backend": res["backend"],
                    "edge_fraction": res["edge_fraction"],
                    "space": space,
                    "subject": subject,
                    "n_train": len(Y_train),
                    "n_test": Y_test.shape[1],
                    "n_features": X_train.shape[1],
                    "dropped_voxels": int(subj.dropped.sum()),
                }
            )
        if out.get("nii"):
            subj.geometry.save(out["nii"], res["scores"], f"lre test r {space}")


#: the ``status`` attribute of a noise-ceiling file
CEILING_OK, SINGLE_REPEAT = "ok", "single repeat"
#: what the tables say where a subject has no noise ceiling
NO_CEILING = "none (1 repeat)"


def run_noise_ceiling(job: dict, out, nii=None, png=None) -> None:
    """The noise ceiling of the test story from its repeats, per voxel, written to ``out``
    (HDF5: ``ceiling``, attributes ``status`` = "ok" and ``repeats``), and with
    ``dataset.mask`` as a NIfTI map ``nii`` with its figure ``png``.

    With a single repeat there is no ceiling: ``out`` holds no ``ceiling`` dataset, its
    attributes say ``status`` = "single repeat", ``repeats`` = 1 and why (``note``); the map
    is NaN everywhere (described as no ceiling) and the figure says so in words. One warning
    names the subject, the story and the fix."""
    out_h5, out_nii, out_png = out, nii, png
    dcfg, subject = job["dataset"], job["subject"]
    subj = Subject(dcfg, subject, dcfg["test_stories"])
    Y_test = subj.test()
    R = Y_test.shape[0]
    if R >= 2:
        ceiling, status, note = encoding.noise_ceiling(Y_test), CEILING_OK, f"from {R} repeats of the test story"
        ceiling = subj.blank(ceiling)
    else:
        single = [s for s in dcfg["test_stories"] if subj.runs[s].n_repeats == 1]
        sources = ", ".join(subj.runs[s].source for s in single)
        fix = loader(dcfg["format"]).SINGLE_REPEAT_FIX
        ceiling, status = None, SINGLE_REPEAT
        note = (
            f"no noise ceiling: the test story {', '.join(map(repr, single))} has a single repeat ({sources}), "
            "and a ceiling is measured from how much repeats agree."
        )
        log.warning(
            "%s: NO NOISE CEILING. The test story %s has a single repeat (%s), and a ceiling needs the repeats "
            "themselves, so none is written: %s says status 'single repeat', the encoding summaries leave its cells "
            "empty (ceiling: %s)%s. Fix: %s",
            subject,
            ", ".join(map(repr, single)),
            sources,
            out_h5,
            NO_CEILING,
            " and its map and figure say so" if out_nii else "",
            fix,
        )
    with io.h5_atomic(out_h5) as f:
        io.h5_set_json(f, "provenance", io.provenance(job))
        if ceiling is not None:
            f["ceiling"] = ceiling.astype(np.float32)
        f.attrs.update({"status": status, "repeats": R, "note": note, "dropped_voxels": int(subj.dropped.sum())})
    if out_nii:
        values = ceiling if ceiling is not None else np.full(subj.n_voxels, np.nan)
        description = "lre noise ceiling" if ceiling is not None else "lre: NO noise ceiling (test story: 1 repeat)"
        subj.geometry.save(out_nii, values, description)
        if out_png and ceiling is not None:
            fig = plots.map_figure(
                subj.geometry,
                values,
                f"{subject}: noise ceiling of the test story ({R} repeats), {subj.n_voxels} {subj.unit}",
                symmetric=False,
                cmap="viridis",
            )
            plots.save(fig, out_png)
        elif out_png:
            fig = plots.message(f"{subject}: no noise ceiling", note[0].upper() + note[1:] + " Fix: " + fix)
            plots.save(fig, out_png)
    if ceiling is not None:
        log.info("%s: noise ceiling from %d repeats, median %.3f", subject, R, float(np.nanmedian(ceiling)))


def read_ceiling(path, job: dict | None = None) -> dict:
    """A subject's noise ceiling: ``ceiling`` (array of shape (n_voxels,), or None when the
    test story had a single repeat), ``repeats``, ``status`` ("ok" or "single repeat"),
    ``label`` (what the tables say: "from 5 repeats" or :data:`NO_CEILING`) and ``note``;
    with ``job``, it must be the ceiling the job expects (``expects.ceiling``)."""
    with io.h5_open(path) as f:
        provenance.expect_kind(path, provenance.h5_provenance(f), "noise-ceiling", "noise ceiling")
        if job is not None:
            provenance.check_h5(path, f, job.get("expects", {}).get("ceiling"), job, "noise ceiling")
        repeats = int(f.attrs.get("repeats", 0))
        # a file of an older lre held zeros for a single repeat: that is no ceiling either
        ceiling = f["ceiling"][()] if "ceiling" in f and repeats != 1 else None
        note = str(f.attrs.get("note", ""))
    if ceiling is None:
        return {"ceiling": None, "repeats": repeats, "status": SINGLE_REPEAT, "label": NO_CEILING, "note": note}
    return {
        "ceiling": ceiling,
        "repeats": repeats,
        "status": CEILING_OK,
        "label": f"from {repeats} repeats",
        "note": note,
    }


def read_scores(path, job: dict | None = None, space: str | None = None) -> dict:
    """A space's encoding results, per voxel (arrays of shape (n_voxels,)): ``scores`` (test
    r), ``r2``, ``alphas``, ``cv_scores``, ``repeat_scores``, ``pvalues`` (empirical block
    permutations), ``pvalues_normal`` (their exact normal approximation), ``significant``,
    and ``attrs``; with ``job``, they must be the ones it expects."""
    with io.h5_open(path) as f:
        provenance.expect_kind(path, provenance.h5_provenance(f), "encode", "encoding result")
        if job is not None:
            expected = job.get("expects", {}).get("scores", {}).get(space)
            provenance.check_h5(path, f, expected, job, "encoding result")
        out = {k: f[k][()] for k in f}
        out["attrs"] = dict(f.attrs)
    return out


def subject_selection(job: dict, ceil: dict) -> str:
    """The basis of a subject's top voxels (``encoding.top_voxels_by`` of the job, resolved
    against the subject's noise ceiling ``ceil``, see :func:`read_ceiling`)."""
    try:
        return selection.choose_basis(job["top_voxels_by"], ceil["ceiling"] is not None)
    except ValueError:
        raise ConfigError(
            "encoding.top_voxels_by",
            f"is 'ceiling', but {job['subject']} has no noise ceiling ({ceil['note']}).",
            fix="use auto (the noise ceiling where there is one, else the cross-validated score) or cv.",
        ) from None


def top_count(job: dict, n_voxels: int) -> int:
    """How many voxels the headline averages: ``encoding.top_voxels``, or all the subject's
    voxels when it has fewer (said in the log, and the column names the number used)."""
    n_top = job["top_voxels"]
    if n_voxels < n_top:
        log.warning(
            "%s: encoding.top_voxels is %d but the subject has %d voxels: the summaries average all %d (their "
            "columns say top%d).",
            job["subject"],
            n_top,
            n_voxels,
            n_voxels,
            n_voxels,
        )
    return min(n_top, n_voxels)


def run_summary(job: dict, inputs: dict, ceiling, out) -> None:
    """One row per space (``inputs``: space -> result file): mean r over all voxels; mean r
    over ``top_voxels`` voxels chosen from data the test r does not use (the noise ceiling,
    the same voxels for every space, or each space's cross-validated score: see
    :mod:`.selection`), named in the column (``mean_r_top200_by_ceiling``); the mean noise
    ceiling of those voxels (``ceiling``: the subject's noise-ceiling file; empty, and the
    ``ceiling`` column says so, without one); significant voxels; penalties. Written to the
    CSV ``out``."""
    scores, out_csv = inputs, out
    ceil = read_ceiling(ceiling, job)
    if ceil["ceiling"] is None:
        log.info("%s: %s The ceiling columns of %s stay empty.", job["subject"], ceil["note"], out)
    basis = subject_selection(job, ceil)
    rows, n_top = [], None
    for sp in job["spaces"]:
        s = read_scores(scores[sp["name"]], job, sp["name"])
        r = s["scores"]
        kept = np.isfinite(r)  # all but the voxels dataset.nonfinite: drop left out
        dropped = int(s["attrs"].get("dropped_voxels", 0))
        if n_top is None:
            n_top = top_count(job, int(kept.sum()))
            log.info("%s: headline over the %s.", job["subject"], selection.describe(n_top, basis))
        made = json.loads(s["attrs"]["provenance"])["config_hash"] if "provenance" in s["attrs"] else ""
        if ceil["ceiling"] is not None and len(ceil["ceiling"]) != len(r):
            raise InputError(
                ceiling,
                f"has {len(ceil['ceiling'])} voxels but {scores[sp['name']]} has {len(r)}.",
                fix="rerun the noise_ceiling rule for this subject.",
            )
        top_idx = selection.top_voxels(n_top, basis, ceiling=ceil["ceiling"], cv_scores=s["cv_scores"])
        top_ceiling = "" if ceil["ceiling"] is None else f"{ceil['ceiling'][top_idx].mean():.5f}"
        rows.append(
            [
                sp["name"],
                sp["model"],
                sp["family"],
                sp["group"],
                f"{r[kept].mean():.5f}",
                f"{r[top_idx].mean():.5f}",
                top_ceiling,
                ceil["label"],
                int(s["significant"].sum()),
                f"{s['significant'][kept].mean():.4f}",
                f"{np.median(s['alphas'][kept]):.6g}",
                f"{s['attrs']['edge_fraction']:.3f}",
                s["attrs"]["solver"],
                dropped,
                made,
            ]
        )
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(
        [
            "space",
            "model",
            "family",
            "group",
            "mean_r",
            f"mean_r_top{n_top}_by_{basis}",
            f"ceiling_top{n_top}",
            "ceiling",
            "n_significant",
            "share_significant",
            "median_alpha",
            "alpha_edge_share",
            "solver",
            "dropped_voxels",
            "config_hash",
        ]
    )
    w.writerows(rows)
    io.write_text(out_csv, buf.getvalue())


#: the pattern of an encoding summary's headline column: mean_r_top<N>_by_<basis>
TOP_COLUMN = re.compile(r"mean_r_top(\d+)_by_(\w+)")


@dataclasses.dataclass(frozen=True)
class Summary:
    """An encoding summary as read back: its ``rows`` (dicts of strings, one per space), its
    headline column ``top`` (``mean_r_top200_by_ceiling``), how many voxels it averages
    (``n_top``) and how they were chosen (``basis``: ``ceiling`` or ``cv``)."""

    rows: list
    top: str
    n_top: int
    basis: str

    @property
    def selection(self) -> str:
        """The selection in words: "200 voxels by noise ceiling"."""
        return selection.describe(self.n_top, self.basis)

    def headline(self) -> dict[str, float]:
        """space -> the mean test r of its top voxels."""
        return {r["space"]: float(r[self.top]) for r in self.rows}

    def mean_r(self) -> dict[str, float]:
        """space -> the mean test r over all voxels."""
        return {r["space"]: float(r["mean_r"]) for r in self.rows}

    def ceilings(self) -> tuple[dict[str, float], str]:
        """space -> the mean noise ceiling of its top voxels (spaces without one left out), and
        the summary's ceiling status ("from 5 repeats" or :data:`NO_CEILING`)."""
        key = f"ceiling_top{self.n_top}"
        values = {r["space"]: float(r[key]) for r in self.rows if r.get(key)}
        return values, (self.rows[0].get("ceiling") or "") if self.rows else ""


def read_summary(path, job: dict | None = None, subject: str | None = None) -> Summary:
    """An encoding summary (:class:`Summary`). With ``job``, every row must come from the
    encoding result the job expects (column ``config_hash``)."""
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    tops = [m for m in (TOP_COLUMN.fullmatch(k) for k in (rows[0] if rows else {})) if m]
    if not rows or not tops or tops[0].group(2) not in selection.BASES:
        raise InputError(
            path,
            "is not an encoding summary of this lre (no rows, or no mean_r_top<N>_by_<ceiling|cv> column: a "
            "summary written before lre chose its top voxels apart from the test data).",
            fix="rerun the encoding_summary rule (snakemake --forcerun encoding_summary).",
        )
    expected = (job or {}).get("expects", {}).get("rows", {}).get(subject, {})
    for line, row in enumerate(rows, start=2):
        want = expected.get(row["space"])
        if want and row.get("config_hash") != want:
            provenance.refuse(
                path,
                f"line {line} summarises {row['space']}'s encoding result of "
                f"{row.get('config_hash') or 'unknown provenance'}, but this config's is {want}.",
            )
    return Summary(rows, tops[0].group(0), int(tops[0].group(1)), tops[0].group(2))


def run_performance_figure(job: dict, summaries: dict, out) -> None:
    """Bar chart of every space's encoding performance (``summaries``: subject -> summary
    CSV): the mean test r of its top voxels (chosen apart from the test data), the mean over
    all voxels, and the noise ceiling of the top voxels where the subjects have one."""
    table, means, ceilings, missing, chosen = {}, {}, {}, [], {}
    for subject, path in summaries.items():
        summary = read_summary(path, job, subject)
        table[subject], means[subject] = summary.headline(), summary.mean_r()
        chosen.setdefault(summary.selection, []).append(subject)
        ceilings[subject], status = summary.ceilings()
        if not ceilings[subject]:
            why = "test story: 1 repeat" if status == NO_CEILING else status or "not in its summary"
            missing.append(f"{subject} ({why})")
    note = f"no noise ceiling for {', '.join(missing)}" if missing else ""
    if missing:
        log.info("the performance figure draws no noise ceiling for %s.", ", ".join(missing))
    how = "; ".join(f"{sel} ({', '.join(subs)})" if len(chosen) > 1 else sel for sel, subs in chosen.items())
    fig = plots.performance_bars(
        table,
        job["spaces"],
        f"encoding performance of every space: mean test r of {how}\n"
        "(bars: mean over subjects; dots: subjects; open circles: mean over all voxels)",
        ceilings=ceilings,
        means=means,
        note=note,
        ylabel=f"mean test r of {how}" if len(chosen) == 1 else "mean test r of the chosen voxels",
    )
    plots.save(fig, out)


def _planted_groups(truth: dict, baseline: list[str], space: str, share: float = 0.9) -> dict[str, np.ndarray]:
    """(Demo) signal voxels whose planted drive is at least ``share`` low-level (baseline)
    spaces, and those at least ``share`` the tested ``space`` (when it was planted)."""
    planted, mix = list(truth["planted"]), np.asarray(truth["mix"], dtype=np.float64)
    total = np.where(mix.sum(0) > 0, mix.sum(0), 1.0)
    sig = truth["is_signal"].astype(bool)
    base = mix[[k for k, n in enumerate(planted) if n in baseline]].sum(0)
    groups = {"planted low-level only": sig & (base >= share * total)}
    if space in planted:
        groups[f"planted {space} only"] = sig & (mix[planted.index(space)] >= share * total)
    return groups


PARTITION_PARTS = ("joint_r2", "baseline_r2", "space_r2", "unique", "shared")


def run_partition(
    job: dict, features: dict, scores: dict, ceiling, out: dict, table, png, nii: dict | None = None, truth=None
) -> None:
    """Variance partitioning for one subject: the baseline alone once, then per tested space
    the joint banded model (one penalty per band per voxel, :mod:`.partition`); per voxel the
    joint, baseline and space-alone R^2 (the last from the space's encoding result,
    ``scores``), the unique and the shared variance.

    Parameters
    ----------
    features : design space (the baseline's and the tested ones) -> feature file
    scores : tested space -> its encoding result file
    ceiling : the subject's noise-ceiling file (which voxels the table's means cover:
        ``encoding.top_voxels_by``, chosen apart from the test data, :mod:`.selection`)
    out : tested space -> HDF5 file to write (the parts, the band penalties, the joint r)
    table : CSV to write, one row per tested space (means over the top voxels, named in its
        ``top_voxels`` column; with ``truth``, over the planted low-level and planted-space
        voxels)
    png : the figure to write (baseline R^2 against unique variance, a panel per space)
    nii : tested space -> NIfTI map of its unique variance (needs ``dataset.mask``)
    truth : (demo) the subject's planted truth
    """
    from tqdm import tqdm

    from .partition import band_gammas, fit_partition

    dcfg, ecfg, pcfg, subject = job["dataset"], job["encoding"], job["partition"], job["subject"]
    if nii and not geometry.has_maps(dcfg):
        raise InputError(None, "--nii maps were asked for, but dataset.mask is not set.", fix="leave out --nii.")
    band_gammas(pcfg["band_weights"])  # refuse a bad grid before loading anything
    ceil = read_ceiling(ceiling, job)
    basis = subject_selection(job, ceil)
    subj = Subject(dcfg, subject)
    subj.check_design(ecfg["delays"])
    Y_train, lengths = subj.train(release=True)
    Y_test = subj.test(release=True)
    cv = encoding.story_folds(lengths, ecfg["cv_chunk"], ecfg["cv_folds"])
    files = {}

    def designs(space):
        if space not in files:
            files[space] = FeatureFile(features[space], expect=provenance.expected_features(job, model_of(space)))
        ff = files[space]
        return (
            design(ff, space, dcfg["train_stories"], subj.runs, ecfg["delays"], job["subject"]),
            design(ff, space, dcfg["test_stories"], subj.runs, ecfg["delays"], job["subject"]),
        )

    base = [designs(s) for s in pcfg["baseline"]]
    B_train, B_test = np.hstack([b[0] for b in base]), np.hstack([b[1] for b in base])
    fit = dict(cv=cv, backend=ecfg["backend"], n_targets_batch=job["runtime"]["n_targets_batch"])
    alone = encoding.fit_and_score(B_train, Y_train, B_test, Y_test, ecfg["alphas"], solver="lean", **fit)
    log.info(
        "%s: baseline %s (%d features): mean R^2 %.4f",
        subject,
        " + ".join(pcfg["baseline"]),
        B_train.shape[1],
        alone["r2"].mean(),
    )
    planted = synthetic.read_truth(truth, job) if truth else None
    parts, groups, rows = {}, {}, []
    bar = tqdm(total=len(job["spaces"]) * len(pcfg["band_weights"]), desc=f"{subject} banded fits", mininterval=5)
    for space in job["spaces"]:
        S_train, S_test = designs(space)
        joint = fit_partition(
            B_train,
            S_train,
            Y_train,
            B_test,
            S_test,
            Y_test,
            ecfg["alphas"],
            pcfg["band_weights"],
            **fit,
            progress=lambda i, n: bar.update(1),
        )
        result = read_scores(scores[space], job, space)
        r2_space = result["r2"].astype(np.float64)
        if len(r2_space) != subj.n_voxels:
            raise InputError(
                scores[space],
                f"has {len(r2_space)} voxels but {subject}'s responses have {subj.n_voxels}.",
                fix=f"rerun the encoding of {space} for {subject}.",
            )
        split = partition_parts(joint["r2"], alone["r2"], r2_space)
        parts[space] = {"joint_r2": joint["r2"], "baseline_r2": alone["r2"], "space_r2": r2_space, **split}
        parts[space] = {k: subj.blank(v) for k, v in parts[space].items()}  # dataset.nonfinite: drop
        kept = ~subj.dropped
        n_top = top_count(job, int(kept.sum()))
        top = selection.top_voxels(n_top, basis, ceiling=ceil["ceiling"], cv_scores=result["cv_scores"])
        row = {
            "space": space,
            "voxels": int(kept.sum()),
            "top_voxels": selection.describe(len(top), basis),
            **{f"{k}_top": float(parts[space][k][top].mean()) for k in PARTITION_PARTS},
            "unique_positive_share": float(np.mean(parts[space]["unique"][kept] > 0)),
            "median_penalty_baseline": float(np.median(joint["penalties"][:, 0])),
            "median_penalty_space": float(np.median(joint["penalties"][:, 1])),
            "config_hash": io.config_hash(job),
        }
        if planted is not None:
            groups[space] = _planted_groups(planted, pcfg["baseline"], space)
            low, own = groups[space]["planted low-level only"], groups[space].get(f"planted {space} only")
            row.update(
                {
                    "lowlevel_voxels": int(low.sum()),
                    "unique_lowlevel_mean": float(split["unique"][low].mean()) if low.any() else float("nan"),
                    "planted_voxels": int(own.sum()) if own is not None else 0,
                    "unique_planted_mean": (
                        float(split["unique"][own].mean()) if own is not None and own.any() else float("nan")
                    ),
                }
            )
        rows.append(row)
        log.info(
            "%s %s: joint R^2 %.4f, unique %.4f, shared %.4f (means over the %s)%s",
            subject,
            space,
            row["joint_r2_top"],
            row["unique_top"],
            row["shared_top"],
            row["top_voxels"],
            ""
            if planted is None
            else f"; unique on planted low-level voxels {row['unique_lowlevel_mean']:+.4f} "
            f"({row['lowlevel_voxels']}), on voxels planted with it {row['unique_planted_mean']:+.4f} "
            f"({row['planted_voxels']})",
        )
        with io.h5_atomic(out[space]) as f:
            io.h5_set_json(f, "provenance", io.provenance(job, space=space))
            for key in PARTITION_PARTS:
                f[key] = parts[space][key].astype(np.float32)
            f["joint_scores"] = subj.blank(joint["scores"]).astype(np.float32)
            f["penalties"] = subj.blank(joint["penalties"].T).T.astype(np.float32)  # (voxels, 2): baseline, space
            f["band_weights"] = joint["gammas"][:, 1]  # float64: the config's weights exactly
            f.attrs.update({"space": space, "subject": subject, "baseline": json.dumps(pcfg["baseline"])})
        if nii and nii.get(space):
            subj.geometry.save(nii[space], parts[space]["unique"], f"lre unique R2 {space}")
    bar.close()
    buf = _io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(rows[0]), lineterminator="\n")
    w.writeheader()
    w.writerows({k: f"{v:.5f}" if isinstance(v, float) else v for k, v in r.items()} for r in rows)
    io.write_text(table, buf.getvalue())
    fig = plots.partition_scatter(
        {s: {"baseline_r2": p["baseline_r2"], "unique": p["unique"]} for s, p in parts.items()},
        f"{subject}: unique variance of each space beyond {' + '.join(pcfg['baseline'])}",
        groups=groups or None,
    )
    plots.save(fig, png)


COMMANDS = (
    Command(
        "encode",
        "fit and score voxelwise encoding models of several spaces for one subject",
        run_encode,
        (
            Arg("--features", "feature files, one per space of the job", many=True, per="spaces"),
            Arg("--out", "result files to write, one per space of the job", many=True, per="spaces"),
            Arg(
                "--nii",
                "test-r maps to write, one per space of the job (with dataset.mask)",
                many=True,
                per="spaces",
                required=False,
            ),
        ),
    ),
    Command(
        "partition",
        "variance partitioning of tested spaces against a low-level baseline for one subject (banded ridge)",
        run_partition,
        (
            Arg("--features", "feature files, one per design space of the job", many=True, per="designs"),
            Arg("--scores", "encoding results, one per tested space of the job", many=True, per="spaces"),
            Arg("--ceiling", "the subject's noise-ceiling file"),
            Arg("--out", "HDF5 files to write, one per tested space of the job", many=True, per="spaces"),
            Arg("--table", "CSV file to write"),
            Arg("--png", "figure to write"),
            Arg(
                "--nii",
                "unique-variance maps, one per tested space (with dataset.mask)",
                many=True,
                per="spaces",
                required=False,
            ),
            Arg("--truth", "(demo) the subject's planted truth", required=False),
        ),
    ),
    Command(
        "noise-ceiling",
        "noise ceiling of one subject from the test story's repeats",
        run_noise_ceiling,
        (
            Arg("--out", "HDF5 file to write"),
            Arg("--nii", "NIfTI map to write (needs dataset.mask)", required=False),
            Arg("--png", "figure of the map to write (with --nii)", required=False),
        ),
    ),
    Command(
        "encoding-summary",
        "per-subject table of every space's scores",
        run_summary,
        (
            Arg("--inputs", "result files, one per space of the job", many=True, per="spaces"),
            Arg("--ceiling", "the subject's noise-ceiling file"),
            Arg("--out", "CSV file to write"),
        ),
    ),
    Command(
        "performance-figure",
        "bar chart of every space's encoding performance",
        run_performance_figure,
        (
            Arg("--summaries", "summary CSVs, one per subject of the job", many=True, per="subjects"),
            Arg("--out", "figure to write"),
        ),
    ),
)
