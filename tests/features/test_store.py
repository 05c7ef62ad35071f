"""Feature files, the features stage, and the shift family."""

import numpy as np
import pytest

from lre import io, stimuli
from lre.errors import InputError, LreError
from lre.features import shift, stage
from lre.features.store import FeatureFile
from lre.stimuli import documents


def test_shift_rows_known_answer():
    x = np.arange(10, dtype=np.float32).reshape(5, 2)
    np.testing.assert_array_equal(shift.shift_rows(x, 1), [[2, 3], [4, 5], [6, 7], [8, 9], [0, 0]])
    np.testing.assert_array_equal(shift.shift_rows(x, -2), [[0, 0], [0, 0], [0, 1], [2, 3], [4, 5]])
    np.testing.assert_array_equal(shift.shift_rows(x, 0), x)
    assert not shift.shift_rows(x, 7).any()


@pytest.fixture
def docs_file(tmp_path):
    wt = stimuli.WordTimes(["I", "don't", "know", "why"], [0.0, 0.4, 0.8, 1.2], [0.4, 0.8, 1.2, 1.5])
    docs = documents.Documents(
        corpus={"d0": ["the", "cat", "sat"], "d1": ["a", "dog"]},
        stories={"st": stimuli.Story("st", wt, np.arange(5) * 2.0 - 1.0, 2.0)},
    )
    path = tmp_path / "documents.h5"
    documents.write(path, docs, {"test": True})
    return path


def job(model, entry, of=None):
    j = {
        "stage": "features",
        "model": model,
        "entry": entry,
        "settings": {"compute_dtype": "float32", "batch_size": 8},
        "seed": 0,
        "stimuli": {},
    }
    if of:
        j["of"] = of
    return j


def test_documents_round_trip(docs_file):
    docs = documents.read(docs_file)
    assert docs.corpus == {"d0": ["the", "cat", "sat"], "d1": ["a", "dog"]}
    st = docs.stories["st"]
    assert st.words.words == ["I", "don't", "know", "why"] and st.tr == 2.0
    np.testing.assert_allclose(st.words.times, [0.2, 0.6, 1.0, 1.35])
    np.testing.assert_allclose(st.tr_times, [-1, 1, 3, 5, 7])


def test_stage_writes_lexical_and_shift(docs_file, tmp_path):
    lex = {"family": "lexical", "outputs": ["word_rate", "word_length"], "oov": "pieces"}
    stage.run(job("lex", lex), docs_file, tmp_path / "lex.h5", {"device": "cpu", "threads": 1})
    ff = FeatureFile(tmp_path / "lex.h5")
    assert ff.spaces == ["lex.word_rate", "lex.word_length"] and ff.family == "lexical"
    np.testing.assert_array_equal(ff.load("lex.word_length", "stories")["st"][:, 0], [1, 4, 4, 3])
    assert ff.words("corpus") == {"d0": ["the", "cat", "sat"], "d1": ["a", "dog"]}
    np.testing.assert_allclose(ff.times()["st"], [0.2, 0.6, 1.0, 1.35])
    assert ff.provenance["config_hash"] == io.config_hash(job("lex", lex))

    nxt = {"family": "shift", "of": "lex", "shift": 1}
    stage.run(job("nxt", nxt, of=job("lex", lex)), docs_file, tmp_path / "nxt.h5", {}, of_path=tmp_path / "lex.h5")
    nf = FeatureFile(tmp_path / "nxt.h5")
    assert nf.spaces == ["nxt.word_rate", "nxt.word_length"]
    np.testing.assert_array_equal(nf.load("nxt.word_length", "stories")["st"][:, 0], [4, 4, 3, 0])
    np.testing.assert_array_equal(nf.load("nxt.word_length", "corpus")["d1"][:, 0], [3, 0])
    with pytest.raises(InputError, match="has no space 'nxt.L1'"):
        nf.load("nxt.L1", "stories")


def test_stage_refuses_non_finite_features_and_writes_nothing(docs_file, tmp_path, monkeypatch):
    from lre.features import lexical

    real = lexical.extract

    def broken(*a, **k):
        feats, info = real(*a, **k)
        feats["word_rate"][0][0, 0] = np.nan
        return feats, info

    monkeypatch.setattr(lexical, "extract", broken)
    lex = {"family": "lexical", "outputs": ["word_rate"], "oov": "pieces"}
    with pytest.raises(LreError, match="non-finite"):
        stage.run(job("lex", lex), docs_file, tmp_path / "lex.h5", {})
    assert list(tmp_path.glob("lex.h5*")) == [] and list(tmp_path.glob(".lex.h5*")) == []


def test_shift_refuses_features_of_other_documents(docs_file, tmp_path):
    lex = {"family": "lexical", "outputs": ["word_rate"], "oov": "pieces"}
    stage.run(job("lex", lex), docs_file, tmp_path / "lex.h5", {})
    other = documents.Documents(corpus={"d0": ["other", "words"]}, stories={})
    documents.write(tmp_path / "other.h5", other, {})
    nxt = {"family": "shift", "of": "lex", "shift": 1}
    with pytest.raises(InputError, match="documents differ"):
        stage.run(
            job("nxt", nxt, of=job("lex", lex)),
            tmp_path / "other.h5",
            tmp_path / "n.h5",
            {},
            of_path=tmp_path / "lex.h5",
        )


def test_a_feature_file_made_for_another_config_is_refused_with_the_fields_that_differ(
    docs_file, tmp_path, monkeypatch, caplog
):
    from lre import provenance

    lex = {"family": "lexical", "outputs": ["word_rate", "word_length"], "oov": "pieces"}
    stage.run(job("lex", lex), docs_file, tmp_path / "lex.h5", {"device": "cpu", "threads": 1})
    assert FeatureFile(tmp_path / "lex.h5", expect=job("lex", lex)).spaces  # the same job: accepted
    other = job("lex", dict(lex, oov="zero"))
    other["seed"] = 3
    with pytest.raises(InputError) as err:
        FeatureFile(tmp_path / "lex.h5", expect=other)
    msg = str(err.value)
    assert "lex.h5" in msg and "made for a different config" in msg
    assert "entry.oov: file has 'pieces', this config gives 'zero'" in msg and "seed: file has 0" in msg
    assert "LRE_ACCEPT_PROVENANCE=1" in msg
    monkeypatch.setenv("LRE_ACCEPT_PROVENANCE", "1")  # told to accept: a warning, and it loads
    assert FeatureFile(tmp_path / "lex.h5", expect=other).spaces == ["lex.word_rate", "lex.word_length"]
    assert "Used anyway" in caplog.text
    monkeypatch.delenv("LRE_ACCEPT_PROVENANCE")
    monkeypatch.setattr(provenance, "ACCEPT", True)  # what --accept-provenance sets
    assert FeatureFile(tmp_path / "lex.h5", expect=other).spaces


def _with_packages(path, environment, **packages):
    import h5py

    with h5py.File(path, "r+") as f:
        rec = io.h5_get_json(f, "provenance")
        rec["environment"] = environment
        rec["packages"].update(packages)
        io.h5_set_json(f, "provenance", rec)


def test_package_versions_are_refused_within_one_environment_and_logged_across(
    docs_file, tmp_path, monkeypatch, caplog
):
    """A file this environment made before numpy changed is refused; one from another
    environment (the legacy one) may differ, logged; a snakemake upgrade changes no number."""
    import sys

    lex = {"family": "lexical", "outputs": ["word_rate"], "oov": "pieces"}
    stage.run(job("lex", lex), docs_file, tmp_path / "lex.h5", {"device": "cpu", "threads": 1})
    _with_packages(tmp_path / "lex.h5", sys.prefix, numpy="1.26.4")
    with pytest.raises(InputError, match=r"made in this environment .* numpy 1.26.4 \(now "):
        FeatureFile(tmp_path / "lex.h5", expect=job("lex", lex))
    _with_packages(tmp_path / "lex.h5", sys.prefix, numpy=io.package_versions()["numpy"], snakemake="8.0.0")
    with caplog.at_level("INFO", logger="lre.provenance"):
        assert FeatureFile(tmp_path / "lex.h5", expect=job("lex", lex)).spaces
    assert "snakemake 8.0.0 (now" in caplog.text
    _with_packages(tmp_path / "lex.h5", "/opt/envs/legacy", transformers="4.37.2", numpy="1.26.4")
    caplog.clear()
    with caplog.at_level("INFO", logger="lre.provenance"):
        assert FeatureFile(tmp_path / "lex.h5", expect=job("lex", lex)).spaces
    assert "made with other package versions" in caplog.text and "numpy 1.26.4 (now" in caplog.text
    _with_packages(tmp_path / "lex.h5", sys.prefix)
    monkeypatch.setenv("LRE_ACCEPT_PROVENANCE", "1")
    assert FeatureFile(tmp_path / "lex.h5", expect=job("lex", lex)).spaces
    assert "Used anyway" in caplog.text


def test_the_features_stage_checks_its_documents_file(docs_file, tmp_path):
    lex = {"family": "lexical", "outputs": ["word_rate"], "oov": "pieces"}
    j = job("lex", lex)
    j["stimuli"] = {"stage": "stimuli", "stimuli": {"stories": ["st"]}, "corpus": {"path": "c.txt"}}
    with pytest.raises(InputError, match="documents file records no provenance"):
        stage.run(j, docs_file, tmp_path / "lex.h5", {"device": "cpu", "threads": 1})
    assert not (tmp_path / "lex.h5").exists()
    documents.write(docs_file, documents.read(docs_file), io.provenance(j["stimuli"]))
    stage.run(j, docs_file, tmp_path / "lex.h5", {"device": "cpu", "threads": 1})
    assert (tmp_path / "lex.h5").exists()
