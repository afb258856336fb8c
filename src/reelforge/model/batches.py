"""Batch rows: a CSV or JSON list of videos, one row each, read into what one render needs.

Pure, so the API (`jobs/batches.py`) and the offline CLI (`reelforge batch`) read a row the
same way and report the same reason for the same bad row. A row's line is its line in the
CSV file (the header is line 1; a quoted value spanning lines counts where the row starts)
or its position in a JSON list (from 1)."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import ValidationError

from reelforge.errors import InvalidInput, NotFound
from reelforge.model.choices import VisualKind
from reelforge.model.storyboard import (
    MAX_NARRATION_CHARS,
    Scene,
    Storyboard,
    VideoSettings,
    VisualSpec,
    describe_validation_error,
)
from reelforge.model.templates import Template, apply

SETTING_COLUMNS = {
    "aspect": "aspect", "resolution": "resolution", "duration": "target_duration_s",
    "voice": "voice", "language": "language", "speaking_rate": "speaking_rate",
    "visual_style": "visual_style", "seed": "seed",
}  # fmt: skip
"""A column that overrides one setting → the `VideoSettings` field it sets."""
ASSET_COLUMNS = ("music", "watermark", "visuals")
"""Asset ids: a song, a logo, and (with `script`) one image or clip per scene."""
COLUMNS = ("prompt", "script", "title", "template", *SETTING_COLUMNS, *ASSET_COLUMNS)
MAX_TITLE_CHARS = 200
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")

TemplateLookup = Callable[[str], Template]
"""A template by id; raises NotFound (the API: built-in or the user's; the CLI: built-in)."""


@dataclass(frozen=True, slots=True)
class RawRow:
    line: int
    fields: Mapping[str, Any]


@dataclass(frozen=True, slots=True)
class RowRequest:
    """One valid row: a prompt or a storyboard (from `script`), and its settings."""

    line: int
    title: str
    prompt: str | None
    storyboard: Storyboard | None
    settings: VideoSettings

    @property
    def text(self) -> str:
        """The prompt, or the script's scenes' narration."""
        if self.storyboard is None:
            return self.prompt or ""
        return "\n\n".join(scene.narration for scene in self.storyboard.scenes)


def video_name(line: int, title: str) -> str:
    """A row's file: `007-title.mp4`, sorted as the upload, readable, safe in any file system
    (in the API's ZIP and the CLI's output folder alike)."""
    slug = "".join(c if c.isalnum() else "-" for c in title.lower())[:60].strip("-")
    return f"{line:03d}-{slug or 'video'}.mp4"


def csv_cell(text: str) -> str:
    """Text for a results CSV: a title or error a spreadsheet would run as a formula (starting
    with = + - @, tab or CR) gets a leading apostrophe, as OWASP advises for CSV injection."""
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def read_csv(text: str) -> list[RawRow]:
    """The rows of a CSV with a header row; blank rows are skipped.

    Raises:
        InvalidInput: no header, an unknown column, or neither `prompt` nor `script`.
    """
    # csv.reader, not DictReader: DictReader skips blank rows unseen, losing the line count.
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)  # bad quoting: an error
    try:
        header = [name.strip().lower() for name in next(reader, [])]
        check_columns(header)
        rows = []
        start = reader.line_num + 1
        for values in reader:
            if any(value.strip() for value in values):
                fields = {name: value.strip() for name, value in zip(header, values, strict=False)}
                if len(values) > len(header):
                    fields["_extra"] = "more values than the header has columns"
                rows.append(RawRow(start, fields))
            start = reader.line_num + 1
    except csv.Error as exc:
        raise InvalidInput(f"line {reader.line_num}: not CSV ({exc})", stage="input") from exc
    return rows


def read_json(items: Sequence[Mapping[str, Any]]) -> list[RawRow]:
    """Rows sent as a JSON list of objects (their line: position in the list, from 1)."""
    names = {str(name).lower() for item in items for name in item}
    if items:  # no rows at all is the caller's to report
        check_columns(sorted(names))
    return [
        RawRow(n, {str(k).lower(): v for k, v in item.items()}) for n, item in enumerate(items, 1)
    ]


def check_columns(names: Sequence[str]) -> None:
    if not names:
        raise InvalidInput("the batch has no header row (prompt, title, ...)", stage="input")
    unknown = [name for name in names if name not in COLUMNS]
    if unknown:
        raise InvalidInput(
            f"unknown column {unknown[0]!r}: the columns are {', '.join(COLUMNS)}", stage="input"
        )
    if "prompt" not in names and "script" not in names:
        raise InvalidInput("a batch needs a prompt or a script column", stage="input")


def parse_row(raw: RawRow, default_template: str | None, find: TemplateLookup) -> RowRequest:
    """The row's render: its text, its settings (the row's columns win over its template's
    style, the template over the defaults).

    Raises:
        InvalidInput: why the row cannot render (the caller adds the line).
    """
    fields = {k: v for k, v in raw.fields.items() if v not in (None, "")}
    if "_extra" in fields:
        raise InvalidInput(str(fields["_extra"]))
    prompt, script = str(fields.get("prompt", "")), str(fields.get("script", ""))
    if bool(prompt.strip()) == bool(script.strip()):
        raise InvalidInput("give either a prompt or a script")
    title = str(fields.get("title", ""))
    if len(title) > MAX_TITLE_CHARS:
        raise InvalidInput(f"title: at most {MAX_TITLE_CHARS} characters")
    text = prompt or script
    if len(text) > MAX_NARRATION_CHARS:
        raise InvalidInput(
            f"{'prompt' if prompt else 'script'}: at most {MAX_NARRATION_CHARS} characters"
        )
    overrides: dict[str, Any] = {
        SETTING_COLUMNS[k]: v for k, v in fields.items() if k in SETTING_COLUMNS
    }
    if "music" in fields:
        overrides["music"] = {"asset_id": fields["music"]}
    if "watermark" in fields:
        overrides["watermark"] = {"asset_id": fields["watermark"]}
    try:
        settings = VideoSettings.model_validate(overrides)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from exc
    template_id = str(fields.get("template", "") or default_template or "")
    if template_id:
        try:
            settings = apply(find(template_id), settings, keep=set(overrides))
        except NotFound as exc:
            raise InvalidInput(f"template {template_id!r}: {exc.message}") from exc
    if prompt:
        if "visuals" in fields:
            raise InvalidInput("visuals: give a script (one scene per paragraph) to use them")
        return RowRequest(raw.line, title, prompt, None, settings)
    return RowRequest(raw.line, title, None, _storyboard(script, title, settings, fields), settings)


def _storyboard(
    script: str, title: str, settings: VideoSettings, fields: Mapping[str, Any]
) -> Storyboard:
    """A script read as it is: one scene per paragraph, the `visuals` asset ids in order."""
    paragraphs = [" ".join(part.split()) for part in script.split("\n\n") if part.strip()]
    visuals = str(fields.get("visuals", "")).replace(",", " ").replace(";", " ").split()
    if len(visuals) > len(paragraphs):
        raise InvalidInput(f"visuals: {len(visuals)} assets for {len(paragraphs)} scenes")
    scenes = []
    for n, narration in enumerate(paragraphs):
        visual = VisualSpec()
        if n < len(visuals):
            try:
                visual = VisualSpec(kind=VisualKind.FILE, asset_id=uuid.UUID(visuals[n]))
            except ValueError as exc:
                raise InvalidInput(f"visuals: {visuals[n]!r} is not an asset id") from exc
        scenes.append(Scene(narration=narration, visual=visual))
    try:
        return Storyboard(title=title, settings=settings, scenes=tuple(scenes))
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from exc
