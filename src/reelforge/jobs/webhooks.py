"""Users' webhooks: the `events` log fanned out into deliveries, sent signed, retried, logged.

The database is the queue (docs/api.md, "Webhooks"):

1. **Fan-out.** One sender at a time (the cursor row is locked, `SKIP LOCKED` on PostgreSQL,
   `BEGIN IMMEDIATE` on SQLite) reads the `events` after `webhook_cursor.last_event_id` and
   inserts a `webhook_deliveries` row per (final job event, subscribed endpoint), moving the
   cursor in the same transaction. The unique (endpoint, event) key makes a repeat impossible.
2. **Claim.** Due deliveries are leased (`locked_until`) and their attempt counted in one
   short transaction (`SKIP LOCKED` again): senders in several processes never take one row
   together, and a sender that dies mid-send leaves a lease that runs out, so the delivery is
   tried again, not lost.
3. **Send.** The URL is checked again (DNS may have changed since registration) and the
   request goes to the checked address, redirects not followed, with a short timeout
   (`webhook_http.py`).
4. **Record.** Every attempt is a `webhook_attempts` row; a failure schedules the next try by
   `webhook_retry`, or fails the delivery once its day is over.

A receiver can still see a delivery twice (the sender died after the receiver answered, before
the outcome was stored): `webhook-id` is the delivery's id, the same on every attempt, for it
to drop duplicates by.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from reelforge.db.crud import webhooks as crud
from reelforge.db.models import (
    Event,
    RenderJob,
    WebhookAttempt,
    WebhookCursor,
    WebhookDelivery,
    WebhookEndpoint,
    utcnow,
)
from reelforge.errors import InvalidInput
from reelforge.jobs.loops import BackgroundLoop
from reelforge.jobs.webhook_http import Outcome, Transport, post
from reelforge.jobs.webhook_retry import next_attempt_at
from reelforge.security.addresses import check_url
from reelforge.security.crypto import DecryptionError, SecretBox
from reelforge.security.webhooks import signed_headers

log = logging.getLogger(__name__)

JOB_EVENT_TYPES = {
    "succeeded": "render.succeeded",
    "failed": "render.failed",
    "canceled": "render.canceled",
}
"""The `events` rows that end a job, and the webhook event each one is."""
EVENT_TYPES = {**JOB_EVENT_TYPES, "batch_finished": "batch.finished"}
"""Every `events` row a webhook announces. Batches (issue #23 item 1) announce their end with
an `events` row of type `batch_finished` whose `data` is what the receiver gets."""
FAN_OUT_BATCH = 500
CLAIM_BATCH = 10
SETTLE_S = 2.0
"""PostgreSQL hands out event ids before commit, so a transaction may commit an id below one
already read: fan-out leaves events younger than this for the next pass (SQLite has one writer
at a time, its ids appear in order)."""


@dataclass(frozen=True, slots=True)
class Claimed:
    delivery_id: uuid.UUID
    endpoint_id: uuid.UUID
    url: str
    secret_ciphertext: str
    payload: dict[str, Any]
    attempts: int
    give_up_at: datetime
    lease: datetime
    """`locked_until` as claimed: the outcome changes the row only while it still holds."""


class WebhookSender:
    """Fans events out, claims due deliveries and sends them (`run_once`, or `WebhookLoop`)."""

    def __init__(
        self,
        engine: Engine,
        secret_box: SecretBox,
        *,
        allow_private: bool = False,
        base_delay_s: float = 5.0,
        retry_window_s: float = 86400.0,
        timeout_s: float = 10.0,
        settle_s: float | None = None,
        transport: Transport = post,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self._writer = engine.execution_options(sqlite_immediate=True)
        self.secret_box = secret_box
        self.allow_private = allow_private
        self.base_delay_s = base_delay_s
        self.retry_window = timedelta(seconds=retry_window_s)
        self.timeout_s = timeout_s
        pg = engine.dialect.name == "postgresql"
        self.settle = timedelta(seconds=(SETTLE_S if pg else 0.0) if settle_s is None else settle_s)
        self.transport = transport
        self.clock = clock

    def _session(self) -> Session:
        return Session(self._writer)

    def run_once(self) -> int:
        """One pass: fan out new events, then send up to `CLAIM_BATCH` due deliveries.

        Returns:
            The attempts made (0: nothing was due, wait before the next pass).
        """
        self.fan_out()
        claimed = self.claim(CLAIM_BATCH)
        for delivery in claimed:
            self.record(delivery, self.attempt(delivery))
        return len(claimed)

    def fan_out(self) -> int:
        """Turn the final job events since the cursor into deliveries. Returns how many."""
        now = self.clock()
        with self._session() as session, session.begin():
            cursor = self._lock_cursor(session)
            if cursor is None:
                return 0  # another sender is fanning out right now
            rows = session.execute(
                select(Event.id, Event.user_id, Event.job_id, Event.type, Event.data,
                       Event.created_at, RenderJob.project_id)
                .outerjoin(RenderJob, RenderJob.id == Event.job_id)
                .where(Event.id > cursor.last_event_id)
                .order_by(Event.id)
                .limit(FAN_OUT_BATCH)
            ).all()  # fmt: skip
            # Up to the first unsettled event only: an id below it may still commit.
            settled_before = now - self.settle
            rows = list(itertools.takewhile(lambda row: row.created_at <= settled_before, rows))
            if not rows:
                return 0
            final = [row for row in rows if row.type in EVENT_TYPES]
            owners = {row.user_id for row in final}
            endpoints = crud.subscribed(session, owners) if owners else []
            created = 0
            for row in final:
                kind = EVENT_TYPES[row.type]
                for endpoint in endpoints:
                    wanted = endpoint.user_id == row.user_id and kind in endpoint.events
                    if wanted and endpoint.created_at <= row.created_at:
                        created += self._insert_delivery(session, endpoint, row, kind, now)
            cursor.last_event_id = rows[-1].id
            return created

    def _lock_cursor(self, session: Session) -> WebhookCursor | None:
        query = select(WebhookCursor).where(WebhookCursor.id == 1).with_for_update(skip_locked=True)
        cursor = session.scalar(query)
        if cursor is None and session.get(WebhookCursor, 1, with_for_update=False) is None:
            session.execute(_insert(session)(WebhookCursor).values(id=1, last_event_id=0)
                            .on_conflict_do_nothing())  # fmt: skip
            cursor = session.scalar(query)
        return cursor

    def _insert_delivery(
        self, session: Session, endpoint: WebhookEndpoint, row: Any, kind: str, now: datetime
    ) -> int:
        """Insert the delivery unless it exists (a repeated fan-out). Returns 1 if inserted."""
        if row.type in JOB_EVENT_TYPES:
            data = {"render_id": str(row.job_id), "project_id": _str(row.project_id),
                    **_public_data(row.data)}  # fmt: skip
        else:
            data = dict(row.data)
        payload = {"type": kind, "timestamp": row.created_at.isoformat(), "data": data}
        statement = _insert(session)(WebhookDelivery).values(
            id=uuid.uuid4(), endpoint_id=endpoint.id, event_id=row.id, event_type=kind,
            payload=payload, state=crud.PENDING, attempts=0, next_attempt_at=now,
            give_up_at=now + self.retry_window, created_at=now,
        ).on_conflict_do_nothing().returning(WebhookDelivery.id)  # fmt: skip
        return 0 if session.execute(statement).first() is None else 1

    def claim(self, limit: int) -> list[Claimed]:
        """Lease up to `limit` due deliveries to this sender and count their attempt."""
        now = self.clock()
        with self._session() as session, session.begin():
            due = session.scalars(
                select(WebhookDelivery)
                .join(WebhookEndpoint, WebhookEndpoint.id == WebhookDelivery.endpoint_id)
                .where(
                    WebhookDelivery.state == crud.PENDING,
                    WebhookDelivery.next_attempt_at <= now,
                    or_(WebhookDelivery.locked_until.is_(None), WebhookDelivery.locked_until < now),
                    WebhookEndpoint.enabled.is_(True),
                )
                .order_by(WebhookDelivery.next_attempt_at)
                .limit(limit)
                .with_for_update(of=WebhookDelivery, skip_locked=True)
            ).all()
            lease = now + timedelta(seconds=2 * self.timeout_s + 5)
            claimed = []
            for delivery in due:
                endpoint = session.get_one(WebhookEndpoint, delivery.endpoint_id)
                delivery.locked_until = lease
                delivery.attempts += 1
                claimed.append(Claimed(
                    delivery.id, endpoint.id, endpoint.url, endpoint.secret_ciphertext,
                    delivery.payload, delivery.attempts, delivery.give_up_at, lease,
                ))  # fmt: skip
            return claimed

    def attempt(self, delivery: Claimed) -> Outcome:
        """Check the URL again and POST the signed payload once; never raises (whatever went
        wrong is the attempt's outcome, so the delivery is logged and retried, not stuck)."""
        try:
            destination = check_url(delivery.url, allow_private=self.allow_private)
        except InvalidInput as exc:
            return Outcome(None, 0, error=f"refused: {exc.message}"[:300])
        try:
            secret = self.secret_box.decrypt(
                delivery.secret_ciphertext, context=crud.secret_context(delivery.endpoint_id)
            )
        except DecryptionError:  # the server's secret key changed: only a new secret helps
            return Outcome(None, 0, error="the endpoint's secret cannot be read: rotate it")
        body = json.dumps(delivery.payload, separators=(",", ":")).encode()
        headers = signed_headers(secret, str(delivery.delivery_id), int(time.time()), body)
        try:
            return self.transport(destination, body, headers, self.timeout_s)
        except Exception:  # a bug in a transport: logged with its traceback, tried again
            log.exception("webhook delivery %s: sending failed", delivery.delivery_id)
            return Outcome(None, 0, error="internal error while sending")

    def record(self, delivery: Claimed, outcome: Outcome) -> None:
        """Log the attempt; the delivery succeeds, waits for its next try, or fails."""
        now = self.clock()
        values: dict[str, Any] = {"locked_until": None, "last_status": outcome.status_code}
        if outcome.ok:
            values["state"] = crud.SUCCEEDED
        else:
            retry_at = next_attempt_at(
                delivery.attempts, now, delivery.give_up_at, self.base_delay_s
            )
            values["state"] = crud.FAILED if retry_at is None else crud.PENDING
            values["next_attempt_at"] = retry_at or now
        with self._session() as session, session.begin():
            if session.get(WebhookDelivery, delivery.delivery_id) is None:
                return  # its endpoint was deleted meanwhile, log and all
            session.add(WebhookAttempt(
                delivery_id=delivery.delivery_id, attempted_at=now,
                status_code=outcome.status_code, duration_ms=outcome.duration_ms,
                response_excerpt=outcome.excerpt, error=outcome.error,
            ))  # fmt: skip
            # Only while our lease holds: a redelivery or another sender's claim since then
            # (our lease ran out) owns the row now; the attempt is logged either way.
            session.execute(
                update(WebhookDelivery)
                .where(
                    WebhookDelivery.id == delivery.delivery_id,
                    WebhookDelivery.locked_until == delivery.lease,
                )
                .values(**values)
            )
        if not outcome.ok:
            log.info("webhook delivery %s attempt %s failed: %s", delivery.delivery_id,
                     delivery.attempts, outcome.status_code or outcome.error)  # fmt: skip


def _insert(session: Session) -> Any:
    """The dialect's INSERT, for `ON CONFLICT DO NOTHING` on both backends."""
    name = session.get_bind().dialect.name
    return postgresql.insert if name == "postgresql" else sqlite.insert


def _str(value: object) -> str | None:
    return None if value is None else str(value)


def _public_data(data: dict[str, Any]) -> dict[str, Any]:
    """What of a job event a receiver is told: the outcome, not internal detail (stderr)."""
    shown: dict[str, Any] = {
        key: data[key] for key in ("error_class", "error_message", "error_stage") if key in data
    }
    result = data.get("result")
    if isinstance(result, dict):
        shown["result"] = {k: v for k, v in result.items() if k != "error_detail"}
    return shown


class WebhookLoop(BackgroundLoop):
    """The sender on a thread of a process that runs workers; stops with them. A stop waits
    for the attempt in flight (bounded by the send timeout)."""

    def __init__(self, sender: WebhookSender, poll_s: float = 1.0) -> None:
        super().__init__("webhook sender", lambda: sender.run_once() > 0, poll_s)
        self.sender = sender
