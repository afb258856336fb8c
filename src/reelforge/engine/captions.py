"""Captions: cues from the voice's timings, written as SRT, WebVTT and styled ASS (libass).

Cue boundaries follow sentences (exact from per-sentence synthesis) and are
split into short, evenly sized chunks of words so no cue overflows two lines.
"""

from __future__ import annotations

import functools
import html
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from reelforge.model.storyboard import Aspect, CaptionPosition, Captions, CaptionStyle
from reelforge.providers.base import Speech, Word

HOLD_S = 0.4
"""How long a cue may stay up after its last word, if the next cue is not due yet."""
FONT_NAME = "DejaVu Sans"


@dataclass(frozen=True, slots=True)
class Cue:
    start_s: float
    end_s: float
    words: tuple[Word, ...]

    @property
    def text(self) -> str:
        return " ".join(w.text for w in self.words)


def _chunks(words: tuple[Word, ...], max_words: int) -> list[tuple[Word, ...]]:
    if not words:
        return []
    count = -(-len(words) // max_words)
    size = -(-len(words) // count)
    return [words[i : i + size] for i in range(0, len(words), size)]


def scene_cues(speech: Speech, offset_s: float, max_words: int) -> list[Cue]:
    """Cues of one scene's narration, shifted to start at `offset_s` in the video."""
    cues: list[Cue] = []
    for sentence in speech.sentences:
        for chunk in _chunks(sentence.words, max_words):
            shifted = tuple(
                Word(w.text, round(w.start_s + offset_s, 3), round(w.end_s + offset_s, 3))
                for w in chunk
            )
            cues.append(Cue(shifted[0].start_s, shifted[-1].end_s, shifted))
    return cues


def settle(cues: list[Cue], video_end_s: float) -> list[Cue]:
    """Hold each cue a little after its last word, never into the next cue or past the end."""
    settled = []
    for i, cue in enumerate(cues):
        limit = cues[i + 1].start_s if i + 1 < len(cues) else video_end_s
        settled.append(Cue(cue.start_s, round(min(cue.end_s + HOLD_S, limit), 3), cue.words))
    return settled


def _clock(seconds: float, decimal: str) -> str:
    millis = round(seconds * 1000)
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs, millis = divmod(rest, 1000)
    return f"{hours:02d}:{minutes:02d}:{secs:02d}{decimal}{millis:03d}"


def to_srt(cues: list[Cue]) -> str:
    blocks = [
        f"{n}\n{_clock(c.start_s, ',')} --> {_clock(c.end_s, ',')}\n{c.text}\n"
        for n, c in enumerate(cues, start=1)
    ]
    return "\n".join(blocks)


def vtt_text(text: str) -> str:
    """Cue text as WebVTT requires: `&`, `<` and `>` as character references (so `<3` is no
    tag, `&` no entity and `-->` no timing line), on one line (a blank line ends a cue)."""
    return html.escape(" ".join(text.split()), quote=False)


def to_vtt(cues: list[Cue]) -> str:
    blocks = [
        f"{_clock(c.start_s, '.')} --> {_clock(c.end_s, '.')}\n{vtt_text(c.text)}\n" for c in cues
    ]
    return "WEBVTT\n\n" + "\n".join(blocks)


@dataclass(frozen=True, slots=True)
class CaptionLayout:
    font_px: int
    margin_v_px: int
    margin_h_px: int
    alignment: int
    """ASS numpad alignment: 2 bottom-centre, 5 middle, 8 top."""


def layout(captions: Captions, aspect: Aspect, size: tuple[int, int]) -> CaptionLayout:
    """Font size and safe margins: phones put UI over the bottom of 9:16 video."""
    width, height = size
    font_px = round(min(height, width * 1.2) * 0.058 * captions.size)
    bottom_share = {Aspect.LANDSCAPE: 0.08, Aspect.SQUARE: 0.10, Aspect.PORTRAIT: 0.20}[aspect]
    alignment = {
        CaptionPosition.BOTTOM: 2,
        CaptionPosition.CENTER: 5,
        CaptionPosition.TOP: 8,
    }[captions.position]
    top_share = 0.12 if aspect is Aspect.PORTRAIT else 0.07
    margin_v = bottom_share if alignment == 2 else top_share
    return CaptionLayout(font_px, round(height * margin_v), round(width * 0.07), alignment)


def caption_rows(box: CaptionLayout, height: int) -> tuple[int, int]:
    """The band of rows (top, bottom; even) that captions laid out by `box` fall in, with room
    for three lines and more: where their sprites are drawn (sprites.py draws them again on
    whole frames if one reaches further)."""
    f = box.font_px
    anchor, above, below = {
        2: (height - box.margin_v_px, 4 * f, f),
        5: (height // 2, 5 * f // 2, 5 * f // 2),
        8: (box.margin_v_px, f, 4 * f),
    }[box.alignment]
    return max(0, (anchor - above) // 2 * 2), min(height, -(-(anchor + below) // 2) * 2)


def ass_colour(hex_rgb: str) -> str:
    """`#RRGGBB` as ASS writes a colour: blue, green, red (alpha comes before, when given)."""
    rgb = hex_rgb.lstrip("#").upper()
    return rgb[4:6] + rgb[2:4] + rgb[0:2]


def _ass_text(text: str) -> str:
    return text.replace("\\", "\\\\").replace("{", "(").replace("}", ")")


def _ass_time(centis: int) -> str:
    hours, rest = divmod(max(0, centis), 360_000)
    minutes, rest = divmod(rest, 6000)
    secs, centis = divmod(rest, 100)
    return f"{hours:d}:{minutes:02d}:{secs:02d}.{centis:02d}"


def _dialogue(start_cs: int, end_cs: int, text: str) -> str:
    return f"Dialogue: 0,{_ass_time(start_cs)},{_ass_time(end_cs)},Caption,,0,0,0,,{text}"


def frame_centis(seconds: float, fps: int, at_frame: int) -> int:
    """ASS time (centiseconds) at which a change due at `seconds` of a scene shows, when the
    scene starts at frame `at_frame` of the script's clock: on the first frame at or after
    `seconds`, wherever the scene sits, so a segment's captions are the same frames whatever
    run of segments it was encoded in.

    Frame K shows an event starting at floor(K·100/fps) cs: that is at most K/fps and, as a
    frame lasts over 1 cs (fps < 100), later than frame K-1.
    """
    frame = math.ceil(seconds * fps - 1e-6) + at_frame
    return max(0, (frame * 100) // fps)


def _header(captions: Captions, aspect: Aspect, size: tuple[int, int]) -> str:
    width, height = size
    box = layout(captions, aspect, size)
    boxed = captions.style is CaptionStyle.BOX
    border_style, outline, back = (
        (3, max(4, box.font_px // 5), "&H60000000")
        if boxed
        else (
            1,
            max(2, box.font_px // 14),
            "&H80000000",
        )
    )
    primary = f"&H00{ass_colour(captions.color)}"
    return "\n".join(
        [
            "[Script Info]",
            "ScriptType: v4.00+",
            f"PlayResX: {width}",
            f"PlayResY: {height}",
            "WrapStyle: 0",
            "ScaledBorderAndShadow: yes",
            "",
            "[V4+ Styles]",
            "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, "
            "BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, "
            "BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
            f"Style: Caption,{FONT_NAME},{box.font_px},{primary},{primary},"
            f"{back if boxed else '&H00000000'},{back},{-1 if captions.bold else 0},0,0,0,"
            f"100,100,0,0,{border_style},"
            f"{outline},{0 if boxed else 1},{box.alignment},{box.margin_h_px},{box.margin_h_px},"
            f"{box.margin_v_px},1",
            "",
            "[Events]",
            "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
        ]
    )


def _events(cues: Sequence[Cue], captions: Captions, centis: Callable[[float], int]) -> list[str]:
    highlight = ass_colour(captions.highlight_color)
    lines = []
    for cue in cues:
        start, end = centis(cue.start_s), centis(cue.end_s)
        if captions.style is not CaptionStyle.WORD_HIGHLIGHT:
            lines.append(_dialogue(start, end, _ass_text(cue.text)))
            continue
        for i, word in enumerate(cue.words):
            word_start = start if i == 0 else centis(word.start_s)
            word_end = end if i == len(cue.words) - 1 else centis(cue.words[i + 1].start_s)
            text = " ".join(
                f"{{\\c&H{highlight}&}}{_ass_text(w.text)}{{\\r}}" if j == i else _ass_text(w.text)
                for j, w in enumerate(cue.words)
            )
            lines.append(_dialogue(word_start, word_end, text))
    return lines


def to_ass(
    cues: list[Cue], captions: Captions, aspect: Aspect, size: tuple[int, int], shift_s: float
) -> str:
    """An ASS script for libass; times are shifted by `-shift_s` (a segment's start)."""
    lines = _events(cues, captions, lambda seconds: round((seconds - shift_s) * 100))
    return "\n".join([_header(captions, aspect, size), *lines]) + "\n"


def _at_frame(seconds: float, *, fps: int, at: int) -> int:
    return frame_centis(seconds, fps, at)


def run_ass(
    scenes: Sequence[tuple[Sequence[Cue], int]],
    captions: Captions,
    aspect: Aspect,
    size: tuple[int, int],
    fps: int,
) -> str:
    """One ASS script for a run of segments: each scene's cues (timed from the scene's start)
    placed at the frame where that scene starts in the run (negative: it began earlier),
    frame-exact (`frame_centis`)."""
    lines = [_header(captions, aspect, size)]
    for cues, at_frame in scenes:
        lines += _events(cues, captions, functools.partial(_at_frame, fps=fps, at=at_frame))
    return "\n".join(lines) + "\n"
