"""Sessions, rotating refresh tokens and personal API keys.

A session is one login and the family of its refresh tokens. Each refresh spends the
presented token and issues the next; presenting a spent token again means it was copied,
so the whole session is revoked (RFC 9700 §4.14.2 refresh token rotation).
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Select, bindparam, select, update
from sqlalchemy.orm import Session

from reelforge.db.models import ApiKey, AuthSession, RefreshToken, User
from reelforge.errors import NotFound, Unauthorized
from reelforge.security import tokens

KEY_USE_RESOLUTION = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class SessionTimeouts:
    idle_s: int
    absolute_s: int


@dataclass(frozen=True, slots=True)
class IssuedSession:
    session: AuthSession
    refresh_token: str


def _new_refresh(session: Session, auth_session: AuthSession, now: datetime) -> str:
    issued = tokens.new_refresh_token()
    session.add(RefreshToken(session_id=auth_session.id, digest=issued.digest, issued_at=now))
    return issued.token


def start(
    session: Session,
    user: User,
    now: datetime,
    timeouts: SessionTimeouts,
    *,
    user_agent: str = "",
    ip: str = "",
) -> IssuedSession:
    auth_session = AuthSession(
        user_id=user.id, created_at=now, last_used_at=now,
        expires_at=now + timedelta(seconds=timeouts.absolute_s),
        user_agent=user_agent[:300], ip=ip[:64],
    )  # fmt: skip
    session.add(auth_session)
    session.flush()
    return IssuedSession(auth_session, _new_refresh(session, auth_session, now))


def revoke(session: Session, auth_session: AuthSession, now: datetime, reason: str) -> None:
    if auth_session.revoked_at is None:
        auth_session.revoked_at = now
        auth_session.revoked_reason = reason


def _check_alive(
    auth_session: AuthSession | None, now: datetime, timeouts: SessionTimeouts
) -> None:
    if auth_session is None or auth_session.revoked_at is not None:
        raise Unauthorized("this session has ended; sign in again", stage="auth")
    if now >= auth_session.expires_at:
        raise Unauthorized("this session has expired; sign in again", stage="auth")
    if now - auth_session.last_used_at > timedelta(seconds=timeouts.idle_s):
        raise Unauthorized("this session timed out after inactivity; sign in again", stage="auth")


def rotate(
    session: Session, presented: str, now: datetime, timeouts: SessionTimeouts
) -> IssuedSession:
    """Spend `presented` and issue its successor.

    Raises:
        Unauthorized: unknown, reused (the session is then revoked), expired or idle token.
    """
    row = session.scalar(
        select(RefreshToken).where(RefreshToken.digest == tokens.token_digest(presented))
    )
    if row is None:
        raise Unauthorized("refresh token is not valid", stage="auth")
    auth_session = session.get(AuthSession, row.session_id, with_for_update=True)
    assert auth_session is not None  # FK cascade: tokens die with their session
    if row.rotated_at is not None:
        revoke(session, auth_session, now, "refresh token reuse")
        raise Unauthorized(
            "this refresh token was already used, so the session was ended for safety; "
            "sign in again",
            stage="auth",
        )
    _check_alive(auth_session, now, timeouts)
    # Compare-and-set: of two concurrent refreshes with one token, only one wins.
    spent = session.execute(
        update(RefreshToken)
        .where(RefreshToken.id == row.id, RefreshToken.rotated_at.is_(None))
        .values(rotated_at=now)
    )
    if spent.rowcount != 1:  # type: ignore[attr-defined]
        revoke(session, auth_session, now, "refresh token reuse")
        raise Unauthorized("this refresh token was already used; sign in again", stage="auth")
    auth_session.last_used_at = now
    return IssuedSession(auth_session, _new_refresh(session, auth_session, now))


def session_for_token(session: Session, presented: str) -> AuthSession | None:
    row = session.scalar(
        select(RefreshToken).where(RefreshToken.digest == tokens.token_digest(presented))
    )
    return None if row is None else session.get(AuthSession, row.session_id)


def live_session_user(
    session: Session, session_id: uuid.UUID, now: datetime, timeouts: SessionTimeouts
) -> tuple[AuthSession, User]:
    """The session behind an access token, if it still stands (logout is immediate), and its
    user, in one query (every authenticated request makes it).

    Raises:
        Unauthorized: the session has ended (logout is immediate), or timed out.
    """
    row = session.execute(_live_session_query(), {"session_id": session_id}).first()
    _check_alive(None if row is None else row[0], now, timeouts)  # no user: cascade, ended
    assert row is not None  # _check_alive refused it otherwise
    auth_session, user = row
    return auth_session, user


@functools.cache
def _live_session_query() -> Select[AuthSession, User]:
    """Built once: building the statement and its cache key per request cost more CPU
    than running it."""
    return (
        select(AuthSession, User)
        .join(User, User.id == AuthSession.user_id)
        .where(AuthSession.id == bindparam("session_id", type_=AuthSession.id.type))
    )


def ended_sessions(
    session: Session, session_ids: Collection[uuid.UUID], now: datetime, timeouts: SessionTimeouts
) -> dict[uuid.UUID, str]:
    """Which of these sessions no longer stand, each with the reason `live_session_user` gives:
    one query for every live stream a process holds, instead of one per stream."""
    found = {
        row.id: row
        for row in session.scalars(select(AuthSession).where(AuthSession.id.in_(session_ids)))
    }
    ended = {}
    for session_id in session_ids:
        try:
            _check_alive(found.get(session_id), now, timeouts)
        except Unauthorized as exc:
            ended[session_id] = exc.message
    return ended


def list_sessions(session: Session, user_id: uuid.UUID, now: datetime) -> list[AuthSession]:
    query = (
        select(AuthSession)
        .where(
            AuthSession.user_id == user_id,
            AuthSession.revoked_at.is_(None),
            AuthSession.expires_at > now,
        )
        .order_by(AuthSession.created_at.desc())
    )
    return list(session.scalars(query))


def owned_session(session: Session, user_id: uuid.UUID, session_id: uuid.UUID) -> AuthSession:
    auth_session = session.get(AuthSession, session_id)
    if auth_session is None or auth_session.user_id != user_id:
        raise NotFound("no such session", stage="auth")
    return auth_session


# -- personal API keys ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class CreatedKey:
    row: ApiKey
    token: str
    """Shown once; only its digest is stored."""


def create_api_key(session: Session, user_id: uuid.UUID, name: str, now: datetime) -> CreatedKey:
    issued = tokens.new_api_key()
    row = ApiKey(
        user_id=user_id, name=name, lookup_prefix=issued.lookup_prefix, digest=issued.digest,
        created_at=now,
    )  # fmt: skip
    session.add(row)
    session.flush()
    return CreatedKey(row, issued.token)


def list_api_keys(session: Session, user_id: uuid.UUID) -> list[ApiKey]:
    query = (
        select(ApiKey)
        .where(ApiKey.user_id == user_id, ApiKey.revoked_at.is_(None))
        .order_by(ApiKey.created_at.desc())
    )
    return list(session.scalars(query))


def revoke_api_key(session: Session, user_id: uuid.UUID, key_id: uuid.UUID, now: datetime) -> None:
    row = session.get(ApiKey, key_id)
    if row is None or row.user_id != user_id or row.revoked_at is not None:
        raise NotFound("no such API key", stage="auth")
    row.revoked_at = now


def user_for_api_key(session: Session, presented: str, now: datetime) -> User:
    prefix = tokens.api_key_lookup_prefix(presented)
    row = session.scalar(select(ApiKey).where(ApiKey.lookup_prefix == prefix))
    if (
        row is None
        or row.revoked_at is not None
        or not tokens.digests_match(row.digest, tokens.token_digest(presented))
    ):
        raise Unauthorized("API key is not valid", stage="auth")
    if row.last_used_at is None or now - row.last_used_at > KEY_USE_RESOLUTION:
        row.last_used_at = now  # not on every request: a script's calls stay read-only
    user = session.get(User, row.user_id)
    assert user is not None
    return user
