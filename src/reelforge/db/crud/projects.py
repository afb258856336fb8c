"""Projects, always read through their owner: another user's project is simply absent."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reelforge.db.models import Project
from reelforge.errors import NotFound

ProjectSort = Literal["created_at", "-created_at", "updated_at", "-updated_at", "name", "-name"]


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    total: int


def owned(session: Session, owner_id: uuid.UUID, project_id: uuid.UUID) -> Project:
    project = session.get(Project, project_id)
    if project is None or project.owner_id != owner_id:
        raise NotFound("project not found", stage="input")
    return project


def create(
    session: Session,
    owner_id: uuid.UUID,
    *,
    name: str,
    prompt: str,
    settings: dict[str, Any],
    template_id: str | None,
) -> Project:
    project = Project(
        owner_id=owner_id, name=name, prompt=prompt, settings=settings, template_id=template_id
    )
    session.add(project)
    session.flush()
    return project


def listing(
    session: Session,
    owner_id: uuid.UUID,
    *,
    limit: int,
    offset: int,
    sort: ProjectSort,
    search: str | None,
) -> Page:
    where = [Project.owner_id == owner_id]
    if search:
        where.append(func.lower(Project.name).contains(search.lower(), autoescape=True))
    column = getattr(Project, sort.lstrip("-"))
    order = column.desc() if sort.startswith("-") else column.asc()
    items = session.scalars(
        select(Project).where(*where).order_by(order, Project.id).limit(limit).offset(offset)
    ).all()
    total = session.scalar(select(func.count()).select_from(Project).where(*where)) or 0
    return Page(list(items), total)
