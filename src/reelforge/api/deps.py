"""What routes ask FastAPI for: the platform, a unit-of-work session, the signed-in user,
rate limits. `Annotated` aliases keep route signatures short."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated

from fastapi import Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.orm import Session

from reelforge.db.crud import auth, users
from reelforge.db.models import User, utcnow
from reelforge.errors import Forbidden, Unauthorized
from reelforge.platform import Platform
from reelforge.security.tokens import API_KEY_PREFIX

MAX_OFFSET = 2**31 - 1
"""Paging deeper is meaningless, and a bigger number overflows the database's integers."""
MAX_EVENT_ID = 2**63 - 1
"""Event ids are 64-bit (SQLite INTEGER, PostgreSQL BIGINT)."""
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
AfterEventId = Annotated[int, Query(ge=0, le=MAX_EVENT_ID, description="The last event id seen")]

bearer = HTTPBearer(auto_error=False, description="An access token or a personal API key")


def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


def get_session(request: Request, platform: PlatformDep) -> Iterator[Session]:
    """One transaction per request, committed when the route returns (before the response
    goes out, so a 2xx means it is stored). Writes take SQLite's write lock up front."""
    writes = request.method not in ("GET", "HEAD", "OPTIONS")
    factory = platform.writer_sessions if writes else platform.sessions
    with factory() as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


DbSession = Annotated[Session, Depends(get_session, scope="function")]


def client_ip(request: Request, platform: PlatformDep) -> str:
    if platform.settings.api.trust_proxy_headers:
        forwarded = request.headers.get("x-forwarded-for", "")
        if forwarded:
            return forwarded.split(",")[0].strip()[:64]
    return request.client.host if request.client else ""


ClientIp = Annotated[str, Depends(client_ip)]


def now() -> datetime:
    return utcnow()


Now = Annotated[datetime, Depends(now)]


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    session_id: uuid.UUID | None
    """The login session behind an access token; None for an API key."""


def authenticate(platform: Platform, session: Session, token: str, at: datetime) -> Principal:
    """An access token (JWT) or a personal API key → who is calling.

    Raises:
        Unauthorized: bad, expired or revoked credentials.
    """
    if token.startswith(API_KEY_PREFIX):
        return Principal(auth.user_for_api_key(session, token, at), None)
    claims = platform.tokens.verify(token)
    auth_session = auth.live_session(session, uuid.UUID(claims.session_id), at, platform.timeouts)
    user = users.get(session, auth_session.user_id)
    if user is None or str(user.id) != claims.subject:
        raise Unauthorized("this account no longer exists", stage="auth")
    return Principal(user, auth_session.id)


def current_principal(
    platform: PlatformDep,
    session: DbSession,
    at: Now,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> Principal:
    if credentials is None:
        raise Unauthorized("sign in first: send `Authorization: Bearer <token>`", stage="auth")
    return authenticate(platform, session, credentials.credentials, at)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


def current_user(principal: CurrentPrincipal, platform: PlatformDep, ip: ClientIp) -> User:
    platform.limiter.hit(platform.settings.api.rate_api, "api", str(principal.user.id))
    return principal.user


CurrentUser = Annotated[User, Depends(current_user)]


def admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("this needs an administrator", stage="auth")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


def limit_auth(platform: PlatformDep, ip: ClientIp) -> None:
    """Per client IP on register, login and refresh: slows password guessing."""
    platform.limiter.hit(platform.settings.api.rate_auth, "auth", ip)


def limit_submit(platform: PlatformDep, user: CurrentUser) -> None:
    platform.limiter.hit(platform.settings.api.rate_submit, "submit", str(user.id))
