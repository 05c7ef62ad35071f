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
