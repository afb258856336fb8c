"""Templates: the built-in ones (from the model) and a user's own, each version a row.

An id names a built-in template (its slug) or one of the caller's (a UUID); another user's
template is simply absent. Every edit adds a version and never changes an earlier one, so
whatever was made from a version can always be traced back to it.
"""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from reelforge.db.models import Template as TemplateRow
from reelforge.db.models import TemplateVersion
from reelforge.errors import NotFound, QuotaExceeded
from reelforge.model.templates import BUILTIN_TEMPLATES, Template, TemplateStyle

MAX_TEMPLATES = 100
MAX_VERSIONS = 1000
"""Bounds on what one user stores: every version is kept, so edits add rows forever."""


def _model(row: TemplateVersion) -> Template:
    return Template(
        id=str(row.template_id), name=row.name, description=row.description,
        version=row.version, style=TemplateStyle.model_validate(row.style),
    )  # fmt: skip


def _owned_row(session: Session, owner_id: uuid.UUID | None, template_id: str) -> TemplateRow:
    try:
        key = uuid.UUID(template_id)
    except ValueError:
        raise NotFound("template not found", stage="input") from None
    row = session.get(TemplateRow, key)
    if row is None or (owner_id is not None and row.owner_id != owner_id):
        raise NotFound("template not found", stage="input")
    return row


def get(
    session: Session, owner_id: uuid.UUID | None, template_id: str, version: int | None = None
) -> Template:
    """A built-in template or one of `owner_id`'s, at `version` (default: the latest).

    Args:
        owner_id: None only when the caller proved access otherwise (a signed link).

    Raises:
        NotFound: no such template for this user, or no such version of it.
    """
    builtin = BUILTIN_TEMPLATES.get(template_id)
    if builtin is not None:
        if version not in (None, builtin.version):
            raise NotFound(
                f"built-in template {template_id!r} has only version {builtin.version}",
                stage="input",
            )
        return builtin
    row = _owned_row(session, owner_id, template_id)
    found = session.get(TemplateVersion, (row.id, version or row.version))
    if found is None:
        raise NotFound(f"template has no version {version}", stage="input")
    return _model(found)


def mine(session: Session, owner_id: uuid.UUID) -> list[Template]:
    """The latest version of each of `owner_id`'s templates, newest first."""
    rows = session.execute(
        select(TemplateVersion)
        .join(TemplateRow, TemplateRow.id == TemplateVersion.template_id)
        .where(TemplateRow.owner_id == owner_id, TemplateVersion.version == TemplateRow.version)
        .order_by(TemplateRow.created_at.desc(), TemplateRow.id)
    ).scalars()
    return [_model(row) for row in rows]


def create(
    session: Session, owner_id: uuid.UUID, *, name: str, description: str, style: TemplateStyle
) -> Template:
    """A new template, at version 1.

    Raises:
        QuotaExceeded: the user already has `MAX_TEMPLATES`.
    """
    held = session.scalar(select(func.count()).where(TemplateRow.owner_id == owner_id)) or 0
    if held >= MAX_TEMPLATES:
        raise QuotaExceeded(
            f"you have {held} templates, the most there may be: delete one first", stage="input"
        )
    row = TemplateRow(owner_id=owner_id, version=1)
    session.add(row)
    session.flush()
    return _add_version(session, row, name=name, description=description, style=style)


def update(
    session: Session,
    owner_id: uuid.UUID,
    template_id: str,
    *,
    name: str,
    description: str,
    style: TemplateStyle,
) -> Template:
    """Save an edit as the template's next version; earlier versions stay as they were.

    Raises:
        QuotaExceeded: the template already has `MAX_VERSIONS`: make a new one from it.
    """
    row = _owned_row(session, owner_id, template_id)
    if row.version >= MAX_VERSIONS:
        raise QuotaExceeded(
            f"this template has {row.version} versions, the most there may be: "
            "create a new template from it",
            stage="input",
        )
    row.version += 1
    return _add_version(session, row, name=name, description=description, style=style)


def delete(session: Session, owner_id: uuid.UUID, template_id: str) -> None:
    """Remove the template and its versions; projects and renders made from it keep their
    copy of its style (and their record of which version it was)."""
    session.delete(_owned_row(session, owner_id, template_id))


def _add_version(
    session: Session, row: TemplateRow, *, name: str, description: str, style: TemplateStyle
) -> Template:
    version = TemplateVersion(
        template_id=row.id, version=row.version, name=name, description=description,
        style=style.model_dump(mode="json"),
    )  # fmt: skip
    session.add(version)
    session.flush()
    return _model(version)
