"""The output checks' verdicts on known inputs: detector logs, cue lists, caption layouts and
MP4s with and without `+faststart`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from reelforge.engine import checks
from reelforge.engine.captions import CaptionLayout, Cue
from reelforge.engine.ffmpeg import ffmpeg_exe
from reelforge.providers.base import Word

LOG = """
[blackdetect @ 0x1] black_start:2.5 black_end:4.25 black_duration:1.75
[freezedetect @ 0x2] lavfi.freezedetect.freeze_start: 7
[silencedetect @ 0x3] silence_start: 1.2
[silencedetect @ 0x3] silence_end: 3.7 | silence_duration: 2.5
"""


def expected(**changes: object) -> checks.Expected:
    fields: dict[str, object] = {
        "duration_s": 10.0, "frame_size": (1280, 720), "moving": [(0.0, 10.0)],
        "speech": [(0.5, 9.5)], "voice_clips": [], "cues": [],
        "caption_layout": CaptionLayout(font_px=42, margin_v_px=58, margin_h_px=90, alignment=2),
    }  # fmt: skip
    return checks.Expected(**(fields | changes))  # type: ignore[arg-type]


def cue(start: float, end: float) -> Cue:
    return Cue(start, end, (Word("tides", start, end),))


def test_detector_logs_become_spans_and_an_open_one_runs_to_the_end() -> None:
    spans = checks._spans(LOG)
    assert spans == {"black": [(2.5, 4.25)], "freeze": [(7.0, float("inf"))],
                     "silence": [(1.2, 3.7)]}  # fmt: skip


def test_spans_of_pieces_join_across_their_cuts() -> None:
    pieces = [
        (0.0, {"black": [(0.0, 0.1)], "freeze": [(1.5, 2.0)]}),
        (2.0, {"black": [], "freeze": [(0.0, 0.6)]}),  # continues the freeze before the cut
        (4.0, checks.picture_spans(LOG)),  # black 2.5–4.25 and an open freeze from 7
    ]
    joined = checks.join_picture_spans(pieces, gap_s=0.15)
    assert joined["black"] == [(0.0, 0.1), (6.5, 8.25)]
    assert joined["freeze"] == [(1.5, 2.6), (11.0, float("inf"))]


def test_black_or_silent_where_the_video_moves_and_speaks_fails() -> None:
    spans = checks._spans(LOG)
    picture = checks._picture(spans, expected())
    assert not picture.ok and picture.detail == "black from 2.5 s to 4.2 s"
    assert checks._picture(spans, expected(moving=[(4.5, 6.5)])).ok  # a still card there
    narration = checks._narration(spans, expected())
    assert not narration.ok and "no sound at 1.2 s" in narration.detail
    assert checks._narration(spans, expected(speech=[(4.0, 9.0)])).ok


def test_a_cue_past_the_end_or_captions_off_the_safe_area_fail() -> None:
    assert checks._captions(expected(cues=[cue(0.5, 3.0), cue(3.0, 9.9)])).ok
    late = checks._captions(expected(cues=[cue(0.5, 3.0), cue(9.0, 11.0)]))
    assert not late.ok and "outside the video's 10.0 s" in late.detail
    edge = CaptionLayout(font_px=42, margin_v_px=5, margin_h_px=90, alignment=2)
    hugging = checks._captions(expected(cues=[cue(0.5, 3.0)], caption_layout=edge))
    assert not hugging.ok and "safe area" in hugging.detail


@pytest.mark.parametrize(("flags", "ok"), [(["-movflags", "+faststart"], True), ([], False)])
def test_the_container_must_be_h264_aac_with_the_index_first(
    tmp_path: Path, flags: list[str], ok: bool
) -> None:
    video = tmp_path / "v.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "testsrc2=s=160x90:d=1",
         "-f", "lavfi", "-i", "sine=d=1", "-c:v", "libx264", "-c:a", "aac", *flags, str(video)],
        check=True,
    )  # fmt: skip
    result = checks._container(video)
    assert result.ok is ok, result.detail
    assert ok or "not +faststart" in result.detail
