"""A character-level LSTM language model: textgenrnn's pretrained network (Woolf 2018; its
weights ship inside the ``textgenrnn`` package), read with torch.

The network: each character (465 classes, 0 the padding) through a 100-d embedding, two
stacked LSTMs of 128 units, the concatenation of the three (356-d) averaged over the window
with learned attention weights, and a softmax over the next character. It was trained on
windows of 40 characters starting from zero states, so every window here is read the same
way: the ``context_chars`` characters that end at a position, left-padded.

A document is its words joined by single spaces. Per word, causally (nothing after the word
is seen):

- ``L1``, ``L2``: the first and second LSTM's state after the word's last character;
- ``attention``: the attention-weighted average after it (what the next character is
  predicted from);
- ``surprisal`` (with ``surprisal: true``): -log2 p of the word's characters, each given the
  characters before it, summed with the space that starts the word (bits; the first word of
  a document has no space).

With ``untrained: true`` the same network with random weights (Keras' initialisation, from
``seed``): a control for what the architecture alone gives.

The weights file stores Keras' cuDNN layout: per gate block, the input kernel is reordered
(``k.T.reshape(k.shape, order="F")``) and the recurrent kernel transposed, and the two bias
vectors are summed (:func:`load_weights`; read as stored, the network predicts text at about
100 bits per character instead of 2.4).
"""

from __future__ import annotations

import importlib.util
import json
import logging
from pathlib import Path

import numpy as np

from ..errors import ConfigError, MissingModelError
from . import model_field

log = logging.getLogger(__name__)

KEYS = ("source", "context_chars", "surprisal", "untrained", "seed")

#: the packaged networks this family reads: source -> (module, weights file, vocabulary file)
SOURCES = {"textgenrnn": ("textgenrnn", "textgenrnn_weights.hdf5", "textgenrnn_vocab.json")}
INSTALL = "pip install --no-deps textgenrnn==2.0.0"
HIDDEN = 128
EMBEDDING = 100
#: the window the network was trained on
TRAINED_CONTEXT = 40
#: windows read at once (memory: windows x context x 356 floats)
BATCH = 2048


def package_dir(source: str, field: str) -> Path:
    """The installed package folder of ``source`` (found without importing it: textgenrnn's
    own ``__init__`` imports TensorFlow)."""
    if source not in SOURCES:
        raise ConfigError(field, f"unknown character LM {source!r}.", fix=f"use one of {sorted(SOURCES)}.")
    module, weights, vocab = SOURCES[source]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingModelError(field, f"the package {module!r} is not installed.", fix=f"run `{INSTALL}`.")
    folder = Path(list(spec.submodule_search_locations)[0])
    for name in (weights, vocab):
        if not (folder / name).is_file():
            raise MissingModelError(field, f"{folder / name} is missing.", fix=f"reinstall it: `{INSTALL}`.")
    return folder


def load_weights(source: str, field: str) -> tuple[dict, dict[str, int]]:
    """The network's weights in the layout of the LSTM equations (``x @ kernel + h @
    recurrent + bias``, gates i, f, g, o) and its vocabulary (character -> class).

    Returns
    -------
    weights : dict of float32 arrays: ``embedding`` (465, 100); ``kernel1`` (100, 512),
        ``recurrent1`` (128, 512), ``bias1`` (512,); the same for layer 2 with input 128;
        ``attention`` (356,); ``output_kernel`` (356, 465), ``output_bias`` (465,)
    vocab : dict character -> class index (1..464)
    """
    import h5py

    folder = package_dir(source, field)
    _, weights_name, vocab_name = SOURCES[source]
    out = {}
    with h5py.File(folder / weights_name, "r") as f:  # plain arrays: nothing in it can run code
        out["embedding"] = f["embedding/embedding/embeddings:0"][()]
        for layer in (1, 2):
            g = f[f"rnn_{layer}/rnn_{layer}"]
            kernel, bias = g["kernel:0"][()], g["bias:0"][()]
            gates = np.hsplit(kernel, 4)
            out[f"kernel{layer}"] = np.hstack([k.T.reshape(k.shape, order="F") for k in gates])
            out[f"recurrent{layer}"] = np.hstack([r.T for r in np.hsplit(g["recurrent_kernel:0"][()], 4)])
            out[f"bias{layer}"] = bias[: 4 * HIDDEN] + bias[4 * HIDDEN :]
        out["attention"] = f["attention/attention/attention_W:0"][()][:, 0]
        out["output_kernel"] = f["output/output/kernel:0"][()]
        out["output_bias"] = f["output/output/bias:0"][()]
    vocab = json.loads((folder / vocab_name).read_text(encoding="utf-8"))
    return {k: np.asarray(v, dtype=np.float32) for k, v in out.items()}, vocab


def random_weights(weights: dict, seed: int, name: str) -> dict:
    """The untrained twin's weights: every array of ``weights`` replaced by random values of
    its shape, as Keras initialises the network (embedding uniform in [-0.05, 0.05]; kernels
    Glorot-uniform; recurrent kernels orthogonal per gate; biases zero but the forget gate's,
    one; attention uniform in [-0.05, 0.05]), from ``seed`` and the model's name."""
    import zlib

    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])

    def glorot(shape):
        limit = np.sqrt(6.0 / (shape[0] + shape[1]))
        return rng.uniform(-limit, limit, size=shape)

    def orthogonal(n):
        q, r = np.linalg.qr(rng.standard_normal((n, n)))
        return q * np.sign(np.diag(r))

    out = {"embedding": rng.uniform(-0.05, 0.05, size=weights["embedding"].shape)}
    for layer in (1, 2):
        out[f"kernel{layer}"] = glorot(weights[f"kernel{layer}"].shape)
        out[f"recurrent{layer}"] = np.hstack([orthogonal(HIDDEN) for _ in range(4)])
        bias = np.zeros(4 * HIDDEN)
        bias[HIDDEN : 2 * HIDDEN] = 1.0  # unit_forget_bias
        out[f"bias{layer}"] = bias
    out["attention"] = rng.uniform(-0.05, 0.05, size=weights["attention"].shape)
    out["output_kernel"] = glorot(weights["output_kernel"].shape)
    out["output_bias"] = np.zeros(weights["output_bias"].shape)
    return {k: v.astype(np.float32) for k, v in out.items()}


def outputs(name: str, entry: dict, models: dict) -> list[str]:
    """``L1``, ``L2``, ``attention`` and, with ``surprisal: true``, ``surprisal``."""
    return ["L1", "L2", "attention"] + (["surprisal"] if entry.get("surprisal") else [])


def dims(name: str, entry: dict, models: dict) -> dict[str, int | None]:
    width = {"L1": HIDDEN, "L2": HIDDEN, "attention": EMBEDDING + 2 * HIDDEN, "surprisal": 1}
    return {o: width[o] for o in outputs(name, entry, models)}


def check(name: str, entry: dict, models: dict) -> None:
    package_dir(entry["source"], model_field(name, "source"))
    if entry.get("untrained") and entry.get("surprisal"):
        raise ConfigError(
            model_field(name, "surprisal"),
            "an untrained network predicts no language: its surprisal would be noise.",
            fix="leave surprisal out of the untrained twin.",
        )
    n = entry["context_chars"]
    if not 1 <= n <= 4 * TRAINED_CONTEXT:
        raise ConfigError(
            model_field(name, "context_chars"),
            f"{n} characters; the network was trained on windows of {TRAINED_CONTEXT}.",
            fix=f"use {TRAINED_CONTEXT} (or between 1 and {4 * TRAINED_CONTEXT}).",
        )


def document_text(words: list[str]) -> tuple[str, np.ndarray, np.ndarray]:
    """A document's text (its words joined by single spaces) and, per word, where its
    characters start and end (exclusive), two arrays of shape (n_words,)."""
    starts, ends, pos = [], [], 0
    for i, w in enumerate(words):
        pos += 1 if i else 0
        starts.append(pos)
        pos += len(w)
        ends.append(pos)
    return " ".join(words), np.asarray(starts, dtype=np.int64), np.asarray(ends, dtype=np.int64)


def windows(ids: np.ndarray, ends: np.ndarray, context: int) -> np.ndarray:
    """The ``context`` classes before each position of ``ends`` (exclusive), left-padded with
    0: (len(ends), context) int64."""
    padded = np.concatenate([np.zeros(context, dtype=np.int64), ids])
    idx = ends[:, None] + np.arange(context)[None, :]  # in padded coordinates: ends - context .. ends - 1
    return padded[idx]


class Network:
    """textgenrnn in torch (CPU or GPU), from :func:`load_weights`."""

    def __init__(self, weights: dict, device: str = "cpu"):
        import torch

        self.device = torch.device(device)
        t = {k: torch.from_numpy(v).to(self.device) for k, v in weights.items()}
        self.lstm = []
        for layer, width in ((1, EMBEDDING), (2, HIDDEN)):
            cell = torch.nn.LSTM(width, HIDDEN, batch_first=True).to(self.device)
            with torch.no_grad():
                cell.weight_ih_l0.copy_(t[f"kernel{layer}"].T)
                cell.weight_hh_l0.copy_(t[f"recurrent{layer}"].T)
                cell.bias_ih_l0.copy_(t[f"bias{layer}"])
                cell.bias_hh_l0.zero_()
            self.lstm.append(cell.eval())
        self.t = t

    def __call__(self, win: np.ndarray, head: bool = False):
        """Read windows (n, context) of classes: the last step's ``L1``, ``L2`` (n, 128), the
        ``attention`` average (n, 356) and, with ``head``, log-probabilities of the next
        character (n, 465), all float32 numpy arrays."""
        import torch

        with torch.inference_mode():
            x = self.t["embedding"][torch.from_numpy(win).to(self.device)]
            h1, _ = self.lstm[0](x)
            h2, _ = self.lstm[1](h1)
            seq = torch.cat([x, h1, h2], dim=2)
            weights = torch.softmax(seq @ self.t["attention"], dim=1)
            att = (seq * weights[..., None]).sum(1)
            out = {"L1": h1[:, -1], "L2": h2[:, -1], "attention": att}
            if head:
                out["logp"] = torch.log_softmax(att @ self.t["output_kernel"] + self.t["output_bias"], dim=1)
            return {k: v.float().cpu().numpy() for k, v in out.items()}


def encode(text: str, vocab: dict[str, int]) -> np.ndarray:
    """Classes of a text's characters (0, the padding class, for a character the network
    never saw)."""
    return np.fromiter((vocab.get(c, 0) for c in text), dtype=np.int64, count=len(text))


def read_document(net: Network, vocab: dict, words: list[str], context: int, surprisal: bool) -> dict:
    """One document's features (:mod:`lre.features.charlm`): per output an array of shape
    (n_words, dim), float32; ``surprisal`` (n_words, 1) in bits."""
    text, starts, ends = document_text(words)
    ids = encode(text, vocab)
    feats = {"L1": [], "L2": [], "attention": []}
    for k in range(0, len(ends), BATCH):
        out = net(windows(ids, ends[k : k + BATCH], context))
        for key in feats:
            feats[key].append(out[key])
    result = {k: np.concatenate(v) if v else np.zeros((0, dims("", {}, {})[k]), np.float32) for k, v in feats.items()}
    if surprisal:
        # every character from each word's leading space to its end, predicted from before it
        first = np.maximum(starts - 1, 0)
        positions = np.concatenate([np.arange(a, b) for a, b in zip(first, ends)]) if len(ends) else np.zeros(0, int)
        owner = np.repeat(np.arange(len(ends)), ends - first)
        bits = np.zeros(len(ends), dtype=np.float64)
        for k in range(0, len(positions), BATCH):
            pos = positions[k : k + BATCH]
            logp = net(windows(ids, pos, context), head=True)["logp"]
            np.add.at(bits, owner[k : k + BATCH], -logp[np.arange(len(pos)), ids[pos]] / np.log(2.0))
        result["surprisal"] = bits.astype(np.float32)[:, None]
    return result


def extract(name: str, entry: dict, docs: list[list[str]], settings: dict, inputs: dict):
    """Per word, the network's states after the word's last character (``L1``, ``L2``,
    ``attention``) and, with ``surprisal``, its surprisal in bits: ``({output: [float32
    (n_words, dim) per doc]}, info)``."""
    from tqdm import tqdm

    field = model_field(name, "source")
    weights, vocab = load_weights(entry["source"], field)
    untrained = bool(entry.get("untrained"))
    seed = int(entry.get("seed", settings.get("seed", 0)))
    if untrained:  # the same network with random weights: a control for what its structure gives
        weights = random_weights(weights, seed, name)
    from .hf import pick_device

    device = pick_device(settings.get("device", "cpu"))
    net = Network(weights, device)
    context, surprisal = int(entry["context_chars"]), bool(entry.get("surprisal"))
    out = {o: [] for o in outputs(name, entry, {})}
    unknown = 0
    for words in tqdm(docs, desc=f"{name}: documents", unit="doc", mininterval=5.0):
        unknown += sum(c not in vocab for c in " ".join(words))
        feats = read_document(net, vocab, words, context, surprisal)
        for o in out:
            out[o].append(feats[o])
    n_chars = sum(len(" ".join(w)) for w in docs)
    log.info(
        "%s: %d words, %d characters (%d the network never saw, read as padding), windows of %d characters",
        name,
        sum(len(d) for d in docs),
        n_chars,
        unknown,
        context,
    )
    folder = package_dir(entry["source"], field)
    info = {
        "family": "charlm",
        "source": entry["source"],
        "package_version": _version(SOURCES[entry["source"]][0]),
        "weights_file": str(folder / SOURCES[entry["source"]][1]),
        "context_chars": context,
        "untrained": untrained,
        **({"seed": seed} if untrained else {}),
        "device": device,
        "unknown_characters": unknown,
        "n_characters": n_chars,
    }
    return out, info


def _version(module: str) -> str | None:
    import importlib.metadata

    try:
        return importlib.metadata.version(module)
    except importlib.metadata.PackageNotFoundError:
        return None
