"""Media commands: `reelforge render`, `storyboard`, `voices`, `doctor` — the engine, no server."""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reelforge.cli import context
from reelforge.cli.console import EXIT_FAILURE, bad_input, err, fail, out
from reelforge.cli.templates import templated
from reelforge.errors import ReelforgeError
from reelforge.model.choices import VisualStyle

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from reelforge.model.storyboard import Storyboard, VideoSettings
    from reelforge.providers.registry import Providers
    from reelforge.settings import Settings

LLM_HINT = (
    "this prompt is a topic, not a script: the offline default narrates it as written. "
    "For a full script, configure an LLM (REELFORGE_PROVIDERS__LLM_BASE_URL, "
    "REELFORGE_PROVIDERS__LLM_API_KEY, REELFORGE_PROVIDERS__LLM_MODEL) or pass a script "
    "of several sentences."
)

REQUIRED_FILTERS = (
    "subtitles", "sidechaincompress", "ebur128", "alimiter", "acompressor", "amix", "asplit",
)  # fmt: skip
"""Every FFmpeg filter the engine uses (engine/compile.py, engine/ffmpeg.py)."""
FLAGS = {
    "aspect": "--aspect",
    "resolution": "--resolution",
    "fps": "--fps",
    "target_duration_s": "--duration",
    "voice": "--voice",
    "speaking_rate": "--rate",
    "visual_style": "--style",
    "seed": "--seed",
}
"""Settings fields as the user typed them, for error messages."""

Opt = typer.Option


def register(app: typer.Typer) -> None:
    app.command(name="render")(render_command)
    app.command(name="storyboard")(storyboard_command)
    app.command()(voices)
    app.command()(doctor)


def _read_prompt(prompt: str | None, prompt_file: Path | None) -> str:
    if prompt is not None and prompt_file is not None:
        bad_input("give a PROMPT or --prompt-file, not both")
    if prompt_file is not None:
        try:
            prompt = prompt_file.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            bad_input(f"cannot read prompt file {prompt_file}: {exc}")
    if prompt is None or not prompt.strip():
        bad_input("the prompt is empty: give PROMPT, --prompt-file or --storyboard")
    return prompt


def _settings(fields: dict[str, object], base: VideoSettings | None = None) -> VideoSettings:
    """The settings the flags ask for, over `base` (a storyboard's own settings) or defaults;
    a flag that was not given keeps the base value."""
    from pydantic import ValidationError

    from reelforge.model.storyboard import VideoSettings, describe_validation_error

    given = {k: v for k, v in fields.items() if v is not None}
    merged = base.model_dump(mode="json") if base is not None else {}
    for group in ("captions", "music"):
        if given.pop(group, None) is False:
            merged[group] = {**merged.get(group, {}), "enabled": False}
    try:
        return VideoSettings.model_validate(merged | given)
    except ValidationError as exc:
        message = describe_validation_error(exc)
        for field, flag in FLAGS.items():
            message = message.replace(f"{field}:", f"{flag}:")
        bad_input(message)


def _providers(settings: Settings) -> Providers:
    """Offline defaults plus every remote provider configured (docs/providers.md)."""
    from reelforge.platform.providers import build_providers

    return build_providers(settings.providers)


def _print_estimate(
    providers: Providers, settings: VideoSettings, prompt: str, config: Settings
) -> None:
    from rich.table import Table

    from reelforge.platform.providers import estimate, prices_for

    lines = estimate(providers, settings, prompt, prices=prices_for(config.providers))
    table = Table("provider", "units", "cost (USD)", title="estimated cost of this render")
    for line in lines:
        units = ", ".join(f"{amount:g} {unit}" for unit, amount in line.units.items())
        table.add_row(line.provider, units, f"{line.cost_usd:.4f}")
    table.add_row("total", "", f"{sum(line.cost_usd for line in lines):.4f}")
    out.print(table)
    if not lines:
        out.print("offline providers only: this render costs nothing", highlight=False)


def render_command(
    prompt: Annotated[str | None, typer.Argument(help="The script or topic to narrate.")] = None,
    output: Annotated[Path, Opt("-o", "--output", help="Where to write the MP4.")] = Path(
        "out/video.mp4"
    ),
    prompt_file: Annotated[Path | None, Opt(help="Read the prompt from a text file.")] = None,
    storyboard: Annotated[Path | None, Opt(help="Render an edited storyboard JSON.")] = None,
    aspect: Annotated[str | None, Opt(help="16:9, 9:16 or 1:1.")] = None,
    resolution: Annotated[str | None, Opt(help="480p, 720p or 1080p.")] = None,
    fps: Annotated[int | None, Opt(help="24, 25 or 30.")] = None,
    duration: Annotated[float | None, Opt(help="Target length in seconds (10-600).")] = None,
    voice: Annotated[str | None, Opt(help="Voice name (see `reelforge voices`).")] = None,
    rate: Annotated[float | None, Opt(help="Speaking rate, 0.5-2.0.")] = None,
    no_captions: Annotated[bool, Opt("--no-captions", help="No burned-in captions.")] = False,
    no_music: Annotated[bool, Opt("--no-music", help="No background music.")] = False,
    style: Annotated[str | None, Opt(help="Visual style: " + ", ".join(VisualStyle))] = None,
    seed: Annotated[int | None, Opt(help="Seed for visuals, motion and music.")] = None,
    template: Annotated[
        str | None, Opt(help="A built-in template (`reelforge templates`); flags win over it.")
    ] = None,
    keep_work: Annotated[bool, Opt(help="Keep the temporary work folder.")] = False,
    estimate_only: Annotated[
        bool, Opt("--estimate", help="Print the estimated provider cost and stop.")
    ] = False,
) -> None:
    """Render a prompt (or a storyboard) to an MP4 with captions, thumbnail and manifest."""
    from reelforge.engine.ffmpeg import Watchdog
    from reelforge.engine.pipeline import render
    from reelforge.model.storyboard import Storyboard

    config = context.settings()
    flags: dict[str, object] = {
        "aspect": aspect, "resolution": resolution, "fps": fps, "target_duration_s": duration,
        "voice": voice, "speaking_rate": rate, "visual_style": style, "seed": seed,
        "captions": False if no_captions else None, "music": False if no_music else None,
    }  # fmt: skip
    given = {name for name, value in flags.items() if value is not None}
    settings = templated(template, _settings(flags), given)
    try:
        if storyboard is not None:
            if prompt is not None or prompt_file is not None:
                bad_input("give a prompt or --storyboard, not both")
            board = Storyboard.load(storyboard)
            own = templated(template, _settings(flags, board.settings), given)
            source: str | Storyboard = board.model_copy(update={"settings": own})
        else:
            source = _read_prompt(prompt, prompt_file)
        providers = _providers(config)
        if estimate_only:
            video = source.settings if isinstance(source, Storyboard) else settings
            text = source if isinstance(source, str) else ""
            _print_estimate(providers, video, text, config)
            return
        with _ProgressBars() as (progress, tasks):

            def on_progress(stage: str, fraction: float, message: str) -> None:
                progress.update(tasks[stage], completed=fraction * 100, info=message)

            result = render(
                source,
                output=output,
                settings=settings,
                providers=providers,
                on_progress=on_progress,
                cache_dir=config.cache_dir,
                keep_work=keep_work,
                watchdog=Watchdog(
                    config.render.ffmpeg_timeout_base_s, config.render.ffmpeg_timeout_per_media_s
                ),
            )
    except ReelforgeError as exc:
        fail(exc)
    if result.topic_only:
        err.print(f"[yellow]note:[/] {LLM_HINT}", highlight=False)
    total = sum(result.stage_seconds.values())
    out.print(
        f"[green]✓[/] {result.video} — {result.duration_s:.1f} s video in {total:.1f} s "
        f"(+ {result.srt.name}, {result.vtt.name}, {result.thumbnail.name}, "
        f"{result.manifest.name})",
        highlight=False,
    )
    if result.cost_usd > 0:
        out.print(f"provider cost: ${result.cost_usd:.4f} (details in {result.manifest.name})")


class _ProgressBars:
    """One rich progress bar per stage, on stderr so stdout stays clean."""

    def __enter__(self) -> tuple[Progress, dict[str, TaskID]]:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        from reelforge.engine.pipeline import STAGES

        self._progress = Progress(
            TextColumn("{task.description:<9}"),
            BarColumn(),
            TextColumn("{task.fields[info]}"),
            TimeElapsedColumn(),
            console=err,
            transient=not err.is_terminal,
            disable=not err.is_terminal,
        )
        tasks = {s: self._progress.add_task(s, total=100, info="") for s in STAGES}
        self._progress.start()
        return self._progress, tasks

    def __exit__(self, *exc: object) -> None:
        self._progress.stop()


def storyboard_command(
    prompt: Annotated[str | None, typer.Argument(help="The script or topic.")] = None,
    prompt_file: Annotated[Path | None, Opt(help="Read the prompt from a text file.")] = None,
    aspect: Annotated[str | None, Opt(help="16:9, 9:16 or 1:1.")] = None,
    resolution: Annotated[str | None, Opt(help="480p, 720p or 1080p.")] = None,
    style: Annotated[str | None, Opt(help="Visual style.")] = None,
    seed: Annotated[int | None, Opt(help="Seed for visuals, motion and music.")] = None,
    schema: Annotated[bool, Opt(help="Print the storyboard JSON Schema instead.")] = False,
) -> None:
    """Plan a prompt into a storyboard JSON on stdout, to edit and render with --storyboard."""
    from reelforge.engine.pipeline import plan
    from reelforge.model.storyboard import Storyboard

    if schema:
        out.print_json(json.dumps(Storyboard.model_json_schema()))
        return
    settings = _settings(
        {"aspect": aspect, "resolution": resolution, "visual_style": style, "seed": seed}
    )
    try:
        board, script = plan(
            _read_prompt(prompt, prompt_file), settings, _providers(context.settings())
        )
    except ReelforgeError as exc:
        fail(exc)
    if script.topic_only:
        err.print(f"[yellow]note:[/] {LLM_HINT}", highlight=False)
    sys.stdout.write(board.to_json() + "\n")


def voices() -> None:
    """List the voices available offline."""
    for name in _providers(context.settings()).voice.voices():
        out.print(name)


def doctor() -> None:
    """Check that FFmpeg, the voice model, the cache and the output folder work."""
    from reelforge.engine.ffmpeg import ffmpeg_exe, filters

    config = context.settings()
    checks: list[tuple[str, bool, str]] = []
    try:
        exe = ffmpeg_exe()
        available = filters()
        missing = [f for f in REQUIRED_FILTERS if f not in available]
        checks.append(("ffmpeg", not missing, exe if not missing else f"missing {missing}"))
    except (ReelforgeError, RuntimeError, OSError) as exc:
        checks.append(("ffmpeg", False, str(exc)))
    try:
        names = _providers(config).voice.voices()
        checks.append(("voice", bool(names), ", ".join(names)))
    except (ReelforgeError, OSError) as exc:
        checks.append(("voice", False, str(exc)))
    for label, folder in (("cache", config.cache_dir), ("output", Path.cwd())):
        checks.append((label, _writable(folder), str(folder)))
    for label, ok, detail in checks:
        out.print(
            f"{'[green]ok[/]  ' if ok else '[red]FAIL[/]'} {label:<7} {detail}", highlight=False
        )
    if not all(ok for _, ok, _ in checks):
        raise typer.Exit(EXIT_FAILURE)


def _writable(folder: Path) -> bool:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder):
            return True
    except OSError:
        return False
