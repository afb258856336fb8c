"""The pipeline: script → scenes → visuals → voice → captions → music → compose.

Every stage's output is fetched from the artifact cache by a key of all it
depends on, so an unchanged storyboard costs only the final mux and an edit
to one scene redoes only that scene's artifacts and its two segments.
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image, UnidentifiedImageError

from reelforge.assets import font_path
from reelforge.engine import captions as cap
from reelforge.engine.cache import ArtifactCache, artifact_key, file_digest
from reelforge.engine.compile import RECIPE_VERSION, Encoder
from reelforge.engine.compose import SegmentPlan, mix_audio, mux, place_narration, render_segment
from reelforge.engine.frames import (
    ClipFrames,
    FrameSource,
    Motion,
    StillMotion,
    fill_crop,
    still_size,
)
from reelforge.engine.stages.scenes import plan_scenes
from reelforge.engine.storyboard import Scene, Storyboard, VideoSettings, VisualKind
from reelforge.engine.timeline import Timeline, build_timeline
from reelforge.errors import InvalidInput, ReelforgeError, StorageError
from reelforge.providers.base import (
    ImageProvider,
    MusicProvider,
    Script,
    ScriptProvider,
    Speech,
    SpokenSentence,
    VoiceProvider,
    Word,
)

STAGES = ("script", "scenes", "visuals", "voice", "captions", "music", "compose")
MUSIC_BLOCK_S = 15
"""Music is made in whole blocks so small timing edits reuse the cached bed."""

ProgressCallback = Callable[[str, float, str], None]


def _no_progress(stage: str, fraction: float, message: str) -> None:
    """Default progress sink."""


@dataclass(frozen=True, slots=True)
class Providers:
    script: ScriptProvider
    images: ImageProvider
    voice: VoiceProvider
    music: MusicProvider

    @classmethod
    def offline(cls, voices_dir: Path | None = None) -> Providers:
        """The defaults: no network, no API key."""
        from reelforge.providers.piper_voice import PiperVoices
        from reelforge.providers.procedural import ProceduralImages
        from reelforge.providers.prompt_script import PromptScript
        from reelforge.providers.synth_music import SynthMusic

        return cls(PromptScript(), ProceduralImages(), PiperVoices(voices_dir), SynthMusic())


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
    cache_hits: dict[str, int]
    cache_misses: dict[str, int]
    stills: tuple[Path | None, ...] = ()
    """Each scene's still (None for a video clip), as cached: for previews and benchmarks."""
    topic_only: bool = False


@dataclass(frozen=True, slots=True)
class _Visual:
    key: str
    still: Path | None
    clip: Path | None


@dataclass
class _Run:
    """State of one render: the cache, timings and the progress sink."""

    cache: ArtifactCache
    providers: Providers
    on_progress: ProgressCallback
    stage_seconds: dict[str, float] = field(default_factory=dict)

    @contextmanager
    def stage(self, name: str) -> Iterator[None]:
        started = time.perf_counter()
        self.on_progress(name, 0.0, "started")
        try:
            yield
        except ReelforgeError as exc:
            exc.stage = exc.stage or name
            raise
        except OSError as exc:
            raise StorageError(str(exc), stage=name) from exc
        self.stage_seconds[name] = round(time.perf_counter() - started, 3)
        self.on_progress(name, 1.0, "done")


def plan(prompt: str, settings: VideoSettings, providers: Providers) -> tuple[Storyboard, Script]:
    """Prompt → storyboard, without rendering (what `reelforge storyboard` prints)."""
    script = providers.script.write(prompt, settings)
    return plan_scenes(script, settings), script


def _provider_id(provider: Any) -> str:
    return f"{provider.id}@{provider.version}"


def _visual(run: _Run, scene: Scene, index: int, settings: VideoSettings) -> _Visual:
    big = still_size(settings.size)
    spec = scene.visual
    if spec.kind is VisualKind.FILE and spec.path is not None:
        digest = file_digest(spec.path)
        try:
            with Image.open(spec.path) as img:
                img.verify()
        except (UnidentifiedImageError, OSError):
            return _Visual(artifact_key("clip", "file", {"sha256": digest}), None, spec.path)
        key = artifact_key("visuals", "file", {"sha256": digest, "size": big})

        def build_from_file(out: Path) -> None:
            with Image.open(spec.path) as img:  # type: ignore[arg-type]
                fill_crop(img.convert("RGB"), big).save(out / "still.png")

        return _Visual(key, run.cache.fetch("visuals", key, build_from_file) / "still.png", None)
    images = run.providers.images
    key = artifact_key(
        "visuals",
        _provider_id(images),
        {
            "scene": scene.model_dump(
                mode="json", include={"headline", "keywords", "visual", "narration"}
            ),
            "index": index,
            "style": settings.visual_style,
            "seed": settings.seed,
            "size": big,
        },
    )

    def build(out: Path) -> None:
        images.render(scene, index, settings, big, out / "still.png")

    return _Visual(key, run.cache.fetch("visuals", key, build) / "still.png", None)


def _speech_from(folder: Path) -> Speech:
    data = json.loads((folder / "speech.json").read_text(encoding="utf-8"))
    sentences = tuple(
        SpokenSentence(s["text"], s["start_s"], s["end_s"], tuple(Word(**w) for w in s["words"]))
        for s in data["sentences"]
    )
    return Speech(folder / "speech.wav", data["duration_s"], sentences)


def _voice(run: _Run, scene: Scene, settings: VideoSettings) -> tuple[str, Speech]:
    voice = run.providers.voice
    key = artifact_key(
        "voice",
        _provider_id(voice),
        {"text": scene.narration, "voice": settings.voice, "rate": settings.speaking_rate},
    )

    def build(out: Path) -> None:
        speech = voice.synthesize(
            scene.narration,
            voice=settings.voice,
            rate=settings.speaking_rate,
            out=out / "speech.wav",
        )
        payload = {
            "duration_s": speech.duration_s,
            "sentences": [asdict(s) for s in speech.sentences],
        }
        (out / "speech.json").write_text(json.dumps(payload), encoding="utf-8")

    return key, _speech_from(run.cache.fetch("voice", key, build))


def _source(visual: _Visual, settings: VideoSettings, index: int, span: int) -> FrameSource:
    if visual.clip is not None:
        return ClipFrames(visual.clip, settings.size, settings.fps)
    assert visual.still is not None
    return StillMotion(visual.still, settings.size, Motion.for_scene(settings.seed, index, span))


def _music(run: _Run, settings: VideoSettings, duration_s: float) -> tuple[str, Path | None]:
    music = settings.music
    if not music.enabled:
        return "none", None
    if music.file is not None:
        return file_digest(music.file), music.file
    blocks = -(-int(duration_s + 1) // MUSIC_BLOCK_S) * MUSIC_BLOCK_S
    synth = run.providers.music
    key = artifact_key(
        "music", _provider_id(synth), {"mood": music.mood, "seconds": blocks, "seed": settings.seed}
    )

    def build(out: Path) -> None:
        synth.compose(music.mood, float(blocks), settings.seed, out / "music.wav")

    return key, run.cache.fetch("music", key, build) / "music.wav"


def _check_inputs(storyboard: Storyboard, output: Path) -> None:
    missing = storyboard.missing_files()
    if missing:
        raise InvalidInput(f"file not found: {missing[0]}", stage="input")
    if output.suffix.lower() != ".mp4":
        raise InvalidInput(f"output must be an .mp4 file, not {output.name!r}", stage="input")
    if output.is_dir():
        raise InvalidInput(f"output {output} is a directory", stage="input")


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
) -> RenderResult:
    """Render a prompt or a storyboard to `output` (.mp4) plus .srt, .vtt, .jpg and .json beside it.

    Nothing is written at `output` unless the whole render succeeds. Stages named in
    `refresh` (cache stages: visuals, voice, music, segment, audio) are rebuilt even if
    cached, e.g. to time composition alone.

    Raises:
        InvalidInput: bad prompt, storyboard or file (nothing to retry).
        ReelforgeError: any other failure, with `stage` naming where it happened.
    """
    providers = providers or Providers.offline()
    encoder = encoder or Encoder()
    cache_root = cache_dir or Path(tempfile.gettempdir()) / "reelforge-cache"
    run = _Run(ArtifactCache(cache_root, refresh=refresh), providers, on_progress or _no_progress)
    output = output.resolve()
    topic_only = False
    if isinstance(prompt_or_storyboard, Storyboard):
        storyboard = prompt_or_storyboard
    else:
        with run.stage("script"):
            script = providers.script.write(prompt_or_storyboard, settings or VideoSettings())
            topic_only = script.topic_only
        with run.stage("scenes"):
            storyboard = plan_scenes(script, settings or VideoSettings())
    _check_inputs(storyboard, output)
    try:
        output.parent.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="render-", dir=output.parent))
    except OSError as exc:
        raise InvalidInput(f"cannot write to {output.parent}: {exc}", stage="input") from exc
    try:
        result = _render(run, storyboard, output, work, encoder)
    finally:
        if not keep_work:
            shutil.rmtree(work, ignore_errors=True)
    return RenderResult(**{**asdict(result), "storyboard": storyboard, "topic_only": topic_only})


def _render(
    run: _Run, storyboard: Storyboard, output: Path, work: Path, encoder: Encoder
) -> RenderResult:
    settings = storyboard.settings
    scenes = storyboard.scenes
    with run.stage("visuals"):
        visuals = []
        for i, scene in enumerate(scenes):
            visuals.append(_visual(run, scene, i, settings))
            run.on_progress("visuals", (i + 1) / len(scenes), f"scene {i + 1}/{len(scenes)}")
    with run.stage("voice"):
        voices = []
        for i, scene in enumerate(scenes):
            voices.append(_voice(run, scene, settings))
            run.on_progress("voice", (i + 1) / len(scenes), f"scene {i + 1}/{len(scenes)}")
    timeline = build_timeline(storyboard, [speech.duration_s for _, speech in voices])
    with run.stage("captions"):
        per_scene = [
            cap.scene_cues(speech, slot.voice_offset_s, settings.captions.max_words_per_cue)
            for (_, speech), slot in zip(voices, timeline.slots, strict=True)
        ]
        cues = cap.settle([c for scene_cues in per_scene for c in scene_cues], timeline.duration_s)
        (work / "captions.srt").write_text(cap.to_srt(cues), encoding="utf-8")
        (work / "captions.vtt").write_text(cap.to_vtt(cues), encoding="utf-8")
    with run.stage("music"):
        music_key, music_path = _music(run, settings, timeline.duration_s)
    with run.stage("compose"):
        segments = _segments(run, storyboard, timeline, visuals, cues, encoder)
        audio_key = artifact_key(
            "audio",
            f"ffmpeg@{RECIPE_VERSION}",
            {
                "voices": [k for k, _ in voices],
                "offsets": [s.voice_offset_s for s in timeline.slots],
                "music": music_key,
                "volume": settings.music.volume,
                "duration": timeline.duration_s,
                "encoder": asdict(encoder),
            },
        )

        def build_audio(out: Path) -> None:
            narration = work / "narration.wav"
            place_narration(
                [
                    (speech.path, slot.voice_offset_s)
                    for (_, speech), slot in zip(voices, timeline.slots, strict=True)
                ],
                timeline.duration_s,
                narration,
            )
            mix_audio(
                narration=narration,
                music=music_path,
                music_volume=settings.music.volume,
                loop_music=settings.music.file is not None,
                duration_s=timeline.duration_s,
                encoder=encoder,
                work=work,
                out=out / "audio.m4a",
            )

        audio = run.cache.fetch("audio", audio_key, build_audio) / "audio.m4a"
        run.on_progress("compose", 0.95, "joining segments")
        partial = work / "final.mp4"
        mux(segments, audio, timeline, work, partial)
        _thumbnail(visuals, settings, work / "thumb.jpg")
    (work / "manifest.json").write_text(
        _manifest(storyboard, timeline, run, [s.duration_s for _, s in voices]), encoding="utf-8"
    )
    # Publish only now that everything exists: sidecars first, the video last.
    srt, vtt = output.with_suffix(".srt"), output.with_suffix(".vtt")
    thumbnail, manifest = output.with_suffix(".jpg"), output.with_suffix(".json")
    for name, target in (
        ("captions.srt", srt),
        ("captions.vtt", vtt),
        ("thumb.jpg", thumbnail),
        ("manifest.json", manifest),
        ("final.mp4", output),
    ):
        (work / name).replace(target)
    return RenderResult(
        video=output,
        srt=srt,
        vtt=vtt,
        thumbnail=thumbnail,
        manifest=manifest,
        storyboard=storyboard,
        duration_s=timeline.duration_s,
        stage_seconds=dict(run.stage_seconds),
        cache_hits=dict(run.cache.hits),
        cache_misses=dict(run.cache.misses),
        stills=tuple(v.still for v in visuals),
    )


def _segments(
    run: _Run,
    storyboard: Storyboard,
    timeline: Timeline,
    visuals: list[_Visual],
    cues: list[cap.Cue],
    encoder: Encoder,
) -> list[Path]:
    settings = storyboard.settings
    size, fps = settings.size, settings.fps
    slots = timeline.slots
    total = timeline.total_frames
    done = 0
    paths = []
    for i, slot in enumerate(slots):
        next_fade = slots[i + 1].fade_in_frames if i + 1 < len(slots) else 0
        span = slot.frames + next_fade
        start_s, end_s = timeline.start_s(i), slot.end_frame / fps
        ass = ""
        if settings.captions.enabled:
            mine = [c for c in cues if start_s <= c.start_s < end_s]
            ass = cap.to_ass(mine, settings.captions, settings.aspect, size, start_s)
        previous = None
        if i > 0 and slot.fade_in_frames:
            prev = slots[i - 1]
            previous = {
                "visual": visuals[i - 1].key,
                "frames": prev.frames,
                "span": prev.frames + slot.fade_in_frames,
            }
        key = artifact_key(
            "segment",
            f"frames+x264@{RECIPE_VERSION}",
            {
                "visual": visuals[i].key,
                "index": i,
                "seed": settings.seed,
                "size": size,
                "fps": fps,
                "frames": slot.frames,
                "fade_in": slot.fade_in_frames,
                "span": span,
                "previous": previous,
                "first": i == 0,
                "last": i + 1 == len(slots),
                "ass": ass,
                "encoder": asdict(encoder),
            },
        )
        base = done

        def build(out: Path, i: int = i, ass: str = ass, base: int = base) -> None:
            subtitles = None
            if ass:
                subtitles = out / "captions.ass"
                subtitles.write_text(ass, encoding="utf-8")
            plan = SegmentPlan(
                slot=slots[i],
                source=_source(
                    visuals[i],
                    settings,
                    i,
                    slots[i].frames + (slots[i + 1].fade_in_frames if i + 1 < len(slots) else 0),
                ),
                previous=_source(
                    visuals[i - 1], settings, i - 1, slots[i - 1].frames + slots[i].fade_in_frames
                )
                if i > 0
                else None,
                previous_frames=slots[i - 1].frames if i > 0 else 0,
                first=i == 0,
                last=i + 1 == len(slots),
            )
            render_segment(
                plan,
                size=size,
                fps=fps,
                encoder=encoder,
                out=out / "segment.mp4",
                subtitles=subtitles,
                fonts_dir=font_path(bold=True).parent,
                on_frame=lambda k: (
                    run.on_progress(
                        "compose", 0.9 * (base + k + 1) / total, f"scene {i + 1}/{len(slots)}"
                    )
                    if k % fps == 0
                    else None
                ),
            )

        paths.append(run.cache.fetch("segment", key, build) / "segment.mp4")
        done += slot.frames
        run.on_progress("compose", 0.9 * done / total, f"scene {i + 1}/{len(slots)}")
    return paths


def _thumbnail(visuals: list[_Visual], settings: VideoSettings, out: Path) -> None:
    still = next((v.still for v in visuals if v.still is not None), None)
    if still is None:
        Image.new("RGB", settings.size, (16, 16, 16)).save(out, quality=85)
        return
    with Image.open(still) as img:
        fill_crop(img.convert("RGB"), settings.size).save(out, quality=85)


def _manifest(storyboard: Storyboard, timeline: Timeline, run: _Run, voice_s: list[float]) -> str:
    providers = run.providers
    return json.dumps(
        {
            "storyboard": storyboard.model_dump(mode="json"),
            "duration_s": timeline.duration_s,
            "fps": timeline.fps,
            "scenes": [
                {
                    "index": s.index,
                    "start_s": s.start_frame / timeline.fps,
                    "end_s": s.end_frame / timeline.fps,
                    "voice_offset_s": s.voice_offset_s,
                    "voice_s": round(spoken, 3),
                }
                for s, spoken in zip(timeline.slots, voice_s, strict=True)
            ],
            "providers": {
                "script": _provider_id(providers.script),
                "images": _provider_id(providers.images),
                "voice": _provider_id(providers.voice),
                "music": _provider_id(providers.music),
            },
            "stage_seconds": run.stage_seconds,
            "cache": {"hits": run.cache.hits, "misses": run.cache.misses},
            "cost": {"total_usd": 0.0},
        },
        indent=2,
    )
