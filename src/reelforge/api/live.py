"""Live events for WebSocket and SSE clients.

The events table is the source of truth; a client reads its rows after the last id it
has seen, so a reconnect with `after=<id>` loses nothing. To know *when* to read, each
API process runs one loop that asks the database which users got new events (one indexed
query) and wakes those users' subscribers. *When* it asks depends on the database:
- PostgreSQL: when notified. A trigger NOTIFYs when events are appended, by any process on
  any host; `live_listen.EventListener` LISTENs on a dedicated connection. Besides, a slow
  fallback poll (`fallback_s`), and the fast one while that connection is down: a lost
  notification costs latency, never an event. Idle streams cost one query per `fallback_s`.
- SQLite (one process, the embedded default): every `poll_s` while anyone listens.
Either way it asks at most once per `poll_s`, however many events arrive, and only while
anyone listens. This works with in-process workers, worker processes and worker hosts, and
with any number of API replicas and no sticky sessions.
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

from reelforge.api.background import cancel_all
from reelforge.api.live_listen import EventListener
from reelforge.db.crud import auth, events
from reelforge.db.crud.auth import SessionTimeouts
from reelforge.db.models import utcnow
from reelforge.logs import get_logger

POLL_S = 0.05
"""The shortest pause between two queries (and SQLite's poll)."""
FALLBACK_POLL_S = 2.0
"""PostgreSQL: the query also runs this often without a notification."""
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
        fallback_s: float = FALLBACK_POLL_S,
    ) -> None:  # fmt: skip
        self.engine = engine
        self.sessions = sessions
        self.timeouts = timeouts
        self.poll_s = poll_s
        self.recheck_s = recheck_s
        self.fallback_s = fallback_s
        self.listener = EventListener(engine) if engine.dialect.name == "postgresql" else None
        self._subscribers: dict[uuid.UUID, set[Subscription]] = defaultdict(set)
        self._tasks: list[asyncio.Task[None]] = []

    @contextlib.contextmanager
    def subscribe(
        self, user_id: uuid.UUID, session_id: uuid.UUID | None = None
    ) -> Iterator[Subscription]:
        subscription = Subscription(session_id)
        if not self._subscribers and self.listener is not None:
            self.listener.notified.set()  # the first subscriber: anchor now, not at the fallback
        self._subscribers[user_id].add(subscription)
        try:
            yield subscription
        finally:
            self._subscribers[user_id].discard(subscription)
            if not self._subscribers[user_id]:
                del self._subscribers[user_id]

    def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._tasks = [loop.create_task(self._poll(), name="event-hub")]
        if self.listener is not None:
            self._tasks.append(loop.create_task(self.listener.run(), name="event-hub-listen"))

    async def stop(self) -> None:
        await cancel_all(self._tasks)
        self._tasks = []

    async def _wait(self, checked: float, anchored: bool) -> None:
        """Until the next query is due: `poll_s` at least (a burst of events costs one
        query per `poll_s`), then on PostgreSQL until notified, the fallback poll, or the
        next session recheck (measured from `checked`), whichever comes first; at once
        when the loop must (re-)anchor."""
        await asyncio.sleep(self.poll_s)
        listener = self.listener
        if listener is None or not listener.connected:
            return  # SQLite, or not listening right now: poll
        if self._subscribers and not anchored:
            timeout_s = 0.0
        elif self._subscribers:
            due_s = self.recheck_s - (time.monotonic() - checked)
            timeout_s = max(0.0, min(self.fallback_s, due_s))
        else:
            timeout_s = self.fallback_s  # a first subscriber sets `notified`
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(listener.notified.wait(), timeout_s)
        # Cleared before the query: a notification from now on means another one.
        listener.notified.clear()

    async def _poll(self) -> None:
        last: int | None = None
        checked = time.monotonic()
        while True:
            await self._wait(checked, anchored=last is not None)
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
