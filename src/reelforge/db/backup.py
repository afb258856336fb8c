"""Copying the database out and back: SQLite's online backup API (consistent while the app
runs), or PostgreSQL's own tools (`pg_dump --format=custom`, `pg_restore --clean`) — a
dump they can also read by hand. The password goes in the environment, never in argv."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
from contextlib import closing
from pathlib import Path

from sqlalchemy import create_engine, make_url
from sqlalchemy.engine import URL

from reelforge.errors import InvalidInput, ReelforgeError

PG_TOOL_TIMEOUT_S = 3600


def backend_of(url: str) -> str:
    backend = make_url(url).get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        raise InvalidInput(f"backups support SQLite and PostgreSQL, not {backend}")
    return backend


def dump(url: str, out: Path) -> str:
    """Write the database at `url` to `out`; returns its backend (`sqlite`, `postgresql`)."""
    backend = backend_of(url)
    if backend == "sqlite":
        _sqlite_copy(Path(str(make_url(url).database)), out)
    else:
        _pg_tool("pg_dump", url, "--format=custom", "--no-owner", "--no-privileges",
                 f"--file={out}")  # fmt: skip
    return backend


def load(url: str, dumped: Path, backend: str) -> None:
    """Replace the database at `url` with the dump's content (same backend only)."""
    target = backend_of(url)
    if backend != target:
        raise InvalidInput(
            f"this backup holds a {backend} database; the configured one is {target}"
        )
    if target == "sqlite":
        _sqlite_copy(dumped, Path(str(make_url(url).database)))
    else:
        _pg_tool("pg_restore", url, "--clean", "--if-exists", "--no-owner", "--no-privileges",
                 "--single-transaction", str(dumped))  # fmt: skip


def revision(url: str) -> str | None:
    """The Alembic revision the database is at (None before the first migration)."""
    from alembic.runtime.migration import MigrationContext

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            return MigrationContext.configure(conn).get_current_revision()
    finally:
        engine.dispose()


def _sqlite_copy(source: Path, target: Path) -> None:
    if not source.is_file():
        raise InvalidInput(f"no SQLite database at {source}")
    target.parent.mkdir(parents=True, exist_ok=True)
    with closing(sqlite3.connect(source)) as src, closing(sqlite3.connect(target)) as dst:
        src.backup(dst)


def _pg_tool(tool: str, url: str, *args: str) -> None:
    binary = shutil.which(tool)
    if binary is None:
        raise ReelforgeError(f"{tool} is not installed (Debian: apt install postgresql-client)")
    parsed = make_url(url)
    libpq: URL = parsed.set(drivername="postgresql", password=None)
    env = {**os.environ}
    if parsed.password:
        env["PGPASSWORD"] = str(parsed.password)
    done = subprocess.run(
        [binary, f"--dbname={libpq.render_as_string(hide_password=False)}", *args],
        env=env, capture_output=True, text=True, timeout=PG_TOOL_TIMEOUT_S, check=False,
    )  # fmt: skip
    if done.returncode != 0:
        raise ReelforgeError(f"{tool} failed: {done.stderr.strip()[-500:]}")
