"""How an idle worker learns that a job was queued: PostgreSQL LISTEN/NOTIFY across hosts,
an in-process event on the embedded default, and polling as the fallback for both."""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any, Protocol

import psycopg
from sqlalchemy import Engine

from reelforge.jobs.backoff import Backoff
from reelforge.jobs.manager import NOTIFY_CHANNEL

log = logging.getLogger(__name__)
CONNECT_TIMEOUT_S = 5


class Waker(Protocol):
    def wait(self, timeout_s: float) -> None:
        """Return when a job may be claimable, or after `timeout_s` at the latest."""

    def close(self) -> None: ...


class LocalWaker:
    """Wakes on enqueues made in this process (the embedded default's in-process pool)."""

    def __init__(self, event: threading.Event) -> None:
        self._event = event

    def wait(self, timeout_s: float) -> None:
        self._event.wait(timeout_s)
        self._event.clear()

    def close(self) -> None:
        """Nothing to release."""


class PostgresWaker:
    """A dedicated connection LISTENing on the queue channel (NOTIFY is sent on enqueue).

    The connection is opened on first use and reopened after it breaks (a database restart,
    `pg_terminate_backend`), with back-off; meanwhile `wait` just sleeps, so the worker falls
    back to polling. `wait` never raises.
    """

    def __init__(self, engine: Engine, *, retry_max_s: float = 10.0) -> None:
        url = engine.url.set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._conn: psycopg.Connection[Any] | None = None
        self._backoff = Backoff(0.25, retry_max_s)
        self._retry_at = 0.0

    def _connected(self) -> psycopg.Connection[Any] | None:
        if self._conn is not None:
            return self._conn
        if time.monotonic() < self._retry_at:
            return None
        try:
            conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S)
            conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
        except psycopg.Error as exc:
            pause_s = self._backoff.next_s()
            self._retry_at = time.monotonic() + pause_s
            log.warning("cannot LISTEN for queued jobs (retrying in %.1f s): %s", pause_s, exc)
            return None
        if self._backoff.failures:
            log.warning("listening for queued jobs again")
        self._backoff.reset()
        self._conn = conn
        return conn

    def wait(self, timeout_s: float) -> None:
        conn = self._connected()
        if conn is None:
            time.sleep(timeout_s)  # polling until the connection is back
            return
        try:
            for _ in conn.notifies(timeout=timeout_s, stop_after=1):
                break
        except psycopg.Error as exc:
            log.warning("the LISTEN connection broke, reconnecting: %s", exc)
            self.close()

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                conn.close()


def waker_for(engine: Engine, local: threading.Event) -> Waker:
    if engine.dialect.name == "postgresql":
        return PostgresWaker(engine)
    return LocalWaker(local)
