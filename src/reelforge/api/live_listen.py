"""How an API process learns, on PostgreSQL, that events were appended: a dedicated
connection LISTENing on `events.NOTIFY_CHANNEL`, which a trigger on `events` NOTIFYs when a
transaction that appended any commits (migration 0011), whoever wrote them.

A notification is a wake-up, not the news: the hub then asks the database who got events,
as it did when it polled. So a lost one costs latency, never an event (the hub polls slowly
as well, and fast while this connection is down).
"""

from __future__ import annotations

import asyncio
from typing import Any

import psycopg
from sqlalchemy import Engine

from reelforge.db.crud.events import NOTIFY_CHANNEL
from reelforge.jobs.backoff import Backoff
from reelforge.logs import get_logger

CONNECT_TIMEOUT_S = 5
KEEPALIVE_IDLE_S = 30
"""TCP keepalives: a connection whose server vanished without a word (a host gone, a
dropped NAT entry) is noticed within about a minute instead of never."""
log = get_logger("reelforge.api.live")


class EventListener:
    """`run()` listens until cancelled, reconnecting with back-off after the connection
    breaks (a database restart, `pg_terminate_backend`); it never raises.

    `notified` is set on every notification, and once after each (re)connection: what was
    appended while nobody listened is looked for too. `connected` says whether notifications
    can arrive right now.
    """

    def __init__(self, engine: Engine, *, retry_max_s: float = 10.0) -> None:
        url = engine.url.set(drivername="postgresql")
        self._dsn = url.render_as_string(hide_password=False)
        self._backoff = Backoff(0.25, retry_max_s)
        self.notified = asyncio.Event()
        self.connected = False

    async def run(self) -> None:
        while True:
            try:
                await self._listen()
                error = "the connection ended"
            except psycopg.Error as exc:
                error = str(exc)
            pause_s = self._backoff.next_s()
            log.warning(
                "not listening for live events (polling meanwhile), retrying",
                error=error, retry_in_s=round(pause_s, 2),
            )  # fmt: skip
            await asyncio.sleep(pause_s)

    async def _listen(self) -> None:
        conn: psycopg.AsyncConnection[Any] = await psycopg.AsyncConnection.connect(
            self._dsn, autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
            keepalives=1, keepalives_idle=KEEPALIVE_IDLE_S, keepalives_interval=10,
        )  # fmt: skip
        async with conn:  # closed on the way out, however that is
            await conn.execute(f"LISTEN {NOTIFY_CHANNEL}")
            if self._backoff.failures:
                log.warning("listening for live events again")
            self._backoff.reset()
            self.connected = True
            try:
                self.notified.set()
                async for _ in conn.notifies():
                    self.notified.set()
            finally:
                self.connected = False
