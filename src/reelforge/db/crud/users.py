"""Accounts: creation with a normalised unique email, lookup, and plan usage."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select, and_, bindparam, case, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reelforge.db.models import JobState, RenderJob, User
from reelforge.errors import Conflict, InvalidInput, NotFound
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


def get_by_login(session: Session, email: str) -> User | None:
    """The account a sign-in names, normalised exactly as at registration (an address typed
    in another Unicode form or case finds it); an address that is not valid finds none."""
    try:
        return get_by_email(session, normalize_email(email))
    except InvalidInput:
        return None


def get(session: Session, user_id: uuid.UUID) -> User | None:
    return session.get(User, user_id)


def lock(session: Session, user_id: uuid.UUID) -> User:
    """The user's row, locked until the caller's transaction ends (`SELECT ... FOR NO KEY
    UPDATE` on PostgreSQL; a SQLite writer already holds the database's write lock), and
    reloaded: checks of the user's limits made after this see every earlier writer's commit.

    NO KEY UPDATE, not UPDATE: inserting a row that references the user (a project, a job)
    takes KEY SHARE on it, which UPDATE waits for; two requests that had each inserted, then
    asked for UPDATE, waited on each other (10 concurrent project creations hung).

    Raises:
        NotFound: the account is gone.
    """
    query = select(User).where(User.id == user_id).with_for_update(key_share=True)
    user = session.scalar(query.execution_options(populate_existing=True))
    if user is None:
        raise NotFound("this account no longer exists", stage="auth")
    return user


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
    try:
        with session.begin_nested():  # a savepoint: the caller's transaction goes on
            session.add(user)
    except IntegrityError as exc:  # the same email signed up concurrently: theirs won
        raise Conflict("an account with this email already exists", stage="input") from exc
    return user


@dataclass(frozen=True, slots=True)
class Usage:
    minutes_this_month: float
    """Rendered minutes since the 1st (UTC), plus what is queued or running."""
    running: int
    waiting: int


def month_start(now: datetime) -> datetime:
    return datetime(now.year, now.month, 1, tzinfo=UTC)


@functools.cache
def _usage_query() -> Select[Any]:
    """`usage`'s statement, built once (bind `user_id` and `month_start`): it is on every
    submit and profile read, and each `case()` SQLAlchemy builds formats an error message
    it then discards (~0.1 ms each, four of them)."""
    live = RenderJob.state.in_([JobState.QUEUED, JobState.RUNNING])
    billed = and_(
        RenderJob.kind == "render",
        RenderJob.enqueued_at >= bindparam("month_start", type_=RenderJob.enqueued_at.type),
        or_(live, RenderJob.state == JobState.SUCCEEDED),
    )
    seconds = case(
        (RenderJob.state == JobState.SUCCEEDED, RenderJob.result["duration_s"].as_float()),
        else_=func.coalesce(  # what a live render is counted at (older ones: the target)
            RenderJob.payload["reserved_s"].as_float(),
            RenderJob.payload["target_duration_s"].as_float(),
        ),
    )
    owner = bindparam("user_id", type_=RenderJob.owner_id.type)
    return select(
        func.sum(case((billed, func.coalesce(seconds, 0.0)), else_=0.0)),
        func.sum(case((RenderJob.state == JobState.RUNNING, 1), else_=0)),
        func.sum(case((RenderJob.state == JobState.QUEUED, 1), else_=0)),
    ).where(RenderJob.owner_id == owner, or_(live, billed))


def usage(session: Session, user_id: uuid.UUID, now: datetime) -> Usage:
    """One aggregate query: the month's billed seconds and the live counts, summed by the
    database (not every render of the month loaded with its storyboard)."""
    params = {"user_id": user_id, "month_start": month_start(now)}
    row = session.execute(_usage_query(), params).one()
    return Usage(
        minutes_this_month=float(row[0] or 0.0) / 60.0,
        running=int(row[1] or 0),
        waiting=int(row[2] or 0),
    )
