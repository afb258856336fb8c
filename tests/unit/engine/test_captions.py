from __future__ import annotations

import subprocess
from itertools import pairwise
from pathlib import Path

from reelforge.engine.captions import Cue, layout, scene_cues, settle, to_ass, to_srt, to_vtt
from reelforge.engine.ffmpeg import ffmpeg_exe
from reelforge.engine.stages.captions import segment_ass
from reelforge.engine.timeline import build_timeline
from reelforge.model.storyboard import (
    Aspect,
    CaptionPosition,
    Captions,
    CaptionStyle,
    Scene,
    Storyboard,
    VideoSettings,
)
from reelforge.providers.base import Speech, SpokenSentence, Word

NINE = ("one", "two", "three", "four", "five", "six", "seven", "eight", "nine")


def _speech() -> Speech:
    first = tuple(Word(w, 0.05 + i * 0.3, 0.05 + (i + 1) * 0.3) for i, w in enumerate(NINE))
    second = (Word("Ten.", 3.0, 3.4),)
    return Speech(
        Path("x.wav"),
        3.6,
        (SpokenSentence("...", 0.0, 2.9, first), SpokenSentence("Ten.", 2.9, 3.6, second)),
    )


def test_cues_follow_sentences_split_evenly_and_shifted() -> None:
    cues = scene_cues(_speech(), offset_s=10.0, max_words=4)
    assert [len(c.words) for c in cues] == [3, 3, 3, 1]
    assert cues[0].start_s == 10.05
    assert cues[2].end_s == 12.75
    assert cues[3].text == "Ten."


def test_settle_holds_cues_but_never_overlaps_or_passes_the_end() -> None:
    cues = settle(scene_cues(_speech(), offset_s=0.0, max_words=4), video_end_s=3.5)
    for a, b in pairwise(cues):
        assert a.end_s <= b.start_s
    assert cues[0].end_s == cues[1].start_s
    assert cues[-1].end_s == 3.5


def test_srt_and_vtt_format() -> None:
    cues = [
        Cue(1.5, 3.25, (Word("Hello", 1.5, 2.0), Word("world.", 2.0, 3.0))),
        Cue(3661.0, 3662.001, (Word("Late.", 3661.0, 3662.0),)),
    ]
    assert to_srt(cues) == (
        "1\n00:00:01,500 --> 00:00:03,250\nHello world.\n\n"
        "2\n01:01:01,000 --> 01:01:02,001\nLate.\n"
    )
    assert to_vtt(cues).startswith("WEBVTT\n\n00:00:01.500 --> 00:00:03.250\nHello world.\n")


def test_vtt_cue_text_is_escaped_so_a_player_shows_it_as_spoken(tmp_path: Path) -> None:
    """`<3`, `&` and `-->` in a narration corrupted the file (a tag, an entity, a timing
    line); read back by ffmpeg's WebVTT demuxer, the text now survives as written."""
    said = ("I", "<3", "Q&A", "-->", "<b>bold</b>")
    cues = [
        Cue(1.0, 2.0, tuple(Word(w, 1.0, 2.0) for w in said)),
        Cue(2.5, 3.0, (Word("next", 2.5, 3.0),)),
    ]
    vtt = tmp_path / "captions.vtt"
    vtt.write_text(to_vtt(cues), encoding="utf-8")
    assert "I &lt;3 Q&amp;A --&gt; &lt;b&gt;bold&lt;/b&gt;\n" in vtt.read_text(encoding="utf-8")
    read_back = subprocess.run(
        [ffmpeg_exe(), "-v", "error", "-i", str(vtt), "-f", "srt", "-"],
        capture_output=True, text=True, check=True, timeout=60,
    ).stdout  # fmt: skip
    assert read_back.split("\n\n")[0].splitlines()[2] == " ".join(said)
    assert read_back.count("-->") == 3  # two cue timings and the spoken arrow


def test_portrait_captions_sit_higher_than_landscape() -> None:
    captions = Captions()
    wide = layout(captions, Aspect.LANDSCAPE, (1280, 720))
    tall = layout(captions, Aspect.PORTRAIT, (1080, 1920))
    assert wide.margin_v_px / 720 < tall.margin_v_px / 1920
    assert tall.font_px < 1080 / 10


def test_position_maps_to_ass_alignment() -> None:
    for position, alignment in (
        (CaptionPosition.BOTTOM, 2),
        (CaptionPosition.CENTER, 5),
        (CaptionPosition.TOP, 8),
    ):
        assert layout(Captions(position=position), Aspect.SQUARE, (720, 720)).alignment == alignment


def test_word_highlight_has_one_event_per_word_with_the_active_word_coloured() -> None:
    cue = Cue(10.0, 11.0, (Word("a{b}", 10.0, 10.5), Word("c", 10.5, 11.0)))
    ass = to_ass(
        [cue],
        Captions(style=CaptionStyle.WORD_HIGHLIGHT),
        Aspect.LANDSCAPE,
        (1280, 720),
        shift_s=9.0,
    )
    events = [line for line in ass.splitlines() if line.startswith("Dialogue:")]
    assert len(events) == 2
    assert events[0].startswith("Dialogue: 0,0:00:01.00,0:00:01.50,Caption")
    assert "{\\c&H00D7FF&}a(b){\\r} c" in events[0]
    assert "a(b) {\\c&H00D7FF&}c{\\r}" in events[1]
    assert "PlayResX: 1280" in ass


def test_plain_styles_have_one_event_per_cue() -> None:
    cue = Cue(0.0, 1.0, (Word("x", 0.0, 0.5), Word("y", 0.5, 1.0)))
    for style in (CaptionStyle.OUTLINE, CaptionStyle.BOX):
        ass = to_ass([cue], Captions(style=style), Aspect.LANDSCAPE, (1280, 720), shift_s=0.0)
        assert sum(line.startswith("Dialogue:") for line in ass.splitlines()) == 1


def test_a_segments_captions_do_not_change_when_an_earlier_scene_does() -> None:
    board = Storyboard(scenes=(Scene(narration="a"), Scene(narration="b")))
    speech = _speech()
    scripts = set()
    for first_scene_s in (3.0, 3.37, 4.123, 5.999):
        slot = build_timeline(board, [first_scene_s, speech.duration_s]).slots[1]
        scripts.add(segment_ass(speech, slot, VideoSettings()))
    assert len(scripts) == 1
    assert "Dialogue:" in scripts.pop()


def test_ass_uses_the_caption_colours_and_weight() -> None:
    cues = scene_cues(_speech(), offset_s=0.0, max_words=4)
    plain = to_ass(cues, Captions(), Aspect.LANDSCAPE, (1280, 720), shift_s=0.0)
    styled = Captions(color="#112233", highlight_color="#AABBCC", bold=False)
    ass = to_ass(cues, styled, Aspect.LANDSCAPE, (1280, 720), shift_s=0.0)
    assert ",&H00FFFFFF,&H00FFFFFF," in plain and "\\c&H00D7FF&" in plain  # the defaults
    assert ",&H00332211,&H00332211," in ass
    assert "\\c&HCCBBAA&" in ass
    style = next(line for line in ass.splitlines() if line.startswith("Style:"))
    assert style.split(",")[7] == "0"  # not bold
