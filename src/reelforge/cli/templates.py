"""`reelforge templates`: the built-in templates, and applying one to `render --template`."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Annotated

import typer

from reelforge.cli.console import bad_input, out

if TYPE_CHECKING:
    from reelforge.model.storyboard import VideoSettings


def register(app: typer.Typer) -> None:
    app.command(name="templates")(templates_command)


def templated(name: str | None, settings: VideoSettings, given: set[str]) -> VideoSettings:
    """`settings` in the style of the built-in template `name` (None: unchanged); the
    settings named in `given` (flags the user typed) win over the template's."""
    if name is None:
        return settings
    from reelforge.model.templates import apply, find_builtin

    template = find_builtin(name)
    if template is None:
        bad_input(f"unknown template {name!r}: `reelforge templates` lists them")
    return apply(template, settings, keep=given)


def templates_command(
    as_json: Annotated[bool, typer.Option("--json", help="Print them as JSON.")] = False,
) -> None:
    """List the built-in templates (use one with `reelforge render --template ID`)."""
    from rich.table import Column, Table

    from reelforge.model.templates import BUILTIN_TEMPLATES

    if as_json:
        rows = [t.model_dump(mode="json") for t in BUILTIN_TEMPLATES.values()]
        out.print_json(json.dumps(rows))
        return
    table = Table(
        Column("id", no_wrap=True), "name", "shape", "look", "captions", "sound", "pacing", "cards"
    )
    for t in BUILTIN_TEMPLATES.values():
        s = t.style
        cards = " / ".join(c for c in (s.cards.intro, s.cards.outro) if c) or "—"
        table.add_row(
            t.id, t.name, s.aspect.value, s.visual_style.value,
            f"{s.captions.style.value}, {s.captions.position.value}, ×{s.captions.size:g}",
            f"{s.music.mood.value} music {s.music.volume:.0%}, {s.voice} ×{s.speaking_rate:g}",
            f"{s.pacing.scene_s:g} s scenes, {s.pacing.transition.value}", cards,
        )  # fmt: skip
    out.print(table)
