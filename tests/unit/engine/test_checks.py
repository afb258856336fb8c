"""The output checks' verdicts on known inputs: detector logs, cue lists, caption layouts and
MP4s with and without `+faststart`."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
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
    assert checks._captions(expected(cues=[cue(0.5, 3.0), cue(3.0, 9.9)]), []).ok
    late = checks._captions(expected(cues=[cue(0.5, 3.0), cue(9.0, 11.0)]), [])
    assert not late.ok and "outside the video's 10.0 s" in late.detail
    edge = CaptionLayout(font_px=42, margin_v_px=5, margin_h_px=90, alignment=2)
    hugging = checks._captions(expected(cues=[cue(0.5, 3.0)], caption_layout=edge), [])
    assert not hugging.ok and "safe area" in hugging.detail


def test_caption_pixels_seen_in_a_sampled_frame_must_be_inside_the_safe_area() -> None:
    """1280×720: the safe area is x 64–1215, y 36–683 (a 5 % margin, 2 px of tolerance)."""
    cues = expected(cues=[cue(0.5, 3.0), cue(3.0, 9.9)])
    inside = checks._captions(cues, [(3.0, (300, 600, 980, 660)), (6.0, None)])
    assert inside.ok and "(seen in 1 of 2 sampled frames)" in inside.detail
    low = checks._captions(cues, [(3.0, (300, 600, 980, 660)), (6.0, (300, 660, 980, 719))])
    assert not low.ok
    assert low.detail == (
        "in the frame at 6.00 s the captions cover x 300–980, y 660–719: "
        "outside the safe area of 1280×720"
    )
    assert not checks._captions(cues, [(3.0, (20, 600, 980, 660))]).ok


def test_hand_overs_are_sampled_inside_one_narration_where_both_cues_last() -> None:
    frame = 0.04
    cues = [cue(0.5, 2.0), cue(2.0, 4.0), cue(4.5, 6.0), cue(6.0, 6.1), cue(6.1, 7.5),
            cue(7.5, 9.0)]  # fmt: skip
    found = checks.caption_handovers(expected(cues=cues, speech=[(0.4, 7.0)]), frame)
    # 2.0: a hand-over; 4.0→4.5: a pause; 6.0 and 6.1: a cue too short; 7.5: no narration
    assert [round(t, 2) for t in found[0]] == [1.82, 1.94, 2.06, 2.18]
    assert len(found) == 1
    many = [cue(i, i + 1.0) for i in range(9)]
    spread = checks.caption_handovers(expected(cues=many, speech=[(0.0, 10.0)]), frame)
    assert [round(t[1]) for t in spread] == [1, 5, 8]


def test_with_key_frames_each_stretch_samples_the_hand_over_closest_after_one() -> None:
    """Each hand-over's frames are decoded from the key frame before them: in each third of
    the video, the one needing the least decoding is sampled."""
    many = [cue(i, i + 1.0) for i in range(12)]
    spread = checks.caption_handovers(
        expected(cues=many, speech=[(0.0, 13.0)]), 0.04, keyframes_s=[0.0, 2.8, 6.5, 9.5]
    )
    # Hand-overs at 1..11, in thirds 1–4, 5–7, 8–11: 3, 7 and 10 start soonest after a key frame.
    assert [round(t[1]) for t in spread] == [3, 7, 10]


def _frame(text_at: tuple[int, int] | None, shift: int = 0) -> np.ndarray:
    """A 160×90 luma frame: a moving bright bar (the picture's motion) and a caption block."""
    frame = np.full((90, 160), 60, dtype=np.uint8)
    frame[10:14, 20 + shift : 80 + shift] = 230
    if text_at is not None:
        x, y = text_at
        for left, right in ((0, 12), (16, 28), (32, 40)):  # three letters, 8 px tall
            frame[y : y + 8, x + left : x + right] = 255
    return frame


def test_the_caption_box_is_what_changed_at_the_hand_over_but_not_where_the_picture_moves() -> None:
    frames = [_frame((50, 70), 0), _frame((50, 70), 3), _frame((60, 72), 6), _frame((60, 72), 9)]
    box = checks._caption_box(frames)
    assert box is not None
    left, top, right, bottom = box
    assert 49 <= left <= 51 and 98 <= right <= 100 and 69 <= top <= 71 and 78 <= bottom <= 80
    assert top > 14  # the moving bar is not caption
    still = [_frame(None, shift) for shift in (0, 3, 6, 9)]
    assert checks._caption_box(still) is None  # only the picture moved: no caption seen


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
