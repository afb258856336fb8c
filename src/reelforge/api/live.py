"""Live events for WebSocket and SSE clients.

The events table is the source of truth; a client reads its rows after the last id it
has seen, so a reconnect with `after=<id>` loses nothing. To know *when* to read, each
API process runs one poller that asks the database which users got new events (one
indexed query every `poll_s` while anyone listens) and wakes those users' subscribers.
This works the same for in-process workers, worker processes and worker hosts, on
SQLite and PostgreSQL, with any number of API replicas and no sticky sessions.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import defaultdict
from collections.abc import Iterator

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from reelforge.db.crud import auth, events
from reelforge.db.crud.auth import SessionTimeouts
from reelforge.db.models import utcnow
from reelforge.logs import get_logger

POLL_S = 0.05
RECHECK_S = 5.0
"""How often the sign-in sessions behind open streams are checked, all in one query."""
POLL_ERROR_BACKOFF_S = 1.0
"""After an unexpected error: not a log line every 50 ms while it lasts."""
log = get_logger("reelforge.api.live")


class Subscription:
    def __init__(self, session_id: uuid.UUID | None) -> None:
        self._flag = asyncio.Event()
        self.session_id = session_id
        """The sign-in session behind the stream (None for an API key)."""
        self.ended: str | None = None
        """Why the session no longer stands (logout, revoked, timed out): the stream ends."""

    def wake(self) -> None:
        self._flag.set()

    def end(self, reason: str) -> None:
        self.ended = reason
        self.wake()

    def clear(self) -> None:
        """Call before reading the log: a wake-up after this point is not lost."""
        self._flag.clear()

    async def wait(self, timeout_s: float) -> bool:
        """True when woken by new events, False after `timeout_s` of quiet."""
        if self._flag.is_set():  # wait_for(…, 0) would time out without looking
            return True
        try:
            await asyncio.wait_for(self._flag.wait(), timeout_s)
        except TimeoutError:
            return False
        return True


class EventHub:
    def __init__(
        self, engine: Engine, sessions: sessionmaker[Session], timeouts: SessionTimeouts,
        poll_s: float = POLL_S, recheck_s: float = RECHECK_S,
    ) -> None:  # fmt: skip
        self.engine = engine
        self.sessions = sessions
        self.timeouts = timeouts
        self.poll_s = poll_s
        self.recheck_s = recheck_s
        self._subscribers: dict[uuid.UUID, set[Subscription]] = defaultdict(set)
        self._task: asyncio.Task[None] | None = None

    @contextlib.contextmanager
    def subscribe(
        self, user_id: uuid.UUID, session_id: uuid.UUID | None = None
    ) -> Iterator[Subscription]:
        subscription = Subscription(session_id)
        self._subscribers[user_id].add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers[user_id].discard(subscription)
            if not self._subscribers[user_id]:
                del self._subscribers[user_id]

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._poll(), name="event-hub")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll(self) -> None:
        last: int | None = None
        checked = time.monotonic()
        while True:
            await asyncio.sleep(self.poll_s)
            if not self._subscribers:
                last = None  # nobody listens: don't query; re-anchor when someone does
                continue
            try:
                if time.monotonic() - checked >= self.recheck_s:
                    await self._end_streams_of_ended_sessions()
                    checked = time.monotonic()
                if last is None:
                    # Anchoring: wake everyone once, so an event written between a client's
                    # first read and this anchor is not left waiting for the next one.
                    last = await asyncio.to_thread(events.latest_id, self.engine)
                    users = set(self._subscribers)
                else:
                    users, last = await asyncio.to_thread(
                        events.users_with_events_after, self.engine, last
                    )
            except OperationalError as exc:  # database restarting: clients keep waiting
                log.warning("event poll failed, retrying", error=str(exc))
                continue
            except Exception as exc:
                # Any other error (a driver's DatabaseError, a bug on one row) must not end
                # live events for good: log it, re-anchor, and wake everyone to re-read.
                log.error("event poll failed unexpectedly, retrying", exc_info=exc)
                last = None
                await asyncio.sleep(POLL_ERROR_BACKOFF_S)
                continue
            for user_id in users:
                for subscription in self._subscribers.get(user_id, ()):
                    subscription.wake()

    async def _end_streams_of_ended_sessions(self) -> None:
        """A logout, a revoked session or an idle timeout ends the streams it opened."""
        streams: dict[uuid.UUID, list[Subscription]] = defaultdict(list)
        for subscriptions in self._subscribers.values():
            for subscription in subscriptions:
                if subscription.session_id is not None:
                    streams[subscription.session_id].append(subscription)
        if not streams:
            return
        ended = await asyncio.to_thread(self._ended_sessions, list(streams))
        for session_id, reason in ended.items():
            for subscription in streams[session_id]:
                subscription.end(reason)

    def _ended_sessions(self, session_ids: list[uuid.UUID]) -> dict[uuid.UUID, str]:
        with self.sessions() as session:
            return auth.ended_sessions(session, session_ids, utcnow(), self.timeouts)
