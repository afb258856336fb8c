"""The pipeline through its public API with the real voice and ffmpeg, at small sizes."""

from __future__ import annotations

import dataclasses
import subprocess
import uuid
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest
from PIL import Image

from reelforge import InvalidInput, Providers, ReelforgeError, Storyboard, VideoSettings, render
from reelforge.engine.ffmpeg import ffmpeg_exe
from reelforge.engine.pipeline import STAGES
from reelforge.errors import ProviderError

pytestmark = pytest.mark.slow

SETTINGS = {"resolution": "480p", "captions": {"enabled": False}, "seed": 11}
NARRATIONS = [
    "Glaciers carve valleys slowly.",
    "Rivers then fill them with water.",
    "Forests grow along the new banks.",
    "Animals follow the forests north.",
]


def board(*narrations: str, **scene_fields: object) -> Storyboard:
    return Storyboard.model_validate(
        {"settings": SETTINGS, "scenes": [{"narration": n, **scene_fields} for n in narrations]}
    )


def mid_frame_rgb(video: Path, seconds: float) -> np.ndarray:
    with av.open(str(video)) as container:
        for frame in container.decode(container.streams.video[0]):
            if frame.time is not None and frame.time >= seconds:
                return frame.to_ndarray(format="rgb24").reshape(-1, 3).mean(axis=0)
    raise AssertionError("no frame")


def test_unchanged_storyboard_re_renders_from_cache(tmp_path: Path) -> None:
    sb = board(*NARRATIONS[:2])
    first = render(sb, output=tmp_path / "a.mp4", cache_dir=tmp_path / "cache")
    again = render(sb, output=tmp_path / "b.mp4", cache_dir=tmp_path / "cache")
    assert first.cache_misses
    assert again.cache_misses == {}
    assert (first.scenes_reused, again.scenes_reused) == (0, 2)
    assert again.duration_s == first.duration_s
    assert (tmp_path / "b.mp4").stat().st_size > 0


def test_editing_one_scene_redoes_only_that_scene_and_its_neighbour(tmp_path: Path) -> None:
    sb = board(*NARRATIONS)
    render(sb, output=tmp_path / "a.mp4", cache_dir=tmp_path / "cache")
    scenes = list(sb.scenes)
    scenes[1] = scenes[1].model_copy(update={"narration": "Lakes then fill them with water."})
    edited = render(
        sb.model_copy(update={"scenes": tuple(scenes)}),
        output=tmp_path / "b.mp4",
        cache_dir=tmp_path / "cache",
    )
    misses = edited.cache_misses
    assert misses.get("voice") == 1
    assert misses.get("visuals", 0) <= 1
    # The edited scene (its fade-in and the rest) and the next scene's fade-in from it.
    assert misses.get("segment") == 3
    assert misses.get("audio") == 1
    assert edited.cache_hits["voice"] == 3
    assert edited.scenes_reused == len(NARRATIONS) - 2  # what the render page shows


def test_a_narration_of_another_length_shifts_later_scenes_without_re_encoding_them(
    tmp_path: Path,
) -> None:
    sb = board(*NARRATIONS)
    first = render(sb, output=tmp_path / "a.mp4", cache_dir=tmp_path / "cache")
    scenes = list(sb.scenes)
    longer = "Rivers then fill them with cold, clear water from the melting ice above."
    scenes[1] = scenes[1].model_copy(update={"narration": longer})
    edited = render(
        sb.model_copy(update={"scenes": tuple(scenes)}),
        output=tmp_path / "b.mp4",
        cache_dir=tmp_path / "cache",
    )
    assert edited.duration_s > first.duration_s + 1
    assert edited.cache_misses.get("segment") == 3
    with av.open(str(edited.video)) as container:
        stream = container.streams.video[0]
        assert stream.frames == round(edited.duration_s * 30)
    # Later scenes moved, their pictures did not: the last scene looks as it did.
    shift = edited.duration_s - first.duration_s
    before = mid_frame_rgb(first.video, first.duration_s - 1.5)
    after = mid_frame_rgb(edited.video, first.duration_s - 1.5 + shift)
    assert np.abs(before - after).max() < 4


def test_local_image_and_video_files_are_used_as_scene_visuals(tmp_path: Path) -> None:
    red = tmp_path / "red.png"
    Image.new("RGB", (300, 500), (220, 20, 20)).save(red)
    green = tmp_path / "green.mp4"
    subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "color=c=0x10C020:s=320x240:r=30",
         "-t", "1", "-pix_fmt", "yuv420p", str(green)],
        check=True,
    )  # fmt: skip
    sb = Storyboard.model_validate(
        {
            "settings": SETTINGS,
            "scenes": [
                {"narration": NARRATIONS[0], "visual": {"kind": "file", "path": str(red)}},
                {"narration": NARRATIONS[1], "visual": {"kind": "file", "path": str(green)}},
            ],
        }
    )
    result = render(sb, output=tmp_path / "v.mp4", cache_dir=tmp_path / "cache")
    slots = [s.model_dump() for s in result.storyboard.scenes]
    assert len(slots) == 2
    split = result.duration_s * 0.25, result.duration_s * 0.8
    r, g, _ = mid_frame_rgb(result.video, split[0])
    assert r > 150 and g < 80
    r, g, _ = mid_frame_rgb(result.video, split[1])
    assert g > 130 and r < 80


def test_progress_reports_every_stage_in_order(tmp_path: Path) -> None:
    events: list[tuple[str, float]] = []
    render(
        "Owls hunt at night. Their feathers make almost no sound.",
        output=tmp_path / "p.mp4",
        cache_dir=tmp_path / "cache",
        on_progress=lambda stage, fraction, _msg: events.append((stage, fraction)),
    )
    order = list(dict.fromkeys(stage for stage, _ in events))
    assert order == list(STAGES)
    for stage in STAGES:
        fractions = [f for s, f in events if s == stage]
        assert fractions == sorted(fractions)
        assert fractions[-1] == 1.0


def test_a_broken_clip_fails_naming_the_stage_and_writes_nothing(tmp_path: Path) -> None:
    broken = tmp_path / "clip.mp4"
    broken.write_bytes(b"\x00not a video" * 100)
    sb = board(NARRATIONS[0], visual={"kind": "file", "path": str(broken)})
    out = tmp_path / "out" / "v.mp4"
    with pytest.raises(ReelforgeError) as failure:
        render(sb, output=out, cache_dir=tmp_path / "cache")
    assert failure.value.stage == "compose"
    assert list(out.parent.iterdir()) == []


@dataclasses.dataclass
class BrokenMusic:
    """A music provider that fails: its bed is made alongside compose."""

    id: str = "broken"
    version: str = "1"

    def compose(self, mood: object, duration_s: float, seed: int, out: Path) -> None:
        raise ProviderError("the music service is down")


def test_a_failure_in_the_music_made_alongside_compose_names_the_music_stage(
    tmp_path: Path,
) -> None:
    events: list[tuple[str, str]] = []
    out = tmp_path / "out" / "v.mp4"
    with pytest.raises(ReelforgeError) as failure:
        render(
            board(NARRATIONS[0]), output=out, cache_dir=tmp_path / "cache",
            providers=dataclasses.replace(Providers.offline(), music=BrokenMusic()),
            on_progress=lambda stage, _fraction, message: events.append((stage, message)),
        )  # fmt: skip
    assert failure.value.stage == "music"
    assert "the music service is down" in failure.value.message
    assert ("music", "started") in events
    assert ("music", "done") not in events
    assert list(out.parent.iterdir()) == []


def test_output_must_be_mp4(tmp_path: Path) -> None:
    with pytest.raises(InvalidInput, match="mp4"):
        render(board(NARRATIONS[0]), output=tmp_path / "v.avi", cache_dir=tmp_path / "cache")


class _ScriptMustNotRun:
    """A script provider that fails the test if asked: a bad output must fail before it."""

    id = "must-not-run"

    def write(self, prompt: str, settings: object) -> object:
        raise AssertionError("the script stage ran before the output path was checked")


@pytest.mark.parametrize("name", ["v.avi", "blocker/v.mp4", "folder.mp4"])
def test_a_bad_output_fails_before_any_stage_runs(tmp_path: Path, name: str) -> None:
    (tmp_path / "blocker").write_text("a file where a folder should be")
    (tmp_path / "folder.mp4").mkdir()
    providers = dataclasses.replace(Providers.offline(), script=_ScriptMustNotRun())
    with pytest.raises(InvalidInput) as failure:
        render("A prompt that would cost money.", output=tmp_path / name, providers=providers)
    assert failure.value.stage == "input"


def test_a_missing_music_file_fails_before_any_stage_runs(tmp_path: Path) -> None:
    providers = dataclasses.replace(Providers.offline(), script=_ScriptMustNotRun())
    settings = VideoSettings.model_validate({"music": {"file": str(tmp_path / "no.wav")}})
    with pytest.raises(InvalidInput, match=r"no\.wav"):
        render("A prompt.", output=tmp_path / "v.mp4", settings=settings, providers=providers)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    "settings",
    [{"music": {"asset_id": "6640f5a0-f82b-42c9-befb-f391bda2f4e9"}},
     {"watermark": {"asset_id": "6640f5a0-f82b-42c9-befb-f391bda2f4e9"}}],
)  # fmt: skip
def test_an_asset_id_without_its_file_fails_before_any_stage_runs(
    tmp_path: Path, settings: dict[str, Any]
) -> None:
    """Only the platform's worker turns asset ids into files: the engine must not quietly
    render something else in their place."""
    providers = dataclasses.replace(Providers.offline(), script=_ScriptMustNotRun())
    with pytest.raises(InvalidInput, match="asset_id"):
        render(
            "A prompt.", output=tmp_path / "v.mp4", providers=providers,
            settings=VideoSettings.model_validate(settings),
        )  # fmt: skip
    board = Storyboard.model_validate(
        {"scenes": [{"narration": "A.", "visual": {"kind": "file", "asset_id": str(uuid.uuid4())}}]}
    )
    with pytest.raises(InvalidInput, match="asset_id"):
        render(board, output=tmp_path / "v.mp4", providers=providers)
    assert list(tmp_path.iterdir()) == []


def _tone_share(video: Path, hz: float) -> float:
    """Share of the audio's spectral energy within half a hertz of `hz` (a pure tone)."""
    with av.open(str(video)) as container:
        stream = container.streams.audio[0]
        rate = stream.codec_context.sample_rate
        samples = np.concatenate([f.to_ndarray()[0] for f in container.decode(stream)])
    energy = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    return float(energy[np.abs(freqs - hz) < 0.5].sum() / energy.sum())


def test_a_users_music_file_is_mixed_under_the_voice(tmp_path: Path) -> None:
    tone = tmp_path / "tone.wav"
    subprocess.run(
        [ffmpeg_exe(), "-loglevel", "error", "-f", "lavfi", "-i", "sine=frequency=220:duration=1",
         str(tone)],
        check=True,
    )  # fmt: skip
    with_music = Storyboard.model_validate(
        {"settings": {**SETTINGS, "music": {"file": str(tone), "volume": 0.5}},
         "scenes": [{"narration": NARRATIONS[0], "duration_s": 6.0}]}
    )  # fmt: skip
    silent = Storyboard.model_validate(
        {
            "settings": {**SETTINGS, "music": {"enabled": False}},
            "scenes": [{"narration": NARRATIONS[0], "duration_s": 6.0}],
        }
    )
    cache = tmp_path / "cache"
    # The scene outlasts its narration: the music swells back up in the quiet tail.
    tuned = render(with_music, output=tmp_path / "m.mp4", cache_dir=cache)
    plain = render(silent, output=tmp_path / "s.mp4", cache_dir=cache)
    assert _tone_share(tuned.video, 220) > 20 * _tone_share(plain.video, 220)
