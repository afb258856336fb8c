"""Projects, always read through an access check: the owner and the members it was shared
with see it (each with their role); to anyone else it is simply absent."""

from __future__ import annotations

import functools
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from sqlalchemy import (
    ColumnElement,
    Select,
    Text,
    and_,
    bindparam,
    cast,
    func,
    select,
    union,
    update,
)
from sqlalchemy.orm import Session

from reelforge.db.models import Project, ProjectMember, Role, utcnow
from reelforge.errors import Forbidden, NotFound, PreconditionFailed

ProjectSort = Literal["created_at", "-created_at", "updated_at", "-updated_at", "name", "-name"]


@dataclass(frozen=True, slots=True)
class Page:
    items: list[Any]
    total: int


@dataclass(frozen=True, slots=True)
class Access:
    project: Project
    role: Role
    """The caller's role on it."""


@dataclass(frozen=True, slots=True)
class Listed:
    """A project as a listing shows it: its columns, not the mapped object (loading mapped
    objects, their settings parsed and their whole storyboards, cost more than the query)."""

    id: uuid.UUID
    name: str
    prompt: str
    settings_json: str
    """The settings as stored, for `VideoSettings.model_validate_json`."""
    template_id: str | None
    template_version: int | None
    has_storyboard: bool
    created_at: datetime
    updated_at: datetime
    role: Role
    """The caller's role on it."""


def role_of(session: Session, user_id: uuid.UUID, project: Project) -> Role | None:
    """The user's role on the project; None for a stranger or a still pending invitation."""
    if project.owner_id == user_id:
        return Role.OWNER
    role = session.scalar(
        select(ProjectMember.role).where(
            ProjectMember.project_id == project.id,
            ProjectMember.user_id == user_id,
            ProjectMember.accepted_at.is_not(None),
        )
    )
    return Role(role) if role is not None else None


def accessible(
    session: Session, user_id: uuid.UUID, project_id: uuid.UUID, *, need: Role
) -> Access:
    """The project, if the user may do what `need` allows.

    Raises:
        NotFound: the user is not a member (nor the owner): its existence is not told.
        Forbidden: a member whose role is below `need`.
    """
    project = session.get(Project, project_id)
    role = role_of(session, user_id, project) if project is not None else None
    if project is None or role is None:
        raise NotFound("project not found", stage="input")
    if not role.includes(need):
        raise Forbidden(f"this needs the {need} role on the project (you are {role})")
    return Access(project, role)


def storyboard_etag(project: Project) -> str:
    return f'"sb-{project.storyboard_version}"'


def version_in(etags: str) -> set[int]:
    """The storyboard versions an `If-Match` header names (ours look like `"sb-7"`)."""
    versions = set()
    for tag in etags.split(","):
        number = tag.strip().removeprefix("W/").strip('"').removeprefix("sb-")
        if number.isascii() and number.isdigit():
            versions.add(int(number))
    return versions


def save_storyboard(
    session: Session,
    project: Project,
    *,
    storyboard: dict[str, Any] | None,
    settings: dict[str, Any],
    if_match: str | None,
) -> None:
    """Writes the storyboard and settings if nobody did since the version the caller read.

    The version is compared in the UPDATE itself: of two writes of the same version, even
    in two processes, PostgreSQL applies one and re-checks the other after it (0 rows).
    Without `If-Match` (or with `*`) the version this request read is the one expected.

    Raises:
        PreconditionFailed: `If-Match` names another version, or a concurrent write won.
    """
    expected = project.storyboard_version
    if if_match is not None and if_match.strip() != "*":
        named = version_in(if_match)
        if expected not in named:
            raise _stale()
    result = session.execute(
        update(Project)
        .where(Project.id == project.id, Project.storyboard_version == expected)
        .values(
            storyboard=storyboard,
            settings=settings,
            storyboard_version=expected + 1,
            updated_at=utcnow(),
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:  # type: ignore[attr-defined]
        raise _stale()
    session.refresh(project)


def _stale() -> PreconditionFailed:
    return PreconditionFailed(
        "the storyboard changed since you loaded it: reload it, or send it again "
        "without If-Match to overwrite"
    )


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
    user_id: uuid.UUID,
    *,
    limit: int,
    offset: int,
    sort: ProjectSort,
    search: str | None,
) -> Page:
    """The user's projects and those shared with them (accepted), as `Listed` items.

    The total is counted only when the page does not tell it (a short page ends the list).
    """
    page_query, count_query = _listing_queries(sort, searching=bool(search))
    params: dict[str, Any] = {"user_id": user_id}
    if search:
        params["search"] = _escape_like(search.lower())
    # On the session's connection: the ORM's execution path costs more than these
    # column-only queries (no mapped objects come back).
    connection = session.connection()
    rows = connection.execute(page_query, params | {"limit": limit, "offset": offset}).all()
    if len(rows) < limit and (rows or offset == 0):
        total = offset + len(rows)
    else:
        total = connection.scalar(count_query, params) or 0
    items = [
        Listed(
            row.id, row.name, row.prompt, row.settings_json, row.template_id,
            row.template_version, row.has_storyboard, row.created_at, row.updated_at,
            Role.OWNER if row.owner_id == user_id else Role(row.role),
        )
        for row in rows
    ]  # fmt: skip
    return Page(items, total)


LIKE_ESCAPE = "/"


def _escape_like(text: str) -> str:
    """`text` matched literally inside a LIKE pattern (what `autoescape` does, which needs the
    value when the query is built)."""
    for special in (LIKE_ESCAPE, "%", "_"):
        text = text.replace(special, LIKE_ESCAPE + special)
    return text


@functools.cache
def _listing_queries(
    sort: ProjectSort, *, searching: bool
) -> tuple[Select[*tuple[Any, ...]], Select[int]]:
    """The page and count queries of `listing`, built once per sort: building them, and
    SQLAlchemy's cache key of a new statement, cost more CPU than running them.

    Visible ids come from a union of two index lookups (owner, membership): an OR across
    the outer join could use neither index, so every listing scanned all users' projects.
    """
    user_id = bindparam("user_id", type_=Project.owner_id.type)
    accepted = (ProjectMember.user_id == user_id, ProjectMember.accepted_at.is_not(None))
    membership = and_(ProjectMember.project_id == Project.id, *accepted)
    visible = union(
        select(Project.id).where(Project.owner_id == user_id),
        select(ProjectMember.project_id).where(*accepted),
    )
    where: list[ColumnElement[bool]] = [Project.id.in_(visible)]
    if searching:
        where.append(func.lower(Project.name).contains(bindparam("search"), escape=LIKE_ESCAPE))
    column = getattr(Project, sort.lstrip("-"))
    order = column.desc() if sort.startswith("-") else column.asc()
    # A storyboard set back to None is stored as JSON null, not as SQL NULL.
    has_storyboard = and_(Project.storyboard.is_not(None), cast(Project.storyboard, Text) != "null")
    # The caller's role is worked out in `listing`, not by a CASE: SQLAlchemy's `case()`
    # formats an error message it then discards, every time (a tenth of this listing's CPU).
    page = (
        select(
            Project.id,
            Project.owner_id,
            Project.name,
            Project.prompt,
            cast(Project.settings, Text).label("settings_json"),
            Project.template_id,
            Project.template_version,
            has_storyboard.label("has_storyboard"),
            Project.created_at,
            Project.updated_at,
            ProjectMember.role,
        )
        .outerjoin(ProjectMember, membership)
        .where(*where)
        .order_by(order, Project.id)
        .limit(bindparam("limit"))
        .offset(bindparam("offset"))
    )
    return page, select(func.count()).select_from(Project).where(*where)
