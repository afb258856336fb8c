"""How an idle worker learns that a job was queued: PostgreSQL LISTEN/NOTIFY across hosts,
an in-process event on the embedded default, and polling as the fallback for both."""

from __future__ import annotations

import contextlib
import threading
from typing import Protocol

import psycopg
from sqlalchemy import Engine

from reelforge.jobs.manager import NOTIFY_CHANNEL


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
    """A dedicated connection LISTENing on the queue channel (NOTIFY is sent on enqueue)."""

    def __init__(self, engine: Engine) -> None:
        url = engine.url.set(drivername="postgresql")
        self._conn = psycopg.connect(url.render_as_string(hide_password=False), autocommit=True)
        self._conn.execute(f"LISTEN {NOTIFY_CHANNEL}")

    def wait(self, timeout_s: float) -> None:
        for _ in self._conn.notifies(timeout=timeout_s, stop_after=1):
            break

    def close(self) -> None:
        with contextlib.suppress(psycopg.Error):
            self._conn.close()


def waker_for(engine: Engine, local: threading.Event) -> Waker:
    if engine.dialect.name == "postgresql":
        return PostgresWaker(engine)
    return LocalWaker(local)
