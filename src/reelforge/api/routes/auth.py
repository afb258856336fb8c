"""Register, sign in, refresh, sign out; my sessions and personal API keys."""

from __future__ import annotations

import unicodedata
import uuid
from typing import Annotated

from fastapi import APIRouter, Cookie, Depends, Request, Response, status

from reelforge.api import schemas
from reelforge.api.deps import (
    ClientIp,
    CurrentPrincipal,
    CurrentUser,
    DbSession,
    LimitsDep,
    Now,
    PlatformDep,
    limit_auth,
)
from reelforge.db.crud import audit, auth, product_events, users
from reelforge.db.crud.auth import IssuedSession
from reelforge.db.crud.product_events import Fact
from reelforge.errors import Conflict, InvalidInput, Unauthorized
from reelforge.platform.services import Platform
from reelforge.security import passwords

router = APIRouter(prefix="/auth", tags=["auth"])
REFRESH_COOKIE = "reelforge_refresh"
COOKIE_PATH = "/api/v1/auth"


def _tokens(
    platform: Platform, issued: IssuedSession, response: Response, *, browser: bool
) -> schemas.TokenOut:
    access = platform.tokens.issue(str(issued.session.user_id), str(issued.session.id))
    response.headers["Cache-Control"] = "no-store"  # credentials: no cache may keep them
    if browser:
        response.set_cookie(
            REFRESH_COOKIE, issued.refresh_token, max_age=platform.settings.auth.absolute_timeout_s,
            path=COOKIE_PATH, httponly=True, secure=platform.settings.auth.secure_cookies,
            samesite="strict",
        )  # fmt: skip
    return schemas.TokenOut(
        access_token=access.token,
        expires_in=platform.settings.auth.access_ttl_s,
        session_id=issued.session.id,
        refresh_token=None if browser else issued.refresh_token,
    )


def login_account_key(email: str) -> str:
    """The per-account sign-in counter's key: one per address however it is spelled
    (case, width or composed forms), so variants cannot each get their own allowance."""
    return unicodedata.normalize("NFKC", email).strip().casefold()


@router.post(
    "/register",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(limit_auth)],
    responses={409: {"description": "Email already registered"}},
)
def register(body: schemas.RegisterIn, session: DbSession, ip: ClientIp) -> schemas.UserOut:
    """Every form that gets here is a registration started (a product fact); one refused
    for its password or address is still recorded, in a transaction of its own."""
    email = users.normalize_email(body.email)
    try:
        passwords.check_password_policy(body.password, email=email)
        user = users.create(
            session, email=email, password_hash=passwords.hash_password(body.password),
            name=body.name.strip(),
        )  # fmt: skip
    except (InvalidInput, Conflict):
        session.rollback()
        product_events.record(session, Fact.REGISTRATION_STARTED, None)
        session.commit()
        raise
    product_events.record(session, Fact.REGISTRATION_STARTED, None)
    product_events.record(session, Fact.REGISTRATION_COMPLETED, user.id)
    audit.record(session, "register", actor_id=user.id, target=email, ip=ip)
    return schemas.UserOut.model_validate(user)


@router.post("/login", dependencies=[Depends(limit_auth)])
def login(
    body: schemas.LoginIn,
    request: Request,
    response: Response,
    platform: PlatformDep,
    session: DbSession,
    ip: ClientIp,
    at: Now,
    limits: LimitsDep,
) -> schemas.TokenOut:
    # Per account too, whatever the IP (guesses spread over many addresses), with longer
    # windows as a back-off; counted before the hash is checked, cleared on success.
    account = login_account_key(body.email)
    rule = platform.settings.api.rate_login_account
    limits.hit(rule, "login-account", account, fail_open=False)
    # The hash is checked before `session` touches the database: its first statement takes
    # SQLite's write lock, and holding that through ~0.1 s of argon2 serialised every
    # concurrent login and write behind it (bench/api.py saw "database is locked").
    with platform.sessions() as reader:
        found = users.get_by_login(reader, body.email)
    ok, upgraded = passwords.verify_password(
        body.password, found.password_hash if found else passwords.DUMMY_HASH
    )
    user = users.get(session, found.id) if found is not None and ok else None
    if user is None:
        audit.record(session, "login.failed", actor_id=None, target=body.email[:200], ip=ip)
        session.commit()  # the failed attempt stays in the audit log
        raise Unauthorized("wrong email or password", stage="auth")
    limits.clear(rule, "login-account", account)
    if upgraded:
        user.password_hash = upgraded
    issued = auth.start(
        session, user, at, platform.timeouts,
        user_agent=request.headers.get("user-agent", ""), ip=ip,
    )  # fmt: skip
    audit.record(session, "login", actor_id=user.id, target=str(issued.session.id), ip=ip)
    product_events.record(session, Fact.LOGIN, user.id)
    return _tokens(platform, issued, response, browser=body.client == "browser")


@router.post("/refresh", dependencies=[Depends(limit_auth)])
def refresh(
    response: Response,
    platform: PlatformDep,
    session: DbSession,
    at: Now,
    ip: ClientIp,
    body: schemas.RefreshIn | None = None,
    cookie: Annotated[str | None, Cookie(alias=REFRESH_COOKIE)] = None,
) -> schemas.TokenOut:
    presented = (body.refresh_token if body else None) or cookie
    if not presented:
        raise Unauthorized("send the refresh token (body or cookie)", stage="auth")
    try:
        issued = auth.rotate(session, presented, at, platform.timeouts)
    except Unauthorized as exc:
        reused = auth.session_for_token(session, presented)
        if reused is not None and reused.revoked_reason == "refresh token reuse":
            audit.record(
                session, "session.reuse_detected", actor_id=reused.user_id,
                target=str(reused.id), ip=ip, detail={"message": exc.message},
            )  # fmt: skip
        session.commit()  # keep the revocation that reuse detection made
        raise
    return _tokens(platform, issued, response, browser=body is None or not body.refresh_token)


@router.post("/logout", status_code=status.HTTP_204_NO_CONTENT)
def logout(
    principal: CurrentPrincipal, session: DbSession, at: Now, ip: ClientIp, response: Response,
    platform: PlatformDep,
) -> None:  # fmt: skip
    """Ends the session behind this access token; its refresh tokens stop working."""
    if principal.session_id is None:
        raise InvalidInput("API keys are not sessions: revoke one with DELETE /auth/api-keys/{id}")
    auth_session = auth.owned_session(session, principal.user.id, principal.session_id)
    auth.revoke(session, auth_session, at, "logout")
    audit.record(session, "logout", actor_id=principal.user.id, target=str(auth_session.id), ip=ip)
    response.delete_cookie(
        REFRESH_COOKIE, path=COOKIE_PATH, httponly=True, samesite="strict",
        secure=platform.settings.auth.secure_cookies,
    )  # fmt: skip


@router.get("/sessions")
def my_sessions(
    principal: CurrentPrincipal, session: DbSession, at: Now
) -> list[schemas.SessionOut]:
    return [
        schemas.SessionOut.model_validate(s).model_copy(
            update={"current": s.id == principal.session_id}
        )
        for s in auth.list_sessions(session, principal.user.id, at)
    ]


@router.delete("/sessions/{session_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_session(
    session_id: uuid.UUID, user: CurrentUser, session: DbSession, at: Now, ip: ClientIp
) -> None:
    auth.revoke(session, auth.owned_session(session, user.id, session_id), at, "revoked by user")
    audit.record(session, "session.revoke", actor_id=user.id, target=str(session_id), ip=ip)


@router.post("/api-keys", status_code=status.HTTP_201_CREATED)
def create_api_key(
    body: schemas.ApiKeyIn, user: CurrentUser, session: DbSession, at: Now, ip: ClientIp,
    response: Response,
) -> schemas.ApiKeyCreated:  # fmt: skip
    response.headers["Cache-Control"] = "no-store"  # the whole key, shown this once
    created = auth.create_api_key(session, user.id, body.name, at)
    audit.record(session, "api_key.create", actor_id=user.id, target=str(created.row.id), ip=ip)
    shown = schemas.ApiKeyOut.model_validate(created.row)
    return schemas.ApiKeyCreated(**shown.model_dump(), key=created.token)


@router.get("/api-keys")
def list_api_keys(user: CurrentUser, session: DbSession) -> list[schemas.ApiKeyOut]:
    return [schemas.ApiKeyOut.model_validate(k) for k in auth.list_api_keys(session, user.id)]


@router.delete("/api-keys/{key_id}", status_code=status.HTTP_204_NO_CONTENT)
def revoke_api_key(
    key_id: uuid.UUID, user: CurrentUser, session: DbSession, at: Now, ip: ClientIp
) -> None:
    auth.revoke_api_key(session, user.id, key_id, at)
    audit.record(session, "api_key.revoke", actor_id=user.id, target=str(key_id), ip=ip)
