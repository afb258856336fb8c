"""Load for `bench.api`, sent from this process to a server in another: closed-loop
concurrency, a fixed request rate, and WebSocket event delivery.

Latencies are wall-clock milliseconds. At a fixed rate each request is timed from when it
was *due*, not from when it went out, so a stalled server cannot hide queueing delay
(coordinated omission). Event delivery is timed from the event's `created_at`, which the
server stamps inside the transaction that commits it: an upper bound on commit → client.
"""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import httpx
import websockets

REQUEST_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Call:
    """One request: method, path, JSON body and headers."""

    method: str
    path: str
    headers: dict[str, str]
    json: dict[str, Any] | None = None


@dataclass(slots=True)
class Latencies:
    """What a phase measured: per-request latencies and answers."""

    label: str
    latencies_ms: list[float] = field(default_factory=list)
    statuses: Counter[int] = field(default_factory=Counter)
    wall_s: float = 0.0
    extra: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> dict[str, Any]:
        ordered = sorted(self.latencies_ms)
        ok = sum(n for status, n in self.statuses.items() if 200 <= status < 300)
        answered = len(ordered) - self.statuses[0]  # status 0: no answer
        return {
            "label": self.label,
            "requests": len(ordered),
            "ok": ok,
            "statuses": {str(k): v for k, v in sorted(self.statuses.items())},
            "wall_s": round(self.wall_s, 2),
            "throughput_rps": round(answered / self.wall_s, 1) if self.wall_s else 0.0,
            "p50_ms": round(percentile(ordered, 50), 2),
            "p90_ms": round(percentile(ordered, 90), 2),
            "p99_ms": round(percentile(ordered, 99), 2),
            "max_ms": round(ordered[-1], 2) if ordered else 0.0,
        } | self.extra


def percentile(ordered: list[float], pct: float) -> float:
    """Nearest-rank percentile of an already sorted list (0 when empty)."""
    if not ordered:
        return 0.0
    rank = max(1, -(-len(ordered) * pct // 100))  # ceil without floats drifting
    return ordered[int(rank) - 1]


async def _send(client: httpx.AsyncClient, call: Call) -> int:
    try:
        response = await client.request(
            call.method, call.path, headers=call.headers, json=call.json
        )
    except httpx.HTTPError:
        return 0  # counted as status 0: a transport error
    return response.status_code


async def closed_loop(
    base_url: str, label: str, calls: Callable[[int], Call], *, clients: int, total: int
) -> Latencies:
    """`clients` connections, each sending its next request as soon as the last returns,
    until `total` requests are done."""
    result = Latencies(label)
    counter = iter(range(total))

    async def client_loop() -> None:
        async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S) as client:
            for i in counter:
                started = time.perf_counter()
                status = await _send(client, calls(i))
                result.latencies_ms.append((time.perf_counter() - started) * 1000)
                result.statuses[status] += 1

    started = time.perf_counter()
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    result.wall_s = time.perf_counter() - started
    return result


async def fixed_rate(
    base_url: str, label: str, calls: Callable[[int], Call], *, rate: float, duration_s: float,
    connections: int = 64,
) -> Latencies:  # fmt: skip
    """Open loop: request i is due at start + i/rate whatever the answers so far. Due
    requests queue here for one of `connections` keep-alive connections (one httpx pool
    with thousands of waiting requests costs the client more CPU than the server uses)."""
    result = Latencies(label)
    total = int(rate * duration_s)
    due_queue: asyncio.Queue[tuple[int, float] | None] = asyncio.Queue()
    late_ms: list[float] = []

    # Clients are made and connected before the clock starts: creating 64 of them (an SSL
    # context each) inside the window made this process, not the server, late by ~1 s.
    clients = [
        httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S) for _ in range(connections)
    ]
    await asyncio.gather(*(client.get("/api/v1/healthz") for client in clients))

    async def connection(client: httpx.AsyncClient) -> None:
        while (item := await due_queue.get()) is not None:
            i, due = item
            late_ms.append((time.perf_counter() - due) * 1000)
            status = await _send(client, calls(i))
            result.latencies_ms.append((time.perf_counter() - due) * 1000)
            result.statuses[status] += 1

    workers = [asyncio.create_task(connection(client)) for client in clients]
    start = time.perf_counter() + 0.2
    for i in range(total):
        due = start + i / rate
        await asyncio.sleep(max(0.0, due - time.perf_counter()))
        due_queue.put_nowait((i, due))
    for _ in workers:
        due_queue.put_nowait(None)
    await asyncio.gather(*workers)
    await asyncio.gather(*(client.aclose() for client in clients))
    result.wall_s = time.perf_counter() - start
    result.extra = fixed_rate_extra(rate, late_ms, "httpx")
    return result


def fixed_rate_extra(rate: float, late_ms: list[float], client: str) -> dict[str, Any]:
    """What a fixed-rate run reports beside its latencies: the rate asked for, how late the
    requests went out (p99), and which client sent them."""
    late_p99 = round(percentile(sorted(late_ms), 99), 2)
    return {"target_rps": rate, "send_late_p99_ms": late_p99, "client": client}


@dataclass(frozen=True, slots=True)
class WsUser:
    token: str
    project_id: str


async def event_delivery(
    base_url: str, users: list[WsUser], *, rounds: int, round_s: float
) -> Latencies:
    """Each user holds a WebSocket open while, `rounds` times, every user submits a render
    and cancels it at random moments: two events (queued, canceled) per user per round."""
    result = Latencies("WebSocket event delivery")
    ws_base = base_url.replace("http://", "ws://", 1)
    received: dict[tuple[str, str], float] = {}
    produced: set[tuple[str, str]] = set()
    created: dict[tuple[str, str], float] = {}
    ready = asyncio.Event()
    connected = 0

    async def listen(user: WsUser) -> None:
        nonlocal connected
        async with websockets.connect(f"{ws_base}/api/v1/ws?token={user.token}") as socket:
            connected += 1
            if connected == len(users):
                ready.set()
            async for raw in socket:
                now = time.time()
                event = json.loads(raw)
                if event.get("type") in ("queued", "canceled") and event.get("render_id"):
                    key = (event["render_id"], event["type"])
                    received[key] = now
                    created[key] = datetime.fromisoformat(event["created_at"]).timestamp()

    async def produce(client: httpx.AsyncClient, user: WsUser) -> None:
        headers = {"Authorization": f"Bearer {user.token}"}
        for _ in range(rounds):
            await asyncio.sleep(random.uniform(0, round_s / 2))
            submitted = await client.post(
                f"/api/v1/projects/{user.project_id}/renders", headers=headers
            )
            result.statuses[submitted.status_code] += 1
            if submitted.status_code != 202:
                continue
            render_id = submitted.json()["id"]
            produced.add((render_id, "queued"))
            await asyncio.sleep(random.uniform(0, round_s / 2))
            canceled = await client.post(f"/api/v1/renders/{render_id}/cancel", headers=headers)
            result.statuses[canceled.status_code] += 1
            if canceled.status_code == 202:
                produced.add((render_id, "canceled"))

    listeners = [asyncio.create_task(listen(user)) for user in users]
    await asyncio.wait_for(ready.wait(), 30)
    started = time.perf_counter()
    limits = httpx.Limits(max_connections=len(users))
    async with httpx.AsyncClient(base_url=base_url, timeout=REQUEST_TIMEOUT_S, limits=limits) as c:
        await asyncio.gather(*(produce(c, user) for user in users))
    deadline = time.perf_counter() + 5.0
    while not produced <= received.keys() and time.perf_counter() < deadline:
        await asyncio.sleep(0.05)
    result.wall_s = time.perf_counter() - started
    for task in listeners:
        task.cancel()
    await asyncio.gather(*listeners, return_exceptions=True)
    delivered = produced & received.keys()
    result.latencies_ms = [(received[key] - created[key]) * 1000 for key in delivered]
    result.extra = {
        "clients": len(users),
        "events_expected": len(produced),
        "events_delivered": len(delivered),
    }
    return result
