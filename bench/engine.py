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
from bench.engine_report import (
    NOISY_CPU_PCT,
    CaseResult,
    EditInfo,
    MoviePyRun,
    Probe,
    RenderRun,
    Target,
    load_results,
    machine_facts,
    render_section,
    write_section,
)
from bench.measure import MIB, measure, wait_for_quiet
from reelforge.engine.pipeline import RenderResult, render
from reelforge.model.storyboard import Aspect, Resolution, Storyboard, VideoSettings
from reelforge.model.text import count_words

BENCH_DIR = Path(__file__).resolve().parent
RESULTS_JSON = BENCH_DIR / "results" / "engine.json"
RESULTS_MD = BENCH_DIR / "RESULTS.md"

MOVIEPY_SPEEDUP_TARGET = 5.0
MOVIEPY_TIMEOUT_S = 600
"""Keeps the run bounded if MoviePy stalls (it needs ~160 s for the 60 s 1080x1920 case)."""
EDIT_SHARE_TARGET = 0.35
RSS_LIMIT_MIB = 1024.0
QUIET_SHARE = NOISY_CPU_PCT / 100
"""Other processes' CPU share under which the machine counts as quiet."""
COMPOSE_ONLY = frozenset({"segment", "audio"})
"""Cache stages rebuilt to time composition alone (visuals, voice and music stay cached)."""

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
    duration_range_s: tuple[float, float]
    realtime_target: float | None = None


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
        duration_range_s=(27.0, 33.0),
        realtime_target=2.0,
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
        duration_range_s=(55.0, 65.0),
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
    )
    say(
        f"    wall {run.wall_s:.2f} s, {run.realtime_x:.2f}x realtime, "
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
    ours = (result.first, result.cached, result.edit, result.compose)
    peak = max(r.peak_rss_mib for r in ours)
    edit_share = result.edit.wall_s / result.first.wall_s
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
    goal = f"one-scene edit ≤ {EDIT_SHARE_TARGET:.0%} of first render"
    met = edit_share <= EDIT_SHARE_TARGET
    targets.append(
        Target("edit", goal, label, f"{edit_share:.0%}", met, noisy(result.first, result.edit))
    )
    goal = "peak RSS < 1 GiB (all our renders)"
    targets.append(Target("memory", goal, label, f"{peak:.0f} MiB", peak < RSS_LIMIT_MIB))
    if (speedup := result.compose_speedup) is not None:
        goal = f"composition ≥ {MOVIEPY_SPEEDUP_TARGET:g}x faster than MoviePy"
        met, unsure = speedup >= MOVIEPY_SPEEDUP_TARGET, noisy(result.compose, result.moviepy)
        targets.append(Target("moviepy", goal, label, f"{speedup:.1f}x", met, unsure))
    return targets


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
    say("  composition only (segments + audio rebuilt, warm cache)")
    composed, compose_run = timed_render(
        storyboard, output=work / "ours.mp4", cache_dir=cache, refresh=COMPOSE_ONLY
    )
    result = CaseResult(
        key=case.key, label=case.label, words=count_words(case.prompt),
        scenes=len(storyboard.scenes), duration_s=first.duration_s,
        duration_range_s=case.duration_range_s, first=first_run, cached=cached_run,
        edit=edit_run, edit_info=edit_info, compose=compose_run,
        probes={"ours": probe(composed.video)},
    )  # fmt: skip
    return result, composed


def run_case(case: Case, work: Path, with_moviepy: bool) -> CaseResult:
    """All measurements of one case, judged against the targets."""
    result, composed = our_renders(case, work)
    if with_moviepy:
        say("  MoviePy composition of the same storyboard")
        result.moviepy, moviepy_out = run_moviepy(composed, work)
        result.probes["moviepy"] = probe(moviepy_out)
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
