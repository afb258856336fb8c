"""The pipeline: script → scenes → visuals → voice → captions → music → compose.

Every stage's output is fetched from the artifact cache by a key of all it
depends on, so an unchanged storyboard costs only the final mux and an edit
to one scene redoes only that scene's artifacts and its two segments.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import tempfile
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from reelforge.engine import captions as cap
from reelforge.engine import checks
from reelforge.engine.cache import ArtifactCache, artifact_key, file_digest
from reelforge.engine.compile import Encoder
from reelforge.engine.context import ProgressCallback, RenderContext, no_progress
from reelforge.engine.ffmpeg import DEFAULT_WATCHDOG, Watchdog
from reelforge.engine.frames import fill_crop
from reelforge.engine.stages.captions import scene_captions, timed_cues
from reelforge.engine.stages.compose import Composed, compose_video
from reelforge.engine.stages.music import music_bed
from reelforge.engine.stages.scenes import plan_scenes
from reelforge.engine.stages.script import write_script
from reelforge.engine.stages.visuals import Visual, make_visual
from reelforge.engine.stages.voice import speak
from reelforge.engine.timeline import Timeline, build_timeline
from reelforge.errors import InvalidInput, RenderError
from reelforge.model.durations import shortest_duration_s
from reelforge.model.storyboard import Storyboard, VideoSettings, VisualKind
from reelforge.model.templates import template_manifest
from reelforge.providers.base import Script, Speech
from reelforge.providers.registry import Providers

STAGES = ("script", "scenes", "visuals", "voice", "captions", "music", "compose", "checks")


def default_cache_dir() -> Path:
    """Where `render()` caches artifacts when not told: `$XDG_CACHE_HOME/reelforge`, else
    `~/.cache/reelforge` — the user's own, as `REELFORGE_CACHE_DIR` documents (never a folder
    in /tmp that every local user shares)."""
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "reelforge"


@dataclass(frozen=True, slots=True)
class RenderResult:
    video: Path
    srt: Path
    vtt: Path
    thumbnail: Path
    manifest: Path
    storyboard: Storyboard
    duration_s: float
    stage_seconds: dict[str, float]
    cost_usd: float
    """What this render's remote provider calls cost (cache hits cost nothing)."""
    cache_hits: dict[str, int]
    cache_misses: dict[str, int]
    stills: tuple[Path | None, ...] = ()
    """Each scene's still (None for a video clip), as cached: for previews and benchmarks."""
    topic_only: bool = False
    usage: dict[str, Any] = field(default_factory=dict)
    """Per provider: calls, units and cost (`Meter.summary`), for the manifest and metrics."""
    checks: list[dict[str, Any]] = field(default_factory=list)
    """The output checks it passed (`engine/checks.py`), as the manifest lists them."""
    scenes_reused: int = 0
    """Scenes whose every segment came from the cache (an edit's untouched scenes)."""


def plan(prompt: str, settings: VideoSettings, providers: Providers) -> tuple[Storyboard, Script]:
    """Prompt → storyboard, without rendering (what `reelforge storyboard` prints)."""
    script = providers.script.write(prompt, settings)
    return plan_scenes(script, settings), script


def _check_files(named: list[Path]) -> None:
    missing = [path for path in named if not path.is_file()]
    if missing:
        raise InvalidInput(f"file not found: {missing[0]}", stage="input")


def _check_assets(settings: VideoSettings, storyboard: Storyboard | None) -> None:
    """Uploaded assets are the platform's: its worker gives their files before the engine
    runs. One still named only by id here would silently be replaced by a generated one."""
    unresolved = (
        [s.visual.asset_id for s in storyboard.scenes if not s.visual.path] if storyboard else []
    )
    if settings.music.file is None:
        unresolved.append(settings.music.asset_id)
    if settings.watermark is not None and settings.watermark.file is None:
        unresolved.append(settings.watermark.asset_id)
    if any(asset_id is not None for asset_id in unresolved):
        raise InvalidInput(
            "uploaded assets (asset_id) are rendered by the server; locally, name the file "
            "(visual.path, music.file, watermark.file)",
            stage="input",
        )


def _work_dir(output: Path) -> Path:
    """A private folder beside `output`, made before any (possibly paid) stage runs, so a bad
    output path fails first; renaming from it to `output` is then atomic."""
    if output.suffix.lower() != ".mp4":
        raise InvalidInput(f"output must be an .mp4 file, not {output.name!r}", stage="input")
    if output.is_dir():
        raise InvalidInput(f"output {output} is a directory", stage="input")
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        return Path(tempfile.mkdtemp(prefix=".render-", dir=output.parent))
    except OSError as exc:
        raise InvalidInput(f"cannot write to {output.parent}: {exc}", stage="input") from exc


def check_duration(duration_s: float, max_duration_s: float | None, *, stage: str) -> None:
    """Raises InvalidInput if a video of `duration_s` is over `max_duration_s` (None: no cap)."""
    if max_duration_s is not None and duration_s > max_duration_s:
        at_least = "at least " if stage != "timeline" else ""
        raise InvalidInput(
            f"the video would last {at_least}{duration_s:.1f} s, more than the "
            f"{max_duration_s:g} s this render may last: shorten the narration or the scenes",
            stage=stage,
        )


def render(
    prompt_or_storyboard: str | Storyboard,
    *,
    output: Path,
    settings: VideoSettings | None = None,
    providers: Providers | None = None,
    on_progress: ProgressCallback | None = None,
    cache_dir: Path | None = None,
    refresh: frozenset[str] = frozenset(),
    encoder: Encoder | None = None,
    keep_work: bool = False,
    max_duration_s: float | None = None,
    watchdog: Watchdog | None = None,
) -> RenderResult:
    """Render a prompt or a storyboard to `output` (.mp4) plus .srt, .vtt, .jpg and .json beside it.

    Nothing is written at `output` unless the whole render succeeds. Stages named in
    `refresh` (cache stages: visuals, voice, music, segment, audio) are rebuilt even if
    cached, e.g. to time composition alone. With `max_duration_s`, a video that would be
    longer fails: on the storyboard's lower bound before any visual or voice is made
    (stage `scenes`), then on the real timeline once the narration is spoken (`timeline`).
    `watchdog` bounds each ffmpeg run (default `ffmpeg.DEFAULT_WATCHDOG`): a hung one fails
    its stage with `FFmpegError`.

    Raises:
        InvalidInput: bad prompt, storyboard or file, or a video over `max_duration_s`
            (nothing to retry).
        ReelforgeError: any other failure, with `stage` naming where it happened.
    """
    ctx = RenderContext(
        cache=ArtifactCache(cache_dir or default_cache_dir(), refresh=refresh),
        providers=providers or Providers.offline(),
        on_progress=on_progress or no_progress,
        watchdog=watchdog or DEFAULT_WATCHDOG,
    )
    output = output.resolve()
    settings = settings or VideoSettings()
    if isinstance(prompt_or_storyboard, Storyboard):
        _check_files(prompt_or_storyboard.named_files())
        _check_assets(prompt_or_storyboard.settings, prompt_or_storyboard)
    else:
        _check_files(settings.named_files())
        _check_assets(settings, None)
    work = _work_dir(output)
    try:
        topic_only = False
        if isinstance(prompt_or_storyboard, Storyboard):
            storyboard = prompt_or_storyboard
        else:
            with ctx.stage("script"):
                script = write_script(ctx, prompt_or_storyboard, settings)
                topic_only = script.topic_only
            with ctx.stage("scenes"):
                storyboard = plan_scenes(script, settings)
        check_duration(shortest_duration_s(storyboard), max_duration_s, stage="scenes")
        return _render(
            ctx, storyboard, output, work, encoder or Encoder(), topic_only, max_duration_s
        )
    finally:
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)


def _render(
    ctx: RenderContext,
    storyboard: Storyboard,
    output: Path,
    work: Path,
    encoder: Encoder,
    topic_only: bool,
    max_duration_s: float | None,
) -> RenderResult:
    settings, scenes = storyboard.settings, storyboard.scenes
    # The voice is spoken while the visuals are made: onnxruntime and the image code leave
    # each other's core idle when run one after the other. Its progress is reported in the
    # voice stage, in order, as each scene's clip is collected.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="voice") as speaker:
        spoken = [speaker.submit(speak, ctx, scene, settings) for scene in scenes]
        try:
            with ctx.stage("visuals"):
                visuals = []
                for i, scene in enumerate(scenes):
                    visuals.append(make_visual(ctx, scene, i, settings))
                    ctx.each("visuals", len(scenes), i + 1)
            with ctx.stage("voice"):
                voices = []
                for i, clip in enumerate(spoken):
                    voices.append(clip.result())
                    ctx.each("voice", len(scenes), i + 1)
        except BaseException:
            speaker.shutdown(wait=True, cancel_futures=True)
            raise
    speeches = [speech for _, speech in voices]
    timeline = build_timeline(storyboard, [s.duration_s for s in speeches])
    check_duration(timeline.duration_s, max_duration_s, stage="timeline")
    with ctx.stage("captions"):
        cues = timed_cues(speeches, timeline, settings)
        (work / "captions.srt").write_text(cap.to_srt(cues), encoding="utf-8")
        (work / "captions.vtt").write_text(cap.to_vtt(cues), encoding="utf-8")
        burned = [
            scene_captions(speech, slot, settings)
            for speech, slot in zip(speeches, timeline.slots, strict=True)
        ]
    # The audio is made on a thread of its own while compose encodes the segments: the music
    # bed (needed only by the mix), the mix, then its measurement for the checks, which may
    # still run while the segments are joined and the picture is checked.
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="audio") as audio_thread:
        try:
            music = ctx.alongside(
                "music", audio_thread, lambda: music_bed(ctx, settings, timeline.duration_s)
            )
            with ctx.stage("compose"):
                composed = compose_video(
                    ctx, settings, timeline, visuals, voices, burned, music, encoder, work,
                    audio_thread,
                )  # fmt: skip
                _thumbnail(visuals, settings, work / "thumb.jpg")
            with ctx.stage("checks"):
                expected = _expected(storyboard, timeline, speeches, cues)
                results = _checked(ctx, composed, expected)
        except BaseException:
            audio_thread.shutdown(wait=True, cancel_futures=True)
            raise
    manifest = _manifest(
        storyboard, timeline, ctx, [s.duration_s for s in speeches], visuals, results
    )
    (work / "manifest.json").write_text(manifest, encoding="utf-8")
    broken = checks.failed(results)
    if broken is not None:  # the manifest stays in the work folder for whoever debugs it
        raise RenderError(f"output check {broken.name} failed: {broken.detail}", stage="checks")
    # Publish only now that everything exists: sidecars first, the video last.
    srt, vtt = output.with_suffix(".srt"), output.with_suffix(".vtt")
    thumbnail, manifest_path = output.with_suffix(".jpg"), output.with_suffix(".json")
    for name, target in (
        ("captions.srt", srt),
        ("captions.vtt", vtt),
        ("thumb.jpg", thumbnail),
        ("manifest.json", manifest_path),
        ("final.mp4", output),
    ):
        (work / name).replace(target)
    return RenderResult(
        video=output, srt=srt, vtt=vtt, thumbnail=thumbnail, manifest=manifest_path,
        storyboard=storyboard, duration_s=timeline.duration_s,
        stage_seconds=dict(ctx.stage_seconds), cost_usd=ctx.providers.meter.cost_usd,
        cache_hits=dict(ctx.cache.hits),
        cache_misses=dict(ctx.cache.misses), stills=tuple(v.still for v in visuals),
        topic_only=topic_only, usage=ctx.providers.meter.summary()["providers"],
        checks=checks.as_manifest(results), scenes_reused=composed.scenes_reused,
    )  # fmt: skip


def _checked(
    ctx: RenderContext, composed: Composed, expected: checks.Expected
) -> list[checks.CheckResult]:
    """The output checks of the composed video, run once per distinct video: the same bytes
    held to the same expectations by the same checks pass or fail the same way, so an
    unchanged storyboard (whose join is byte-identical) does not decode its video again.
    What compose measured (the picture as it was encoded, the sound as it was mixed) is used."""
    video, picture, sound = composed.video, composed.picture, composed.sound
    key = artifact_key(
        "checks",
        f"checks@{file_digest(Path(checks.__file__))}",
        {"video": file_digest(video), "expected": dataclasses.asdict(expected),
         "picture": picture},
    )  # fmt: skip

    def build(out: Path) -> None:
        results = checks.check_output(video, expected, ctx.watchdog, picture, sound)
        (out / "checks.json").write_text(json.dumps(checks.as_manifest(results)), "utf-8")

    folder = ctx.cache.fetch("checks", key, build)
    found = json.loads((folder / "checks.json").read_text(encoding="utf-8"))
    return [checks.CheckResult(**result) for result in found]


def _thumbnail(visuals: list[Visual], settings: VideoSettings, out: Path) -> None:
    still = next((v.still for v in visuals if v.still is not None), None)
    if still is None:
        Image.new("RGB", settings.size, (16, 16, 16)).save(out, quality=85)
        return
    with Image.open(still) as img:
        fill_crop(img.convert("RGB"), settings.size).save(out, quality=85)


def _expected(
    storyboard: Storyboard, timeline: Timeline, speeches: list[Speech], cues: list[cap.Cue]
) -> checks.Expected:
    """What the output checks hold the video to, from the timeline that made it."""
    settings, fps = storyboard.settings, timeline.fps
    moving = [
        (slot.start_frame / fps, slot.end_frame / fps)
        for slot, scene in zip(timeline.slots, storyboard.scenes, strict=True)
        # Solid colours, title cards and the user's own media are shown as they are.
        if scene.visual.kind not in (VisualKind.COLOR, VisualKind.FILE)
    ]
    speech = [
        (slot.voice_offset_s, slot.voice_offset_s + spoken.duration_s)
        for slot, spoken in zip(timeline.slots, speeches, strict=True)
    ]
    captions = settings.captions
    return checks.Expected(
        duration_s=timeline.duration_s, frame_size=settings.size, moving=moving, speech=speech,
        voice_clips=[spoken.path for spoken in speeches], cues=cues if captions.enabled else [],
        caption_layout=cap.layout(captions, settings.aspect, settings.size)
        if captions.enabled else None,
    )  # fmt: skip


def _manifest(
    storyboard: Storyboard,
    timeline: Timeline,
    ctx: RenderContext,
    voice_s: list[float],
    visuals: list[Visual],
    results: list[checks.CheckResult],
) -> str:
    scenes = [
        {
            "index": slot.index,
            "start_s": slot.start_frame / timeline.fps,
            "end_s": slot.end_frame / timeline.fps,
            "voice_offset_s": slot.voice_offset_s,
            "voice_s": round(spoken, 3),
            "visual": visual.credit,
        }
        for slot, spoken, visual in zip(timeline.slots, voice_s, visuals, strict=True)
    ]
    return json.dumps(
        {
            "storyboard": storyboard.model_dump(mode="json"),
            "template": template_manifest(storyboard.settings),
            "duration_s": timeline.duration_s,
            "fps": timeline.fps,
            "scenes": scenes,
            "providers": ctx.providers.ids(),
            "stage_seconds": ctx.stage_seconds,
            "cache": {"hits": ctx.cache.hits, "misses": ctx.cache.misses},
            "cost": {"total_usd": ctx.providers.meter.cost_usd},
            "usage": ctx.providers.meter.summary()["providers"],
            "checks": checks.as_manifest(results),
        },
        indent=2,
    )
