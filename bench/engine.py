"""Engine benchmark (`make bench`): first render, cached and edited re-renders, MoviePy yardstick.

Each case renders a prompt into a fresh cache, then reuses that cache the way
an editor would: unchanged, with one scene's narration edited, and with only
the composition rebuilt, which is then timed against the same video composed
by MoviePy. Results go to bench/results/engine.json and the "## Engine"
section of bench/RESULTS.md. Takes about 5–6 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import av
import imageio_ffmpeg

from bench import engine_moviepy
from bench.engine_profile import profile_compose, x264_floor
from bench.engine_report import (
    NOISY_CPU_PCT,
    CaseResult,
    EditInfo,
    Floor,
    MoviePyRun,
    Probe,
    ProfileRow,
    Quality,
    RenderRun,
    Target,
    load_results,
    machine_facts,
    render_section,
    write_section,
)
from bench.measure import MIB, measure, wait_for_quiet
from reelforge.engine.compile import Encoder
from reelforge.engine.ffmpeg import measure_loudness
from reelforge.engine.pipeline import RenderResult, render
from reelforge.model.storyboard import Aspect, Resolution, Storyboard, VideoSettings
from reelforge.model.text import count_words

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_JSON = BENCH_DIR / "results" / "engine.json"
RESULTS_MD = BENCH_DIR / "RESULTS.md"

MOVIEPY_SPEEDUP_TARGET = 5.0
"""MoviePy's composition over our whole render (composition, join and checks)."""
MOVIEPY_TIMEOUT_S = 600
"""Keeps the run bounded if MoviePy stalls (it needs ~160 s for the 60 s 1080x1920 case)."""
EDIT_SHARE_TARGET = 0.25
"""A one-scene narration edit that changes the scene's length, over the first render."""
UNCHANGED_SHARE_TARGET = 0.10
LOUDNESS_TARGET_LUFS, LOUDNESS_TOLERANCE_LU = -14.0, 1.0
TRUE_PEAK_MAX_DB = -1.0
DRIFT_MAX_MS = 40.0
SSIM_MIN = 0.98
PREVIOUS_ENCODER = Encoder(preset="veryfast", x264_params="")
"""The x264 settings outputs were made with before: SSIM is measured against them."""
QUIET_SHARE = NOISY_CPU_PCT / 100
"""Other processes' CPU share under which the machine counts as quiet."""
COMPOSE_ONLY = frozenset({"segment", "audio", "checks"})
"""Cache stages rebuilt to time composition (and the checks of its output) alone: visuals,
voice and music stay cached."""

WARMUP_PROMPT = (
    "A short warm-up loads the voice model once. After that, every render in this "
    "process reuses it."
)


@dataclass(frozen=True, slots=True)
class Case:
    """One benchmark video: its prompt, settings, the edit to make, and what to expect."""

    key: str
    label: str
    prompt: str
    settings: VideoSettings
    edit_narration: str
    """Replacement narration for the middle scene, about as long as the original."""
    longer_narration: str
    """Replacement narration for the middle scene that makes it seconds longer."""
    duration_range_s: tuple[float, float]
    rss_limit_mib: float
    realtime_target: float | None = None
    floor_target: float | None = None
    """Our compose stage at most this many times the x264 floor of the same frames."""
    moviepy_target: float | None = None


CASES = (
    Case(
        key="30s_720p_landscape",
        label="30 s 1280x720 16:9",
        prompt=(
            "Honeybees are among the most important pollinators on Earth. "
            "A single colony can hold fifty thousand workers at the height of summer. "
            "Each forager visits hundreds of flowers on one long trip away from the hive. "
            "Scouts share the location of rich meadows with their sisters through a waggle dance. "
            "The angle of that dance points the way relative to the sun. "
            "Back inside the hive, nectar slowly thickens into honey over many days. "
            "Without bees, many of the fruits and vegetables we love would vanish from our tables."
        ),
        settings=VideoSettings(target_duration_s=30),
        edit_narration="Guards at the entrance check every returning bee by its familiar scent.",
        longer_narration=(
            "Guards at the entrance check every returning bee by its familiar scent, and they "
            "chase away wasps and robber bees that try to slip inside for an easy meal."
        ),
        duration_range_s=(27.0, 33.0),
        rss_limit_mib=700.0,
        realtime_target=2.0,
        floor_target=1.5,
        moviepy_target=MOVIEPY_SPEEDUP_TARGET,
    ),
    Case(
        key="60s_1080p_portrait",
        label="60 s 1080x1920 9:16",
        prompt=(
            "Lighthouses have guided sailors along dangerous coasts for more than two thousand "
            "years. The most famous ancient tower stood at Alexandria and was counted among the "
            "wonders of the world. Early keepers burned wood or coal in open fires at the top of "
            "tall stone towers. Later came oil lamps with polished metal reflectors placed "
            "carefully behind the flame.\n\n"
            "In the eighteen twenties, the French engineer Augustin Fresnel designed a new kind "
            "of lens. Rings of glass prisms bent the scattered light into a single powerful beam. "
            "A good Fresnel lens could be seen from more than twenty miles away on a clear night. "
            "Each lighthouse was given its own pattern of flashes so that captains could tell "
            "them apart.\n\n"
            "Keepers lived lonely lives on rocks and islands far from any town. They trimmed "
            "wicks, wound clockwork and polished brass through the long winter nights. Storms "
            "sometimes cut them off from the mainland for weeks at a time. Today almost every "
            "light is automatic, and satellites guide most ships. Yet many old towers still "
            "shine, kept alive by volunteers who love them."
        ),
        settings=VideoSettings(
            aspect=Aspect.PORTRAIT, resolution=Resolution.FHD, target_duration_s=60
        ),
        edit_narration=(
            "On calm evenings the keeper climbed the spiral stairs to light the lamp before the "
            "sun set."
        ),
        longer_narration=(
            "On calm evenings the keeper climbed the spiral stairs to light the lamp before the "
            "sun set, then sat beside it through the night, trimming the wick and watching the "
            "dark water for ships in trouble."
        ),
        duration_range_s=(55.0, 65.0),
        rss_limit_mib=900.0,
        realtime_target=2.5,
    ),
)


def say(message: str) -> None:
    """Progress on stdout, flushed so `make bench` shows it live."""
    print(message, flush=True)


class StagePrinter:
    """A render's progress callback that prints each stage as it finishes."""

    def __init__(self) -> None:
        self._started = time.perf_counter()

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        if message == "done":
            say(f"      {time.perf_counter() - self._started:6.1f} s  {stage} done")


def quiet() -> None:
    """Let other processes' work settle first (bounded), so it does not count against us."""
    share = wait_for_quiet(QUIET_SHARE)
    if share >= QUIET_SHARE:
        say(f"    note: other processes are using {share:.0%} of the CPUs; timings will suffer")


def timed_render(
    source: str | Storyboard,
    *,
    output: Path,
    cache_dir: Path,
    settings: VideoSettings | None = None,
    refresh: frozenset[str] = frozenset(),
    encoder: Encoder | None = None,
) -> tuple[RenderResult, RenderRun]:
    """One render with its wall time and the process tree's peak memory."""
    quiet()
    measured = measure(
        lambda: render(
            source,
            output=output,
            settings=settings,
            cache_dir=cache_dir,
            refresh=refresh,
            on_progress=StagePrinter(),
            encoder=encoder,
        )
    )
    result = measured.value
    run = RenderRun(
        wall_s=round(measured.wall_s, 3),
        duration_s=result.duration_s,
        peak_rss_mib=round(measured.peak_rss_mib, 1),
        added_rss_mib=round(measured.added_rss_mib, 1),
        stage_seconds=result.stage_seconds,
        cache_hits=result.cache_hits,
        cache_misses=result.cache_misses,
        other_cpu_pct=round(100 * measured.other_cpu_share, 1),
        cpu_s=round(measured.cpu_s, 2),
    )
    say(
        f"    wall {run.wall_s:.2f} s, CPU {run.cpu_s:.2f} s, {run.realtime_x:.2f}x realtime, "
        f"peak {run.peak_rss_mib:.0f} MiB"
    )
    return result, run


def edited(storyboard: Storyboard, narration: str) -> tuple[Storyboard, EditInfo]:
    """The storyboard with its middle scene's narration replaced (nothing else changed)."""
    scenes = list(storyboard.scenes)
    middle = len(scenes) // 2
    before = scenes[middle]
    scenes[middle] = before.model_copy(update={"narration": narration})
    info = EditInfo(middle, len(scenes), count_words(before.narration), count_words(narration))
    return storyboard.model_copy(update={"scenes": tuple(scenes)}), info


def extract_audio(video: Path, wav: Path) -> None:
    """Decode a video's final mixed audio to WAV (so MoviePy gets exactly our mix)."""
    argv = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
            "-i", str(video), "-vn", "-c:a", "pcm_s16le", str(wav)]  # fmt: skip
    subprocess.run(argv, check=True, stdin=subprocess.DEVNULL)


def _seconds(stream: av.stream.Stream) -> float:
    if stream.duration is None or stream.time_base is None:
        raise ValueError(f"no duration in {stream}")
    return round(float(stream.duration * stream.time_base), 3)


def probe(video: Path) -> Probe:
    """Frame count, stream durations and format of an MP4, from its container."""
    with av.open(str(video)) as container:
        vstream, astream = container.streams.video[0], container.streams.audio[0]
        ctx = vstream.codec_context
        return Probe(
            frames=vstream.frames,
            video_s=_seconds(vstream),
            audio_s=_seconds(astream),
            size=f"{ctx.width}x{ctx.height}",
            pix_fmt=str(ctx.pix_fmt),
            profile=str(ctx.profile),
        )


def run_moviepy(result: RenderResult, work: Path) -> tuple[MoviePyRun, Path]:
    """Compose `result`'s storyboard with MoviePy, in a child process, from the same inputs."""
    wav, out = work / "mix.wav", work / "moviepy.mp4"
    extract_audio(result.video, wav)
    stills = tuple(still for still in result.stills if still is not None)
    job = engine_moviepy.Job(result.manifest, stills, result.srt, wav, out, work)
    job_file = work / "moviepy-job.json"
    job_file.write_text(job.to_json(), encoding="utf-8")
    quiet()
    say("    MoviePy building clips and writing the video (child process)…")
    child = subprocess.run(
        [sys.executable, "-m", "bench.engine_moviepy", str(job_file)],
        check=True,
        capture_output=True,
        text=True,
        cwd=BENCH_DIR.parent,
        timeout=MOVIEPY_TIMEOUT_S,
    )
    measured = json.loads(child.stdout.strip().splitlines()[-1])
    run = MoviePyRun(
        build_s=round(measured["build_s"], 3),
        write_s=round(measured["write_s"], 3),
        peak_rss_mib=round(measured["peak_rss_bytes"] / MIB, 1),
        added_rss_mib=round((measured["peak_rss_bytes"] - measured["baseline_rss_bytes"]) / MIB, 1),
        other_cpu_pct=round(100 * measured["other_cpu_share"], 1),
    )
    say(
        f"    MoviePy: clips {run.build_s:.2f} s, write_videofile {run.write_s:.1f} s, "
        f"peak {run.peak_rss_mib:.0f} MiB"
    )
    return run, out


def noisy(*runs: RenderRun | MoviePyRun | None) -> bool:
    """Whether other processes used a notable CPU share during any of `runs`."""
    return any(r is not None and r.other_cpu_pct >= NOISY_CPU_PCT for r in runs)


def judge(case: Case, result: CaseResult) -> list[Target]:
    """The brief's targets for this case, each with the measured figure and met/missed."""
    low, high = case.duration_range_s
    ours = (result.first, result.cached, result.edit, result.compose, result.edit_length)
    peak = max(r.peak_rss_mib for r in ours if r is not None)
    label = case.label
    targets = []
    if case.realtime_target is not None:
        goal, factor = f"end-to-end ≥ {case.realtime_target:g}x realtime", result.first.realtime_x
        met = factor >= case.realtime_target
        targets.append(Target("realtime", goal, label, f"{factor:.2f}x", met, noisy(result.first)))
    goal = f"video {low:.0f}–{high:.0f} s"
    targets.append(
        Target("duration", goal, label, f"{result.duration_s:.2f} s", result.duration_ok)
    )
    share = result.cached.wall_s / result.first.wall_s
    goal = f"unchanged re-render ≤ {UNCHANGED_SHARE_TARGET:.0%} of first render"
    met, unsure = share <= UNCHANGED_SHARE_TARGET, noisy(result.first, result.cached)
    targets.append(Target("unchanged", goal, label, f"{share:.0%}", met, unsure))
    if result.edit_length is not None:
        share = result.edit_length.wall_s / result.first.wall_s
        goal = f"narration edit of another length ≤ {EDIT_SHARE_TARGET:.0%} of first render"
        unsure = noisy(result.first, result.edit_length)
        targets.append(
            Target("edit_length", goal, label, f"{share:.0%}", share <= EDIT_SHARE_TARGET, unsure)
        )
    goal = f"peak RSS < {case.rss_limit_mib:.0f} MiB (all our renders)"
    targets.append(Target("memory", goal, label, f"{peak:.0f} MiB", peak < case.rss_limit_mib))
    if case.floor_target is not None and (ratio := result.floor_ratio) is not None:
        goal = f"compose ≤ {case.floor_target:g}x the x264 floor"
        busy = result.floor is not None and result.floor.other_cpu_pct >= NOISY_CPU_PCT
        met, unsure = ratio <= case.floor_target, noisy(result.compose) or busy
        targets.append(Target("floor", goal, label, f"{ratio:.2f}x", met, unsure))
    if case.moviepy_target is not None and (speedup := result.render_speedup) is not None:
        goal = f"whole render ≥ {case.moviepy_target:g}x faster than MoviePy's composition"
        met, unsure = speedup >= case.moviepy_target, noisy(result.compose, result.moviepy)
        targets.append(Target("moviepy", goal, label, f"{speedup:.1f}x", met, unsure))
    if (q := result.quality) is not None:
        lufs_ok = abs(q.lufs - LOUDNESS_TARGET_LUFS) <= LOUDNESS_TOLERANCE_LU
        targets += [
            Target("loudness", f"loudness {LOUDNESS_TARGET_LUFS:g} ± {LOUDNESS_TOLERANCE_LU:g} "
                   "LUFS", label, f"{q.lufs:.1f} LUFS", lufs_ok),
            Target("peak", f"true peak ≤ {TRUE_PEAK_MAX_DB:g} dBTP", label,
                   f"{q.true_peak_db:.1f} dBTP", q.true_peak_db <= TRUE_PEAK_MAX_DB),
            Target("drift", f"A/V drift < {DRIFT_MAX_MS:g} ms", label, f"{q.drift_ms:.0f} ms",
                   q.drift_ms < DRIFT_MAX_MS),
            Target("ssim", f"SSIM ≥ {SSIM_MIN:g} vs the previous x264 settings", label,
                   f"{q.ssim:.4f}", q.ssim >= SSIM_MIN),
        ]  # fmt: skip
    return targets


def ssim(video: Path, reference: Path) -> float:
    """Mean SSIM (all planes) of `video` against `reference`, frame by frame."""
    argv = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(video),
            "-i", str(reference), "-lavfi", "[0:v][1:v]ssim", "-f", "null", "-"]  # fmt: skip
    log = subprocess.run(argv, capture_output=True, text=True, check=True).stderr
    return float(log[log.rfind("All:") + 4 :].split()[0])


def av_drift_ms(video: Path) -> float:
    """How far the audio and video streams disagree, at their start or their end."""
    with av.open(str(video)) as container:
        vstream, astream = container.streams.video[0], container.streams.audio[0]
        starts = [float((s.start_time or 0) * s.time_base) for s in (vstream, astream)]  # type: ignore[operator]
    ends = [probe(video).video_s, probe(video).audio_s]
    return 1000 * max(abs(starts[0] - starts[1]), abs(ends[0] - ends[1]))


def measure_output(
    case: Case, composed: RenderResult, storyboard: Storyboard, work: Path
) -> tuple[Floor, Quality, list[ProfileRow]]:
    """The x264 floor of the output's frames, its quality, and where compose time goes."""
    settings = storyboard.settings
    say("  x264 floor: the output's own frames, decoded first (untimed), encoded alone")
    quiet()
    timing = x264_floor(composed.video, settings.size, settings.fps, Encoder(), work)
    floor = Floor(timing.wall_s, timing.cpu_s, timing.other_cpu_pct)
    say(f"    floor {floor.wall_s:.2f} s")
    say(f"  the same composition at the previous x264 settings ({PREVIOUS_ENCODER.preset})")
    previous, previous_run = timed_render(
        storyboard, output=work / "previous.mp4", cache_dir=work / "cache",
        refresh=COMPOSE_ONLY, encoder=PREVIOUS_ENCODER,
    )  # fmt: skip
    lufs, peak = measure_loudness(composed.video)
    quality = Quality(
        lufs=lufs, true_peak_db=peak, drift_ms=round(av_drift_ms(composed.video), 1),
        ssim=round(ssim(composed.video, previous.video), 4),
        previous_encoder=f"x264 {PREVIOUS_ENCODER.preset} crf {PREVIOUS_ENCODER.crf}",
        previous_compose_s=previous_run.stage_seconds["compose"],
        previous_other_cpu_pct=previous_run.other_cpu_pct,
    )  # fmt: skip
    say("  profile: each part of compose timed alone")
    quiet()
    parts = profile_compose(storyboard, work / "cache", work / "profile", composed.video)
    rows = [ProfileRow(name, t.wall_s, t.cpu_s, t.other_cpu_pct) for name, t in parts.items()]
    for row in rows:
        say(f"    {row.wall_s:6.2f} s wall {row.cpu_s:6.2f} s CPU  {row.part}")
    return floor, quality, rows


def our_renders(case: Case, work: Path) -> tuple[CaseResult, RenderResult]:
    """First, cached, edited and compose-only renders in one fresh cache under `work`."""
    cache = work / "cache"
    say(f"\n== {case.label}: first render (cold cache)")
    first, first_run = timed_render(
        case.prompt, output=work / "first.mp4", cache_dir=cache, settings=case.settings
    )
    manifest = json.loads(first.manifest.read_text(encoding="utf-8"))
    storyboard = Storyboard.model_validate(manifest["storyboard"])
    say("  cached re-render (unchanged storyboard)")
    _, cached_run = timed_render(storyboard, output=work / "cached.mp4", cache_dir=cache)
    if cached_run.cache_misses:
        raise AssertionError(f"unchanged storyboard missed the cache: {cached_run.cache_misses}")
    changed, edit_info = edited(storyboard, case.edit_narration)
    say(f"  one-scene edit (scene {edit_info.scene + 1}/{edit_info.scenes})")
    _, edit_run = timed_render(changed, output=work / "edit.mp4", cache_dir=cache)
    longer, length_info = edited(storyboard, case.longer_narration)
    say(f"  one-scene edit of another length (scene {length_info.scene + 1}, later scenes shift)")
    _, length_run = timed_render(longer, output=work / "longer.mp4", cache_dir=cache)
    say("  composition only (segments + audio rebuilt, warm cache)")
    composed, compose_run = timed_render(
        storyboard, output=work / "ours.mp4", cache_dir=cache, refresh=COMPOSE_ONLY
    )
    floor, quality, profile = measure_output(case, composed, storyboard, work)
    result = CaseResult(
        key=case.key, label=case.label, words=count_words(case.prompt),
        scenes=len(storyboard.scenes), duration_s=first.duration_s,
        duration_range_s=case.duration_range_s, first=first_run, cached=cached_run,
        edit=edit_run, edit_info=edit_info, compose=compose_run,
        probes={"ours": probe(composed.video)}, edit_length=length_run,
        edit_length_info=length_info, floor=floor, quality=quality, profile=profile,
    )  # fmt: skip
    return result, composed


def run_case(case: Case, work: Path, with_moviepy: bool) -> CaseResult:
    """All measurements of one case, judged against the targets."""
    result, composed = our_renders(case, work)
    if with_moviepy:
        say("  MoviePy composition of the same storyboard")
        try:
            result.moviepy, moviepy_out = run_moviepy(composed, work)
            result.probes["moviepy"] = probe(moviepy_out)
        except subprocess.TimeoutExpired:
            say(f"    MoviePy took over {MOVIEPY_TIMEOUT_S} s: no comparison for this case")
    result.targets = judge(case, result)
    for target in result.targets:
        say(f"  target {target.goal}: {target.measured} → {target.mark}")
    return result


def warm_up(work: Path) -> RenderRun:
    """A tiny render first, so the Piper model load is paid (and reported) once, apart."""
    say("== warm-up render (loads the Piper voice model)")
    _, run = timed_render(
        WARMUP_PROMPT,
        output=work / "warmup.mp4",
        cache_dir=work / "cache",
        settings=VideoSettings(resolution=Resolution.SD, target_duration_s=10),
    )
    return run


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 3)


def results_json(
    cases: list[CaseResult], warmup: RenderRun, machine: dict[str, str]
) -> dict[str, object]:
    """Everything measured, plus the derived figures the report shows."""
    return {
        "machine": machine,
        "warmup": {**asdict(warmup), "realtime_x": round(warmup.realtime_x, 3)},
        "cases": [
            {
                **asdict(case),
                "first_realtime_x": round(case.first.realtime_x, 3),
                "cached_share_of_first": round(case.cached.wall_s / case.first.wall_s, 4),
                "edit_share_of_first": round(case.edit.wall_s / case.first.wall_s, 4),
                "moviepy_over_ours_compose": _rounded(case.compose_speedup),
                "moviepy_over_ours_render": _rounded(case.render_speedup),
                "compose_over_floor": _rounded(case.floor_ratio),
                "targets": [{**asdict(t), "result": t.mark} for t in case.targets],
            }
            for case in cases
        ],
    }


def write_results(cases: list[CaseResult], warmup: RenderRun) -> None:
    machine = machine_facts()
    RESULTS_JSON.parent.mkdir(parents=True, exist_ok=True)
    payload = results_json(cases, warmup, machine)
    RESULTS_JSON.write_text(json.dumps(payload, indent=2, ensure_ascii=False) + "\n", "utf-8")
    write_section(RESULTS_MD, render_section(cases, warmup, machine))
    project = BENCH_DIR.parent
    say(f"\nwrote {RESULTS_JSON.relative_to(project)} and {RESULTS_MD.relative_to(project)}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.engine", description=__doc__)
    keys = [c.key for c in CASES]
    parser.add_argument("--case", choices=keys, action="append", help="only this case (repeatable)")
    parser.add_argument("--no-moviepy", action="store_true", help="skip the MoviePy comparison")
    parser.add_argument("--keep", action="store_true", help="keep the rendered files")
    parser.add_argument(
        "--report-only", action="store_true", help=f"rewrite RESULTS.md from {RESULTS_JSON.name}"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.report_only:
        write_section(RESULTS_MD, render_section(*load_results(RESULTS_JSON)))
        return 0
    cases = [c for c in CASES if not args.case or c.key in args.case]
    started = time.perf_counter()
    root = Path(tempfile.mkdtemp(prefix="reelforge-bench-"))
    try:
        warmup = warm_up(root / "warmup")
        results = [run_case(c, root / c.key, not args.no_moviepy) for c in cases]
    finally:
        if args.keep:
            say(f"rendered files kept in {root}")
        else:
            shutil.rmtree(root, ignore_errors=True)
    write_results(results, warmup)
    say(f"done in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
