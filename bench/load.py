"""Load test (`make bench`): many simulated users against the `make cluster` topology.

Each user registers, signs in, creates a project, submits a short render (plans mixed: most
free, some basic and pro), follows it over a WebSocket through nginx and polls its status and
`/users/me` like an open browser tab, for a bounded time. Reported: request latency by route
(p50/p95/p99), errors (5xx separately), renders completed per minute, queue wait by plan,
Jain's fairness index of the free users' waits, CPU seconds per second of video, lost or
duplicated jobs. Results: bench/results/load.json and the `## Load` section of RESULTS.md.

    python -m bench.load [--users 200] [--seconds 240] [--workers 3]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import random
import statistics
import tempfile
import time
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psutil
from sqlalchemy import create_engine, text
from tests.support.cluster import Cluster, running_cluster
from websockets.asyncio.client import connect

from bench.report import cpu_model, mark, markdown_table, run

RESULTS_JSON = Path(__file__).parent / "results" / "load.json"
SECTION = "## Load"
SETTINGS = {
    "resolution": "480p", "target_duration_s": 10, "music": {"enabled": False},
}  # fmt: skip
PROMPTS = (
    "Rain forms when droplets in a cloud grow heavy. They fall when the air can hold them no more.",
    "Owls turn their heads far around. Their eyes are fixed in place, so the neck does the work.",
    "Salt keeps food from spoiling. It draws out the water that bacteria need to grow.",
)
PLAN_MIX = (("free", 0.75), ("basic", 0.15), ("pro", 0.10))
LOAD_ENV = {
    "REELFORGE_API__RATE_AUTH": "10000/minute",
    "REELFORGE_API__RATE_SUBMIT": "10000/minute",
    "REELFORGE_API__RATE_API": "100000/minute",
}
"""Every simulated user comes from 127.0.0.1: per-IP limits would measure the limiter."""
POLL_S = 2.0
CLIENT_TIMEOUT_S = 30.0
P99_TARGET_MS = 500.0


@dataclass
class Stats:
    latencies_ms: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    server_errors: int = 0
    timeouts: int = 0
    render_ids: list[str] = field(default_factory=list)
    followed: int = 0

    async def call(
        self, client: httpx.AsyncClient, method: str, route: str, url: str, **kwargs: object
    ) -> httpx.Response:
        started = time.perf_counter()
        try:
            response = await client.request(method, url, **kwargs)  # type: ignore[arg-type]
        except httpx.TimeoutException:
            self.timeouts += 1
            self.errors[f"{route} timeout ({CLIENT_TIMEOUT_S:.0f} s)"] += 1
            raise
        self.latencies_ms[route].append((time.perf_counter() - started) * 1000)
        if response.status_code >= 500:
            self.server_errors += 1
        if response.status_code >= 400:
            self.errors[f"{route} {response.status_code}"] += 1
        return response


def _prompt(index: int, rng: random.Random) -> str:
    """A narration of its own per user: identical prompts would be served from the cache."""
    return f"{rng.choice(PROMPTS)} This is video number {index}."


def _plan(rng: random.Random) -> str:
    roll, total = rng.random(), 0.0
    for plan, share in PLAN_MIX:
        total += share
        if roll < total:
            return plan
    return PLAN_MIX[0][0]


async def _user(
    index: int, cluster: Cluster, stats: Stats, deadline: float, plans: dict[str, str]
) -> None:
    rng = random.Random(index)
    await asyncio.sleep(rng.uniform(0, 20))  # arrivals spread over the first 20 s
    email, password = f"load-{index}-{uuid.uuid4().hex[:6]}@example.org", f"L-{uuid.uuid4().hex}!"
    async with httpx.AsyncClient(base_url=cluster.url, timeout=CLIENT_TIMEOUT_S) as client:
        body = {"email": email, "password": password}
        registered = await stats.call(
            client, "POST", "register", "/api/v1/auth/register", json=body
        )
        if registered.status_code != 201:
            return
        plans[registered.json()["id"]] = _plan(rng)
        login = await stats.call(client, "POST", "login", "/api/v1/auth/login", json=body)
        if login.status_code != 200:
            return
        token = login.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        project = await stats.call(
            client, "POST", "create project", "/api/v1/projects", headers=headers,
            json={"name": f"Load {index}", "prompt": _prompt(index, rng), "settings": SETTINGS},
        )  # fmt: skip
        if project.status_code != 201:
            return
        submitted = await stats.call(
            client, "POST", "submit", f"/api/v1/projects/{project.json()['id']}/renders",
            headers=headers,
        )  # fmt: skip
        if submitted.status_code != 202:
            return
        render_id = submitted.json()["id"]
        stats.render_ids.append(render_id)
        await asyncio.gather(
            _follow(cluster, token, deadline, stats),
            _poll(client, headers, render_id, deadline, stats),
        )


async def _follow(cluster: Cluster, token: str, deadline: float, stats: Stats) -> None:
    url = cluster.url.replace("http://", "ws://") + f"/api/v1/ws?token={token}"
    try:
        async with connect(url, open_timeout=30) as socket:
            while time.monotonic() < deadline:
                message = json.loads(
                    await asyncio.wait_for(socket.recv(), deadline - time.monotonic())
                )
                if message["type"] in ("succeeded", "failed", "canceled"):
                    stats.followed += 1
                    return
    except (TimeoutError, OSError):
        return


async def _poll(
    client: httpx.AsyncClient, headers: dict[str, str], render_id: str, deadline: float,
    stats: Stats,
) -> None:  # fmt: skip
    while time.monotonic() < deadline:
        status = await stats.call(
            client, "GET", "render status", f"/api/v1/renders/{render_id}", headers=headers
        )
        await stats.call(client, "GET", "users/me", "/api/v1/users/me", headers=headers)
        if status.status_code == 200 and status.json()["status"] in ("succeeded", "failed"):
            return
        await asyncio.sleep(POLL_S)


def _cluster_cpu_s(cluster: Cluster) -> float:
    total = 0.0
    for pid in cluster.pids():
        try:
            root = psutil.Process(pid)
            for proc in [root, *root.children(recursive=True)]:
                times = proc.cpu_times()
                total += times.user + times.system + times.children_user + times.children_system
        except psutil.NoSuchProcess:
            continue
    return total


def _set_plans(cluster: Cluster, plans: dict[str, str]) -> None:
    engine = create_engine(cluster.database_url)
    with engine.begin() as conn:
        for user_id, plan in plans.items():
            conn.execute(
                text("UPDATE users SET plan = :plan WHERE id = :id"),
                {"plan": plan, "id": uuid.UUID(user_id)},
            )
    engine.dispose()


def _jobs(cluster: Cluster) -> list[dict[str, object]]:
    engine = create_engine(cluster.database_url)
    with engine.connect() as conn:
        rows = conn.execute(
            text(
                "SELECT j.id, j.state, j.attempts, u.plan, j.enqueued_at, j.started_at, "
                "j.finished_at, j.result, (SELECT count(*) FROM events e WHERE e.job_id = j.id "
                "AND e.type = 'succeeded') AS succeeded_events FROM render_jobs j "
                "JOIN users u ON u.id = j.owner_id"
            )
        ).all()
    engine.dispose()
    return [dict(row._mapping) for row in rows]


def _pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _jain(values: list[float]) -> float | None:
    """Jain's fairness index: 1 = everyone got the same, 1/n = one got everything."""
    if not values or sum(values) == 0:
        return None
    return sum(values) ** 2 / (len(values) * sum(v * v for v in values))


async def _run(cluster: Cluster, users: int, seconds: float) -> dict[str, object]:
    stats, plans = Stats(), dict[str, str]()
    deadline = time.monotonic() + seconds
    cpu_before, started = _cluster_cpu_s(cluster), time.monotonic()
    tasks = [asyncio.create_task(_user(i, cluster, stats, deadline, plans)) for i in range(users)]
    await asyncio.sleep(25)  # everyone has registered by now: apply the plan mix
    _set_plans(cluster, plans)
    await asyncio.gather(*tasks, return_exceptions=True)
    wall_s = time.monotonic() - started
    cpu_s = _cluster_cpu_s(cluster) - cpu_before
    jobs = _jobs(cluster)
    done = [j for j in jobs if j["state"] == "succeeded"]
    video_s = sum(float(j["result"]["duration_s"]) for j in done)  # type: ignore[index]
    waits: dict[str, list[float]] = defaultdict(list)
    for job in jobs:
        if job["started_at"] is not None:
            wait = (job["started_at"] - job["enqueued_at"]).total_seconds()  # type: ignore[operator]
            waits[str(job["plan"])].append(wait)
    return {
        "users": users,
        "seconds": round(wall_s, 1),
        "requests": sum(len(v) for v in stats.latencies_ms.values()),
        "routes": {
            route: {
                "count": len(values),
                "p50_ms": round(_pct(values, 0.50), 1),
                "p95_ms": round(_pct(values, 0.95), 1),
                "p99_ms": round(_pct(values, 0.99), 1),
            }
            for route, values in sorted(stats.latencies_ms.items())
        },
        "p99_all_ms": round(_pct([v for vs in stats.latencies_ms.values() for v in vs], 0.99), 1),
        "errors": dict(stats.errors),
        "server_errors": stats.server_errors,
        "timeouts": stats.timeouts,
        "submitted": len(stats.render_ids),
        "jobs": len(jobs),
        "succeeded": len(done),
        "failed": sum(1 for j in jobs if j["state"] == "failed"),
        "unfinished": sum(1 for j in jobs if j["state"] in ("queued", "running")),
        "lost": len(set(stats.render_ids) - {str(j["id"]) for j in jobs}),
        "duplicated": sum(1 for j in done if int(str(j["succeeded_events"])) != 1),
        "renders_per_minute": round(len(done) / (wall_s / 60), 1),
        "queue_wait_s": {
            plan: {"p50": round(statistics.median(v), 1), "max": round(max(v), 1), "n": len(v)}
            for plan, v in sorted(waits.items())
        },
        "jain_free_waits": _jain([1 / (1 + w) for w in waits.get("free", [])]),
        "cpu_s_per_video_s": round(cpu_s / video_s, 2) if video_s else None,
        "followed_over_websocket": stats.followed,
    }


def section(data: dict[str, object], machine: dict[str, object]) -> str:
    routes = data["routes"]
    assert isinstance(routes, dict)
    rows = [
        [route, str(r["count"]), f"{r['p50_ms']:.0f}", f"{r['p95_ms']:.0f}", f"{r['p99_ms']:.0f}"]
        for route, r in routes.items()
    ]
    waits = data["queue_wait_s"]
    assert isinstance(waits, dict)
    wait_rows = [
        [plan, str(w["n"]), f"{w['p50']:.1f}", f"{w['max']:.1f}"] for plan, w in waits.items()
    ]
    p99 = float(str(data["p99_all_ms"]))
    clean = data["lost"] == 0 and data["duplicated"] == 0 and data["server_errors"] == 0
    lines = [
        SECTION,
        "",
        f"{machine['when']} on {machine['cpu']} ({machine['cores']} cores): `make cluster` "
        f"(nginx → 2 API replicas, {machine['workers']} workers, SeaweedFS S3, PostgreSQL, "
        f"Redis) on the same machine as {data['users']} simulated users, for "
        f"{data['seconds']} s. Each user registers, signs in, creates a project, submits a "
        "10 s 480p render, follows it over a WebSocket through nginx and polls its status and "
        "`/users/me` every 2 s. Plans: 75 % free, 15 % basic, 10 % pro.",
        "",
        *markdown_table(["route", "requests", "p50 (ms)", "p95 (ms)", "p99 (ms)"], rows),
        "",
        *markdown_table(["plan", "renders started", "wait p50 (s)", "wait max (s)"], wait_rows),
        "",
        f"- requests given up after {CLIENT_TIMEOUT_S:.0f} s: {data['timeouts']} (a user whose "
        "request timed out stops there, as a person would give up)",
        f"- renders: {data['jobs']} queued ({data['submitted']} acknowledged in time), "
        f"{data['succeeded']} succeeded, "
        f"{data['failed']} failed, {data['unfinished']} still queued or running at the end "
        f"({data['renders_per_minute']} per minute); lost {data['lost']}, duplicated "
        f"{data['duplicated']}; 5xx responses {data['server_errors']} — "
        f"**{mark(bool(clean))}** (none lost, duplicated or 5xx)",
        f"- p99 over all requests {p99:.0f} ms (target < {P99_TARGET_MS:.0f} ms): "
        f"**{mark(p99 < P99_TARGET_MS)}**",
        f"- Jain's fairness of free users' waits (as 1/(1+wait)): {data['jain_free_waits']:.3f}",
        f"- CPU seconds per second of video (all cluster processes): {data['cpu_s_per_video_s']}",
        f"- other client errors: {data['errors'] or 'none'}",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__)
    parser.add_argument("--users", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=240.0)
    parser.add_argument("--workers", type=int, default=3)
    args = parser.parse_args(argv)

    def measure() -> dict[str, object]:
        with (
            tempfile.TemporaryDirectory(prefix="reelforge-load-") as tmp,
            running_cluster(
                Path(tmp) / "run", api=2, workers=args.workers, env=LOAD_ENV
            ) as cluster,
        ):
            data = asyncio.run(_run(cluster, args.users, args.seconds))
        machine: dict[str, object] = {
            "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "cpu": cpu_model(), "cores": os.cpu_count(), "workers": args.workers,
        }  # fmt: skip
        return {"machine": machine, **data}

    def report(data: dict[str, object]) -> str:
        machine = data["machine"]
        assert isinstance(machine, dict)
        return section(data, machine)

    run(RESULTS_JSON, SECTION, measure, report)


if __name__ == "__main__":
    main()
