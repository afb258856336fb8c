"""The `reelforge` command line (see `app.py`); `main` is the console entry point."""

from __future__ import annotations

from reelforge.cli.app import app, main

__all__ = ["app", "main"]
