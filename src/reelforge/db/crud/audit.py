"""The audit log: logins, failed logins, session revocations and admin actions."""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from reelforge.db.models import AuditEntry


def record(
    session: Session,
    action: str,
    *,
    actor_id: uuid.UUID | None,
    target: str = "",
    ip: str = "",
    detail: dict[str, Any] | None = None,
) -> None:
    session.add(
        AuditEntry(action=action, actor_id=actor_id, target=target, ip=ip, detail=detail or {})
    )


def recent(session: Session, *, limit: int, offset: int) -> list[AuditEntry]:
    query = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
    return list(session.scalars(query))
