"""Submitting a batch: every row checked up front like a single render (its settings, its
assets, the plan's length and resolution), then the batch as a whole against what the plan
lets wait and render this month, then all rows queued in one transaction, or none.

The rows are ordinary render jobs of the owner: the scheduler's round-robin between users
(`policy.py`) keeps other users' waits as they were while a batch runs, and the per-render
routes cancel and retry a row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from reelforge.db.crud import batches, quota, templates, users
from reelforge.db.models import Batch, BatchRow, JobState, RenderJob, User
from reelforge.errors import InvalidInput, InvalidRows, LimitExceeded, RateLimited
from reelforge.jobs import submissions
from reelforge.jobs.manager import JobManager, NewJob
from reelforge.model.batches import RawRow, RowRequest, parse_row
from reelforge.model.plans import PLAN_LIMITS, Plan
from reelforge.model.templates import Template


@dataclass(frozen=True, slots=True)
class CheckedRow:
    request: RowRequest
    snapshot: submissions.Snapshot


@dataclass(frozen=True, slots=True)
class Checked:
    """The rows that would be queued, and each bad row's line and reason."""

    valid: list[CheckedRow]
    invalid: list[tuple[int, str]]


def check(
    session: Session, user: User, rows: list[RawRow], *, template_id: str | None,
    voice_vendors: frozenset[str], narrates_the_prompt: bool,
) -> Checked:  # fmt: skip
    """Every row checked as a submit checks one render (no usage counted yet).

    Raises:
        InvalidInput: no rows. LimitExceeded: more rows than the plan takes in one batch.
    """
    if not rows:
        raise InvalidInput("the batch has no rows", stage="input")
    most = PLAN_LIMITS[Plan(user.plan)].max_batch_rows
    if len(rows) > most:
        raise LimitExceeded(
            f"the {user.plan} plan takes up to {most} rows in one batch (this one has "
            f"{len(rows)}): split it",
            stage="input",
        )

    def find(wanted: str) -> Template:
        return templates.get(session, user.id, wanted)

    valid, invalid = [], []
    for raw in rows:
        try:
            request = parse_row(raw, template_id, find)
            snapshot = submissions.checked_snapshot(
                session, user, _payload(request), voice_vendors=voice_vendors,
                narrates_the_prompt=narrates_the_prompt,
            )  # fmt: skip
        except (InvalidInput, LimitExceeded) as exc:
            invalid.append((raw.line, exc.message))
            continue
        valid.append(CheckedRow(request, snapshot))
    return Checked(valid, invalid)


def _payload(request: RowRequest) -> dict[str, Any]:
    if request.storyboard is not None:
        return {"storyboard": request.storyboard.model_dump(mode="json")}
    return {"prompt": request.prompt, "settings": request.settings.model_dump(mode="json")}


def usage_problem(session: Session, user: User, checked: Checked, now: datetime) -> str | None:
    """Why the plan would refuse these rows as a whole right now (too many waiting, not
    enough minutes left this month), for a dry run; None if they fit."""
    reserved_s = sum(row.snapshot.reserved_s for row in checked.valid)
    try:
        submissions.check_usage(
            session, user, now, renders=len(checked.valid), reserved_s=reserved_s
        )
    except (LimitExceeded, RateLimited) as exc:
        return exc.message
    return None


def submit(
    session: Session, manager: JobManager, user: User, checked: Checked, now: datetime, *,
    name: str, template_id: str | None, skip_invalid: bool,
) -> Batch:  # fmt: skip
    """Queue the valid rows (the caller commits); with bad rows, only if `skip_invalid`.

    Raises:
        InvalidRows: bad rows (strict), or no valid row at all.
        RateLimited / LimitExceeded: the batch would queue more renders than the plan lets
            wait, or render more minutes than are left this month.
        QuotaExceeded: the user's storage is full.
    """
    if checked.invalid and (not skip_invalid or not checked.valid):
        raise InvalidRows(checked.invalid)
    user = users.lock(session, user.id)  # as in `submissions.submit`: counts, then inserts
    reserved_s = sum(row.snapshot.reserved_s for row in checked.valid)
    submissions.check_usage(session, user, now, renders=len(checked.valid), reserved_s=reserved_s)
    skipped = [{"line": line, "reason": reason} for line, reason in checked.invalid]
    batch = Batch(owner_id=user.id, name=name, template_id=template_id, skipped=skipped)
    session.add(batch)
    session.flush()
    payloads = [
        submissions.job_payload(user, row.snapshot) | {"batch_id": str(batch.id)}
        for row in checked.valid
    ]
    quota.ensure_room(session, user, adding_bytes=sum(submissions.json_bytes(p) for p in payloads))
    ids = manager.enqueue_many(session, [NewJob(user, payload=p) for p in payloads])
    session.add_all(
        BatchRow(batch_id=batch.id, line=row.request.line, title=row.request.title, render_id=i)
        for row, i in zip(checked.valid, ids, strict=True)
    )
    session.flush()
    session.refresh(batch)
    return batch


LIVE = (JobState.QUEUED, JobState.RUNNING)
RETRYABLE = (JobState.FAILED, JobState.CANCELED)


def cancel(session: Session, manager: JobManager, batch: Batch) -> int:
    """Cancel every queued or running row (a running one stops within seconds).

    Returns:
        How many rows were asked to stop.
    """
    live = batches.renders(batch, LIVE)
    stopped = sum(manager.cancel(job.id, job.owner_id, session) is not None for job in live)
    session.expire_all()
    return stopped


def retry(
    session: Session, manager: JobManager, user: User, batch: Batch, now: datetime
) -> list[RenderJob]:
    """A new render for every failed or canceled row (each checked against the plan as a
    single retry is); the rows follow their new renders."""
    failed = batches.renders(batch, RETRYABLE)
    again = [submissions.retry(session, manager, user, job, now) for job in failed]
    session.expire_all()
    return again
