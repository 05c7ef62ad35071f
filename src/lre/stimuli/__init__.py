"""The stimuli stage: stories (words with times, volume times) and the transfer corpus.

- :mod:`.readers`: Praat TextGrid, Gentle ``align.json``, TSV and TR-file readers;
- :mod:`.documents`: the documents file every feature space is computed on;
- :mod:`.demo`: the offline demo's stories, cut from real text and given word timings;
- :mod:`.stage`: the ``demo`` and ``stimuli`` commands.
"""

from .readers import (
    DEFAULT_DROP,
    TRIGGER_LABELS,
    Interval,
    Story,
    Tier,
    WordTimes,
    decode_text,
    format_textgrid,
    format_trfile,
    is_nonword,
    parse_textgrid,
    read_gentle,
    read_respdict,
    read_textgrid,
    read_trfile,
    read_tsv,
    simulated_tr_times,
    text_to_words,
    write_textgrid,
)

__all__ = [
    "DEFAULT_DROP",
    "TRIGGER_LABELS",
    "Interval",
    "Story",
    "Tier",
    "WordTimes",
    "decode_text",
    "format_textgrid",
    "format_trfile",
    "is_nonword",
    "parse_textgrid",
    "read_gentle",
    "read_respdict",
    "read_textgrid",
    "read_trfile",
    "read_tsv",
    "simulated_tr_times",
    "text_to_words",
    "write_textgrid",
]
