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

from fastapi import APIRouter, Header, Query, Request, WebSocket, WebSocketDisconnect, status
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool
from starlette.requests import HTTPConnection

from reelforge.api import schemas
from reelforge.api.deps import (
    MAX_EVENT_ID,
    AfterEventId,
    CurrentUser,
    PlatformDep,
    Principal,
    authenticate,
)
from reelforge.api.live import EventHub
from reelforge.api.routes.renders import render_links
from reelforge.db.crud import events
from reelforge.db.models import Event, utcnow
from reelforge.errors import ReelforgeError, Unauthorized
from reelforge.platform.services import Platform

router = APIRouter(tags=["live"])
BATCH = 200
KEEPALIVE_S = 15.0
RECHECK_S = 5.0
"""How often a live stream re-checks its credentials."""
WS_UNAUTHORIZED = 4401


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
    with hub.subscribe(principal.user.id) as subscription:
        while True:
            if time.monotonic() - checked >= RECHECK_S:  # logout or a revoked key ends it
                await _principal(platform, token)
                checked = time.monotonic()
            subscription.clear()
            batch = await run_in_threadpool(
                events.after, platform.engine, principal.user.id, after, BATCH
            )
            for event in batch:
                await send(event)
                after = event.id
                sent = time.monotonic()
            if len(batch) == BATCH or await subscription.wait(min(RECHECK_S, KEEPALIVE_S)):
                continue
            if time.monotonic() - sent >= KEEPALIVE_S:
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
    after: AfterEventId = 0,
) -> None:
    platform: Platform = websocket.app.state.platform
    await websocket.accept()  # then close with a reason: a refused handshake loses it
    try:
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
    last_event_id: Annotated[str | None, Header()] = None,
    authorization: Annotated[str | None, Header()] = None,
) -> StreamingResponse:
    platform: Platform = request.app.state.platform
    bearer = (authorization or "").removeprefix("Bearer ").strip()
    credential = bearer or token
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
