"""The offline demo stimuli: real text, plausible timings, real file formats."""

import json

import numpy as np
import pytest

from lre import stimuli
from lre.stimuli import demo

DEMO = dict(
    story_words=300,
    corpus_words=400,
    tr=2.0,
    lead_in=10.0,
    syllable_seconds=0.2,
    pause_comma=0.25,
    pause_sentence=0.6,
    jitter=0.15,
)


def make(root, stories, seed):
    """The demo under ``root`` as the workflow lays it out (lre.paths, relative to demo/)."""
    return demo.make(
        stories,
        DEMO,
        seed,
        {s: root / f"derivative/TextGrids/{s}.TextGrid" for s in stories},
        {s: root / f"derivative/trfiles/{s}.tr" for s in stories},
        root / "corpus.txt",
        root / "manifest.json",
    )


@pytest.fixture(scope="module")
def made(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    manifest = make(root, ["a", "b", "c"], seed=0)
    return root, manifest


def test_stories_and_corpus_use_disjoint_documents(made):
    root, manifest = made
    used = [d for s in manifest["stories"].values() for d in s["documents"]] + manifest["corpus_documents"]
    assert len(used) == len(set(used))
    assert all(s["n_words"] >= 300 for s in manifest["stories"].values())
    lines = (root / "corpus.txt").read_text().splitlines()
    assert len(lines) == len(manifest["corpus_documents"]) and sum(len(stimuli.text_to_words(x)) for x in lines) >= 400
    assert json.loads((root / "manifest.json").read_text()) == manifest


def test_timings_are_plausible_speech(made):
    root, _ = made
    wt = stimuli.read_textgrid(root / "derivative/TextGrids/a.TextGrid", tier="word")
    dur = wt.offsets - wt.onsets
    rate = len(wt) / (wt.offsets[-1] - wt.onsets[0])
    assert 1.8 < rate < 3.5, rate  # words per second of narrated speech
    assert dur.min() > 0.05 and dur.max() < 2.0
    assert np.all(wt.onsets[1:] >= wt.offsets[:-1] - 1e-9)
    gaps = wt.onsets[1:] - wt.offsets[:-1]
    assert (gaps > 0.3).mean() > 0.03  # pauses at punctuation
    assert np.median(gaps) == 0.0  # most words follow each other directly


def test_textgrid_has_phone_tier_and_silences(made):
    root, _ = made
    tiers = stimuli.parse_textgrid("x", (root / "derivative/TextGrids/a.TextGrid").read_text())
    assert [t.name for t in tiers] == ["phone", "word"]
    labels = [iv.text for iv in tiers[1].intervals]
    assert "sp" in labels
    phones = stimuli.read_textgrid(root / "derivative/TextGrids/a.TextGrid", tier="phone")
    assert {"AH0", "T", "N"} <= set(phones.words)


def test_trfile_covers_the_story_with_lead_in(made):
    root, manifest = made
    times, tr = stimuli.read_trfile(root / "derivative/trfiles/a.tr")
    wt = stimuli.read_textgrid(root / "derivative/TextGrids/a.TextGrid", tier="word")
    assert tr == 2.0 and times[0] == -10.0
    assert times[-1] >= wt.offsets[-1] + 8.0
    assert len(times) == manifest["stories"]["a"]["n_trs"]


def test_same_seed_same_files_other_seed_other_text(made, tmp_path):
    root, manifest = made
    again = make(tmp_path / "x", ["a", "b", "c"], seed=0)
    assert again == manifest
    assert (tmp_path / "x/derivative/TextGrids/b.TextGrid").read_bytes() == (
        root / "derivative/TextGrids/b.TextGrid"
    ).read_bytes()
    other = make(tmp_path / "y", ["a"], seed=1)
    assert other["stories"]["a"]["documents"] != manifest["stories"]["a"]["documents"]


def test_syllables():
    assert demo.syllables("hello") == 2
    assert demo.syllables("the") == 1
    assert demo.syllables("500") == 4
    assert demo.syllables("Mittagong") == 3
