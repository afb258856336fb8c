"""What routes ask FastAPI for: the platform, a unit-of-work session, the signed-in user,
rate limits. `Annotated` aliases keep route signatures short."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy import Engine, QueuePool
from sqlalchemy.orm import Session

from reelforge.api.limits import Limits
from reelforge.db.crud import auth
from reelforge.db.models import User, utcnow
from reelforge.db.session import is_sqlite
from reelforge.errors import Forbidden, NotFound, Unauthorized
from reelforge.platform.services import Platform
from reelforge.security.proxies import client_address
from reelforge.security.tokens import API_KEY_PREFIX

MAX_OFFSET = 2**31 - 1
"""Paging deeper is meaningless, and a bigger number overflows the database's integers."""
MAX_EVENT_ID = 2**63 - 1
"""Event ids are 64-bit (SQLite INTEGER, PostgreSQL BIGINT)."""
Offset = Annotated[int, Query(ge=0, le=MAX_OFFSET)]
AfterEventId = Annotated[int, Query(ge=0, le=MAX_EVENT_ID, description="The last event id seen")]

bearer = HTTPBearer(auto_error=False, description="An access token or a personal API key")


# Dependencies that only read what is already in memory are `async def`: FastAPI runs a
# sync dependency in a thread-pool call of its own (a hand-off there and back per
# dependency per request), an async one inline.


async def get_platform(request: Request) -> Platform:
    platform: Platform = request.app.state.platform
    return platform


PlatformDep = Annotated[Platform, Depends(get_platform)]


READ_METHODS = ("GET", "HEAD", "OPTIONS")
DEFAULT_DB_REQUESTS = 10
"""Requests using the database at once when the pool does not say how many it holds."""


@dataclass(frozen=True, slots=True)
class DbGates:
    """Where requests wait, in the event loop, before their session may use the database.

    FastAPI runs a sync route's dependencies, body and response validation in separate
    thread-pool calls, and the request's session holds its pooled connection from its
    first statement until after that validation. With more requests than pooled
    connections, threads blocked on an empty pool starved the requests that held
    connections of the threads they needed to finish: 64 concurrent reads stalled until
    the 30 s pool timeout (bench/api.py). `sessions` admits fewer requests than the pool
    has connections. On SQLite, `sqlite_writes` also queues write requests: one writer
    at a time, and a blocked SQLite writer polls with sleeps (no queue), so under 50
    concurrent submits some lost every round for the whole 10 s busy timeout.
    """

    sessions: asyncio.Semaphore
    sqlite_writes: asyncio.Lock | None

    @classmethod
    def for_engine(cls, engine: Engine, *, reserved: int) -> DbGates:
        """`reserved`: connections others in this process need (workers, the event poller)."""
        pool = engine.pool
        capacity = DEFAULT_DB_REQUESTS
        if isinstance(pool, QueuePool):
            capacity = pool.size() + max(getattr(pool, "_max_overflow", 0), 0)
        sessions = asyncio.Semaphore(max(1, capacity - reserved))
        return cls(sessions, asyncio.Lock() if is_sqlite(engine) else None)


@contextlib.asynccontextmanager
async def db_gate(request: Request, *, write: bool) -> AsyncIterator[None]:
    """A turn at the database (see `DbGates`), for a route that opens its own session."""
    gates: DbGates = request.app.state.db_gates
    writes = gates.sqlite_writes if write else None
    async with writes or contextlib.nullcontext(), gates.sessions:  # writers queue first
        yield


async def db_turn(request: Request) -> AsyncIterator[None]:
    async with db_gate(request, write=request.method not in READ_METHODS):
        yield


async def get_session(
    request: Request,
    platform: PlatformDep,
    _turn: Annotated[None, Depends(db_turn, scope="function")],
) -> AsyncIterator[Session]:
    """One transaction per request, committed when the route returns (before the response
    goes out, so a 2xx means it is stored). Writes take SQLite's write lock up front.

    Made in the event loop (a new session does no I/O: it connects at its first statement);
    only the commit, or the rollback, and the connection's return to the pool go to a
    thread, in one call."""
    writes = request.method not in READ_METHODS
    factory = platform.writer_sessions if writes else platform.sessions
    session = factory()
    try:
        yield session
    except BaseException:
        await run_in_threadpool(_end, session, commit=False)
        raise
    await run_in_threadpool(_end, session, commit=True)


def _end(session: Session, *, commit: bool) -> None:
    """Commit (or roll back) and close: the pooled connection goes back either way."""
    with session:
        if commit:
            session.commit()
        else:
            session.rollback()


DbSession = Annotated[Session, Depends(get_session, scope="function")]


async def client_ip(request: Request, platform: PlatformDep) -> str:
    peer = request.client.host if request.client else ""
    api = platform.settings.api
    if not api.trust_proxy_headers:
        return peer
    forwarded = request.headers.get("x-forwarded-for")
    return client_address(peer, forwarded, tuple(api.trusted_proxies))


ClientIp = Annotated[str, Depends(client_ip)]


async def now() -> datetime:
    return utcnow()


Now = Annotated[datetime, Depends(now)]


@dataclass(frozen=True, slots=True)
class Principal:
    user: User
    session_id: uuid.UUID | None
    """The login session behind an access token; None for an API key."""


MALFORMED_CREDENTIAL = "Access token is invalid; sign in again."


def _session_id(claim: str) -> uuid.UUID:
    """A signed token's session id; one that is not a UUID is refused like a bad token
    (only a leaked signing key could make one, but it must not be a 500)."""
    try:
        return uuid.UUID(claim)
    except ValueError:
        raise Unauthorized(MALFORMED_CREDENTIAL, stage="auth") from None


def authenticate(platform: Platform, token: str, at: datetime) -> Principal:
    """An access token (JWT) or a personal API key → who is calling.

    Checked on a short session of its own, back in the pool before this returns, never on
    the request's: FastAPI runs each sync dependency in its own thread-pool call, and a
    request that held a connection (on a write, also SQLite's write lock) while queueing
    for a thread for its next step starved the pool: 50 concurrent submits timed out after
    30 s (bench/api.py).

    Raises:
        Unauthorized: bad, expired or revoked credentials.
    """
    with platform.sessions() as session:
        principal = authenticate_on(session, platform, token, at)
        session.commit()  # an API key's `last_used_at`
    return principal


def authenticate_on(session: Session, platform: Platform, token: str, at: datetime) -> Principal:
    """`authenticate` on the caller's session, for a caller that holds no connection while
    it waits for anything else (`signed_in_read`). An API key's `last_used_at` is left in
    the session, for the caller to commit.

    Raises:
        Unauthorized: bad, expired or revoked credentials.
    """
    if not (token.isascii() and token.isprintable()):  # ours are; a NUL broke PostgreSQL
        raise Unauthorized(MALFORMED_CREDENTIAL, stage="auth")
    if token.startswith(API_KEY_PREFIX):
        return Principal(auth.user_for_api_key(session, token, at), None)
    claims = platform.tokens.verify(token)
    live, user = auth.live_session_user(
        session, _session_id(claims.session_id), at, platform.timeouts
    )
    if str(user.id) != claims.subject:
        raise Unauthorized("this account no longer exists", stage="auth")
    return Principal(user, live.id)


Credentials = Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]


def bearer_token(credentials: HTTPAuthorizationCredentials | None) -> str:
    """The token a request was sent with.

    Raises:
        Unauthorized: it was sent without one.
    """
    if credentials is None:
        raise Unauthorized("sign in first: send `Authorization: Bearer <token>`", stage="auth")
    return credentials.credentials


def _signed_in(
    platform: Platform,
    session: Session,
    at: datetime,
    credentials: HTTPAuthorizationCredentials | None,
) -> Principal:
    principal = authenticate(platform, bearer_token(credentials), at)
    session.add(principal.user)  # attached, so routes can change it; no SQL yet
    return principal


def current_principal(
    platform: PlatformDep, session: DbSession, at: Now, credentials: Credentials
) -> Principal:
    return _signed_in(platform, session, at, credentials)


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]


async def get_limits(request: Request) -> Limits:
    limits: Limits = request.app.state.limits
    return limits


LimitsDep = Annotated[Limits, Depends(get_limits)]


def current_user(
    platform: PlatformDep, session: DbSession, at: Now, credentials: Credentials,
    limits: LimitsDep,
) -> User:  # fmt: skip
    """The caller, counted against the API rate: one thread-pool call for both (they were
    two dependencies, two hand-offs)."""
    return _counted_caller(platform, limits, session, at, credentials)


def _counted_caller(
    platform: Platform, limits: Limits, session: Session, at: datetime,
    credentials: HTTPAuthorizationCredentials | None,
) -> User:  # fmt: skip
    user = _signed_in(platform, session, at, credentials).user
    _count_call(platform, limits, user)
    return user


def _count_call(platform: Platform, limits: Limits, user: User) -> None:
    """A call against the caller's API rate; with the counters unreachable, it goes on."""
    limits.hit(platform.settings.api.rate_api, "api", str(user.id), fail_open=True)


CurrentUser = Annotated[User, Depends(current_user)]
T = TypeVar("T")


async def signed_in_read(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None,
    at: datetime,
    read: Callable[[Session, User], T],
) -> T:
    """`read(session, caller)` for a read route, all in one thread-pool call: what
    `CurrentUser` and `DbSession` do (authentication, the API rate, a request session
    committed before the response) took three (the caller, the route, the commit), and
    the hand-offs to a thread and back cost more CPU than a listing's queries."""
    platform: Platform = request.app.state.platform
    limits: Limits = request.app.state.limits

    def in_thread() -> T:
        session = platform.sessions()
        try:
            result = read(session, _read_caller(platform, limits, session, at, credentials))
        except BaseException:
            _end(session, commit=False)
            raise
        _end(session, commit=True)
        return result

    async with db_gate(request, write=False):
        return await run_in_threadpool(in_thread)


def _read_caller(
    platform: Platform, limits: Limits, session: Session, at: datetime,
    credentials: HTTPAuthorizationCredentials | None,
) -> User:  # fmt: skip
    """What `_counted_caller` does, authenticated on the read's own session: one
    transaction a read instead of two (each a pooled connection's checkout, a BEGIN and a
    COMMIT). An API key's `last_used_at` is committed at once, as `authenticate` does, so
    a read that fails after it still counts as the key's use."""
    user = authenticate_on(session, platform, bearer_token(credentials), at).user
    if session.dirty:
        session.commit()
    _count_call(platform, limits, user)
    return user


def signed_link_or_user(
    request: Request,
    platform: PlatformDep,
    at: Now,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    expires: Annotated[int | None, Query(description="From a signed link")] = None,
    sig: Annotated[str | None, Query(max_length=64, description="From a signed link")] = None,
) -> uuid.UUID | None:
    """Who fetches a file (a render's, an asset's, a template preview): None behind a link
    signed for this very path (`?expires=&sig=`, what `<video src>` and `<img src>` use
    without an Authorization header), else the signed-in user, whose access the route checks.

    Raises:
        Unauthorized: neither a valid signed link nor valid credentials.
    """
    path = request.url.path
    if expires is not None and sig is not None and platform.url_signer.verify(path, expires, sig):
        return None
    if credentials is None:
        raise Unauthorized("sign in, or use the signed link you were given", stage="auth")
    return authenticate(platform, credentials.credentials, at).user.id


SignedLinkOrUser = Annotated[uuid.UUID | None, Depends(signed_link_or_user)]
"""The caller's user id, or None behind a signed link (see `signed_link_or_user`)."""
DownloadFlag = Annotated[bool, Query(description="Save instead of showing inline")]


def uploading_user(
    platform: PlatformDep, limits: LimitsDep, at: Now, credentials: Credentials
) -> User:
    """The caller of an upload, found without a request session: an upload streams for as
    long as the client takes, and must not hold a pooled connection (nor, on SQLite, the
    write lock) meanwhile. The user is detached: read it, don't change it."""
    user = authenticate(platform, bearer_token(credentials), at).user
    _count_call(platform, limits, user)
    return user


UploadingUser = Annotated[User, Depends(uploading_user)]


def admin_user(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("this needs an administrator", stage="auth")
    return user


AdminUser = Annotated[User, Depends(admin_user)]


def unlisted_admin_user(user: CurrentUser) -> User:
    """An admin, for routes whose existence a non-admin is not told (404, as for a
    stranger's row): the product analytics."""
    if not user.is_admin:
        raise NotFound("not found", stage="auth")
    return user


UnlistedAdminUser = Annotated[User, Depends(unlisted_admin_user)]


def limit_auth(platform: PlatformDep, limits: LimitsDep, ip: ClientIp) -> None:
    """Per client IP on register, login and refresh: slows password guessing. Fails
    closed: with the counters unreachable, guessing would be unlimited."""
    limits.hit(platform.settings.api.rate_auth, "auth", ip, fail_open=False)


def limit_public(platform: PlatformDep, limits: LimitsDep, ip: ClientIp) -> None:
    """Per client IP on public links, which need no account: the API rate, so nobody
    scrapes or probes tokens faster than a signed-in user may call."""
    limits.hit(platform.settings.api.rate_api, "public", ip, fail_open=True)


def limit_submit(platform: PlatformDep, limits: LimitsDep, user: CurrentUser) -> None:
    limits.hit(platform.settings.api.rate_submit, "submit", str(user.id), fail_open=True)
