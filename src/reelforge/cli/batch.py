"""`reelforge batch`: one MP4 per row of a CSV (or JSON list), rendered here, offline, as
`reelforge render` does, plus a results CSV. Rows are read as the API reads them
(`model/batches.py`); every row is checked before the first render, and a bad one stops
the whole batch with one line per bad row (exit 2)."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from reelforge.cli import context
from reelforge.cli.console import EXIT_BAD_INPUT, EXIT_FAILURE, bad_input, err, out
from reelforge.errors import InvalidInput, NotFound, ReelforgeError

if TYPE_CHECKING:
    from reelforge.model.batches import RawRow, RowRequest
    from reelforge.model.templates import Template

RESULTS_FILE = "results.csv"
RESULT_COLUMNS = ("line", "title", "status", "file", "duration_s", "error")


def register(app: typer.Typer) -> None:
    app.command(name="batch")(batch_command)


def _rows(path: Path) -> list[RawRow]:
    from reelforge.model.batches import read_csv, read_json

    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        bad_input(f"cannot read {path}: {exc}")
    if path.suffix.lower() != ".json":
        return read_csv(text)
    try:
        items = json.loads(text)
    except json.JSONDecodeError as exc:
        bad_input(f"{path}: not JSON ({exc.msg}, line {exc.lineno})")
    if isinstance(items, dict):  # the API's body: {"rows": [...]}
        items = items.get("rows")
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        bad_input(f"{path}: give a list of objects, one per video")
    return read_json(items)


def _find(name: str) -> Template:
    from reelforge.model.templates import find_builtin

    template = find_builtin(name)
    if template is None:
        raise NotFound("no such built-in template (`reelforge templates` lists them)")
    return template


def _check(rows: list[RawRow], template: str | None) -> tuple[list[RowRequest], list[str]]:
    """Every row's render, and one line per bad row."""
    from reelforge.model.batches import parse_row

    valid, problems = [], []
    for raw in rows:
        try:
            request = parse_row(raw, template, _find)
            board = request.storyboard
            if request.settings.asset_ids() or (board is not None and board.asset_ids()):
                raise InvalidInput("asset ids name uploads on a server: submit this batch there")
        except InvalidInput as exc:
            problems.append(f"line {raw.line}: {exc.message}")
            continue
        valid.append(request)
    return valid, problems


def batch_command(
    rows_file: Annotated[Path, typer.Argument(help="A CSV with a header row, or a JSON list.")],
    template: Annotated[
        str | None, typer.Option(help="A built-in template for every row (a row's wins).")
    ] = None,
    output_dir: Annotated[Path, typer.Option(help="Where the MP4s and results.csv go.")] = Path(
        "out"
    ),
) -> None:
    """Render one video per row (columns: prompt or script, title, template, aspect,
    resolution, duration, voice, language, speaking_rate, visual_style, seed)."""
    try:
        if template is not None:
            _find(template)
        rows = _rows(rows_file)
    except (InvalidInput, NotFound) as exc:
        bad_input(
            f"template {template!r}: {exc.message}" if isinstance(exc, NotFound) else exc.message
        )
    if not rows:
        bad_input(f"{rows_file} has no rows")
    requests, problems = _check(rows, template)
    if problems:
        for problem in problems:
            err.print(f"[red]error:[/] {problem}", highlight=False)
        err.print(f"{len(problems)} bad rows: nothing was rendered", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    failed = _render_all(requests, output_dir)
    out.print(f"results: {output_dir / RESULTS_FILE}", highlight=False)
    if failed:
        raise typer.Exit(EXIT_FAILURE)


def _render_all(requests: list[RowRequest], output_dir: Path) -> int:
    """Render each row in turn (a failed row is recorded, the next one still renders).

    Returns:
        How many rows failed.
    """
    from reelforge.engine.ffmpeg import Watchdog
    from reelforge.engine.pipeline import render
    from reelforge.model.batches import csv_cell, video_name
    from reelforge.platform.providers import build_providers

    config = context.settings()
    providers = build_providers(config.providers)
    watchdog = Watchdog(
        config.render.ffmpeg_timeout_base_s, config.render.ffmpeg_timeout_per_media_s
    )
    output_dir.mkdir(parents=True, exist_ok=True)
    failed = 0
    with (output_dir / RESULTS_FILE).open("w", encoding="utf-8", newline="") as handle:
        results = csv.writer(handle, lineterminator="\n")
        results.writerow(RESULT_COLUMNS)
        for n, request in enumerate(requests, 1):
            name = video_name(request.line, request.title)
            source = request.storyboard if request.storyboard is not None else request.prompt
            assert source is not None  # a valid row has a prompt or a script
            try:
                result = render(
                    source, output=output_dir / name, settings=request.settings,
                    providers=providers, cache_dir=config.cache_dir, watchdog=watchdog,
                )  # fmt: skip
            except ReelforgeError as exc:
                failed += 1
                title, error = csv_cell(request.title), csv_cell(str(exc))
                results.writerow((request.line, title, "failed", "", "", error))
                err.print(f"[red]✗[/] line {request.line}: {exc}", highlight=False)
                continue
            results.writerow(
                (
                    request.line,
                    csv_cell(request.title),
                    "succeeded",
                    name,
                    f"{result.duration_s:.1f}",
                    "",
                )
            )
            out.print(
                f"[green]✓[/] {n}/{len(requests)} line {request.line}: {output_dir / name} "
                f"({result.duration_s:.1f} s)",
                highlight=False,
            )
    return failed
