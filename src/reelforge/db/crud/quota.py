"""The storage a user occupies, counted by the database, and the plan's quota on it.

Counted: each project's name, prompt, settings and storyboard; each render's snapshot
(its payload) and the files it published (`result.bytes`, summed by the worker); each
uploaded asset's file and thumbnail (`assets.stored_bytes`). JSON is
measured as stored (SQLAlchemy writes it with `json.dumps`), so `project_bytes` in Python
and the database's sum agree.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from sqlalchemy import ColumnElement, LargeBinary, Text, cast, func, select
from sqlalchemy.orm import Session

from reelforge.db.models import Asset, Project, RenderJob, User
from reelforge.errors import QuotaExceeded
from reelforge.model.plans import PLAN_LIMITS, Plan


def _json_bytes(value: Any) -> int:
    return 0 if value is None else len(json.dumps(value).encode())


def project_bytes(project: Project) -> int:
    """What the project occupies, as `used_bytes` counts it."""
    return (
        len(project.name.encode()) + len(project.prompt.encode())
        + _json_bytes(project.settings) + _json_bytes(project.storyboard)
    )  # fmt: skip


def _octets(session: Session, column: Any) -> ColumnElement[int]:
    text = cast(column, Text)
    if session.get_bind().dialect.name == "postgresql":
        return func.coalesce(func.octet_length(text), 0)
    return func.coalesce(func.length(cast(text, LargeBinary)), 0)  # SQLite: a blob's bytes


def used_bytes(session: Session, user_id: uuid.UUID) -> int:
    """Bytes of the user's projects, render snapshots, rendered files and assets (one query)."""
    projects = (
        select(
            func.sum(
                _octets(session, Project.name) + _octets(session, Project.prompt)
                + _octets(session, Project.settings) + _octets(session, Project.storyboard)
            )
        )
        .where(Project.owner_id == user_id)
        .scalar_subquery()
    )  # fmt: skip
    renders = (
        select(
            func.sum(
                _octets(session, RenderJob.payload)
                + func.coalesce(RenderJob.result["bytes"].as_integer(), 0)
            )
        )
        .where(RenderJob.owner_id == user_id)
        .scalar_subquery()
    )
    uploads = (
        select(func.sum(Asset.stored_bytes)).where(Asset.owner_id == user_id).scalar_subquery()
    )
    row = session.execute(
        select(func.coalesce(projects, 0), func.coalesce(renders, 0), func.coalesce(uploads, 0))
    ).one()
    return int(row[0]) + int(row[1]) + int(row[2])


def quota_bytes(user: User) -> int:
    return PLAN_LIMITS[Plan(user.plan)].storage_bytes


def ensure_room(session: Session, user: User, adding_bytes: int = 0) -> None:
    """Refuse a write that leaves the user over their quota.

    Call it after the write is made in the session (the count includes it) with
    `adding_bytes=0`, or before, with what it will add. A write that does not grow what is
    stored needs no check: shrinking is always allowed, even over the quota.

    Raises:
        QuotaExceeded: the user's storage would be over the plan's quota.
    """
    # The user's row is locked to the end of the transaction (as `users.lock` does, and
    # why NO KEY UPDATE), so concurrent writes are counted one after the other, never both
    # against the same total.
    session.execute(select(User.id).where(User.id == user.id).with_for_update(key_share=True))
    used, quota = used_bytes(session, user.id) + adding_bytes, quota_bytes(user)
    if used > quota:
        raise QuotaExceeded(
            f"this would store {used / 1e6:.1f} MB, over the {user.plan} plan's "
            f"{quota / 1e6:g} MB: delete renders, projects or assets you no longer need",
            stage="input",
        )
