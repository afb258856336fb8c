"""Accounts: creation with a normalised unique email, lookup, and plan usage."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reelforge.db.models import JobState, RenderJob, User
from reelforge.errors import Conflict, InvalidInput
from reelforge.model.plans import Plan


def normalize_email(email: str) -> str:
    """Validated and lower-cased whole, so `Ann@X.org` and `ann@x.org` are one account."""
    try:
        checked = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidInput(f"email: {exc}", stage="input") from exc
    return checked.normalized.lower()


def get_by_email(session: Session, email: str) -> User | None:
    return session.scalar(select(User).where(User.email == email))


def get(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def create(
    session: Session,
    *,
    email: str,
    password_hash: str | None,
    name: str = "",
    plan: Plan = Plan.FREE,
    is_admin: bool = False,
) -> User:
    email = normalize_email(email)
    if get_by_email(session, email) is not None:
        raise Conflict("an account with this email already exists", stage="input")
    user = User(email=email, name=name, password_hash=password_hash, plan=plan, is_admin=is_admin)
    session.add(user)
    session.flush()
    return user


@dataclass(frozen=True, slots=True)
class Usage:
    minutes_this_month: float
    """Rendered minutes since the 1st (UTC), plus what is queued or running."""
    running: int
    waiting: int
    cost_usd_this_month: float = 0.0
    """What this month's finished renders cost in remote provider calls."""


def month_start(now: datetime) -> datetime:
    return datetime(now.year, now.month, 1, tzinfo=UTC)


def usage(session: Session, user_id: uuid.UUID, now: datetime) -> Usage:
    rows = session.execute(
        select(RenderJob.state, RenderJob.result, RenderJob.payload).where(
            RenderJob.owner_id == user_id,
            RenderJob.kind == "render",
            RenderJob.enqueued_at >= month_start(now),
            RenderJob.state.in_([JobState.SUCCEEDED, JobState.QUEUED, JobState.RUNNING]),
        )
    ).all()
    seconds = cost = 0.0
    for state, result, payload in rows:
        if state == JobState.SUCCEEDED and result:
            seconds += float(result.get("duration_s", 0.0))
            cost += float(result.get("cost_usd", 0.0))
        else:
            seconds += float(payload.get("target_duration_s", 0.0))
    counts = dict(
        session.execute(
            select(RenderJob.state, func.count())
            .where(
                RenderJob.owner_id == user_id,
                RenderJob.state.in_([JobState.QUEUED, JobState.RUNNING]),
            )
            .group_by(RenderJob.state)
        ).all()
    )
    return Usage(
        minutes_this_month=seconds / 60.0,
        running=int(counts.get(JobState.RUNNING, 0)),
        waiting=int(counts.get(JobState.QUEUED, 0)),
        cost_usd_this_month=cost,
    )
