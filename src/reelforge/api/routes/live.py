"""Live events: a WebSocket (`/ws`) and Server-Sent Events (`/events`) as a fallback.

Both send the user's events in id order, starting after `after` (or `Last-Event-ID`), so
a client that reconnects with the last id it saw misses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Annotated, Any

from fastapi import (
    APIRouter,
    Depends,
    Header,
    Query,
    Request,
    WebSocket,
    WebSocketDisconnect,
    status,
)
from fastapi.responses import StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from reelforge.api import schemas
from reelforge.api.deps import (
    MAX_EVENT_ID,
    AfterEventId,
    CurrentUser,
    LimitsDep,
    PlatformDep,
    Principal,
    authenticate,
    bearer,
)
from reelforge.api.limits import Limits
from reelforge.api.live import EventHub
from reelforge.api.routes.renders import render_links
from reelforge.db.crud import events
from reelforge.db.models import Event, utcnow
from reelforge.errors import RateLimited, ReelforgeError, Unauthorized
from reelforge.logs import get_logger
from reelforge.platform.services import Platform

router = APIRouter(tags=["live"])
BATCH = 200
KEEPALIVE_S = 15.0
"""How often a live stream re-checks its credentials."""
WS_UNAUTHORIZED = 4401
WS_TRY_AGAIN = 1013
"""The stream failed on our side (e.g. the database): reconnect with `after`."""
SSE_RETRY_MS = 2000
"""The reconnection delay an SSE client is told after a failure."""
log = get_logger("reelforge.api.live")
TicketQuery = Annotated[
    str, Query(description="A one-use ticket from `POST /ws-ticket` (keeps tokens out of logs)")
]


@router.post("/ws-ticket", status_code=status.HTTP_201_CREATED)
def ws_ticket(
    user: CurrentUser,
    platform: PlatformDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
) -> schemas.TicketOut:
    """A ticket for `/ws?ticket=` or `/events?ticket=`: valid once, for a few seconds, so
    the access token itself never appears in a URL (nor in any access log)."""
    assert credentials is not None  # CurrentUser refused the request otherwise
    return schemas.TicketOut(
        ticket=platform.ws_tickets.issue(credentials.credentials),
        expires_in=platform.settings.api.ws_ticket_ttl_s,
    )


def redeem(platform: Platform, limits: Limits, ticket: str) -> str:
    """The credential a ticket stands for, once.

    Raises:
        Unauthorized: a bad, expired or already used ticket.
        StorageError: the rate-limit storage, which records used tickets, is down.
    """
    redeemed = platform.ws_tickets.open(ticket)
    try:  # the ticket lives at most a minute: a second use within the window is refused
        limits.hit("1/minute", "ws-ticket", redeemed.nonce, fail_open=False)
    except RateLimited:
        raise Unauthorized("this WebSocket ticket was already used", stage="auth") from None
    return redeemed.credential


def event_json(event: Event, platform: Platform) -> dict[str, Any]:
    data = dict(event.data)
    if event.type == "succeeded" and event.job_id is not None:
        ttl_s = platform.settings.api.download_url_ttl_s
        data["links"] = render_links(event.job_id, platform.url_signer, ttl_s).model_dump()
    return {
        "id": event.id, "type": event.type,
        "render_id": str(event.job_id) if event.job_id else None,
        "data": data, "created_at": event.created_at.isoformat(),
    }  # fmt: skip


async def _principal(platform: Platform, token: str) -> Principal:
    return await run_in_threadpool(authenticate, platform, token, utcnow())


async def _follow(
    request: HTTPConnection, principal: Principal, token: str, after: int,
    send: Callable[[Event], Awaitable[None]], keepalive: Callable[[], Awaitable[None]],
) -> None:  # fmt: skip
    """Send every event after `after`, then each new one as it is written, until cancelled."""
    hub: EventHub = request.app.state.hub
    platform: Platform = request.app.state.platform
    checked = sent = time.monotonic()
    woken = True  # the first pass sends what happened since `after`
    with hub.subscribe(principal.user.id, principal.session_id) as subscription:
        while True:
            if subscription.ended:  # the hub found the sign-in session over (logout…)
                raise Unauthorized(subscription.ended, stage="auth")
            if time.monotonic() - checked >= hub.recheck_s:
                if principal.session_id is None:  # an API key: revoked keys end it too
                    await _principal(platform, token)
                else:  # the access token expires; the hub checks its session
                    platform.tokens.verify(token)
                checked = time.monotonic()
            if woken:  # a quiet timeout means the hub saw nothing new: no query to make
                subscription.clear()
                batch = await run_in_threadpool(
                    events.after, platform.engine, principal.user.id, after, BATCH
                )
                for event in batch:
                    await send(event)
                    after = event.id
                    sent = time.monotonic()
                if len(batch) == BATCH:
                    continue
            woken = await subscription.wait(min(hub.recheck_s, KEEPALIVE_S))
            if not woken and time.monotonic() - sent >= KEEPALIVE_S:
                await keepalive()
                sent = time.monotonic()


@router.get("/events/latest")
def latest_event(user: CurrentUser, platform: PlatformDep) -> schemas.LatestEventOut:
    """My newest event id: connect with `after=` it to get only what happens from now on."""
    return schemas.LatestEventOut(id=events.latest_id_for(platform.engine, user.id))


@router.websocket("/ws")
async def websocket_events(
    websocket: WebSocket,
    token: Annotated[str, Query(description="An access token or API key")] = "",
    ticket: TicketQuery = "",
    after: AfterEventId = 0,
) -> None:
    platform: Platform = websocket.app.state.platform
    await websocket.accept()  # then close with a reason: a refused handshake loses it
    try:
        if ticket:
            token = await run_in_threadpool(redeem, platform, websocket.app.state.limits, ticket)
        principal = await _principal(platform, token)
    except ReelforgeError as exc:
        await websocket.close(code=WS_UNAUTHORIZED, reason=exc.message[:120])
        return

    async def send(event: Event) -> None:
        await websocket.send_text(json.dumps(event_json(event, platform)))

    async def ping() -> None:
        await websocket.send_text('{"type": "keepalive"}')

    follower = asyncio.create_task(_follow(websocket, principal, token, after, send, ping))
    listener = asyncio.create_task(_until_closed(websocket))
    done, pending = await asyncio.wait({follower, listener}, return_when=asyncio.FIRST_COMPLETED)
    for task in pending:
        task.cancel()
    ended = follower.exception() if follower in done else None
    if isinstance(ended, Unauthorized):  # logout, revoked key, or the token expired
        await websocket.close(code=WS_UNAUTHORIZED, reason=ended.message[:120])
    elif ended is not None:  # say so, rather than leave the client on a dead socket
        log.warning("live stream failed; the client is told to reconnect", error=repr(ended))
        await websocket.close(code=WS_TRY_AGAIN, reason="stream interrupted; reconnect with after")


async def _until_closed(websocket: WebSocket) -> None:
    """The client says nothing we need, but we must notice it leaving."""
    with contextlib.suppress(WebSocketDisconnect):
        while True:
            await websocket.receive_text()


@router.get(
    "/events",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}, "description": "Event stream"}},
    status_code=status.HTTP_200_OK,
)
async def event_stream(
    request: Request,
    token: Annotated[
        str | None, Query(description="For EventSource, which cannot send headers")
    ] = None,
    after: AfterEventId = 0,
    ticket: TicketQuery = "",
    last_event_id: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
    *,
    limits: LimitsDep,
) -> StreamingResponse:
    platform: Platform = request.app.state.platform
    presented = (authorization or "").removeprefix("Bearer ").strip()
    credential = presented or token
    if ticket and not credential:
        credential = await run_in_threadpool(redeem, platform, limits, ticket)
    if not credential:
        raise Unauthorized("sign in first: send `Authorization: Bearer <token>`", stage="auth")
    principal = await _principal(platform, credential)
    # isascii: str.isdigit() also accepts "²", which int() refuses.
    if last_event_id and last_event_id.isascii() and last_event_id.isdigit():
        after = max(after, min(int(last_event_id), MAX_EVENT_ID))
    queue: asyncio.Queue[str | None] = asyncio.Queue(maxsize=BATCH)

    async def send(event: Event) -> None:
        await queue.put(
            f"id: {event.id}\nevent: {event.type}\n"
            f"data: {json.dumps(event_json(event, platform))}\n\n"
        )

    async def comment() -> None:
        await queue.put(": keepalive\n\n")

    async def follow() -> None:
        try:
            await _follow(request, principal, credential, after, send, comment)
        except Unauthorized:
            await queue.put(None)  # signed out: end the stream
        except Exception as exc:
            # Anything else (the database restarting...): an `error` event and a retry
            # hint, then the end, so EventSource reconnects with Last-Event-ID.
            log.warning("live stream failed; the client is told to reconnect", error=repr(exc))
            detail = json.dumps({"type": "error", "detail": "stream interrupted; reconnecting"})
            await queue.put(f"retry: {SSE_RETRY_MS}\nevent: error\ndata: {detail}\n\n")
            await queue.put(None)

    async def stream() -> AsyncIterator[str]:
        follower = asyncio.create_task(follow())
        try:
            while (item := await queue.get()) is not None:
                yield item
        finally:
            follower.cancel()

    return StreamingResponse(
        stream(), media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )  # fmt: skip
