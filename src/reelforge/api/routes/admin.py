"""Administration (admins only): queue health, failed renders, alerts, users and plans,
the product analytics."""

from __future__ import annotations

import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Query

from reelforge.api import schemas
from reelforge.api.deps import (
    AdminUser,
    ClientIp,
    DbSession,
    Now,
    Offset,
    PlatformDep,
    UnlistedAdminUser,
)
from reelforge.db.crud import admin as admin_reads
from reelforge.db.crud import analytics, audit, users
from reelforge.errors import NotFound
from reelforge.jobs.stats import queue_stats
from reelforge.model.plans import Plan

router = APIRouter(prefix="/admin", tags=["admin"])
Limit = Annotated[int, Query(ge=1, le=200)]


@router.get("/queue")
def queue_health(admin: AdminUser, platform: PlatformDep) -> dict[str, Any]:
    return queue_stats(platform.jobs).as_dict()


@router.get("/analytics")
def product_analytics(
    admin: UnlistedAdminUser, session: DbSession, at: Now,
    since: Annotated[str, Query(max_length=10, description="How far back: 30d, 12h, 2w")] = "30d",
) -> dict[str, Any]:  # fmt: skip
    """The brief's success metrics over the last `since`, each beside its target (`met`:
    green, red, or null when there is nothing to measure); definitions in docs/operations.md."""
    span = analytics.parse_since(since)
    return analytics.compute(session, since=at - span, until=at).as_dict()


@router.get("/renders/failed")
def failed_renders(
    admin: AdminUser, session: DbSession, limit: Limit = 50, offset: Offset = 0,
    error_class: Annotated[str | None, Query(max_length=20)] = None,
) -> list[schemas.FailedRenderOut]:  # fmt: skip
    rows = admin_reads.failed_renders(session, limit=limit, offset=offset, error_class=error_class)
    return [
        schemas.FailedRenderOut(
            id=job.id,
            owner_id=job.owner_id,
            error_class=job.error_class,
            error_stage=job.error_stage,
            error_message=job.error_message,
            attempts=job.attempts,
            finished_at=job.finished_at,
        )
        for job in rows
    ]


@router.get("/alerts")
def system_alerts(
    admin: AdminUser, session: DbSession, limit: Limit = 50, offset: Offset = 0
) -> list[schemas.EventOut]:
    """System-error notifications the queue raised (the same ones the webhook gets)."""
    rows = admin_reads.system_alerts(session, limit=limit, offset=offset)
    return [
        schemas.EventOut(
            id=e.id, type=e.type, render_id=e.job_id, data=e.data, created_at=e.created_at
        )
        for e in rows
    ]


@router.get("/users")
def list_users(
    admin: AdminUser, session: DbSession, limit: Limit = 50, offset: Offset = 0
) -> list[schemas.UserOut]:
    rows = admin_reads.all_users(session, limit=limit, offset=offset)
    return [schemas.UserOut.model_validate(u) for u in rows]


@router.patch("/users/{user_id}")
def update_user(
    user_id: uuid.UUID, body: schemas.PlanPatch, admin: AdminUser, session: DbSession,
    ip: ClientIp,
) -> schemas.UserOut:  # fmt: skip
    user = users.get(session, user_id)
    if user is None:
        raise NotFound("no such user", stage="input")
    changes = body.model_dump(exclude_unset=True, exclude_none=True, mode="json")
    if "plan" in changes:
        user.plan = Plan(changes["plan"])
    if "is_admin" in changes:
        user.is_admin = bool(changes["is_admin"])
    audit.record(
        session, "admin.user.update", actor_id=admin.id, target=str(user.id), ip=ip, detail=changes
    )
    return schemas.UserOut.model_validate(user)


@router.get("/audit")
def audit_log(
    admin: AdminUser, session: DbSession, limit: Limit = 50, offset: Offset = 0
) -> list[schemas.AuditOut]:
    return [
        schemas.AuditOut.model_validate(a)
        for a in audit.recent(session, limit=limit, offset=offset)
    ]
