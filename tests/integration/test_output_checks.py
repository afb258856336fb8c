"""Every render is checked before anyone sees it: a normal one passes every check (listed in
its manifest); one with an injected fault — an image generator that returns black frames, a
voice that speaks silence, a caption timed past the end, a caption burned in outside the safe
area — fails in stage `checks`, naming the check, and publishes nothing."""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import wave
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from reelforge import Providers, ReelforgeError, Storyboard, render
from reelforge.engine import captions, checks, pipeline
from reelforge.engine.captions import Cue
from reelforge.engine.checks import CHECKS
from reelforge.model.storyboard import Scene, VideoSettings
from reelforge.providers.base import Speech, Word

pytestmark = pytest.mark.slow
BOARD = Storyboard.model_validate({
    "settings": {"resolution": "480p", "music": {"enabled": False}},
    "scenes": [{"narration": "Glaciers carve valleys slowly over many thousands of years."},
               {"narration": "Rivers then fill them with water, and forests follow."}],
})  # fmt: skip


@dataclasses.dataclass
class BlackImages:
    """An image generator gone wrong (safety filters of hosted ones do return black)."""

    id: str = "black"
    version: str = "1"

    def render(
        self, scene: Scene, index: int, settings: VideoSettings, size: tuple[int, int], out: Path
    ) -> None:
        Image.new("RGB", size, (0, 0, 0)).save(out)


@dataclasses.dataclass
class MutedVoice:
    """The bundled voice, with its audio zeroed: timings right, nothing heard."""

    inner: object
    id: str = "muted"
    version: str = "1"

    def voices(self) -> list[str]:
        return self.inner.voices()  # type: ignore[attr-defined,no-any-return]

    def synthesize(self, text: str, *, voice: str, rate: float, out: Path) -> Speech:
        speech: Speech = self.inner.synthesize(  # type: ignore[attr-defined]
            text, voice=voice, rate=rate, out=out
        )
        with wave.open(str(out), "rb") as spoken:
            params, frames = spoken.getparams(), spoken.getnframes()
        with wave.open(str(out), "wb") as silent:
            silent.setparams(params)
            silent.writeframes(b"\0" * frames * params.sampwidth * params.nchannels)
        return speech


def test_a_normal_render_passes_every_check_and_lists_them(tmp_path: Path) -> None:
    done = render(BOARD, output=tmp_path / "ok.mp4", cache_dir=tmp_path / "cache")
    manifest = json.loads(done.manifest.read_text())
    assert [c["name"] for c in manifest["checks"]] == list(CHECKS)
    assert all(c["ok"] for c in manifest["checks"]), manifest["checks"]
    [captions] = [c for c in manifest["checks"] if c["name"] == "captions"]
    assert "seen in 2 of 2 sampled frames" in captions["detail"]  # each hand-over's caption
    assert "checks" in done.stage_seconds


@pytest.mark.parametrize(
    ("fault", "check"),
    [
        (lambda p: dataclasses.replace(p, images=BlackImages()), "picture"),
        (lambda p: dataclasses.replace(p, voice=MutedVoice(p.voice)), "narration"),
    ],
    ids=["black-frames", "muted-narration"],
)
def test_a_broken_render_fails_naming_the_check(tmp_path: Path, fault: object, check: str) -> None:
    providers = fault(Providers.offline())  # type: ignore[operator]
    with pytest.raises(ReelforgeError) as failed:
        render(BOARD, output=tmp_path / "bad.mp4", cache_dir=tmp_path / "cache",
               providers=providers)  # fmt: skip
    assert failed.value.stage == "checks"
    assert f"output check {check} failed" in failed.value.message
    assert not (tmp_path / "bad.mp4").exists()  # nothing broken is handed over


def _measured_too_quiet(monkeypatch: pytest.MonkeyPatch, *, same_stream: bool) -> None:
    """Compose's measurement of the mix made wrong: far too quiet, said of the very stream it
    measured, or of another one."""
    measure = checks.measure_sound

    def too_quiet(media: Path, *args: object) -> checks.Sound:
        real = measure(media, *args)  # type: ignore[arg-type]
        log = re.sub(r"I:\s+-?[\d.]+ LUFS", "I: -40.0 LUFS", real.log)
        return checks.Sound(log, real.stream if same_stream else "another stream")

    monkeypatch.setattr(checks, "measure_sound", too_quiet)


def test_the_sound_measured_while_composing_is_what_the_checks_judge(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The checks do not decode the sound again when the delivered audio is the measured one."""
    _measured_too_quiet(monkeypatch, same_stream=True)
    with pytest.raises(ReelforgeError) as failed:
        render(BOARD, output=tmp_path / "quiet.mp4", cache_dir=tmp_path / "cache")
    assert failed.value.stage == "checks"
    assert "output check loudness failed: -40.0 LUFS" in failed.value.message


def test_a_measurement_of_another_audio_stream_is_not_trusted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the delivered file's audio is not the stream compose measured, the checks measure
    the delivered file itself."""
    _measured_too_quiet(monkeypatch, same_stream=False)
    done = render(BOARD, output=tmp_path / "ok.mp4", cache_dir=tmp_path / "cache")
    [loudness] = [c for c in done.checks if c["name"] == "loudness"]
    assert loudness["ok"], loudness
    assert "-40.0" not in loudness["detail"]


def test_a_caption_past_the_end_fails_the_captions_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A captions bug injected into the pipeline: one cue more, after the video has ended."""
    timed = pipeline.timed_cues

    def with_a_late_cue(*args: object, **kwargs: object) -> list[Cue]:
        cues = timed(*args, **kwargs)  # type: ignore[arg-type]
        end = cues[-1].end_s
        return [*cues, Cue(end + 30.0, end + 31.0, (Word("late", end + 30.0, end + 31.0),))]

    monkeypatch.setattr(pipeline, "timed_cues", with_a_late_cue)
    with pytest.raises(ReelforgeError) as failed:
        render(BOARD, output=tmp_path / "late.mp4", cache_dir=tmp_path / "cache")
    assert failed.value.stage == "checks"
    assert "output check captions failed" in failed.value.message
    assert "is outside the video" in failed.value.message


def test_a_caption_drawn_outside_the_safe_area_fails_the_captions_check(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A burn-in bug injected into the pipeline: the captions' style loses its bottom margin,
    so they sit on the frame's edge while the layout (and its geometry check) says they don't.
    Only the sampled frames can tell."""
    ass = captions.run_ass

    def on_the_edge(*args: object, **kwargs: object) -> str:
        script: str = ass(*args, **kwargs)  # type: ignore[arg-type]
        return re.sub(r"^(Style: Caption,.*,)\d+,1$", r"\g<1>0,1", script, flags=re.MULTILINE)

    monkeypatch.setattr(captions, "run_ass", on_the_edge)
    with pytest.raises(ReelforgeError) as failed:
        render(BOARD, output=tmp_path / "edge.mp4", cache_dir=tmp_path / "cache")
    assert failed.value.stage == "checks"
    message = failed.value.message
    assert message.startswith("output check captions failed: in the frame at "), message
    assert "outside the safe area of 854×480" in message
    bottom = int(re.findall(r"y \d+–(\d+)", message)[0])
    assert bottom > 480 * 0.95  # the caption reaches into the bottom margin
    assert not (tmp_path / "edge.mp4").exists()


def test_sampled_caption_frames_are_the_numbered_frames_of_the_whole_decode(
    tmp_path: Path,
) -> None:
    """Seeking to each hand-over gives exactly the frames a full decode numbers so (only those
    before the end), whether the sample starts on a keyframe or between two."""
    video = tmp_path / "counter.mp4"
    ffmpeg = checks.ffmpeg_exe()
    subprocess.run(
        [ffmpeg, "-v", "error", "-f", "lavfi", "-i", "testsrc2=size=320x240:rate=30:duration=6",
         "-c:v", "libx264", "-g", "60", "-pix_fmt", "yuv420p", str(video)],
        check=True,
    )  # fmt: skip
    samples = [(0, 3, 6, 9), (58, 61, 64, 67), (150, 153, 156, 159), (178, 181, 184, 187)]
    grab = checks._CaptionGrab(video, 30.0, samples)
    full = subprocess.run(
        [ffmpeg, "-v", "error", "-i", str(video), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        check=True, capture_output=True,
    ).stdout  # fmt: skip
    every = np.frombuffer(full, np.uint8).reshape(-1, 240, 320)
    assert len(every) == 180
    got = checks._luma_frames(grab)
    for sample, frames in zip(samples[:3], got, strict=False):
        assert [f.tobytes() for f in frames] == [every[n].tobytes() for n in sample]
    assert [f.tobytes() for f in got[3]] == [every[178].tobytes()]
    assert [at for at, _ in grab.boxes()] == pytest.approx([4.5 / 30, 62.5 / 30, 154.5 / 30])
