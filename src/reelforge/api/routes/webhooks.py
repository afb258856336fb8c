"""Webhooks: a user's endpoints, told of their renders' outcomes by signed POSTs
(docs/api.md, "Webhooks"); the delivery log and redelivery by hand. Sending is
`jobs/webhooks.py`, in the processes that run workers."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Query, status

from reelforge.api import schemas
from reelforge.api.deps import CurrentUser, DbSession, Now, Offset, PlatformDep
from reelforge.db.crud import webhooks
from reelforge.db.models import WebhookAttempt, WebhookDelivery, WebhookEndpoint
from reelforge.platform.services import Platform
from reelforge.security.addresses import check_url
from reelforge.security.webhooks import new_webhook_secret

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
Limit = Annotated[int, Query(ge=1, le=100)]


def _checked(platform: Platform, url: str) -> str:
    """The URL, once it is known to be http(s) and public (or private ones are allowed)."""
    check_url(url, allow_private=platform.settings.webhooks.allow_private)
    return url


def _created(endpoint: WebhookEndpoint, secret: str) -> schemas.WebhookCreated:
    shown = schemas.WebhookOut.model_validate(endpoint).model_dump()
    return schemas.WebhookCreated(**shown, secret=secret)


def _encrypted(platform: Platform, endpoint_id: uuid.UUID, secret: str) -> str:
    return platform.secret_box.encrypt(secret, context=webhooks.secret_context(endpoint_id))


@router.post("", status_code=status.HTTP_201_CREATED)
def create_webhook(
    body: schemas.WebhookIn, user: CurrentUser, session: DbSession, platform: PlatformDep
) -> schemas.WebhookCreated:
    """Register an endpoint; the answer holds its signing secret, shown this once."""
    endpoint_id, secret = uuid.uuid4(), new_webhook_secret()
    endpoint = webhooks.create(
        session, user.id, endpoint_id, url=_checked(platform, body.url),
        events=list(dict.fromkeys(body.events)), description=body.description,
        secret_ciphertext=_encrypted(platform, endpoint_id, secret),
    )  # fmt: skip
    return _created(endpoint, secret)


@router.get("")
def list_webhooks(user: CurrentUser, session: DbSession) -> list[schemas.WebhookOut]:
    return [schemas.WebhookOut.model_validate(e) for e in webhooks.mine(session, user.id)]


@router.get("/{webhook_id}")
def read_webhook(
    webhook_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> schemas.WebhookOut:
    return schemas.WebhookOut.model_validate(webhooks.get(session, user.id, webhook_id))


@router.patch("/{webhook_id}")
def update_webhook(
    webhook_id: uuid.UUID, body: schemas.WebhookPatch, user: CurrentUser, session: DbSession,
    platform: PlatformDep,
) -> schemas.WebhookOut:  # fmt: skip
    endpoint = webhooks.get(session, user.id, webhook_id)
    if body.url is not None:
        endpoint.url = _checked(platform, body.url)
    if body.events is not None:
        endpoint.events = list(dict.fromkeys(body.events))
    if body.description is not None:
        endpoint.description = body.description
    if body.enabled is not None:
        endpoint.enabled = body.enabled
    session.flush()
    return schemas.WebhookOut.model_validate(endpoint)


@router.delete("/{webhook_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_webhook(webhook_id: uuid.UUID, user: CurrentUser, session: DbSession) -> None:
    """Delete the endpoint with its deliveries and their log; nothing more is sent to it."""
    webhooks.delete(session, user.id, webhook_id)


@router.post("/{webhook_id}/rotate-secret")
def rotate_secret(
    webhook_id: uuid.UUID, user: CurrentUser, session: DbSession, platform: PlatformDep
) -> schemas.WebhookCreated:
    """A new secret, used from the next attempt on (the old one stops working at once)."""
    endpoint = webhooks.get(session, user.id, webhook_id)
    secret = new_webhook_secret()
    endpoint.secret_ciphertext = _encrypted(platform, endpoint.id, secret)
    session.flush()
    return _created(endpoint, secret)


def _delivery_out(
    delivery: WebhookDelivery, attempts: list[WebhookAttempt]
) -> schemas.WebhookDeliveryOut:
    return schemas.WebhookDeliveryOut(
        id=delivery.id, event_type=delivery.event_type, state=delivery.state,
        payload=delivery.payload, created_at=delivery.created_at,
        next_attempt_at=delivery.next_attempt_at if delivery.state == webhooks.PENDING else None,
        attempts=[schemas.WebhookAttemptOut.model_validate(a) for a in attempts],
    )  # fmt: skip


@router.get("/{webhook_id}/deliveries")
def list_deliveries(
    webhook_id: uuid.UUID, user: CurrentUser, session: DbSession, limit: Limit = 20,
    offset: Offset = 0,
) -> list[schemas.WebhookDeliveryOut]:  # fmt: skip
    """The delivery log, newest first: every attempt with its status, time and answer."""
    found = webhooks.deliveries(session, user.id, webhook_id, limit=limit, offset=offset)
    return [_delivery_out(delivery, attempts) for delivery, attempts in found]


@router.post("/{webhook_id}/deliveries/{delivery_id}/redeliver", status_code=202)
def redeliver(
    webhook_id: uuid.UUID, delivery_id: uuid.UUID, user: CurrentUser, session: DbSession,
    platform: PlatformDep, now: Now,
) -> schemas.WebhookDeliveryOut:  # fmt: skip
    """Send it again at once (same `webhook-id`), with a fresh day of retries."""
    window = timedelta(seconds=platform.settings.webhooks.retry_window_s)
    delivery = webhooks.redeliver(session, user.id, webhook_id, delivery_id, now, window)
    return _delivery_out(delivery, [])
