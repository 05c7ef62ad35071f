"""A catalogue of bad inputs, each refused with a message that names the file (or config
field), the place, what is wrong and how to fix it; a stage that refuses writes nothing.

docs/bad_inputs.md is this catalogue (case -> message); the last test checks that every case
is there with the message the code gives. Regenerate the table with
`python tests/test_bad_inputs.py > docs/bad_inputs.md`.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from conftest import ROOT  # noqa: E402

from lre import cli, config, encoding, jobs, stimuli, transfer  # noqa: E402
from lre.datasets import bids, lebel2023, volume  # noqa: E402
from lre.errors import LreError  # noqa: E402
from lre.features import check_models  # noqa: E402
from lre.features.static import StaticTable  # noqa: E402

WORDS = "the fire crews worked through the night to hold the line near the town".split()


# --------------------------------------------------------------------------- fixtures


def base_config(tmp: Path) -> dict:
    """A valid config whose two stories and corpus live in ``tmp``."""
    raw = yaml.safe_load((ROOT / "config.yaml").read_text())
    raw["demo"] = {"enabled": False}
    raw["results"] = str(tmp / "results")
    raw["stimuli"] = {
        "stories": ["s1", "s2"],
        "format": "textgrid",
        "path": str(tmp / "{story}.TextGrid"),
        "tr_times": {"source": "file", "path": str(tmp / "{story}.tr")},
    }
    raw["corpus"] = {"path": str(tmp / "corpus.txt")}
    raw["dataset"] = {
        "format": "lebel2023",
        "root": str(tmp / "ds"),
        "subjects": ["UTS01"],
        "train_stories": ["s1"],
        "test_stories": ["s2"],
    }
    for s in ("s1", "s2"):
        write_textgrid(tmp / f"{s}.TextGrid", WORDS)
        (tmp / f"{s}.tr").write_text(stimuli.format_trfile(np.arange(6) * 2.0 - 2.0, sound_start=0.0))
    (tmp / "corpus.txt").write_text("a first document of the corpus\na second document\n")
    return raw


def write_textgrid(path: Path, words, starts=None, tier="word"):
    starts = np.arange(len(words)) * 0.5 + 1.0 if starts is None else np.asarray(starts, float)
    ivs = [stimuli.Interval(float(a), float(a) + 0.4, w) for a, w in zip(starts, words)]
    stimuli.write_textgrid(path, [stimuli.Tier(tier, ivs)], 0.0, float(starts.max()) + 2.0)


def run_stimuli(tmp: Path, raw: dict, capsys) -> str:
    """Run the stimuli stage; it must refuse and write nothing. Returns its message."""
    job = jobs.stimuli_job(config.validate(raw))
    out = tmp / "documents.h5"
    rc = cli.main(["stimuli", "--job", json.dumps(job), "--out", str(out)])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert not out.exists() and not list(tmp.glob("documents.h5*")), "a partial output was left"
    return err.strip().splitlines()[-1].split(": error: ", 1)[1]


def refused(fn) -> str:
    with pytest.raises(LreError) as info:
        fn()
    return str(info.value)


# --------------------------------------------------------------------------- the cases
# each: (what is wrong, function(tmp, capsys) -> message, fragments the message must hold)


def with_file(name: str, text: str):
    """A case: the valid setup with one file replaced by ``text``, through the stimuli stage."""

    def case(tmp, capsys):
        raw = base_config(tmp)
        (tmp / name).write_text(text)
        return run_stimuli(tmp, raw, capsys)

    return case


tg_not_textgrid = with_file("s1.TextGrid", 'File type = "ooTextFile"\nObject class = "Sound 2"\n\n0\n1\n')
tr_no_triggers = with_file("s1.tr", "0.0000 sound-start\n30.0000 sound-stop\n")
tr_not_increasing = with_file("s1.tr", "0.0 trigger\n2.0 trigger\n1.5 trigger\n4.0 trigger\n")
story_past_the_scan = with_file("s1.tr", stimuli.format_trfile(np.arange(3) * 2.0, sound_start=0.0))


def tg_overlap(tmp, capsys):
    raw = base_config(tmp)
    write_textgrid(tmp / "s1.TextGrid", WORDS, starts=[1.0, 1.2] + [2.0 + 0.5 * i for i in range(len(WORDS) - 2)])
    return run_stimuli(tmp, raw, capsys)


def tg_reversed(tmp, capsys):
    raw = base_config(tmp)
    text = (tmp / "s1.TextGrid").read_text().replace("xmax = 1.4", "xmax = 0.9", 1)
    (tmp / "s1.TextGrid").write_text(text)
    return run_stimuli(tmp, raw, capsys)


def tg_no_tier(tmp, capsys):
    raw = base_config(tmp)
    write_textgrid(tmp / "s1.TextGrid", WORDS, tier="phones")
    return run_stimuli(tmp, raw, capsys)


def tg_empty_story(tmp, capsys):
    raw = base_config(tmp)
    write_textgrid(tmp / "s1.TextGrid", ["sp", "{ns}", "", "sp"])
    return run_stimuli(tmp, raw, capsys)


def tg_truncated(tmp, capsys):
    raw = base_config(tmp)
    text = (tmp / "s1.TextGrid").read_text()
    (tmp / "s1.TextGrid").write_text(text[: len(text) // 2])
    return run_stimuli(tmp, raw, capsys)


def story_missing(tmp, capsys):
    raw = base_config(tmp)
    (tmp / "s2.TextGrid").unlink()
    return run_stimuli(tmp, raw, capsys)


def gentle_unaligned(tmp, capsys):
    raw = base_config(tmp)
    raw["stimuli"].update(format="gentle", path=str(tmp / "{story}.json"))
    for s in ("s1", "s2"):
        (tmp / f"{s}.json").write_text(
            json.dumps({"words": [{"word": w, "case": "not-found-in-audio"} for w in WORDS]})
        )
    return run_stimuli(tmp, raw, capsys)


def gentle_out_of_order(tmp, capsys):
    raw = base_config(tmp)
    raw["stimuli"].update(format="gentle", path=str(tmp / "{story}.json"))
    transcript = "the fire crews worked"
    words, offset = [], 0
    for k, w in enumerate(transcript.split()):
        words.append(
            {
                "word": w,
                "case": "success",
                "start": 1.0 + k,
                "end": 1.5 + k,
                "startOffset": offset,
                "endOffset": offset + len(w),
            }
        )
        offset += len(w) + 1
    words[1], words[2] = words[2], words[1]  # two words swapped, their times kept in order
    words[1]["start"], words[2]["start"] = words[2]["start"], words[1]["start"]
    words[1]["end"], words[2]["end"] = words[2]["end"], words[1]["end"]
    for s in ("s1", "s2"):
        (tmp / f"{s}.json").write_text(json.dumps({"transcript": transcript, "words": words}))
    return run_stimuli(tmp, raw, capsys)


def gentle_not_json(tmp, capsys):
    raw = base_config(tmp)
    raw["stimuli"].update(format="gentle", path=str(tmp / "{story}.json"))
    for s in ("s1", "s2"):
        (tmp / f"{s}.json").write_text('{"words": [{"word": "the", "case": "success", "start": 1.0,}')
    return run_stimuli(tmp, raw, capsys)


def tsv_missing_column(tmp, capsys):
    raw = base_config(tmp)
    raw["stimuli"].update(format="tsv", path=str(tmp / "{story}.tsv"))
    for s in ("s1", "s2"):
        (tmp / f"{s}.tsv").write_text("word\tonset\n" + "".join(f"{w}\t{1 + i * 0.5}\n" for i, w in enumerate(WORDS)))
    return run_stimuli(tmp, raw, capsys)


def tsv_offset_before_onset(tmp, capsys):
    raw = base_config(tmp)
    raw["stimuli"].update(format="tsv", path=str(tmp / "{story}.tsv"))
    for s in ("s1", "s2"):
        rows = [f"{w}\t{1 + i * 0.5}\t{1 + i * 0.5 + 0.4}" for i, w in enumerate(WORDS)]
        rows[3] = f"{WORDS[3]}\t3.0\t2.5"
        (tmp / f"{s}.tsv").write_text("word\tonset\toffset\n" + "\n".join(rows) + "\n")
    return run_stimuli(tmp, raw, capsys)


def with_config(mutate):
    def case(tmp, capsys):
        raw = base_config(tmp)
        mutate(raw)
        (tmp / "c.yaml").write_text(yaml.safe_dump(raw))
        return refused(lambda: config.load(tmp / "c.yaml", check_models=False))

    return case


def key_typo(raw):
    raw["encoding"]["delay"] = [1, 2]


def duplicate_story(raw):
    raw["stimuli"]["stories"] = ["s1", "s2", "s1"]


def train_and_test(raw):
    raw["dataset"]["test_stories"] = ["s1"]


def empty_family(raw):
    raw["features"]["models"]["lexical"]["outputs"] = []


def alphas_not_positive(raw):
    raw["encoding"]["alphas"] = [0, 1, 10]


def layer_out_of_range(tmp, capsys):
    raw = base_config(tmp)
    raw["features"]["models"]["minilm"]["layers"] = [0, 9]
    (tmp / "c.yaml").write_text(yaml.safe_dump(raw))
    return refused(lambda: config.load(tmp / "c.yaml", check_models=False))


def model_not_offline(tmp, capsys):
    models = {
        "gpt2": {
            "family": "hf",
            "source": "openai-community/gpt2",
            "layers": [1],
            "context_tokens": 64,
            "word_vector": "last",
            "attention": "auto",
        }
    }
    return refused(lambda: check_models(models))


def static_inconsistent_dims(tmp, capsys):
    (tmp / "vectors.txt").write_text("the 0.1 0.2 0.3\nfire 0.4 0.5\ncrews 0.6 0.7 0.8\n")
    return refused(lambda: StaticTable(str(tmp / "vectors.txt")).lookup(["the", "crews"]))


def lebel_tree(tmp, rows, values=None):
    root = tmp / "ds"
    (root / "derivative" / "preprocessed_data" / "UTS01").mkdir(parents=True)
    (root / "derivative" / "respdict.json").write_text(json.dumps({"s1": 40}))
    data = np.random.default_rng(0).standard_normal((rows, 5)).astype(np.float32) if values is None else values
    with h5py.File(root / "derivative" / "preprocessed_data" / "UTS01" / "s1.hf5", "w") as f:
        f["data"] = data
    return {"root": str(root), "lebel": {"key": "data", "tr": 2.0, "start_time": 10.0, "pad": 5, "trim": 5}}


def responses_wrong_length(tmp, capsys):
    dcfg = lebel_tree(tmp, rows=25)
    return refused(lambda: lebel2023.load_run(dcfg, "UTS01", "s1"))


def responses_nan_voxels(tmp, capsys):
    values = np.ones((20, 5), np.float32)
    values[3, 2] = np.nan
    dcfg = lebel_tree(tmp, rows=20, values=values)
    return refused(lambda: lebel2023.load_run(dcfg, "UTS01", "s1"))


def responses_beyond_float32(tmp, capsys):
    values = np.ones((20, 5), np.float64)
    values[7, 1] = 1e39  # finite here, infinite in float32, where lre computes
    dcfg = lebel_tree(tmp, rows=20, values=values)
    return refused(lambda: lebel2023.load_run(dcfg, "UTS01", "s1"))


def responses_behind_an_external_link(tmp, capsys):
    dcfg = lebel_tree(tmp, rows=20)
    path = tmp / "ds" / "derivative" / "preprocessed_data" / "UTS01" / "s1.hf5"
    with h5py.File(tmp / "elsewhere.hf5", "w") as f:
        f["data"] = np.ones((20, 5), np.float32)
    with h5py.File(path, "w") as f:
        f["data"] = h5py.ExternalLink(str(tmp / "elsewhere.hf5"), "data")
    return refused(lambda: lebel2023.load_run(dcfg, "UTS01", "s1"))


def repeats_tree(tmp, lengths):
    """A LeBel tree whose test story s1 has one file per repeat, of ``lengths`` volumes."""
    dcfg = lebel_tree(tmp, rows=20)
    rng = np.random.default_rng(0)
    template = "derivative/repeats/{subject}/{story}_run-{repeat}.hf5"
    for k, rows in enumerate(lengths, start=1):
        path = tmp / "ds" / template.format(subject="UTS01", story="s1", repeat=k)
        path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(path, "w") as f:
            f["data"] = rng.standard_normal((rows, 5)).astype(np.float32)
    spec = {"path": template, "repeats": 3}
    return dict(dcfg, test_stories=["s1"], lebel=dict(dcfg["lebel"], test_repeats=spec))


def repeat_file_missing(tmp, capsys):
    dcfg = repeats_tree(tmp, [20, 20])
    return refused(lambda: lebel2023.load_run(dcfg, "UTS01", "s1"))


def repeats_of_different_lengths(tmp, capsys):
    dcfg = repeats_tree(tmp, [20, 20, 18])
    return refused(lambda: lebel2023.load_run(dcfg, "UTS01", "s1"))


def mask_mismatch(tmp, capsys):
    dcfg = bids_dataset(tmp)
    _, affine = volume.load_mask(dcfg["mask"].format(subject="01"))
    return refused(lambda: bids.load_run(dcfg, "01", "alpha", np.ones((5, 4, 3), bool), affine))


def bids_dataset(tmp, spoil=None, surface=False, **overrides):
    """The tests' synthetic BIDS dataset (tests/bids_data.py; with ``surface``, its fsaverage5
    runs too) under ``tmp``, spoiled by ``spoil(root)``; its validated dataset section, with
    ``overrides`` in dataset.bids."""
    import bids_data

    bids._layout.cache_clear()
    root = tmp / "bids"
    bids_data.write(root, surface=surface)
    if spoil:
        spoil(root)
    raw = bids_data.config(root)
    raw["dataset"]["bids"].update(overrides)
    return config.validate(raw)["dataset"]


def load_bids(dcfg, story="alpha"):
    mask, affine = volume.load_mask(dcfg["mask"].format(subject="01"))
    return bids.load_run(dcfg, "01", story, mask, affine)


def bids_task_without_events(tmp, capsys):
    dcfg = bids_dataset(tmp, lambda root: (root / "sub-01/func/sub-01_task-alpha_events.tsv").unlink())
    return refused(lambda: load_bids(dcfg))


def bids_runs_of_different_lengths(tmp, capsys):
    import nibabel as nib

    def cut(root):
        func = root / "derivatives/fmriprep/sub-01/func"
        path = func / "sub-01_task-delta_run-2_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz"
        img = nib.load(str(path))
        nib.save(nib.Nifti1Image(np.asarray(img.dataobj)[..., :60], img.affine, img.header), str(path))

    dcfg = bids_dataset(tmp, cut)
    return refused(lambda: load_bids(dcfg, "delta"))


def bids_no_sidecar_tr(tmp, capsys):
    def drop_tr(root):
        (root / "task-alpha_bold.json").write_text('{"TaskName": "alpha"}')
        side = (
            root / "derivatives/fmriprep/sub-01/func/sub-01_task-alpha_space-MNI152NLin2009cAsym_desc-preproc_bold.json"
        )
        side.write_text('{"SkullStripped": false}')

    dcfg = bids_dataset(tmp, drop_tr)
    return refused(lambda: load_bids(dcfg))


def bids_space_without_files(tmp, capsys):
    dcfg = bids_dataset(tmp, space="MNI152NLin6Asym")
    return refused(lambda: bids.files(dcfg, "01", "alpha"))


def bids_surface_hemisphere_missing(tmp, capsys):
    def drop_right(root):
        (root / "derivatives/fmriprep/sub-01/func/sub-01_task-alpha_hemi-R_space-fsaverage5_bold.func.gii").unlink()

    dcfg = bids_dataset(tmp, drop_right, surface=True, space="fsaverage5")
    return refused(lambda: bids.load_run(dcfg, "01", "alpha"))


def bids_unknown_confound(tmp, capsys):
    dcfg = bids_dataset(tmp, confounds=["trans_x", "global_sgnal"])
    return refused(lambda: load_bids(dcfg))


def mask_not_3d(tmp, capsys):
    volume.save_nifti(tmp / "mask.nii.gz", np.ones((2, 2, 2, 2), np.float32), np.eye(4))
    return refused(lambda: volume.load_mask(tmp / "mask.nii.gz"))


def space_zero_variance(tmp, capsys):
    return refused(lambda: transfer.zscore(np.ones((50, 3)), np.ones((10, 3)), "lexical.word_rate"))


def feature_file_other_config(tmp, capsys):
    from lre.features import stage
    from lre.features.store import FeatureFile
    from lre.stimuli import documents

    wt = stimuli.WordTimes(WORDS[:4], [0.0, 0.4, 0.8, 1.2], [0.4, 0.8, 1.2, 1.5])
    docs = documents.Documents(corpus={"d0": WORDS}, stories={"s1": stimuli.Story("s1", wt, np.arange(5) * 2.0, 2.0)})
    documents.write(tmp / "documents.h5", docs, {})
    made = {
        "stage": "features",
        "model": "lexical",
        "entry": {"family": "lexical", "outputs": ["word_length"], "oov": "pieces"},
        "settings": {"compute_dtype": "float32", "batch_size": 8},
        "seed": 0,
        "stimuli": {},
    }
    stage.run(made, tmp / "documents.h5", tmp / "lexical.h5", {"device": "cpu", "threads": 1})
    expected = dict(made, entry=dict(made["entry"], oov="zero"))
    return refused(lambda: FeatureFile(tmp / "lexical.h5", expect=expected))


def split_other_config(tmp, capsys):
    from lre import io
    from lre.transfer import stage as transfer_stage

    made = {"stage": "transfer-prepare", "seed": 0, "transfer": {"test_fraction": 0.2, "cv_folds": 5}}
    io.write_json(tmp / "split.json", {"train": ["d0"], "test": ["d1"], "provenance": io.provenance(made)})
    expected = dict(made, transfer={"test_fraction": 0.25, "cv_folds": 5})
    reader = {
        "stage": "transfer-encode",
        "seed": 0,
        "transfer": {"test_fraction": 0.25, "cv_folds": 5, "method": "bottleneck"},
        "expects": {"split": io.config_hash(expected)},
    }
    return refused(lambda: transfer_stage.read_split(tmp / "split.json", reader))


def scores_other_config(tmp, capsys):
    from lre import io
    from lre.encoding.stage import read_scores

    made = {"stage": "encode", "seed": 0, "subject": "UTS01", "encoding": {"delays": [1, 2, 3, 4]}}
    with io.h5_atomic(tmp / "glove.vec.h5") as f:
        io.h5_set_json(f, "provenance", io.provenance(made))
        f["scores"] = np.zeros(3)
    expected = dict(made, encoding={"delays": [1, 2]})
    summary = {
        "stage": "encoding-summary",
        "subject": "UTS01",
        "encoding": {"delays": [1, 2]},
        "expects": {"scores": {"glove.vec": io.config_hash(expected)}},
    }
    return refused(lambda: read_scores(tmp / "glove.vec.h5", summary, "glove.vec"))


def file_from_a_changed_environment(tmp, capsys):
    """An encoding result written in this very environment, but with another numpy."""
    import sys

    from lre import io
    from lre.encoding.stage import read_scores

    made = {"stage": "encode", "seed": 0, "subject": "UTS01", "encoding": {"delays": [1, 2, 3, 4]}}
    record = io.provenance(made)
    assert record["environment"] == sys.prefix
    record["packages"]["numpy"] = "1.26.4"
    with io.h5_atomic(tmp / "glove.vec.h5") as f:
        io.h5_set_json(f, "provenance", record)
        f["scores"] = np.zeros(3)
    summary = {
        "stage": "encoding-summary",
        "subject": "UTS01",
        "expects": {"scores": {"glove.vec": io.config_hash(made)}},
    }
    return refused(lambda: read_scores(tmp / "glove.vec.h5", summary, "glove.vec"))


def summary_row_from_another_config(tmp, capsys):
    from lre.encoding.stage import read_summary

    (tmp / "summary.csv").write_text(
        "space,model,family,group,mean_r,mean_r_top100_by_ceiling,config_hash\n"
        "glove.vec,glove,static,glove,0.1,0.3,0123456789abcdef\n"
    )
    table = {"stage": "space-table", "expects": {"rows": {"UTS01": {"glove.vec": "fedcba9876543210"}}}}
    return refused(lambda: read_summary(tmp / "summary.csv", table, "UTS01"))


def fit_alphas_not_positive(tmp, capsys):
    X, Y = np.ones((20, 2)), np.ones((20, 1))
    return refused(lambda: encoding.fit_and_score(X, Y, X[:5], Y[:5], [-1.0, 1.0]))


# --------------------------------------------------------------------------- degenerate designs and tests


def encoding_permutations_floor(raw):
    raw["encoding"]["permutations"] = 10


def brainlink_permutations_floor(raw):
    raw.setdefault("brainlink", {})["permutations"] = 12


def delays_negative(raw):
    raw["encoding"]["delays"] = [-1, 0, 1, 2]


def partition_space_in_baseline(raw):
    raw["partition"] = {"spaces": ["smollm2.L30", "lexical.articulatory"]}


def partition_space_not_encoded(raw):
    raw["encoding"]["spaces"] = ["glove.vec", "minilm.L6", "gpt2_untrained.L2", "smollm2.L12", "spacy.hidden"]
    raw["partition"] = {"spaces": ["smollm2.L12", "smollm2.L30"]}


def shift_of_zero(raw):
    raw["features"]["models"]["glove_next"]["shift"] = 0


def model_copy(raw):
    raw["features"]["models"]["glove_copy"] = dict(raw["features"]["models"]["glove"], label="GloVe again")


def seed_negative(raw):
    raw["seed"] = -3


def bottleneck_wider(raw):
    raw["transfer"]["exclude"] = ["lexical.word_rate", "random.vec"]


def tmpdir_full(tmp, capsys):
    """A temporary folder that cannot take a file (here: a path that is a file, which fails as a
    full disk does, with an OSError on write); the run's start names it and the fix. The full
    disk itself: tests/workflow/test_configs.py mounts a full tmpfs."""
    from lre import lock

    (tmp / "tmp").write_text("not a folder")
    return refused(lambda: lock.check_tmpdir(str(tmp / "tmp")))


def dataset_tr_disagrees(tmp, capsys):
    raw = base_config(tmp)  # its TR files: volumes 2 s apart
    raw["dataset"]["lebel"] = {"tr": 1.5}
    from lre.datasets import check_tr

    return refused(lambda: check_tr(config.validate(raw)))


def corpus_holds_a_story(tmp, capsys):
    from lre.stimuli import documents
    from lre.stimuli.stage import run_corpus_check

    story = (WORDS * 4)[:40]
    wt = stimuli.WordTimes(story, np.arange(40) * 0.5, np.arange(40) * 0.5 + 0.4)
    stories = documents.Documents(stories={"s1": stimuli.Story("s1", wt, np.arange(12) * 2.0, 2.0)})
    corpus = documents.Documents(corpus={"news": "a long article".split() + story + ["end"], "other": WORDS[:5]})
    documents.write(tmp / "stories.h5", stories, {"config_hash": "s"})
    documents.write(tmp / "corpus.h5", corpus, {"config_hash": "c"})
    job = {"stage": "corpus-check", "ngram": 8, "max_share": 0.5, "expects": {}}
    return refused(lambda: run_corpus_check(job, tmp / "stories.h5", tmp / "corpus.h5", tmp / "check.json"))


def corpus_root_shared_with_other_settings(tmp, capsys):
    from lre import lock

    raw = base_config(tmp)
    first = config.validate(raw)
    (tmp / "first").mkdir()
    (tmp / "second").mkdir()
    lock.claim_corpus_root(tmp, tmp / "first", jobs.corpus_side_job(first), first["corpus"]["path"])
    raw["transfer"]["bottleneck"] = 12
    second = config.validate(raw)
    return refused(
        lambda: lock.claim_corpus_root(tmp, tmp / "second", jobs.corpus_side_job(second), second["corpus"]["path"])
    )


def precomputed_file(tmp, capsys, spoil, suffix=".h5"):
    """Word-level precomputed features in one file (an array per document), spoiled by
    ``spoil(file_or_arrays, good_array)`` for story s1; the features stage must refuse it and
    write nothing. Returns its message."""
    from lre.features import stage as features_stage
    from lre.stimuli import documents

    words = WORDS[:4]
    wt = stimuli.WordTimes(words, np.arange(4) * 0.5, np.arange(4) * 0.5 + 0.4)
    docs = documents.Documents(stories={"s1": stimuli.Story("s1", wt, np.arange(6) * 2.0, 2.0)})
    documents.write(tmp / "documents.h5", docs, {})
    good = np.arange(12, dtype=np.float32).reshape(4, 3) + 1
    path = tmp / f"features{suffix}"
    if suffix == ".npz":
        arrays = {"stories/s1": good}
        spoil(arrays, good)
        np.savez(path, **arrays)
    else:
        with h5py.File(path, "w") as f:
            f["stories/s1"] = good
            spoil(f, good)
    entry = {"family": "precomputed", "path": str(path), "dim": 3}
    job = {"stage": "features", "model": "mine", "entry": entry, "settings": {}, "seed": 0, "stimuli": {}}
    out = tmp / "mine.h5"
    msg = refused(lambda: features_stage.run(job, tmp / "documents.h5", out, {"device": "cpu", "threads": 1}))
    assert not out.exists()
    return msg


def _replace(f, a):
    del f["stories/s1"]
    f["stories/s1"] = a


def spoil_external_link(f, good):
    with h5py.File(f.filename.replace("features.h5", "other.h5"), "w") as g:
        g["s1"] = good
    del f["stories/s1"]
    f["stories/s1"] = h5py.ExternalLink("other.h5", "s1")


def spoil_virtual(f, good):
    other = f.filename.replace("features.h5", "source.h5")
    with h5py.File(other, "w") as g:
        g["s1"] = good
    layout = h5py.VirtualLayout(shape=good.shape, dtype="f4")
    layout[:] = h5py.VirtualSource(other, "s1", shape=good.shape)
    del f["stories/s1"]
    f.create_virtual_dataset("stories/s1", layout)


def spoil_group(f, good):
    del f["stories/s1"]
    f.create_group("stories/s1")["features"] = good


def spoil_complex(f, good):
    _replace(f, good + 1j)


def spoil_beyond_float32(f, good):
    a = good.astype(np.float64)
    a[2, 1] = 1e40
    _replace(f, a)


def spoil_sentinel(f, good):
    a = good.copy()
    a[1] = 3e38
    _replace(f, a)


def spoil_object_array(arrays, good):
    arrays["stories/s1"] = np.array([[1.0, "x", None]] * 4, dtype=object)


def precomputed_case(spoil, suffix=".h5"):
    return lambda tmp, capsys: precomputed_file(tmp, capsys, spoil, suffix)


def asks_for_yte(raw):
    raw["__use_yte__"] = True


def brainlink_dims_above_embedding(raw):
    raw["brainlink"] = {"n_dims": 12}


def brainlink_underdetermined(raw):
    raw["encoding"] = {"spaces": ["minilm.L3", "glove.vec", "glove_next.vec", "spacy.hidden"]}  # 4 groups
    raw["brainlink"] = {"n_dims": 3}


def logged(fn, level=logging.WARNING) -> str:
    """Run ``fn`` and return the warnings it logged (a case that is handled, said in the log)."""
    records = []
    handler = logging.Handler(level)
    handler.emit = records.append
    root = logging.getLogger()
    root.addHandler(handler)
    disabled = logging.root.manager.disable  # the docs' generator silences logging
    logging.disable(logging.NOTSET)
    try:
        fn()
    finally:
        root.removeHandler(handler)
        logging.disable(disabled)
    assert records, "nothing was said"
    return " ".join(r.getMessage() for r in records)


def top_voxels_above_voxel_count(tmp, capsys):
    """encoding.top_voxels above the subject's voxels: the summary averages all of them and
    its column says how many (top7, not top200)."""
    from lre.encoding import stage

    job = {"subject": "UTS01", "top_voxels": 200}
    assert stage.top_count(job, 7) == 7 and stage.top_count(job, 900) == 200
    return logged(lambda: stage.top_count(job, 7))


def two_subject_tree(tmp, test_copy: bool, noise: float = 0.0, test=None, extra=None):
    """A LeBel tree with a training and a test story (the test a copy of the training one,
    plus ``noise``; ``test``: the test story's data as given; ``extra``: more stories)."""
    root = tmp / "ds"
    (root / "derivative" / "preprocessed_data" / "UTS01").mkdir(parents=True)
    stories = {"s1": 40, "s2": 40, **{k: 40 for k in extra or {}}}
    (root / "derivative" / "respdict.json").write_text(json.dumps(stories))
    rng = np.random.default_rng(0)
    a = rng.standard_normal((20, 5)).astype(np.float32)
    copy = a + noise * rng.standard_normal(a.shape).astype(np.float32)
    b = test if test is not None else copy if test_copy else rng.standard_normal((20, 5)).astype(np.float32)
    for story, data in (("s1", a), ("s2", b), *(extra or {}).items()):
        with h5py.File(root / "derivative" / "preprocessed_data" / "UTS01" / f"{story}.hf5", "w") as f:
            f["data"] = data
    return {
        "root": str(root),
        "format": "lebel2023",
        "mask": None,
        "voxel_order": "c",
        "train_stories": ["s1"],
        "test_stories": ["s2"],
        "lebel": {"key": "data", "tr": 2.0, "start_time": 10.0, "pad": 5, "trim": 5},
    }


def delays_longer_than_story(tmp, capsys):
    from lre.encoding.stage import Subject

    subj = Subject(two_subject_tree(tmp, test_copy=False), "UTS01")
    return refused(lambda: subj.check_design([1, 2, 25]))


def responses_copy_a_training_story(tmp, capsys):
    from lre.encoding.stage import Subject

    subj = Subject(two_subject_tree(tmp, test_copy=True), "UTS01")
    return refused(lambda: subj.check_design([1, 2]))


def responses_copy_a_training_story_with_noise(tmp, capsys):
    from lre.encoding.stage import Subject

    subj = Subject(two_subject_tree(tmp, test_copy=True, noise=0.1), "UTS01")
    return refused(lambda: subj.check_design([1, 2]))


def repeats_identical(tmp, capsys):
    from lre.encoding.stage import Subject

    rng = np.random.default_rng(1)
    run = rng.standard_normal((20, 5)).astype(np.float32)
    repeats = np.stack([run, rng.standard_normal((20, 5)).astype(np.float32), run])  # repeat 3 copies repeat 1
    return refused(lambda: Subject(two_subject_tree(tmp, test_copy=False, test=repeats), "UTS01"))


def stories_with_different_repeats(tmp, capsys):
    from lre.encoding.stage import Subject

    rng = np.random.default_rng(2)
    dcfg = two_subject_tree(
        tmp,
        test_copy=False,
        test=rng.standard_normal((3, 20, 5)).astype(np.float32),
        extra={"s3": rng.standard_normal((2, 20, 5)).astype(np.float32)},
    )
    dcfg["test_stories"] = ["s2", "s3"]
    return refused(lambda: Subject(dcfg, "UTS01").test())


def responses_end_before_the_words(tmp, capsys):
    from lre.datasets import Run
    from lre.encoding.stage import check_words_within_responses

    run = Run(np.zeros((1, 20, 5), np.float32), np.arange(20) * 2.0 + 1.0, "ds/s1.hf5")  # volumes to 39 s
    words = np.linspace(0.5, 120.0, 300)  # the story goes on to 2 minutes
    return refused(lambda: check_words_within_responses(words, run, "s1", "UTS01"))


def constant_space(tmp, capsys):
    from lre.encoding.stage import check_not_constant

    X = np.zeros((40, 8), np.float32)  # a volume-level space constant over the stories, z-scored per story
    return refused(lambda: check_not_constant(X, tmp / "envelope.h5", "envelope.vec", ["s1", "s2"]))


def words_copy_a_training_story(tmp, capsys):
    from lre.encoding.stage import check_story_words
    from lre.features import store
    from lre.features.store import FeatureFile
    from lre.stimuli.documents import Documents

    def story(name):
        wt = stimuli.WordTimes(WORDS, np.arange(len(WORDS)) * 0.5, np.arange(len(WORDS)) * 0.5 + 0.4)
        return stimuli.Story(name, wt, np.arange(10) * 2.0, 2.0)

    docs = Documents(corpus={"d0": WORDS}, stories={"s1": story("s1"), "s2": story("s2")})
    arrays = [np.zeros((len(WORDS), 2), np.float32)] * 3
    store.write(tmp / "glove.h5", "glove", "static", docs, {"glove.vec": arrays}, {"job": {"stage": "features"}})
    dcfg = {"train_stories": ["s1"], "test_stories": ["s2"]}
    return refused(lambda: check_story_words(FeatureFile(tmp / "glove.h5"), dcfg))


def story_low_coverage(tmp, capsys):
    raw = base_config(tmp)
    (tmp / "s1.tr").write_text(stimuli.format_trfile(np.arange(60) * 2.0 - 10.0, sound_start=0.0))
    return run_stimuli(tmp, raw, capsys)


def tg_two_word_tiers(tmp, capsys):
    raw = base_config(tmp)
    ivs = [stimuli.Interval(1.0 + 0.5 * k, 1.4 + 0.5 * k, w) for k, w in enumerate(WORDS)]
    tiers = [stimuli.Tier("word", ivs), stimuli.Tier("phone", ivs), stimuli.Tier("word", ivs[:3])]
    stimuli.write_textgrid(tmp / "s1.TextGrid", tiers, 0.0, 9.0)
    return run_stimuli(tmp, raw, capsys)


# --------------------------------------------------------------------------- broken files and tracebacks


def _features_file(tmp):
    from lre import io
    from lre.features import store
    from lre.stimuli.documents import Documents

    wt = stimuli.WordTimes(WORDS[:4], [0.0, 0.4, 0.8, 1.2], [0.4, 0.8, 1.2, 1.5])
    docs = Documents(corpus={"d0": WORDS}, stories={"s1": stimuli.Story("s1", wt, np.arange(5) * 2.0, 2.0)})
    arrays = [np.zeros((len(WORDS), 2), np.float32), np.zeros((4, 2), np.float32)]
    store.write(
        tmp / "glove.h5",
        "glove",
        "static",
        docs,
        {"glove.vec": arrays},
        io.provenance({"stage": "features", "model": "glove"}),
    )
    return docs


def hdf5_truncated(tmp, capsys):
    from lre.features.store import FeatureFile

    _features_file(tmp)
    data = (tmp / "glove.h5").read_bytes()
    (tmp / "glove.h5").write_bytes(data[: len(data) // 3])
    return re.sub(r"(?<=[ =(])\d+", "N", refused(lambda: FeatureFile(tmp / "glove.h5")))  # sizes vary


def hdf5_empty(tmp, capsys):
    from lre.encoding.stage import read_scores

    (tmp / "glove.vec.h5").write_bytes(b"")
    return refused(lambda: read_scores(tmp / "glove.vec.h5"))


def disk_full(tmp, capsys):
    import errno

    from lre import io

    def write(path):
        with io.atomic_path(path) as t:
            t.write_bytes(b"partial")
            raise OSError(errno.ENOSPC, "No space left on device")

    msg = refused(lambda: write(tmp / "out.h5"))
    assert not list(tmp.iterdir()), "a partial file was left"
    return re.sub(r"\(\d+ MiB free", "(N MiB free", msg)


def results_in_use(tmp, capsys):
    import os
    import socket

    from lre import lock

    info = {
        "pid": os.getppid(),
        "host": socket.gethostname(),
        "cwd": "/elsewhere",
        "command": "snakemake --cores 8",
        "started": "2026-12-01T09:00:00",
    }
    (tmp / lock.LOCK_NAME).write_text(json.dumps(info))
    msg = refused(lambda: lock.check(tmp))
    assert "--unlock" not in msg
    return re.sub(r"process \d+ on \S+,", "process N on HOST,", msg)


def inputs_changed_behind_an_old_time(tmp, capsys):
    import os

    from lre import io, lock
    from lre.stimuli import documents

    (tmp / "s1.TextGrid").write_text("one")
    docs = documents.Documents(corpus={"d0": WORDS})
    documents.write(
        tmp / "documents.h5",
        docs,
        io.provenance({"stage": "stimuli"}, inputs={str(tmp / "s1.TextGrid"): io.file_sha256(tmp / "s1.TextGrid")}),
    )
    old = os.stat(tmp / "documents.h5").st_mtime - 100
    (tmp / "s1.TextGrid").write_text("two")  # new content ...
    os.utime(tmp / "s1.TextGrid", (old, old))  # ... with an old time, as cp -p leaves it
    return refused(lambda: lock.check_inputs(tmp / "documents.h5"))


def shift_without_source(tmp, capsys):
    from lre import io
    from lre.stimuli import documents

    docs = _features_file(tmp)
    documents.write(tmp / "documents.h5", docs, io.provenance({"stage": "stimuli"}))
    job = {
        "stage": "features",
        "model": "glove_next",
        "entry": {"family": "shift", "of": "glove", "shift": 1},
        "settings": {"compute_dtype": "float32", "batch_size": 8},
        "seed": 0,
        "of": {"stage": "features", "model": "glove", "entry": {"family": "static", "source": "x"}},
    }
    rc = cli.main(
        ["features", "--job", json.dumps(job), "--documents", str(tmp / "documents.h5"), "--out", str(tmp / "n.h5")]
    )
    err = capsys.readouterr().err
    assert rc == 2 and not (tmp / "n.h5").exists(), err
    return err.strip().splitlines()[-1].split(": error: ", 1)[1]


def wrong_kind_of_file(tmp, capsys):
    from lre.stimuli import documents

    _features_file(tmp)
    return refused(lambda: documents.read(tmp / "glove.h5"))


def corpus_not_utf8(tmp, capsys):
    from lre.stimuli import documents

    (tmp / "corpus.txt").write_bytes(
        "le caf\u00e9 est ferm\u00e9\nune autre ligne\net une troisi\u00e8me\n".encode("latin-1")
    )
    return refused(lambda: documents.read_corpus(tmp / "corpus.txt"))


def corpus_one_line(tmp, capsys):
    from lre.stimuli import documents

    (tmp / "corpus.txt").write_text(" ".join(WORDS * 50) + "\n")
    return refused(lambda: documents.read_corpus(tmp / "corpus.txt"))


def mask_all_nan(tmp, capsys):
    volume.save_nifti(tmp / "mask.nii.gz", np.full((3, 3, 3), np.nan, np.float32), np.eye(4))
    return refused(lambda: volume.load_mask(tmp / "mask.nii.gz"))


CASES = {
    "textgrid-overlapping-intervals": (
        "TextGrid whose word intervals overlap",
        tg_overlap,
        ["s1.TextGrid", "line", "before the previous"],
    ),
    "textgrid-interval-ends-before-start": (
        "TextGrid interval that ends before it starts",
        tg_reversed,
        ["s1.TextGrid", "line", "ends (0.9) before it starts"],
    ),
    "textgrid-no-word-tier": (
        "TextGrid without the word tier",
        tg_no_tier,
        ["s1.TextGrid", "has no tier named", "phones", "Fix:"],
    ),
    "textgrid-empty-story": (
        "a story whose TextGrid holds only silences and noises",
        tg_empty_story,
        ["s1.TextGrid", "has no words after dropping non-word tokens", "Fix:"],
    ),
    "textgrid-truncated": ("TextGrid cut off in the middle", tg_truncated, ["s1.TextGrid", "ends early", "line"]),
    "textgrid-wrong-object": (
        "a Praat file that is not a TextGrid",
        tg_not_textgrid,
        ["s1.TextGrid", "Object class is 'Sound 2', not 'TextGrid'", "line"],
    ),
    "story-file-missing": (
        "a story listed in the config without its timing file",
        story_missing,
        ["s2.TextGrid", "does not exist", "Fix:"],
    ),
    "gentle-unaligned-words": (
        "Gentle align.json in which no word was aligned",
        gentle_unaligned,
        ["s1.json", "has no aligned word"],
    ),
    "gentle-words-out-of-transcript-order": (
        "a Gentle file whose words are not in transcript order (times in order, words swapped)",
        gentle_out_of_order,
        ["s1.json", "word entry 2 ('fire') starts at character 4", "not in transcript order"],
    ),
    "gentle-not-json": (
        "Gentle align.json that is not valid JSON",
        gentle_not_json,
        ["s1.json", "line 1", "is not valid JSON"],
    ),
    "tsv-missing-column": (
        "TSV word timings without the offset column",
        tsv_missing_column,
        ["s1.tsv", "line 1", "header lacks column(s) ['offset']"],
    ),
    "tsv-offset-before-onset": (
        "TSV row whose offset is before its onset",
        tsv_offset_before_onset,
        ["s1.tsv", "line 5", "offset must be >= onset"],
    ),
    "trfile-no-triggers": (
        "TR file with no trigger lines",
        tr_no_triggers,
        ["s1.tr", "has 0 trigger line(s); at least 2 are needed"],
    ),
    "trfile-triggers-not-increasing": (
        "TR file whose triggers go back in time",
        tr_not_increasing,
        ["s1.tr", "line 3", "is not after the previous one"],
    ),
    "story-longer-than-scan": (
        "story that ends after its last volume (TR file of another story)",
        story_past_the_scan,
        ["s1", "ends at", "last volume", "Fix:"],
    ),
    "config-key-typo": (
        "config key with a typo",
        with_config(key_typo),
        ["encoding", "unknown key 'delay' (did you mean 'delays'?)"],
    ),
    "duplicate-story-names": (
        "the same story listed twice",
        with_config(duplicate_story),
        ["stimuli.stories", "non-unique"],
    ),
    "story-in-train-and-test": (
        "a story both in training and test",
        with_config(train_and_test),
        ["dataset", "s1", "Fix:"],
    ),
    "empty-family": (
        "a model with no outputs",
        with_config(empty_family),
        ["features.models.lexical.outputs", "should be non-empty"],
    ),
    "alphas-not-positive": (
        "a ridge penalty that is not positive (config)",
        with_config(alphas_not_positive),
        ["encoding.alphas.0", "less than or equal to the minimum of 0"],
    ),
    "alphas-not-positive-fit": (
        "a ridge penalty that is not positive (library call)",
        fit_alphas_not_positive,
        ["encoding.alphas", "penalties must be positive"],
    ),
    "layer-out-of-range": (
        "a layer index the model does not have",
        layer_out_of_range,
        ["features.models.minilm.layers", "layer(s) [9] out of range", "0..6"],
    ),
    "model-not-available-offline": (
        "a hub model that is not cached, with HF_HUB_OFFLINE=1",
        model_not_offline,
        ["features.models.gpt2.source", "not in the local cache", "Fix: download it once"],
    ),
    "static-table-inconsistent-dims": (
        "word-embedding table whose rows have different lengths",
        static_inconsistent_dims,
        ["vectors.txt", "line 2", "has 2 values"],
    ),
    "responses-wrong-volume-count": (
        "response file whose volume count does not match respdict.json",
        responses_wrong_length,
        ["s1.hf5", "respdict.json gives 40"],
    ),
    "responses-nan-voxels": (
        "response file with NaN voxels",
        responses_nan_voxels,
        ["s1.hf5", "non-finite values in 1 voxels", "Fix:"],
    ),
    "responses-beyond-float32": (
        "responses with values beyond float32's range (finite before the cast, infinite after)",
        responses_beyond_float32,
        ["s1.hf5", "beyond float32's range (up to 1e+39 in row 7 (volume 7))", "rescale"],
    ),
    "responses-behind-an-external-link": (
        "a response file whose dataset is an external link to another file",
        responses_behind_an_external_link,
        ["s1.hf5", "'data' is an external link to", "store the array itself in the file"],
    ),
    "test-repeat-missing": (
        "a repeat file of the test story that dataset.lebel.test_repeats names but is not there",
        repeat_file_missing,
        ["s1_run-3.hf5", "is missing: repeat 3 of UTS01's test story 's1'", "dataset.lebel.test_repeats", "Fix:"],
    ),
    "test-repeats-different-lengths": (
        "repeat files of the test story with different volume counts",
        repeats_of_different_lengths,
        ["s1_run-3.hf5", "has 18 volumes", "s1_run-1.hf5) has 20", "Fix:"],
    ),
    "mask-grid-mismatch": (
        "BOLD run on a different grid from the mask",
        mask_mismatch,
        ["sub-01_task-alpha_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz", "differ from the mask's (5, 4, 3)"],
    ),
    "mask-not-3d": ("a brain mask that is not a 3-D image", mask_not_3d, ["mask.nii.gz", "is 4-D; a mask must be 3-D"]),
    "feature-file-from-another-config": (
        "a feature file made for a different config (here another oov policy)",
        feature_file_other_config,
        [
            "lexical.h5",
            "made for a different config",
            "entry.oov: file has 'pieces', this config gives 'zero'",
            "LRE_ACCEPT_PROVENANCE=1",
        ],
    ),
    "transfer-split-from-another-config": (
        "a transfer split made with another test fraction",
        split_other_config,
        ["split.json", "made for a different config", "transfer.test_fraction: file has 0.2, this config gives 0.25"],
    ),
    "encoding-result-from-another-config": (
        "encoding results made with other delays",
        scores_other_config,
        [
            "glove.vec.h5",
            "encoding result was made for a different config",
            "encoding.delays: file has [1,2,3,4], this config gives [1,2]",
        ],
    ),
    "file-from-a-changed-environment": (
        "a result made in this environment before one of its packages changed",
        file_from_a_changed_environment,
        ["glove.vec.h5", "made in this environment", "numpy 1.26.4 (now ", "LRE_ACCEPT_PROVENANCE=1"],
    ),
    "summary-row-from-another-config": (
        "an encoding summary whose row comes from another encoding result",
        summary_row_from_another_config,
        [
            "summary.csv",
            "line 2 summarises glove.vec's encoding result of 0123456789abcdef, but this config's is fedcba9876543210",
        ],
    ),
    "space-zero-variance": (
        "a feature space that is constant on the transfer corpus",
        space_zero_variance,
        ["lexical.word_rate", "zero variance", "Fix: add it to transfer.exclude"],
    ),
    "encoding-permutations-cannot-reach-q": (
        "encoding permutations too few for any p-value to reach fdr_q",
        with_config(encoding_permutations_floor),
        ["encoding.permutations", "cannot give a p-value below 0.0909", "Fix: use at least 19"],
    ),
    "brainlink-permutations-cannot-reach-q": (
        "brain-link permutations too few for any p-value to reach fdr_q",
        with_config(brainlink_permutations_floor),
        ["brainlink.permutations", "no voxel could ever be significant"],
    ),
    "delays-negative": (
        "negative FIR delays (the model would see the future)",
        with_config(delays_negative),
        ["encoding.delays", "[-1] are negative", "see the future"],
    ),
    "delays-longer-than-a-story": (
        "a delay as long as a story's run",
        delays_longer_than_story,
        ["encoding.delays", "longest delay (25 volumes)", "'s1'"],
    ),
    "partition-space-in-baseline": (
        "a space tested against a baseline it is part of",
        with_config(partition_space_in_baseline),
        ["partition.spaces", "['lexical.articulatory'] are also in partition.baseline", "Fix:"],
    ),
    "partition-space-not-encoded": (
        "a tested space that is not fitted to the brain",
        with_config(partition_space_not_encoded),
        ["partition.spaces", "['smollm2.L30'] are not fitted to the brain", "encoding.spaces"],
    ),
    "shift-of-zero": (
        "a shift model with shift 0 (an exact copy)",
        with_config(shift_of_zero),
        ["features.models.glove_next.shift", "exact copy of 'glove'"],
    ),
    "model-copied": (
        "two models with the same settings",
        with_config(model_copy),
        ["features.models.glove_copy", "same settings as features.models.glove"],
    ),
    "seed-negative": ("a seed the random generators cannot take", with_config(seed_negative), ["seed", "-3"]),
    "bottleneck-wider-than-spaces": (
        "a bottleneck wider than some transferred spaces",
        with_config(bottleneck_wider),
        ["transfer.bottleneck", "spacy.pos (17 dims)", "lexical.word_length (1 dim)", "transfer.exclude"],
    ),
    "tmpdir-cannot-take-a-file": (
        "a temporary folder that is full (or not a folder)",
        tmpdir_full,
        ["the temporary folder", "cannot take a file", "point TMPDIR", "export TMPDIR="],
    ),
    "dataset-tr-disagrees-with-tr-files": (
        "dataset.lebel.tr disagreeing with the TR files of the same stories",
        dataset_tr_disagrees,
        ["dataset.lebel.tr", "is 1.5 s", "s1.tr) are 2 s apart", "scanner's repetition time"],
    ),
    "corpus-holds-a-story": (
        "a transfer corpus that contains an fMRI story verbatim",
        corpus_holds_a_story,
        ["corpus.h5", "holds the story 's1'", "100 % of its 8-word sequences", "'news'", "corpus.path"],
    ),
    "corpus-root-shared-with-other-settings": (
        "a second dataset config sharing corpus_results with other transfer settings",
        corpus_root_shared_with_other_settings,
        [
            "holds the corpus side",
            "first, made from other settings",
            "transfer.bottleneck: 20 there, 12 here",
            "point corpus_results at another folder",
        ],
    ),
    "precomputed-external-link": (
        "precomputed features behind an HDF5 external link",
        precomputed_case(spoil_external_link),
        ["features.h5", "'stories/s1' is an external link to other.h5:s1", "not a link"],
    ),
    "precomputed-virtual-dataset": (
        "precomputed features in an HDF5 virtual dataset (a missing source reads as zeros)",
        precomputed_case(spoil_virtual),
        ["features.h5", "'stories/s1' is a virtual dataset mapping other files", "copies it in"],
    ),
    "precomputed-group-for-an-array": (
        "an HDF5 group where the features' array belongs",
        precomputed_case(spoil_group),
        ["features.h5", "'stories/s1' is a group (holding ['features']), not an array"],
    ),
    "precomputed-complex-values": (
        "complex-valued features (the imaginary part would be dropped)",
        precomputed_case(spoil_complex),
        ["features.h5", "holds complex numbers (complex64)", "store real values"],
    ),
    "precomputed-beyond-float32": (
        "float64 features beyond float32's range (finite before the cast, infinite after)",
        precomputed_case(spoil_beyond_float32),
        ["features.h5", "beyond float32's range (up to 1e+40 in row 2 (word 'crews'))", "rescale"],
    ),
    "precomputed-sentinel-row": (
        "a finite sentinel row (3e38) standing for a missing value",
        precomputed_case(spoil_sentinel),
        ["features.h5", "row 1 (word 'fire') reaches 3e+38", "stand-in for a missing value"],
    ),
    "precomputed-object-array": (
        "an NPZ object array (only unpickling, running code, could read it)",
        precomputed_case(spoil_object_array, ".npz"),
        ["features.npz", "is an object array, which lre does not unpickle", "numpy.savez"],
    ),
    "config-asks-for-yte": (
        "a config that asks to be evaluated as a YTE template (code run when it is loaded)",
        with_config(asks_for_yte),
        ["__use_yte__", "runs the Python expressions", "a config is data"],
    ),
    "brainlink-dims-above-embedding": (
        "brainlink.n_dims above the embedding's dimensions",
        with_config(brainlink_dims_above_embedding),
        ["brainlink.n_dims", "is 12", "keeps 10 dimensions", "raise embedding.n_components"],
    ),
    "brainlink-underdetermined": (
        "a brain link with as many coordinates as groups left to fit them",
        with_config(brainlink_underdetermined),
        ["brainlink.n_dims", "4 linked groups", "underdetermined", "n_dims <= 2"],
    ),
    "top-voxels-above-voxel-count": (
        "encoding.top_voxels above a subject's number of voxels (handled: said, and the column names the count)",
        top_voxels_above_voxel_count,
        ["top_voxels is 200", "has 7 voxels", "average all 7", "columns say top7"],
    ),
    "test-responses-copy-training": (
        "test-story responses equal to a training story's (a leak)",
        responses_copy_a_training_story,
        ["s2.hf5", "equal those to the training story 's1'", "leak"],
    ),
    "test-responses-copy-training-with-noise": (
        "test-story responses that are a training story's re-exported with 10 % noise (a leak)",
        responses_copy_a_training_story_with_noise,
        ["s2.hf5", "correlate at r = 0.99", "training story 's1'", "a copy of a training story"],
    ),
    "test-repeats-identical": (
        "test-story repeats that are identical copies (a ceiling of 1.000 everywhere)",
        repeats_identical,
        ["s2.hf5", "repeats 1 and 3", "identical copies", "1.000 everywhere"],
    ),
    "test-stories-different-repeats": (
        "test stories with different numbers of repeats (the extra ones would be dropped)",
        stories_with_different_repeats,
        ["different numbers of repeats", "'s2': 3, 's3': 2", "same repeats"],
    ),
    "responses-end-before-the-words": (
        "responses that end long before the story's words",
        responses_end_before_the_words,
        ["s1.hf5", "end at 39.0 s", "come later (up to 120.0 s)", "trimming"],
    ),
    "constant-space": (
        "a space constant over the stories (e.g. a volume-level partition baseline)",
        constant_space,
        ["envelope.h5", "envelope.vec is constant", "partition baseline", "partition.baseline"],
    ),
    "test-words-copy-training": (
        "a test story with the words of a training story (a leak)",
        words_copy_a_training_story,
        ["dataset.test_stories", "exactly the words of the training story 's1'", "leak"],
    ),
    "story-low-coverage": (
        "a story whose words span a small part of its scan",
        story_low_coverage,
        ["s1.TextGrid", "stimuli.min_coverage", "Fix:"],
    ),
    "textgrid-two-word-tiers": (
        "a TextGrid with two tiers named like the word tier",
        tg_two_word_tiers,
        ["s1.TextGrid", "2 tiers named 'word' (tiers 1, 3)"],
    ),
    "hdf5-truncated": (
        "an lre HDF5 file cut short (a crash outside lre)",
        hdf5_truncated,
        ["glove.h5", "is not a readable HDF5 file", "rm "],
    ),
    "hdf5-empty": ("an empty result file", hdf5_empty, ["glove.vec.h5", "is empty (0 bytes)", "snakemake again"]),
    "disk-full": ("the disk fills while a file is written", disk_full, ["out.h5", "the disk is full", "removed"]),
    "results-folder-in-use": (
        "a results folder another live run is writing",
        results_in_use,
        ["is in use by another run", "/elsewhere", "a results folder of its own"],
    ),
    "inputs-changed-behind-an-old-time": (
        "a stimulus file replaced with an old modification time (cp -p, rsync -a)",
        inputs_changed_behind_an_old_time,
        ["s1.TextGrid", "changed content", "snakemake --forcerun stimuli"],
    ),
    "shift-without-its-source": (
        "a shift model run without the feature file it shifts",
        shift_without_source,
        ["needs the feature file of 'glove'", "--of"],
    ),
    "wrong-kind-of-file": (
        "a feature file where the documents file belongs",
        wrong_kind_of_file,
        ["glove.h5", "is a feature file (of glove), not a documents file"],
    ),
    "corpus-not-utf8": (
        "a corpus in latin-1",
        corpus_not_utf8,
        ["corpus.txt", "is not valid utf-8", "corpus.encoding"],
    ),
    "corpus-one-line": (
        "a corpus that is one long line",
        corpus_one_line,
        ["corpus.txt", "each line of the corpus is one document"],
    ),
    "mask-all-nan": ("a brain mask of NaN", mask_all_nan, ["mask.nii.gz", "NaN or infinite voxels count as outside"]),
    "bids-task-without-events": (
        "a BIDS run whose task has no events.tsv (and no onset in the config)",
        bids_task_without_events,
        [
            "sub-01_task-alpha_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz",
            "no events.tsv",
            "dataset.bids.onsets",
        ],
    ),
    "bids-runs-of-different-lengths": (
        "BIDS runs of one story (its repeats) with different numbers of volumes",
        bids_runs_of_different_lengths,
        ["task-delta_run-1", "70", "task-delta_run-2", "60", "different lengths", "dataset.bids.filters"],
    ),
    "bids-no-sidecar-tr": (
        "a BIDS run without RepetitionTime in its sidecars",
        bids_no_sidecar_tr,
        ["sub-01_task-alpha_space-MNI152NLin2009cAsym_desc-preproc_bold.nii.gz", "no RepetitionTime", "sidecar"],
    ),
    "bids-space-without-files": (
        "a BIDS space (dataset.bids.space) the derivatives have no runs in",
        bids_space_without_files,
        ["derivatives/fmriprep", "space-MNI152NLin6Asym", "MNI152NLin2009cAsym", "dataset.bids.space"],
    ),
    "bids-unknown-confound": (
        "a confound column the confounds file does not have",
        bids_unknown_confound,
        ["desc-confounds_timeseries.tsv", "global_sgnal", "trans_x", "dataset.bids.confounds"],
    ),
    "bids-surface-hemisphere-missing": (
        "a surface run (fsaverage5) whose right hemisphere's GIfTI file is missing",
        bids_surface_hemisphere_missing,
        ["task-alpha_hemi-L_space-fsaverage5_bold.func.gii", "no right-hemisphere sibling", "hemi-R"],
    ),
}


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_is_refused_clearly(case, tmp_path, capsys):
    _, fn, fragments = CASES[case]
    msg = fn(tmp_path, capsys)
    for frag in fragments:
        assert frag in msg, f"{case}: {frag!r} not in {msg!r}"


def normalise(msg: str, tmp: Path) -> str:
    msg = msg.replace(str(tmp) + "/", "").replace(str(tmp), ".").replace(sys.prefix, "<python environment>")
    return re.sub(r"\s+", " ", msg)


def test_the_docs_table_gives_every_case_with_its_message(tmp_path_factory, capsys):
    doc = (ROOT / "docs" / "bad_inputs.md").read_text()
    for case, (_what, fn, _) in CASES.items():
        tmp = tmp_path_factory.mktemp(case)
        msg = normalise(fn(tmp, capsys), tmp)
        row = next((line for line in doc.splitlines() if line.startswith(f"| `{case}` |")), None)
        assert row is not None, f"docs/bad_inputs.md has no row for {case}"
        assert msg.replace("|", "\\|") in row, f"{case}: the docs give another message than {msg!r}"


class _StderrCapture:
    """What capsys gives, outside pytest: stderr written since the last call."""

    def __init__(self, buf):
        self.buf = buf

    def readouterr(self):
        class Out:
            err = self.buf.getvalue()

        self.buf.seek(0)
        self.buf.truncate()
        return Out()


if __name__ == "__main__":  # print docs/bad_inputs.md
    import contextlib
    import io as _io
    import logging
    import os
    import tempfile

    os.environ["HF_HUB_OFFLINE"] = "1"
    logging.disable(logging.CRITICAL)
    print("# Bad inputs and what lre says\n")
    print("Every case is refused before any output is written (stages write to a temporary name and")
    print("rename), with a message that names the file and line or the config field, what is wrong and")
    print("how to fix it; where lre can go on (the input says 'handled'), it does so and says what it")
    print("changed. Each row is a test in `tests/test_bad_inputs.py`, which also checks that this")
    print("table gives the message the code gives (regenerate it with")
    print("`python tests/test_bad_inputs.py > docs/bad_inputs.md`).\n")
    print("| case | input | message |\n|---|---|---|")
    for case, (what, fn, _) in CASES.items():
        with tempfile.TemporaryDirectory() as d:
            buf = _io.StringIO()
            with contextlib.redirect_stderr(buf):
                msg = fn(Path(d), _StderrCapture(buf))
            print(f"| `{case}` | {what} | {normalise(msg, Path(d)).replace('|', chr(92) + '|')} |")
