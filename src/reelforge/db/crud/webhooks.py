"""Webhook endpoints, their deliveries and the delivery log, always scoped to the owner: another
user's endpoint is `NotFound`, like one that does not exist. Sending is `jobs/webhooks.py`."""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import datetime, timedelta

from sqlalchemy import delete as delete_rows
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reelforge.db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from reelforge.errors import NotFound, QuotaExceeded

EVENTS = ("render.succeeded", "render.failed", "render.canceled", "batch.finished")
"""What an endpoint may subscribe to (`batch.finished` is sent once batches exist)."""
MAX_ENDPOINTS = 20
PENDING, SUCCEEDED, FAILED = "pending", "succeeded", "failed"


def secret_context(endpoint_id: uuid.UUID) -> str:
    """Binds the encrypted secret to its endpoint: copied to another row, it won't decrypt."""
    return f"webhook:{endpoint_id}"


def mine(session: Session, user_id: uuid.UUID) -> list[WebhookEndpoint]:
    query = (
        select(WebhookEndpoint)
        .where(WebhookEndpoint.user_id == user_id)
        .order_by(WebhookEndpoint.created_at.desc())
    )
    return list(session.scalars(query))


def get(session: Session, user_id: uuid.UUID, endpoint_id: uuid.UUID) -> WebhookEndpoint:
    """Raises: NotFound: no such endpoint of this user's."""
    endpoint = session.get(WebhookEndpoint, endpoint_id)
    if endpoint is None or endpoint.user_id != user_id:
        raise NotFound("no such webhook")
    return endpoint


def create(
    session: Session,
    user_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    *,
    url: str,
    events: list[str],
    description: str,
    secret_ciphertext: str,
) -> WebhookEndpoint:
    """`endpoint_id` is chosen by the caller: the secret is encrypted bound to it.

    Raises:
        QuotaExceeded: the user already has `MAX_ENDPOINTS`.
    """
    held = session.scalar(select(func.count()).where(WebhookEndpoint.user_id == user_id)) or 0
    if held >= MAX_ENDPOINTS:
        raise QuotaExceeded(f"you have {held} webhooks, the most there may be", stage="input")
    endpoint = WebhookEndpoint(
        id=endpoint_id, user_id=user_id, url=url, events=events, description=description,
        secret_ciphertext=secret_ciphertext,
    )  # fmt: skip
    session.add(endpoint)
    session.flush()
    return endpoint


def delete(session: Session, user_id: uuid.UUID, endpoint_id: uuid.UUID) -> None:
    session.delete(get(session, user_id, endpoint_id))


def subscribed(session: Session, user_ids: Collection[uuid.UUID]) -> list[WebhookEndpoint]:
    """The enabled endpoints of these users (the fan-out filters them by event)."""
    query = select(WebhookEndpoint).where(
        WebhookEndpoint.user_id.in_(user_ids), WebhookEndpoint.enabled.is_(True)
    )
    return list(session.scalars(query))


def deliveries(
    session: Session, user_id: uuid.UUID, endpoint_id: uuid.UUID, *, limit: int, offset: int
) -> list[tuple[WebhookDelivery, list[WebhookAttempt]]]:
    """An endpoint's deliveries, newest first, each with its attempts in order."""
    get(session, user_id, endpoint_id)
    found = list(
        session.scalars(
            select(WebhookDelivery)
            .where(WebhookDelivery.endpoint_id == endpoint_id)
            .order_by(WebhookDelivery.created_at.desc(), WebhookDelivery.id)
            .limit(limit)
            .offset(offset)
        )
    )
    attempts: dict[uuid.UUID, list[WebhookAttempt]] = {d.id: [] for d in found}
    if found:
        query = (
            select(WebhookAttempt)
            .where(WebhookAttempt.delivery_id.in_(attempts))
            .order_by(WebhookAttempt.id)
        )
        for attempt in session.scalars(query):
            attempts[attempt.delivery_id].append(attempt)
    return [(d, attempts[d.id]) for d in found]


def redeliver(
    session: Session,
    user_id: uuid.UUID,
    endpoint_id: uuid.UUID,
    delivery_id: uuid.UUID,
    now: datetime,
    window: timedelta,
) -> WebhookDelivery:
    """Send a delivery again now, with a fresh day of retries (whatever its state).

    Raises:
        NotFound: no such delivery of this user's endpoint.
    """
    get(session, user_id, endpoint_id)
    delivery = session.get(WebhookDelivery, delivery_id)
    if delivery is None or delivery.endpoint_id != endpoint_id:
        raise NotFound("no such delivery")
    delivery.state = PENDING
    delivery.attempts = 0
    delivery.next_attempt_at = now
    delivery.give_up_at = now + window
    delivery.locked_until = None
    session.flush()
    return delivery


def prune_deliveries(session: Session, before: datetime) -> int:
    """Remove finished deliveries (with their attempts) last active before `before`: created
    then and not attempted since (a redelivery by hand keeps one). Pending ones stay.

    Returns:
        How many deliveries were removed.
    """
    recent = select(WebhookAttempt.id).where(
        WebhookAttempt.delivery_id == WebhookDelivery.id, WebhookAttempt.attempted_at >= before
    )
    old = select(WebhookDelivery.id).where(
        WebhookDelivery.state != PENDING, WebhookDelivery.created_at < before, ~recent.exists()
    )
    ids = list(session.scalars(old))
    for start in range(0, len(ids), 500):  # bounded IN lists (SQLite's variable limit)
        chunk = ids[start : start + 500]
        session.execute(delete_rows(WebhookAttempt).where(WebhookAttempt.delivery_id.in_(chunk)))
        session.execute(delete_rows(WebhookDelivery).where(WebhookDelivery.id.in_(chunk)))
    return len(ids)
