"""What every command shares: the two consoles, exit codes and the one-line failure.

Exit codes: 0 ok, 2 bad input (one readable line), 1 failure naming the stage.
"""

from __future__ import annotations

from typing import NoReturn

import typer
from rich.console import Console

from reelforge.errors import InvalidInput, ReelforgeError

EXIT_FAILURE = 1
EXIT_BAD_INPUT = 2

err = Console(stderr=True, soft_wrap=True)
out = Console(soft_wrap=True)


def fail(exc: ReelforgeError) -> NoReturn:
    """Print a known error as one line and exit: 2 for bad input, 1 naming the stage."""
    if isinstance(exc, InvalidInput):
        err.print(f"[red]error:[/] {exc.message}", highlight=False)
        raise typer.Exit(EXIT_BAD_INPUT)
    err.print(
        f"[red]failed[/] in stage [bold]{exc.stage or 'unknown'}[/]: {exc.message}", highlight=False
    )
    raise typer.Exit(EXIT_FAILURE)


def bad_input(message: str) -> NoReturn:
    fail(InvalidInput(message))
