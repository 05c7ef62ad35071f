"""Config validation: schema, defaults, clear errors."""

import copy
from pathlib import Path

import pytest
import yaml

from lre import config, jobs
from lre.errors import ConfigError
from lre.features import resolve_spaces

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def demo_raw():
    return yaml.safe_load((ROOT / "config.yaml").read_text())


def test_default_config_validates_and_lists_enough_spaces(demo_raw):
    cfg = config.load(ROOT / "config.yaml")
    spaces = resolve_spaces(cfg["features"]["models"])
    assert len(spaces) >= 25
    names = [s.name for s in spaces]
    assert "minilm.L0" in names and "minilm.L6" in names and "glove_next.vec" in names
    assert len(names) == len(set(names))


def test_defaults_are_filled(demo_raw):
    cfg = config.validate(demo_raw)
    assert cfg["stimuli"]["drop_bracketed"] is True
    assert cfg["features"]["models"]["glove"]["oov"] == "pieces"
    assert cfg["features"]["models"]["minilm"]["word_vector"] == "last"
    assert cfg["features"]["models"]["spacy"]["context_words"] == 16
    assert "context_tokens" not in cfg["features"]["models"]["glove"]  # family defaults stay in their family
    assert demo_raw["features"]["models"]["glove"].get("oov") is None  # the input is not modified


def test_unknown_key_is_rejected_with_a_suggestion(demo_raw):
    raw = copy.deepcopy(demo_raw)
    raw["features"]["models"]["minilm"]["context_tokns"] = 64
    with pytest.raises(
        ConfigError, match=r"features\.models\.minilm.*'context_tokns' \(did you mean 'context_tokens'\?\)"
    ):
        config.validate(raw)
    raw = copy.deepcopy(demo_raw)
    raw["sed"] = 1
    with pytest.raises(ConfigError, match=r"did you mean 'seed'"):
        config.validate(raw)


def test_wrong_value_names_the_field(demo_raw):
    raw = copy.deepcopy(demo_raw)
    raw["features"]["models"]["glove"]["oov"] = "ignore"
    with pytest.raises(ConfigError, match=r"features\.models\.glove\.oov.*'ignore' is not one of"):
        config.validate(raw)
    raw = copy.deepcopy(demo_raw)
    raw["features"]["models"]["minilm"]["layers"] = [1, -2]
    with pytest.raises(ConfigError, match=r"features\.models\.minilm\.layers"):
        config.validate(raw)


def test_family_specific_keys_are_checked(demo_raw):
    from lre.features import check_models

    raw = copy.deepcopy(demo_raw)
    raw["features"]["models"]["glove"]["context_words"] = 3
    cfg = config.validate(raw)
    with pytest.raises(ConfigError, match=r"'context_words'.*do not apply to family 'static'"):
        check_models(cfg["features"]["models"])


def test_semantic_checks(demo_raw):
    raw = copy.deepcopy(demo_raw)
    raw["features"]["models"]["glove_next"]["of"] = "gloove"
    with pytest.raises(ConfigError, match=r"glove_next\.of.*'gloove' is not a model"):
        config.validate(raw)
    raw = copy.deepcopy(demo_raw)
    raw["stimuli"]["path"] = "data/story.TextGrid"
    with pytest.raises(ConfigError, match=r"\{story\}"):
        config.validate(raw)
    raw = copy.deepcopy(demo_raw)
    raw["stimuli"]["tr_times"] = {"source": "simulated", "n_trs": {"lee01": 300}}
    with pytest.raises(ConfigError, match=r"n_trs.*lee02"):
        config.validate(raw)


def test_demo_paths_must_match(demo_raw):
    cfg = config.validate(demo_raw)
    config.check_demo_paths(cfg)
    cfg["corpus"]["path"] = "elsewhere.txt"
    with pytest.raises(ConfigError, match="corpus.path.*results/demo/corpus.txt"):
        config.check_demo_paths(cfg)


def _walk(node, path, out):
    if not isinstance(node, dict):
        return
    for key, sub in node.get("properties", {}).items():
        out.append((path + [key], sub))
        _walk(sub, path + [key], out)
    for key in ("additionalProperties", "items"):
        if isinstance(node.get(key), dict):
            _walk(node[key], path + ["*"], out)
    for key in ("allOf", "oneOf", "anyOf"):
        for sub in node.get(key, []):
            _walk(sub.get("then", sub), path, out)


def test_every_key_in_the_schema_is_described():
    sch = config.schema()
    found = []
    _walk(sch, [], found)
    for name, sub in sch["definitions"].items():
        _walk(sub, [name], found)
    assert len(found) > 40
    for path, sub in found:
        if set(sub) <= {"default", "items"}:  # per-family default blocks refine a described key
            continue
        assert sub.get("description") or "$ref" in sub, f"{'.'.join(path)} has no description"


def test_job_slices_change_only_with_what_they_depend_on(demo_raw):
    cfg = config.validate(demo_raw)
    a = jobs.features_job(cfg, "glove", "corpus")
    cfg2 = copy.deepcopy(cfg)
    cfg2["features"]["models"]["minilm"]["context_tokens"] = 64
    assert jobs.features_job(cfg2, "glove", "corpus") == a
    assert jobs.features_job(cfg2, "minilm", "corpus") != jobs.features_job(cfg, "minilm", "corpus")
    nxt = jobs.features_job(cfg, "glove_next", "corpus")
    assert nxt["of"] == a  # a shift job depends on its source's slice
    # the corpus side does not depend on the dataset or the stories; the stories' side does
    cfg3 = copy.deepcopy(cfg)
    cfg3["stimuli"]["stories"] = cfg3["stimuli"]["stories"][:2]
    cfg3["dataset"]["subjects"] = ["sub09"]
    assert jobs.features_job(cfg3, "glove", "corpus") == a
    assert jobs.transfer_prepare_job(cfg3) == jobs.transfer_prepare_job(cfg)
    assert jobs.features_job(cfg3, "glove", "stories") != jobs.features_job(cfg, "glove", "stories")
    cfg4 = copy.deepcopy(cfg)
    cfg4["corpus"]["max_words"] = 100
    assert jobs.features_job(cfg4, "glove", "corpus") != a
    assert jobs.features_job(cfg4, "glove", "stories") == jobs.features_job(cfg, "glove", "stories")


def test_dataset_checks(demo_raw):
    from lre.features import resolve_spaces

    raw = copy.deepcopy(demo_raw)
    raw["dataset"]["test_stories"] = ["lee05"]
    cfg = config.validate(raw)
    with pytest.raises(ConfigError, match=r"dataset.test_stories.*\['lee05'\] are in both the training and the test"):
        config.check_dataset(cfg, resolve_spaces(cfg["features"]["models"]))
    raw = copy.deepcopy(demo_raw)
    raw["dataset"]["train_stories"] = ["lee01", "nosuch"]
    cfg = config.validate(raw)
    with pytest.raises(ConfigError, match=r"dataset.train_stories.*\['nosuch'\] are not in stimuli.stories"):
        config.check_dataset(cfg, resolve_spaces(cfg["features"]["models"]))
    raw = copy.deepcopy(demo_raw)
    raw["encoding"] = {"spaces": ["minilm.L9"]}
    cfg = config.validate(raw)
    with pytest.raises(ConfigError, match="encoding.spaces"):
        config.check_dataset(cfg, resolve_spaces(cfg["features"]["models"]))


def test_brain_link_needs_three_groups(demo_raw):
    from lre.features import resolve_spaces

    raw = copy.deepcopy(demo_raw)
    raw["encoding"] = {"spaces": ["minilm.L0", "minilm.L3", "glove.vec"]}
    cfg = config.validate(raw)
    with pytest.raises(ConfigError, match="2 group"):
        config.check_dataset(cfg, resolve_spaces(cfg["features"]["models"]))


def test_test_repeats_is_checked_and_travels_in_the_job_slices(demo_raw):
    """dataset.lebel.test_repeats: a template that names one file per repeat (with a count
    or a list of labels), refused with the demo (which stacks its repeats); the encoding and
    noise-ceiling jobs carry it (their provenance)."""
    raw = copy.deepcopy(demo_raw)
    raw["demo"]["fmri"]["enabled"] = False
    spec = {"path": "derivative/repeats/{subject}/{story}_run-{repeat:02d}.hf5", "repeats": 10}
    raw["dataset"]["lebel"] = {"test_repeats": spec}
    cfg = config.validate(raw)
    spaces = resolve_spaces(cfg["features"]["models"])
    config.check_dataset(cfg, spaces)
    subject = cfg["dataset"]["subjects"][0]
    for job in (jobs.noise_ceiling_job(cfg, subject), jobs.encoding_job(cfg, subject, ["glove.vec"])):
        assert job["dataset"]["lebel"]["test_repeats"] == spec
    assert jobs.noise_ceiling_job(config.validate(copy.deepcopy(demo_raw)), subject) != jobs.noise_ceiling_job(
        cfg, subject
    )
    for path, repeats, problem in (
        ("derivative/repeats/{subject}/{story}.hf5", 3, "names the same file for different repeats"),
        ("derivative/{subject}/{story}_run-{repeat:02d}.hf5", ["a", "b"], "is not a template of the repeat files"),
        ("derivative/{subject}/{story}_{session}_run-{repeat}.hf5", 2, "KeyError: 'session'"),
    ):
        bad = copy.deepcopy(raw)
        bad["dataset"]["lebel"]["test_repeats"] = {"path": path, "repeats": repeats}
        cfg = config.validate(bad)
        with pytest.raises(ConfigError, match="dataset.lebel.test_repeats.path") as info:
            config.check_dataset(cfg, spaces)
        assert problem in str(info.value)
    with pytest.raises(ConfigError, match="dataset.lebel.test_repeats"):
        config.validate(
            dict(raw, dataset=dict(raw["dataset"], lebel={"test_repeats": {"path": "x{repeat}", "repeats": 1}}))
        )
    demo = copy.deepcopy(demo_raw)
    demo["dataset"]["lebel"] = {"test_repeats": spec}
    cfg = config.validate(demo)
    with pytest.raises(ConfigError, match="the demo writes its test repeats stacked"):
        config.check_dataset(cfg, spaces)


@pytest.mark.parametrize(
    "where, value, message",
    [
        (("features", "models", "minilm", "layers"), "bogus", "'features.models.minilm.layers': 'bogus' is not one of"),
        (("features", "models", "minilm", "layers"), [-1], "'features.models.minilm.layers.0': -1 is less than"),
        (("features", "models", "minilm", "layers"), 3, "layers': 3 is not of type 'string' or 'array'"),
        (("dataset", "lebel"), {"test_repeats": {"path": "r{repeat}", "repeats": 1}}, "repeats': 1 is less than"),
        (("dataset", "lebel"), {"test_repeats": "r{repeat}"}, "is not of type 'null' or 'object'"),
    ],
)
def test_a_value_that_fits_no_alternative_names_its_field_once(demo_raw, where, value, message):
    """A oneOf key: the field once (not twice), and the problem under the alternative of the
    value's type, with that key's description as the fix."""
    raw = copy.deepcopy(demo_raw)
    node = raw
    for key in where[:-1]:
        node = node[key]
    node[where[-1]] = value
    with pytest.raises(ConfigError) as info:
        config.validate(raw)
    msg = str(info.value)
    assert message in msg and "Fix: " in msg
    field = msg.split("'")[1]
    assert msg.count(field) == 1 and field.count(where[0]) == 1, msg


# --------------------------------------------------------------------------- analyses


def test_the_default_config_runs_every_analysis(demo_raw):
    assert config.validate(demo_raw)["analyses"] == ["embedding", "encoding", "partition", "brainlink"]
    no_partition = copy.deepcopy(demo_raw)
    del no_partition["partition"]
    assert config.validate(no_partition)["analyses"] == ["embedding", "encoding", "brainlink"]


def lexical_and_glove(demo_raw) -> dict:
    """A config with the lexical controls and GloVe only: too few spaces and groups for the
    embedding and the brain link, and no static space to spare for transfer."""
    cfg = copy.deepcopy(demo_raw)
    cfg["features"]["models"] = {k: cfg["features"]["models"][k] for k in ("lexical", "glove")}
    cfg["demo"]["fmri"]["planted"] = ["lexical.word_rate", "lexical.articulatory", "glove.vec"]
    cfg.pop("partition")
    for key in ("corpus", "transfer", "embedding"):
        cfg.pop(key)
    return cfg


def test_encoding_alone_needs_no_corpus_transfer_embedding_or_number_of_groups(demo_raw):
    cfg = lexical_and_glove(demo_raw)
    out = config.validate(cfg)
    assert out["analyses"] == ["encoding"]
    spaces = resolve_spaces(out["features"]["models"])
    config.check_transfer(out, spaces)  # nothing to check without the embedding analysis
    config.check_dataset(out, spaces)  # two groups are enough without the brain link
    assert config.transfer_spaces(out, spaces) == [] and len(config.encoding_spaces(out, spaces)) == 6
    # the same spaces with the other sections present, encoding chosen: still accepted
    chosen = copy.deepcopy(demo_raw)
    chosen["features"]["models"] = cfg["features"]["models"]
    chosen["demo"]["fmri"]["planted"] = cfg["demo"]["fmri"]["planted"]
    chosen.update(analyses=["encoding"], partition={"spaces": []})
    out = config.validate(chosen)
    config.check_transfer(out, resolve_spaces(out["features"]["models"]))
    config.check_dataset(out, resolve_spaces(out["features"]["models"]))
    # and with every analysis it would be refused, naming why
    with pytest.raises(ConfigError, match="transfer.bottleneck"):
        everything = copy.deepcopy(chosen)
        everything.pop("analyses")
        everything["transfer"].update(exclude=[], targets_only=[])
        everything["embedding"]["anchor"] = "glove.vec"
        out = config.validate(everything)
        config.check_transfer(out, resolve_spaces(out["features"]["models"]))
        config.check_dataset(out, resolve_spaces(out["features"]["models"]))


def test_embedding_alone_needs_no_stories_and_no_dataset(demo_raw):
    cfg = copy.deepcopy(demo_raw)
    for key in ("stimuli", "dataset", "partition"):
        cfg.pop(key)
    out = config.validate(cfg)
    assert out["analyses"] == ["embedding"]
    spaces = resolve_spaces(out["features"]["models"])
    config.check_dataset(out, spaces)
    assert config.encoding_spaces(out, spaces) == [] and config.partition_spaces(out, spaces) == ([], [])
    assert jobs.demo_job(out)["stories"] == []  # the demo writes its corpus only


@pytest.mark.parametrize(
    "analyses, drop, message",
    [
        (["embedding"], "corpus", "'embedding' needs a corpus section"),
        (["encoding"], "dataset", "'encoding' needs stimuli and dataset sections"),
        (["encoding", "partition"], "partition", "'partition' needs the encoding analysis and partition.spaces"),
        (["partition"], None, "'partition' needs the encoding analysis"),
        (["encoding", "brainlink"], None, "'brainlink' needs the embedding and encoding analyses"),
        (["embeding"], None, "is not one of"),
    ],
)
def test_an_analysis_without_what_it_needs_is_refused(demo_raw, analyses, drop, message):
    cfg = copy.deepcopy(demo_raw)
    cfg["analyses"] = analyses
    if drop:
        cfg.pop(drop)
    with pytest.raises(ConfigError, match="analyses") as err:
        config.validate(cfg)
    assert message in str(err.value)


def test_a_config_with_nothing_to_run_says_so(demo_raw):
    cfg = {k: v for k, v in copy.deepcopy(demo_raw).items() if k in ("features", "seed")}
    with pytest.raises(ConfigError, match="nothing to run"):
        config.validate(cfg)


def test_job_slices_of_the_default_config_do_not_depend_on_analyses(demo_raw):
    """Naming the default's analyses changes no job: today's runs need not rerun."""
    implicit = config.validate(demo_raw)
    explicit = config.validate(
        dict(copy.deepcopy(demo_raw), analyses=["brainlink", "encoding", "embedding", "partition"])
    )
    assert explicit["analyses"] == implicit["analyses"]
    spaces = resolve_spaces(implicit["features"]["models"])
    tspaces = config.transfer_spaces(implicit, spaces)
    for make in (
        lambda c: jobs.encoding_job(c, "sub01", ["glove.vec"]),
        lambda c: jobs.embedding_job(c, "bottleneck", tspaces),
        lambda c: jobs.brainlink_job(c, "sub01", config.linked_spaces(c, spaces)),
        lambda c: jobs.space_table_job(c, spaces),
    ):
        assert make(implicit) == make(explicit)


# --------------------------------------------------------------------------- GPU settings


@pytest.mark.parametrize(
    "section, key, value, field",
    [("encoding", "backend", "torch_cuda", "encoding.backend"), ("features", "device", "cuda", "features.device")],
)
def test_a_gpu_only_setting_is_refused_where_torch_sees_no_gpu(demo_raw, section, key, value, field):
    cfg = copy.deepcopy(demo_raw)
    cfg[section][key] = value
    out = config.validate(cfg)
    with pytest.raises(ConfigError, match=field) as err:
        config.check_devices(out, cuda=False)
    assert "torch sees no CUDA device" in str(err.value) and "use auto" in str(err.value)
    assert "lre check --cluster" in str(err.value)
    config.check_devices(out, cuda=True)  # on a GPU machine: fine


def test_auto_settings_run_anywhere(demo_raw):
    cfg = copy.deepcopy(demo_raw)
    cfg["encoding"]["backend"] = "auto"
    config.check_devices(config.validate(cfg), cuda=False)
    del cfg["encoding"]["backend"]
    assert config.validate(cfg)["encoding"]["backend"] == "auto"  # the default
