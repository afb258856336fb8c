"""The `reelforge` command: render, storyboard, voices, doctor; serve, user; db, worker, queue;
mcp.

Each command group is its own module and loads its heavy libraries (the engine, FastAPI,
SQLAlchemy, pydantic) only when one of its commands runs, so `--help` answers at once.
"""

from __future__ import annotations

import os
import sys

import typer

from reelforge.cli import batch, mcp, media, ops, serve, templates
from reelforge.cli.console import EXIT_BAD_INPUT, EXIT_FAILURE, err
from reelforge.errors import Conflict, InvalidInput, NotFound, ReelforgeError

HELP_FLAGS = frozenset({"--help", "-h"})

app = typer.Typer(
    name="reelforge",
    help="Turn a prompt into a narrated video — offline, on your machine.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
media.register(app)
templates.register(app)
batch.register(app)
serve.register(app)
ops.register(app)
mcp.register(app)


@app.callback()
def _start() -> None:
    """Configure logging and record the settings in force (secrets masked)."""
    if HELP_FLAGS.intersection(sys.argv[1:]):
        return  # help needs no settings: reading them would load pydantic-settings
    from reelforge import logs
    from reelforge.settings import get_settings

    config = get_settings()
    logs.configure(config.log_level)
    logs.get_logger("reelforge").debug("settings", **config.masked())


def _exit_code(exc: Exception) -> tuple[int, str] | None:
    """The exit code and one line for an error a user can act on; None for a bug."""
    from pydantic import ValidationError
    from sqlalchemy.exc import OperationalError

    from reelforge.model.storyboard import describe_validation_error

    if isinstance(exc, InvalidInput | NotFound | Conflict):
        return EXIT_BAD_INPUT, exc.message
    if isinstance(exc, ReelforgeError):
        return EXIT_FAILURE, str(exc)
    if isinstance(exc, OperationalError):
        return EXIT_FAILURE, f"database unavailable: {exc.orig}"
    if isinstance(exc, ValidationError):  # REELFORGE_* settings that don't parse
        return EXIT_BAD_INPUT, f"settings: {describe_validation_error(exc)}"
    return None


def main() -> None:
    """Console entry point: never shows a traceback for a known error."""
    os.environ.setdefault("ORT_LOGGING_LEVEL", "3")
    try:
        app()
    except Exception as exc:
        known = _exit_code(exc)
        if known is None:
            raise
        code, message = known
        err.print(f"[red]error:[/] {message}", highlight=False)
        sys.exit(code)
