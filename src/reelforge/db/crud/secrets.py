"""Secrets users store (their own provider API keys), as ciphertext only: the caller
encrypts before `put` and nothing here ever returns the value."""

from __future__ import annotations

import uuid

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from reelforge.db.models import UserSecret, utcnow
from reelforge.errors import NotFound, QuotaExceeded

MAX_SECRETS = 20
"""Secrets one user may store: the provider keys read are five (`USER_KEY_NAMES`); the cap
keeps the table from being used as free storage (4 KB a value, any number of names)."""


def context(user_id: uuid.UUID, name: str) -> str:
    """Binds a ciphertext to its owner and name: copied to another row, it won't decrypt."""
    return f"{user_id}:{name}"


def names(session: Session, user_id: uuid.UUID) -> list[UserSecret]:
    query = select(UserSecret).where(UserSecret.user_id == user_id).order_by(UserSecret.name)
    return list(session.scalars(query))


def get(session: Session, user_id: uuid.UUID, name: str) -> UserSecret | None:
    return session.scalar(
        select(UserSecret).where(UserSecret.user_id == user_id, UserSecret.name == name)
    )


def put(session: Session, user_id: uuid.UUID, name: str, ciphertext: str) -> UserSecret:
    """Insert or replace in one statement (`ON CONFLICT DO UPDATE`): concurrent writes of
    one secret end with the last writer's value, never a unique-key error.

    Raises:
        QuotaExceeded: a new name, and the user already stores `MAX_SECRETS`.
    """
    if get(session, user_id, name) is None:
        held = session.scalar(select(func.count()).where(UserSecret.user_id == user_id)) or 0
        if held >= MAX_SECRETS:
            raise QuotaExceeded(
                f"you store {held} secrets, the most there may be: delete one first",
                stage="input",
            )
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    values = {"user_id": user_id, "name": name, "ciphertext": ciphertext, "updated_at": utcnow()}
    statement = insert(UserSecret).values(id=uuid.uuid4(), **values)
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[UserSecret.user_id, UserSecret.name],
            set_={"ciphertext": ciphertext, "updated_at": values["updated_at"]},
        )
    )
    row = session.scalar(
        select(UserSecret)
        .where(UserSecret.user_id == user_id, UserSecret.name == name)
        .execution_options(populate_existing=True)
    )
    assert row is not None  # just written, in this transaction
    return row


def delete(session: Session, user_id: uuid.UUID, name: str) -> None:
    row = get(session, user_id, name)
    if row is None:
        raise NotFound("no such secret", stage="input")
    session.delete(row)
