"""Product facts for admin analytics, each added in the transaction of the action it
records (the caller commits): a rolled-back action leaves no fact behind.

Only the user's id is kept: no email, prompt, name or address, so the log can be read and
exported for analysis without exposing anyone."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import delete
from sqlalchemy.orm import Session

from reelforge.db.models import ProductEvent, utcnow


class Fact(StrEnum):
    REGISTRATION_STARTED = "registration_started"
    """A sign-up form sent to the API, accepted or refused (weak password, taken address):
    the denominator of registration completion. A refused attempt is written in a
    transaction of its own, as the failed action's is rolled back."""
    REGISTRATION_COMPLETED = "registration_completed"
    LOGIN = "login"
    PROJECT_CREATED = "project_created"
    TEMPLATE_USED = "template_used"
    RENDER_SUBMITTED = "render_submitted"
    RENDER_SUCCEEDED = "render_succeeded"
    """`value`: what its provider calls cost in USD; `label`: the plan it ran under."""
    RENDER_FAILED = "render_failed"
    """Failed for good (no retry left); `label`: the plan."""
    VIDEO_PLAYED = "video_played"
    VIDEO_DOWNLOADED = "video_downloaded"
    RATING_LEFT = "rating_left"
    """`value`: the stars."""
    ASSET_UPLOADED = "asset_uploaded"
    PROJECT_SHARED = "project_shared"
    """A member invited or a public link made."""
    PROBE = "probe"
    """The API's own readiness check, once a minute per process: `value` 1 ready, 0 not."""
    API_REQUEST = "api_request"
    """A sampled API response time: `value` in seconds."""


PROBE_INTERVAL_S = 60
"""How often each API process records a `probe`: the resolution of uptime."""


def record(
    session: Session,
    fact: Fact,
    user_id: uuid.UUID | None,
    *,
    subject_id: uuid.UUID | None = None,
    value: float | None = None,
    label: str | None = None,
    at: datetime | None = None,
) -> None:
    session.add(
        ProductEvent(
            kind=fact,
            user_id=user_id,
            subject_id=subject_id,
            value=value,
            label=label,
            at=at or utcnow(),
        )
    )


def prune_service_facts(session: Session, before: datetime) -> None:
    """Remove probes and response-time samples older than `before` (they are the bulk of
    the log: 30 a minute per API process)."""
    session.execute(
        delete(ProductEvent).where(
            ProductEvent.kind.in_((Fact.PROBE, Fact.API_REQUEST)), ProductEvent.at < before
        )
    )
