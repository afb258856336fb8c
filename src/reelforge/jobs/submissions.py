"""Submitting renders: a snapshot of the project, checked against the owner's plan, enqueued
once per Idempotency-Key. Lives with the queue because it drives it; the reads stay in
`db/crud/renders.py`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from reelforge.db.crud import users
from reelforge.db.crud.projects import reject_server_files
from reelforge.db.crud.renders import by_idempotency_key
from reelforge.db.models import JobState, Project, RenderJob, User
from reelforge.errors import Conflict, InvalidInput, LimitExceeded, RateLimited
from reelforge.jobs.manager import JobManager
from reelforge.model.plans import PLAN_LIMITS, Plan, resolution_allowed
from reelforge.model.storyboard import Storyboard, VideoSettings

WAITING_RETRY_AFTER_S = 30


@dataclass(frozen=True, slots=True)
class Submitted:
    job: RenderJob
    created: bool
    """False when an earlier submit with the same Idempotency-Key is returned."""


def _payload(project: Project) -> tuple[dict[str, Any], VideoSettings]:
    if project.storyboard is not None:
        storyboard = Storyboard.model_validate(project.storyboard)
        reject_server_files(storyboard.settings, storyboard)
        return {"storyboard": project.storyboard}, storyboard.settings
    if not project.prompt.strip():
        raise InvalidInput("the project has no prompt or storyboard to render", stage="input")
    settings = VideoSettings.model_validate(project.settings)
    reject_server_files(settings)
    return {"prompt": project.prompt, "settings": project.settings}, settings


def _check_plan(session: Session, user: User, settings: VideoSettings, now: datetime) -> None:
    limits = PLAN_LIMITS[Plan(user.plan)]
    if settings.target_duration_s > limits.max_duration_s:
        raise LimitExceeded(
            f"the {user.plan} plan renders up to {limits.max_duration_s:g} s "
            f"(asked {settings.target_duration_s:g} s)",
            stage="input",
        )
    if not resolution_allowed(limits, settings.resolution):
        raise LimitExceeded(
            f"the {user.plan} plan renders up to {limits.max_resolution} "
            f"(asked {settings.resolution})",
            stage="input",
        )
    used = users.usage(session, user.id, now)
    if used.waiting >= limits.max_waiting:
        raise RateLimited(
            f"{used.waiting} renders are already waiting (the {user.plan} plan queues "
            f"{limits.max_waiting}); submit again when one has started",
            retry_after_s=WAITING_RETRY_AFTER_S,
            stage="input",
        )
    minutes = used.minutes_this_month + settings.target_duration_s / 60.0
    if limits.monthly_minutes is not None and minutes > limits.monthly_minutes:
        raise LimitExceeded(
            f"this render would exceed the {user.plan} plan's {limits.monthly_minutes:g} "
            f"minutes this month ({used.minutes_this_month:.1f} used)",
            stage="input",
        )


def submit(
    session: Session,
    manager: JobManager,
    user: User,
    project: Project,
    now: datetime,
    *,
    idempotency_key: str | None = None,
    voice_vendors: frozenset[str] = frozenset(),
) -> Submitted:
    """Queue a render of the project as it is now (a snapshot: later edits don't change it).

    Raises:
        InvalidInput: nothing to render. LimitExceeded / RateLimited: plan limits.
    """
    # One submit per user at a time, to the end of the transaction: the plan checks below
    # read counts, and without the lock concurrent submits on PostgreSQL all read the same
    # count and all inserted (50 at once: 9-24 accepted where 5 may wait).
    user = users.lock(session, user.id)
    if idempotency_key and (earlier := by_idempotency_key(session, user.id, idempotency_key)):
        if earlier.project_id != project.id:
            raise Conflict("this Idempotency-Key was already used for another project's render")
        return Submitted(earlier, created=False)
    payload, settings = _payload(project)
    vendor, remote, _ = settings.voice.partition("/")
    if remote and vendor not in voice_vendors:
        raise InvalidInput(
            f"the voice {settings.voice!r} needs a {vendor} API key: store yours with "
            f"PUT /api/v1/users/me/secrets/{vendor}, or pick another voice",
            stage="input",
        )
    _check_plan(session, user, settings, now)
    payload["target_duration_s"] = settings.target_duration_s
    try:
        with session.begin_nested():
            job = manager.enqueue(session, user, payload=payload, project_id=project.id)
            job.idempotency_key = idempotency_key
    except IntegrityError:  # the same key submitted concurrently: theirs won
        earlier = by_idempotency_key(session, user.id, idempotency_key or "")
        if earlier is None:
            raise
        return Submitted(earlier, created=False)
    return Submitted(job, created=True)


def retry(
    session: Session, manager: JobManager, user: User, job: RenderJob, now: datetime
) -> RenderJob:
    """A new render with the same snapshot as a failed or canceled one."""
    if job.state not in (JobState.FAILED, JobState.CANCELED):
        raise Conflict(f"only failed or canceled renders can be retried (this one is {job.state})")
    user = users.lock(session, user.id)  # as in `submit`: the checks and the insert are one
    settings = VideoSettings.model_validate(
        job.payload["storyboard"]["settings"]
        if "storyboard" in job.payload
        else job.payload["settings"]
    )
    _check_plan(session, user, settings, now)
    return manager.enqueue(session, user, payload=dict(job.payload), project_id=job.project_id)
