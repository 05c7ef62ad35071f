"""Readers of word timings and TR files, and their errors."""

import json

import numpy as np
import pytest

from lre import stimuli
from lre.errors import InputError

# Exactly as Praat 6 writes a TextGrid in the long text format.
PRAAT_LONG = '''File type = "ooTextFile"
Object class = "TextGrid"

xmin = 0 
xmax = 2.5 
tiers? <exists> 
size = 2 
item []: 
    item [1]:
        class = "IntervalTier" 
        name = "phone" 
        xmin = 0 
        xmax = 2.5 
        intervals: size = 1 
        intervals [1]:
            xmin = 0 
            xmax = 2.5 
            text = "" 
    item [2]:
        class = "IntervalTier" 
        name = "word" 
        xmin = 0 
        xmax = 2.5 
        intervals: size = 5 
        intervals [1]:
            xmin = 0 
            xmax = 0.5 
            text = "sp" 
        intervals [2]:
            xmin = 0.5 
            xmax = 0.9 
            text = "I" 
        intervals [3]:
            xmin = 0.9 
            xmax = 1.4 
            text = "said ""hi""" 
        intervals [4]:
            xmin = 1.4 
            xmax = 1.6 
            text = "{LG}" 
        intervals [5]:
            xmin = 1.6 
            xmax = 2.5 
            text = "naïve" 
'''

# The same grid in Praat's short text format.
PRAAT_SHORT = '''File type = "ooTextFile"
Object class = "TextGrid"

0
2.5
<exists>
2
"IntervalTier"
"phone"
0
2.5
1
0
2.5
""
"IntervalTier"
"word"
0
2.5
5
0
0.5
"sp"
0.5
0.9
"I"
0.9
1.4
"said ""hi"""
1.4
1.6
"{LG}"
1.6
2.5
"naïve"
'''

EXPECTED = (["I", 'said "hi"', "naïve"], [0.5, 0.9, 1.6], [0.9, 1.4, 2.5])


def check_words(wt):
    assert wt.words == EXPECTED[0]
    np.testing.assert_allclose(wt.onsets, EXPECTED[1])
    np.testing.assert_allclose(wt.offsets, EXPECTED[2])
    np.testing.assert_allclose(wt.times, (np.array(EXPECTED[1]) + EXPECTED[2]) / 2)


@pytest.mark.parametrize("text", [PRAAT_LONG, PRAAT_SHORT], ids=["long", "short"])
@pytest.mark.parametrize("encoding", ["utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be"])
def test_textgrid_formats_and_encodings(tmp_path, text, encoding):
    p = tmp_path / "story.TextGrid"
    p.write_bytes(text.encode(encoding))
    check_words(stimuli.read_textgrid(p, tier="word"))


def test_textgrid_round_trip_through_writer(tmp_path):
    tiers = [
        stimuli.Tier(
            "words",
            [stimuli.Interval(0, 0.3, "sil"), stimuli.Interval(0.3, 0.75, 'a "b"'), stimuli.Interval(0.75, 1.25, "c")],
        )
    ]
    for fmt in ("long", "short"):
        p = tmp_path / f"{fmt}.TextGrid"
        stimuli.write_textgrid(p, tiers, 0, 1.25, fmt=fmt, encoding="utf-16")
        wt = stimuli.read_textgrid(p, tier=["word", "words"])
        assert wt.words == ['a "b"', "c"]
        np.testing.assert_allclose(wt.onsets, [0.3, 0.75])


def test_textgrid_drop_list_is_configurable(tmp_path):
    p = tmp_path / "s.TextGrid"
    p.write_text(PRAAT_LONG, encoding="utf-8")
    wt = stimuli.read_textgrid(p, drop=["i"], drop_bracketed=False)
    # the user's list adds to the defaults: silences and aligner markers stay non-words
    assert wt.words == ['said "hi"', "naïve"]
    assert stimuli.read_textgrid(p, drop_bracketed=False).words == ["I", 'said "hi"', "naïve"]


def test_textgrid_point_tier_is_parsed(tmp_path):
    tiers = [
        stimuli.Tier("events", [stimuli.Interval(0.5, 0.5, "beep")], kind="TextTier"),
        stimuli.Tier("word", [stimuli.Interval(0, 1, "hello")]),
    ]
    text = stimuli.format_textgrid(tiers, 0, 1, "long")
    parsed = stimuli.parse_textgrid("x", text)
    assert parsed[0].kind == "TextTier" and parsed[0].intervals[0].text == "beep"
    with pytest.raises(InputError, match="point tier"):
        p = tmp_path / "p.TextGrid"
        p.write_text(text)
        stimuli.read_textgrid(p, tier="events")


def test_textgrid_missing_tier_lists_the_tiers(tmp_path):
    p = tmp_path / "s.TextGrid"
    p.write_text(PRAAT_LONG)
    with pytest.raises(InputError, match=r"no tier named 'words'.*\['phone', 'word'\].*word_tier"):
        stimuli.read_textgrid(p, tier="words")


def test_textgrid_overlap_names_file_and_line(tmp_path):
    bad = PRAAT_LONG.replace("            xmin = 1.6 \n", "            xmin = 1.5 \n")
    p = tmp_path / "bad.TextGrid"
    p.write_text(bad)
    with pytest.raises(InputError) as e:
        stimuli.read_textgrid(p)
    msg = str(e.value)
    assert "bad.TextGrid" in msg and "overlap" in msg
    assert e.value.line == bad.splitlines().index("        intervals [5]:") + 2


def test_textgrid_reversed_interval(tmp_path):
    p = tmp_path / "s.TextGrid"
    p.write_text(PRAAT_SHORT.replace('0.5\n0.9\n"I"', '0.9\n0.5\n"I"'))
    with pytest.raises(InputError, match="ends .* before it starts"):
        stimuli.read_textgrid(p)


@pytest.mark.parametrize(
    "content,match",
    [
        ("", "is empty"),
        ('File type = "ooTextFile"\nObject class = "Sound"\n', "not 'TextGrid'"),
        (PRAAT_SHORT[: PRAAT_SHORT.index('"naïve"')], "ends early"),
        (PRAAT_SHORT.replace('"IntervalTier"\n"word"', '"IntervalTier"\n"word"\nxyz\n"extra"'), "expected"),
        (PRAAT_SHORT.replace('"sp"', '"sp'), "expected|never closed"),
    ],
)
def test_textgrid_malformed(tmp_path, content, match):
    p = tmp_path / "m.TextGrid"
    p.write_text(content, encoding="utf-8")
    with pytest.raises(InputError, match=match) as e:
        stimuli.read_textgrid(p)
    assert "m.TextGrid" in str(e.value)


def test_textgrid_binary_and_bad_bytes(tmp_path):
    p = tmp_path / "b.TextGrid"
    p.write_bytes(b"ooBinaryFile\x08TextGrid")
    with pytest.raises(InputError, match="binary"):
        stimuli.read_textgrid(p)
    p.write_bytes(PRAAT_LONG.encode("latin-1", errors="replace").replace(b"na", b"\xff\xfe"[:1] + b"na"))
    with pytest.raises(InputError, match="not valid utf-8"):
        stimuli.read_textgrid(p)
    assert stimuli.read_textgrid(p, encoding="latin-1").words[0] == "I"


def gentle_doc():
    return {
        "transcript": "I said hi to the naive cat",
        "words": [
            {"word": "I", "case": "success", "start": 0.5, "end": 0.9, "alignedWord": "i"},
            {"word": "said", "case": "success", "start": 0.9, "end": 1.3, "alignedWord": "said"},
            {"word": "hi", "case": "not-found-in-audio"},
            {"word": "to", "case": "not-found-in-audio"},
            {"word": "the", "case": "success", "start": 2.0, "end": 2.2, "alignedWord": "the"},
            {"word": "naive", "case": "success", "start": 2.2, "end": 2.8, "alignedWord": "naive"},
            {"word": "cat", "case": "not-found-in-audio"},
        ],
    }


def test_gentle_interpolates_and_reports_unaligned_words(tmp_path):
    p = tmp_path / "align.json"
    p.write_text(json.dumps(gentle_doc()))
    wt = stimuli.read_gentle(p)
    assert wt.words == ["I", "said", "hi", "to", "the", "naive", "cat"]
    # "hi" and "to" share the gap 1.3 .. 2.0 evenly; "cat" gets the mean aligned duration
    np.testing.assert_allclose(wt.onsets[2:4], [1.3, 1.65])
    np.testing.assert_allclose(wt.offsets[2:4], [1.65, 2.0])
    mean_dur = np.mean([0.4, 0.4, 0.2, 0.6])
    np.testing.assert_allclose([wt.onsets[6], wt.offsets[6]], [2.8, 2.8 + mean_dur])
    assert "3 of 7 words were not aligned" in wt.notes[0]


def test_gentle_errors(tmp_path):
    p = tmp_path / "align.json"
    p.write_text("{not json")
    with pytest.raises(InputError, match="not valid JSON"):
        stimuli.read_gentle(p)
    p.write_text(json.dumps({"transcript": "x"}))
    with pytest.raises(InputError, match="no 'words' list"):
        stimuli.read_gentle(p)
    doc = gentle_doc()
    for w in doc["words"]:
        w["case"] = "not-found-in-audio"
    p.write_text(json.dumps(doc))
    with pytest.raises(InputError, match="no aligned word"):
        stimuli.read_gentle(p)


def test_tsv_reader_and_errors(tmp_path):
    p = tmp_path / "s.tsv"
    p.write_text("onset\tword\toffset\n0.5\tI\t0.9\n0.9\tsp\t1.0\n1.0\tsaid\t1.4\n")
    wt = stimuli.read_tsv(p)
    assert wt.words == ["I", "said"]
    np.testing.assert_allclose(wt.offsets, [0.9, 1.4])
    p.write_text("word\tstart\tend\nI\t0\t1\n")
    with pytest.raises(InputError, match=r"lacks column\(s\) \['onset', 'offset'\]") as e:
        stimuli.read_tsv(p)
    assert e.value.line == 1
    p.write_text("word\tonset\toffset\nI\t0\t1\nyou\tzero\t2\n")
    with pytest.raises(InputError, match="not numbers") as e:
        stimuli.read_tsv(p)
    assert e.value.line == 3
    p.write_text("word\tonset\toffset\nI\t1\t2\nyou\t0\t0.5\n")
    with pytest.raises(InputError, match="sort the rows"):
        stimuli.read_tsv(p)


def test_trfile_relative_to_sound_start(tmp_path):
    p = tmp_path / "s.tr"
    p.write_text(stimuli.format_trfile([0, 2, 4, 6, 8], sound_start=3.0, sound_stop=7.5))
    times, tr = stimuli.read_trfile(p)
    np.testing.assert_allclose(times, [-3, -1, 1, 3, 5])
    assert tr == 2.0


def test_trfile_errors(tmp_path):
    p = tmp_path / "s.tr"
    p.write_text("0.0 sound-start\n1.0 other\n")
    with pytest.raises(InputError, match="0 trigger line"):
        stimuli.read_trfile(p)
    p.write_text("0.0 trigger\n2.0 trigger\n1.0 trigger\n")
    with pytest.raises(InputError, match="not after the previous") as e:
        stimuli.read_trfile(p)
    assert e.value.line == 3
    p.write_text("0.0 trigger\nabc trigger\n")
    with pytest.raises(InputError, match="does not start with a time"):
        stimuli.read_trfile(p)


def test_simulated_tr_times():
    np.testing.assert_allclose(stimuli.simulated_tr_times(3, 2.0, -10.0), [-10, -8, -6])


def test_text_to_words_keeps_inner_punctuation():
    assert stimuli.text_to_words('"Hello," she said -- it\'s 4:00pm (south-west).') == [
        "Hello",
        "she",
        "said",
        "it's",
        "4:00pm",
        "south-west",
    ]


def test_textgrid_comments_run_to_the_end_of_the_line(tmp_path):
    p = tmp_path / "c.TextGrid"
    p.write_text(PRAAT_SHORT.replace("2.5\n<exists>", "2.5 ! the end, 5.0 s\n<exists>", 1))
    check_words(stimuli.read_textgrid(p))
