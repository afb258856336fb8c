"""Engines and sessions for SQLite (embedded default) and PostgreSQL (scale-out)."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, make_url
from sqlalchemy.orm import Session, sessionmaker

SQLITE_BUSY_TIMEOUT_MS = 10_000
POOL_CONNECTIONS = 15
"""Connections a process keeps, all of them: SQLAlchemy's default (5, and 10 more "overflow"
ones) has the same ceiling, but closed each overflow connection as soon as it was handed
back, so a busy API process opened and closed connections all the time (on PostgreSQL a
server process each; on SQLite the file and its PRAGMAs)."""


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def _configure_sqlite(engine: Engine) -> None:
    """WAL (readers never block the writer), a busy timeout, foreign keys, and
    transactions we begin ourselves so a claim can take `BEGIN IMMEDIATE`."""

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None  # let SQLAlchemy's "begin" below decide
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(connection: Any) -> None:
        immediate = connection.get_execution_options().get("sqlite_immediate", False)
        # On the driver's connection: through `exec_driver_sql`, SQLAlchemy's statement
        # machinery cost more than the BEGIN itself, on every transaction (two a request).
        connection.connection.driver_connection.execute("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    # Never put bound parameters in error messages: they reach the logs, and a failed
    # sign-up once logged the new user's Argon2 hash that way (issue #22).
    kwargs.setdefault("hide_parameters", True)
    if not url.startswith("sqlite") or not _in_memory(url):
        kwargs.setdefault("pool_size", POOL_CONNECTIONS)
        kwargs.setdefault("max_overflow", 0)
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False}, **kwargs)
        _configure_sqlite(engine)
        return engine
    # No pool_pre_ping: it doubles the round trips of every short queue transaction
    # (measured on procrastinate's pool, shared/notes/queue.md); callers retry on a dead
    # connection instead (the worker loop does).
    return create_engine(url, **kwargs)


def _in_memory(url: str) -> bool:
    """An in-memory SQLite database (its pool holds one connection: no pool sizes)."""
    database = make_url(url).database
    return database in (None, "", ":memory:") or "mode=memory" in url


def session_factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(engine, expire_on_commit=False)
