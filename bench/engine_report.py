"""Engine benchmark results: the JSON schema, the markdown section, and the machine they ran on.

Kept apart from the measuring code so the report can be regenerated from
bench/results/engine.json without re-running anything.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
from dataclasses import dataclass, field, fields
from importlib import metadata
from pathlib import Path
from typing import Any, TypeVar

from bench.report import cpu_model, mark, markdown_table, replace_section

T = TypeVar("T")
GIB = 1024**3
SECTION = "## Engine"
NOISY_CPU_PCT = 15.0
"""Other processes' CPU share (of all CPUs) from which a timing is flagged as noisy."""
STAGE_ORDER = ("script", "scenes", "visuals", "voice", "captions", "music", "compose", "checks")


@dataclass(frozen=True, slots=True)
class RenderRun:
    """One timed `render(...)` call."""

    wall_s: float
    duration_s: float
    peak_rss_mib: float
    added_rss_mib: float
    stage_seconds: dict[str, float]
    cache_hits: dict[str, int]
    cache_misses: dict[str, int]
    other_cpu_pct: float
    """CPU share other processes used meanwhile: above a few percent, the wall time is inflated."""
    cpu_s: float = 0.0
    """CPU seconds of the render and its ffmpeg children (0 in results from before it was kept)."""

    @property
    def realtime_x(self) -> float:
        return self.duration_s / self.wall_s


@dataclass(frozen=True, slots=True)
class MoviePyRun:
    build_s: float
    """Making the clips (stills opened, captions rasterised): before any frame is written."""
    write_s: float
    """`write_videofile`: every frame composed and encoded, plus the audio re-encode."""
    peak_rss_mib: float
    added_rss_mib: float
    other_cpu_pct: float


@dataclass(frozen=True, slots=True)
class Probe:
    """What an output file holds, to show that two outputs are comparable."""

    frames: int
    video_s: float
    audio_s: float
    size: str
    pix_fmt: str
    profile: str


@dataclass(frozen=True, slots=True)
class Target:
    kind: str
    """Which figure it belongs to: realtime, duration, edit, moviepy or memory."""
    goal: str
    case: str
    measured: str
    met: bool
    noisy: bool = False
    """Other processes used a notable share of the CPUs during a run this figure comes from."""

    @property
    def mark(self) -> str:
        return mark(self.met, self.noisy)


@dataclass(frozen=True, slots=True)
class EditInfo:
    scene: int
    scenes: int
    words_before: int
    words_after: int


@dataclass(frozen=True, slots=True)
class Floor:
    """x264 alone (the engine's preset and CRF) encoding the output's own frames."""

    wall_s: float
    cpu_s: float
    other_cpu_pct: float


@dataclass(frozen=True, slots=True)
class Quality:
    """The composed output measured: loudness, A/V drift, and SSIM against the same storyboard
    composed with the previous x264 settings (whose compose time is kept for comparison)."""

    lufs: float
    true_peak_db: float
    drift_ms: float
    ssim: float
    previous_encoder: str
    previous_compose_s: float
    previous_other_cpu_pct: float


@dataclass(frozen=True, slots=True)
class ProfileRow:
    part: str
    wall_s: float
    cpu_s: float
    other_cpu_pct: float


@dataclass
class CaseResult:
    key: str
    label: str
    words: int
    scenes: int
    duration_s: float
    duration_range_s: tuple[float, float]
    first: RenderRun
    cached: RenderRun
    edit: RenderRun
    edit_info: EditInfo
    compose: RenderRun
    moviepy: MoviePyRun | None = None
    probes: dict[str, Probe] = field(default_factory=dict)
    targets: list[Target] = field(default_factory=list)
    edit_length: RenderRun | None = None
    """A one-scene narration edit that changes the scene's length (later scenes shift)."""
    edit_length_info: EditInfo | None = None
    floor: Floor | None = None
    quality: Quality | None = None
    profile: list[ProfileRow] = field(default_factory=list)

    @property
    def floor_ratio(self) -> float | None:
        """Our compose stage over the x264 floor of the same frames."""
        if self.floor is None:
            return None
        return self.compose.stage_seconds["compose"] / self.floor.wall_s

    @property
    def render_speedup(self) -> float | None:
        """MoviePy's write time over our whole (compose-only) render, checks included."""
        if self.moviepy is None:
            return None
        return self.moviepy.write_s / self.compose.wall_s

    @property
    def duration_ok(self) -> bool:
        low, high = self.duration_range_s
        return low <= self.duration_s <= high

    @property
    def compose_speedup(self) -> float | None:
        """MoviePy's write time over our compose stage, both for the same storyboard."""
        if self.moviepy is None:
            return None
        return self.moviepy.write_s / self.compose.stage_seconds["compose"]


def machine_facts() -> dict[str, str]:
    """What the numbers depend on: CPUs, memory, tool versions, when."""
    import imageio_ffmpeg
    import psutil

    return {
        "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": cpu_model(),
        "memory": f"{psutil.virtual_memory().total / GIB:.1f} GiB",
        "python": platform.python_version(),
        "ffmpeg": imageio_ffmpeg.get_ffmpeg_version(),
        "moviepy": metadata.version("moviepy"),
    }


def _s(seconds: float) -> str:
    return f"{seconds:.2f} s" if seconds < 10 else f"{seconds:.1f} s"


def _mib(value: float) -> str:
    return f"{value:.0f} MiB"


def _counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{stage} {n}" for stage, n in counts.items()) or "none"


def _first_row(what: str, run: RenderRun, target: str) -> list[str]:
    realtime, other = f"{run.realtime_x:.2f}x", f"{run.other_cpu_pct:.0f} %"
    peak = f"{_mib(run.peak_rss_mib)} (+{_mib(run.added_rss_mib)})"
    return [what, _s(run.duration_s), _s(run.wall_s), realtime, peak, other, target]


def _first_renders(cases: list[CaseResult], warmup: RenderRun) -> list[str]:
    voice = _s(warmup.stage_seconds.get("voice", 0.0))
    what = "warm-up: 2-sentence 480p render, incl. Piper model load"
    rows = [_first_row(what, warmup, f"— (voice stage {voice})")]
    for case in cases:
        what = f"{case.label}: {case.scenes} scenes, {case.words} words"
        marks = _target_marks(case, ("realtime", "duration", "memory"))
        rows.append(_first_row(what, case.first, marks))
    header = ["first render (cold cache)", "video", "wall", "realtime", "peak RSS (+added)"]
    return markdown_table([*header, "other CPU", "target"], rows)


def _stages(cases: list[CaseResult]) -> list[str]:
    rows = []
    for case in cases:
        seconds = case.first.stage_seconds
        share = seconds.get("compose", 0.0) / case.first.wall_s
        cells = [_s(seconds[s]) if s in seconds else "—" for s in STAGE_ORDER]
        rows.append([case.label, *cells, f"{share:.0%}"])
    return markdown_table(["case", *STAGE_ORDER, "compose share"], rows)


def _rerender_row(case: CaseResult, what: str, run: RenderRun, target: str) -> list[str]:
    share, other = f"{run.wall_s / case.first.wall_s:.0%}", f"{run.other_cpu_pct:.0f} %"
    return [case.label, what, _s(run.wall_s), share, _counts(run.cache_misses), other, target]


def _rerenders(cases: list[CaseResult]) -> list[str]:
    rows = []
    for case in cases:
        edit = case.edit_info
        edit_what = (
            f"scene {edit.scene + 1}/{edit.scenes} narration edited "
            f"({edit.words_before} → {edit.words_after} words)"
        )
        cached_target = "no misses: " + _mark(not case.cached.cache_misses)
        if chosen := _target_marks(case, ("unchanged",)):
            cached_target = f"{cached_target}; {chosen}" if chosen != "—" else cached_target
        rows.append(_rerender_row(case, "unchanged storyboard", case.cached, cached_target))
        rows.append(_rerender_row(case, edit_what, case.edit, _target_marks(case, ("edit",))))
        if case.edit_length is not None and case.edit_length_info is not None:
            info = case.edit_length_info
            what = (
                f"scene {info.scene + 1}/{info.scenes} narration of another length "
                f"({info.words_before} → {info.words_after} words; later scenes shift)"
            )
            marks = _target_marks(case, ("edit_length",))
            rows.append(_rerender_row(case, what, case.edit_length, marks))
    header = ["case", "re-render", "wall", "of first", "cache misses", "other CPU", "target"]
    return markdown_table(header, rows)


def _versus_moviepy(cases: list[CaseResult]) -> list[str]:
    rows = []
    for case in cases:
        ours, theirs = case.compose, case.moviepy
        if theirs is None:
            continue
        floor = "—" if case.floor is None else _s(case.floor.wall_s)
        ratio = "—" if case.floor_ratio is None else f"{case.floor_ratio:.2f}x"
        rows.append(
            [
                case.label,
                floor,
                _s(ours.stage_seconds["compose"]),
                ratio,
                _s(ours.wall_s),
                _s(theirs.build_s),
                _s(theirs.write_s),
                f"{case.compose_speedup:.1f}x",
                "—" if case.render_speedup is None else f"{case.render_speedup:.1f}x",
                f"{_mib(ours.peak_rss_mib)} (+{_mib(ours.added_rss_mib)}) / "
                f"{_mib(theirs.peak_rss_mib)} (+{_mib(theirs.added_rss_mib)})",
                f"{ours.other_cpu_pct:.0f} % / {theirs.other_cpu_pct:.0f} %",
                _target_marks(case, ("floor", "moviepy")),
            ]
        )
    header = [
        "case",
        "x264 floor (same frames)",
        "ours: compose stage",
        "compose ÷ floor",
        "ours: whole render",
        "MoviePy: build clips",
        "MoviePy: write_videofile",
        "MoviePy ÷ our compose",
        "MoviePy ÷ our whole render",
        "peak RSS (added) ours / MoviePy",
        "other CPU ours / MoviePy",
        "target",
    ]
    return markdown_table(header, rows)


def _probes(cases: list[CaseResult]) -> list[str]:
    rows = [
        [
            case.label,
            name,
            str(p.frames),
            _s(p.video_s),
            _s(p.audio_s),
            p.size,
            f"{p.pix_fmt} {p.profile}",
        ]
        for case in cases
        for name, p in case.probes.items()
    ]
    header = ["case", "output", "frames", "video", "audio", "size", "format"]
    return markdown_table(header, rows)


def _profile(cases: list[CaseResult]) -> list[str]:
    rows = []
    for case in cases:
        if case.floor is not None:
            floor = case.floor
            what = "x264 alone on the output's frames (the floor)"
            rows.append([case.label, what, _s(floor.wall_s), _s(floor.cpu_s),
                         f"{floor.other_cpu_pct:.0f} %"])  # fmt: skip
        for row in case.profile:
            rows.append([case.label, row.part, _s(row.wall_s), _s(row.cpu_s),
                         f"{row.other_cpu_pct:.0f} %"])  # fmt: skip
        if "checks" in case.compose.stage_seconds:
            checks = _s(case.compose.stage_seconds["checks"])
            what = (
                "(after compose) output checks: caption frames sampled (picture and sound measured "
                "during compose)"
            )
            rows.append([case.label, what,
                         checks, "—", f"{case.compose.other_cpu_pct:.0f} %"])  # fmt: skip
    return markdown_table(["case", "part, timed alone", "wall", "CPU", "other CPU"], rows)


def _quality(cases: list[CaseResult]) -> list[str]:
    rows = []
    for case in cases:
        q = case.quality
        if q is None:
            continue
        rows.append([case.label, f"{q.lufs:.1f} LUFS", f"{q.true_peak_db:.1f} dBTP",
                     f"{q.drift_ms:.0f} ms", f"{q.ssim:.4f} (vs {q.previous_encoder})",
                     f"{_s(q.previous_compose_s)} ({q.previous_other_cpu_pct:.0f} % other CPU)",
                     _target_marks(case, ("loudness", "peak", "drift", "ssim"))])  # fmt: skip
    header = ["case", "loudness", "true peak", "A/V drift", "SSIM", "compose, previous x264"]
    return markdown_table([*header, "target"], rows)


def _targets(cases: list[CaseResult]) -> list[str]:
    rows = [[t.goal, t.case, t.measured, t.mark] for c in cases for t in c.targets]
    return markdown_table(["target", "case", "measured", "result"], rows)


def _mark(ok: bool) -> str:
    return "met" if ok else "missed"


def _target_marks(case: CaseResult, kinds: tuple[str, ...]) -> str:
    chosen = [t for t in case.targets if t.kind in kinds]
    return "; ".join(f"{t.goal}: {t.mark}" for t in chosen) or "—"


def _compose_shares(cases: list[CaseResult]) -> str:
    shares = [
        f"{c.first.stage_seconds.get('compose', 0.0) / c.first.wall_s:.0%} of the {c.label}"
        for c in cases
    ]
    return " and ".join(shares)


def _extra_segments(cases: list[CaseResult]) -> str:
    """Flag edits that re-encoded more than the edited scene and the next scene's fade-in."""
    runs = [r for c in cases for r in (c.edit, c.edit_length) if r is not None]
    extra = [r for r in runs if r.cache_misses.get("segment", 0) > 3]
    if not extra:
        return ""
    return (
        " This run's edits re-encoded more than three segments: later scenes whose pictures "
        "did not change, but whose segment cache keys moved with the timeline."
    )


def _meaning(cases: list[CaseResult]) -> list[str]:
    """The figures read in words, with the case-specific numbers filled in."""
    baselines = [r.peak_rss_mib - r.added_rss_mib for c in cases for r in (c.first, c.compose)]
    held = f"{min(baselines):.0f}–{max(baselines):.0f} MiB" if baselines else "n/a"
    text = (
        "Single runs in one Python process, after a warm-up that pays the Piper model load; "
        "*other CPU* is the share of the CPUs other processes used meanwhile (above a few "
        "percent, wall times are inflated). Peak RSS sums that process and its ffmpeg children "
        f"every 50 ms; the process already holds {held} before a render (voice model, "
        "onnxruntime arenas, heap kept from earlier renders), and *+added* is the render's own "
        f"share. Compose (scene frames, x264, libass, audio mix, join) is {_compose_shares(cases)} "
        "first render. Each run of segments to encode is one x264 process, cut into "
        "per-segment files at IDR frames; a scene that fades in is two segments (the fade, the "
        "rest). An unchanged storyboard costs only the join (its output checks are cached by "
        "the joined file's digest). A narration edit re-makes the scene's voice (its still only "
        "if it has no headline or no visual prompt), the whole audio mix (later voices move; "
        "the music bed, made to outlast 1.25x the target duration, is kept) and three "
        "segments: the scene's fade-in and body "
        "and the next scene's fade-in; later scenes only move, even when the narration's length "
        "changes. The output checks measure black and frozen stretches on the frames as they "
        "are encoded (segment by segment, joined across cuts) and the sound on the mixed audio "
        "while the video is encoded (trusted only if the finished file's audio stream is that "
        "one, packet for packet); they decode only a few frames around caption hand-overs. "
        "The *x264 floor* is x264 at the engine's preset and CRF encoding the output's own "
        "frames, decoded to raw yuv420p beforehand (untimed); *compose ÷ floor* "
        "is the compose stage of the composition-only render over it. The profile times each "
        "other part of compose alone (wall and CPU seconds of this process and the ffmpeg it "
        "waited for): when the machine is shared, CPU seconds are the steadier figure. SSIM "
        "compares the output with the same composition at the previous x264 settings."
        + _extra_segments(cases)
        + " MoviePy gets the same stills, scene times, SRT cues and our final mixed audio as WAV "
        "(decoded beforehand, untimed), so it skips the mix and loudness passes our compose "
        "stage pays for, and draws plain captions where ours highlight each word: the ratio "
        "leans toward MoviePy. Both outputs have the same frame count and duration. A result "
        f"marked *(noisy)* comes from a run during which other processes used ≥ "
        f"{NOISY_CPU_PCT:.0f} % of the CPUs: rerun `make bench` on a quiet machine to confirm it."
    )
    return ["### What the numbers mean", "", text, ""]


def render_section(cases: list[CaseResult], warmup: RenderRun, machine: dict[str, str]) -> str:
    """The whole `## Engine` section of RESULTS.md."""
    facts = (
        f"Run {machine['date']} on {machine['nproc']} CPUs ({machine['cpu']}), "
        f"{machine['memory']} RAM; Python {machine['python']}, ffmpeg {machine['ffmpeg']} "
        f"(imageio-ffmpeg), MoviePy {machine['moviepy']}. Reproduce with `make bench`."
    )
    blocks = [
        [SECTION, "", facts, ""],
        ["### First render", "", *_first_renders(cases, warmup), ""],
        ["### Seconds per stage (first render)", "", *_stages(cases), ""],
        ["### Re-renders in the same cache", "", *_rerenders(cases), ""],
        ["### Composition vs MoviePy (same storyboard, warm cache)", "", *_versus_moviepy(cases)],
        ["", "Output probe:", "", *_probes(cases), ""],
        [
            "### Where the compose time goes (each part timed alone, warm cache)",
            "",
            *_profile(cases),
            "",
        ],
        ["### Output quality", "", *_quality(cases), ""],
        ["### Targets", "", *_targets(cases), ""],
        _meaning(cases),
    ]
    return "\n".join(line for block in blocks for line in block)


def write_section(path: Path, section: str) -> None:
    """Replace only the `## Engine` section of `path`."""
    replace_section(path, SECTION, section)


def _pick(cls: type[T], data: dict[str, Any]) -> T:
    """A dataclass from a JSON object, ignoring the derived keys written beside its fields."""
    return cls(**{f.name: data[f.name] for f in fields(cls) if f.name in data})  # type: ignore[arg-type]


def load_results(path: Path) -> tuple[list[CaseResult], RenderRun, dict[str, str]]:
    """Cases, warm-up and machine facts back from bench/results/engine.json."""
    payload = json.loads(path.read_text(encoding="utf-8"))
    runs = ("first", "cached", "edit", "compose")
    cases = []
    for data in payload["cases"]:
        parts = {
            **{run: _pick(RenderRun, data[run]) for run in runs},
            "duration_range_s": tuple(data["duration_range_s"]),
            "edit_info": _pick(EditInfo, data["edit_info"]),
            "moviepy": _pick(MoviePyRun, data["moviepy"]) if data["moviepy"] else None,
            "probes": {name: _pick(Probe, p) for name, p in data["probes"].items()},
            "targets": [_pick(Target, t) for t in data["targets"]],
            "edit_length": _pick(RenderRun, data["edit_length"]) if data.get("edit_length")
            else None,
            "edit_length_info": _pick(EditInfo, data["edit_length_info"])
            if data.get("edit_length_info") else None,
            "floor": _pick(Floor, data["floor"]) if data.get("floor") else None,
            "quality": _pick(Quality, data["quality"]) if data.get("quality") else None,
            "profile": [_pick(ProfileRow, r) for r in data.get("profile", [])],
        }  # fmt: skip
        cases.append(_pick(CaseResult, {**data, **parts}))
    return cases, _pick(RenderRun, payload["warmup"]), payload["machine"]
