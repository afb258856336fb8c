"""Submitting renders: a snapshot of the project, checked against the owner's plan, enqueued
once per Idempotency-Key. Lives with the queue because it drives it; the reads stay in
`db/crud/renders.py`."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import structlog
from pydantic import ValidationError
from sqlalchemy.orm import Session

from reelforge.db.crud import assets, batches, quota, users
from reelforge.db.crud.renders import by_idempotency_key
from reelforge.db.models import Asset, JobState, Project, RenderJob, User
from reelforge.errors import Conflict, InvalidInput, LimitExceeded, RateLimited
from reelforge.jobs.manager import JobManager, KeyTaken
from reelforge.model.durations import (
    FASTEST_WORDS_PER_SECOND,
    MIN_SCENE_S,
    shortest_duration_s,
    shortest_narration_s,
)
from reelforge.model.plans import PLAN_LIMITS, Plan, render_cap_s, resolution_allowed
from reelforge.model.storyboard import Storyboard, VideoSettings, describe_validation_error
from reelforge.model.text import count_words

WAITING_RETRY_AFTER_S = 30


@dataclass(frozen=True, slots=True)
class Submitted:
    job: RenderJob
    created: bool
    """False when an earlier submit with the same Idempotency-Key is returned."""


@dataclass(frozen=True, slots=True)
class Snapshot:
    payload: dict[str, Any]
    settings: VideoSettings
    shortest_s: float | None
    """A storyboard's lower bound on the video's length (`model/durations.py`); None for a
    prompt, whose narration is written by the script stage."""

    @property
    def reserved_s(self) -> float:
        """What the render counts for while queued or running (the real length once done)."""
        if self.shortest_s is None:
            return self.settings.target_duration_s
        return self.shortest_s


def _snapshot(payload: dict[str, Any]) -> Snapshot:
    """Raises InvalidInput if the stored storyboard or settings no longer validate (e.g. a
    string over a bound added since it was written)."""
    try:
        if "storyboard" in payload:
            storyboard = Storyboard.model_validate(payload["storyboard"])
            return Snapshot(payload, storyboard.settings, shortest_duration_s(storyboard))
        return Snapshot(payload, VideoSettings.model_validate(payload["settings"]), None)
    except ValidationError as exc:
        raise InvalidInput(
            f"this project's saved storyboard or settings are not valid any more: "
            f"{describe_validation_error(exc)}; save them again",
            stage="input",
        ) from exc


def _project_payload(project: Project) -> dict[str, Any]:
    """What a render of the project as it is now renders: its storyboard, or its prompt."""
    if project.storyboard is not None:
        return {"storyboard": project.storyboard}
    if not project.prompt.strip():
        raise InvalidInput("the project has no prompt or storyboard to render", stage="input")
    return {"prompt": project.prompt, "settings": project.settings}


def _payload_snapshot(session: Session, owner_id: uuid.UUID, payload: dict[str, Any]) -> Snapshot:
    """A prompt and settings, or a storyboard, with the blob of each asset it uses
    (`assets_payload`): only the owner's own assets pass."""
    snapshot = _snapshot(payload)
    storyboard = (
        Storyboard.model_validate(payload["storyboard"]) if "storyboard" in payload else None
    )
    used = assets.check_references(session, owner_id, snapshot.settings, storyboard)
    if used:
        snapshot.payload["assets"] = assets_payload(used.values())
    return snapshot


def checked_snapshot(
    session: Session, user: User, payload: dict[str, Any], *, voice_vendors: frozenset[str],
    narrates_the_prompt: bool,
) -> Snapshot:  # fmt: skip
    """One render's snapshot, checked as a submit checks it, except the user's usage
    (`check_usage`, which a batch checks once for all its rows).

    Raises:
        InvalidInput: bad settings, a foreign asset, a voice without its key.
        LimitExceeded: longer or sharper than the plan renders.
    """
    snapshot = _payload_snapshot(session, user.id, payload)
    settings = snapshot.settings
    vendor, remote, _ = settings.voice.partition("/")
    if remote and vendor not in voice_vendors:
        raise InvalidInput(
            f"the voice {settings.voice!r} needs a {vendor} API key: store yours with "
            f"PUT /api/v1/users/me/secrets/{vendor}, or pick another voice",
            stage="input",
        )
    if narrates_the_prompt and "prompt" in snapshot.payload:
        _check_narrated_prompt(user, snapshot)
    check_render(user, snapshot)
    return snapshot


def assets_payload(used: Iterable[Asset]) -> dict[str, dict[str, str]]:
    """asset id → its blob key and kind: what the worker downloads (`jobs/inputs.py`). An
    asset deleted before the render starts fails it with an input error."""
    return {str(asset.id): {"key": asset.blob_key, "kind": asset.kind} for asset in used}


def _check_narrated_prompt(user: User, snapshot: Snapshot) -> None:
    """With no script writer configured the prompt is the narration: refuse one that
    cannot fit the plan now, rather than fail the render in the worker."""
    limits = PLAN_LIMITS[Plan(user.plan)]
    prompt, rate = str(snapshot.payload["prompt"]), snapshot.settings.speaking_rate
    shortest = shortest_narration_s(prompt, rate)
    if shortest > limits.max_duration_s:
        raise LimitExceeded(
            f"the {user.plan} plan renders up to {limits.max_duration_s:g} s, and this prompt, "
            f"narrated as it is (no script writer is configured), lasts at least "
            f"{shortest:.0f} s ({count_words(prompt)} words read at "
            f"{FASTEST_WORDS_PER_SECOND * 60 * rate:.0f} words a minute): shorten it",
            stage="input",
        )


def _check_plan(session: Session, user: User, snapshot: Snapshot, now: datetime) -> None:
    check_render(user, snapshot)
    check_usage(session, user, now, renders=1, reserved_s=snapshot.reserved_s)


def check_render(user: User, snapshot: Snapshot) -> None:
    """What the plan allows one render: its length and resolution.

    Raises:
        LimitExceeded: longer or sharper than the plan renders.
    """
    limits = PLAN_LIMITS[Plan(user.plan)]
    settings = snapshot.settings
    if settings.target_duration_s > limits.max_duration_s:
        raise LimitExceeded(
            f"the {user.plan} plan renders up to {limits.max_duration_s:g} s "
            f"(asked {settings.target_duration_s:g} s)",
            stage="input",
        )
    if snapshot.shortest_s is not None and snapshot.shortest_s > limits.max_duration_s:
        scenes = len(snapshot.payload["storyboard"]["scenes"])
        raise LimitExceeded(
            f"the {user.plan} plan renders up to {limits.max_duration_s:g} s, and this "
            f"storyboard lasts at least {snapshot.shortest_s:.0f} s ({scenes} scenes of at "
            f"least {MIN_SCENE_S:g} s, their set durations and their narration read at "
            f"{FASTEST_WORDS_PER_SECOND * 60 * settings.speaking_rate:.0f} words a minute)",
            stage="input",
        )
    if not resolution_allowed(limits, settings.resolution):
        raise LimitExceeded(
            f"the {user.plan} plan renders up to {limits.max_resolution} "
            f"(asked {settings.resolution})",
            stage="input",
        )


def check_usage(
    session: Session, user: User, now: datetime, *, renders: int, reserved_s: float
) -> None:
    """Whether `renders` more renders, counting `reserved_s` seconds together, fit what the
    plan lets wait at once and render this month (a batch is checked as a whole).

    Raises:
        RateLimited: too many waiting. LimitExceeded: the month's minutes.
    """
    limits = PLAN_LIMITS[Plan(user.plan)]
    used = users.usage(session, user.id, now)
    if used.waiting + renders > limits.max_waiting:
        raise RateLimited(
            f"{used.waiting} renders are already waiting (the {user.plan} plan queues "
            f"{limits.max_waiting}); submit again when one has started",
            retry_after_s=WAITING_RETRY_AFTER_S,
            stage="input",
        )
    minutes = used.minutes_this_month + reserved_s / 60.0
    if limits.monthly_minutes is not None and minutes > limits.monthly_minutes:
        what = "this render" if renders == 1 else f"these {renders} renders"
        raise LimitExceeded(
            f"{what} would exceed the {user.plan} plan's {limits.monthly_minutes:g} "
            f"minutes this month ({used.minutes_this_month:.1f} used)",
            stage="input",
        )


def json_bytes(value: Any) -> int:
    return len(json.dumps(value).encode())


def job_payload(user: User, snapshot: Snapshot) -> dict[str, Any]:
    """The snapshot plus what the worker and the usage count need: the longest video the
    plan lets this render make, the seconds it counts for until it is done, and the id of
    the request that submitted it (the worker logs it beside the job's id)."""
    cap = render_cap_s(PLAN_LIMITS[Plan(user.plan)])
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    return dict(snapshot.payload) | {
        "max_duration_s": cap, "reserved_s": snapshot.reserved_s, "request_id": request_id,
    }  # fmt: skip


def submit(
    session: Session,
    manager: JobManager,
    user: User,
    project: Project,
    now: datetime,
    *,
    idempotency_key: str | None = None,
    voice_vendors: frozenset[str] = frozenset(),
    narrates_the_prompt: bool = False,
) -> Submitted:
    """Queue a render of the project as it is now (a snapshot: later edits don't change it).

    `narrates_the_prompt`: no script writer is configured, so a prompt is read as it is and
    its length is known now (`platform.providers.narrates_the_prompt`).

    Raises:
        InvalidInput: nothing to render. LimitExceeded / RateLimited: plan limits.
        QuotaExceeded: the user's storage is full.
    """
    # One submit per user at a time, to the end of the transaction: the plan checks below
    # read counts, and without the lock concurrent submits on PostgreSQL all read the same
    # count and all inserted (50 at once: 9-24 accepted where 5 may wait).
    user = users.lock(session, user.id)
    if idempotency_key and (earlier := by_idempotency_key(session, user.id, idempotency_key)):
        if earlier.project_id != project.id:
            raise Conflict("this Idempotency-Key was already used for another project's render")
        return Submitted(earlier, created=False)
    snapshot = checked_snapshot(
        session, user, _project_payload(project), voice_vendors=voice_vendors,
        narrates_the_prompt=narrates_the_prompt,
    )  # fmt: skip
    check_usage(session, user, now, renders=1, reserved_s=snapshot.reserved_s)
    payload = job_payload(user, snapshot)
    quota.ensure_room(session, user, adding_bytes=json_bytes(payload))
    try:
        job = manager.enqueue(
            session, user, payload=payload, project_id=project.id, idempotency_key=idempotency_key
        )
    except KeyTaken:  # the same key submitted concurrently: theirs won
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
    snapshot = _snapshot(job.payload)
    _check_plan(session, user, snapshot, now)
    payload = job_payload(user, snapshot)  # the plan as it is now
    if "batch_id" in job.payload:  # still the batch's row: its progress follows the new render
        payload["batch_id"] = job.payload["batch_id"]
    quota.ensure_room(session, user, adding_bytes=json_bytes(payload))
    again = manager.enqueue(session, user, payload=payload, project_id=job.project_id)
    batches.relink(session, job.id, again.id)
    return again
