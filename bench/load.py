"""Load test (`make bench`): many simulated users against the `make cluster` topology.

Each user registers, signs in, creates a project, submits a short render (plans mixed: most
free, some basic and pro) and follows it as the web app's render page does (live events over
a WebSocket through nginx, the render re-read on each), or as a script polling the API would,
then downloads the video, for a bounded time. Reported: request latency by route
(p50/p95/p99), errors (5xx separately), renders completed per minute, queue wait by plan,
Jain's fairness index of the free users' waits, CPU seconds per second of video, lost or
duplicated jobs. Results: bench/results/load.json and the `## Load` section of RESULTS.md.

    python -m bench.load [--users 200] [--seconds 240] [--workers 3] [--ramp 60]
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
from sqlalchemy import Engine, create_engine, text
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
API_SHARE = 0.1
"""The share of users who script the public API (status polled every `POLL_S`) instead of
following their render in the web app (live events over a WebSocket)."""
FINISHED = ("succeeded", "failed", "canceled")
RAMP_S = 60.0
"""Arrivals are spread over the first minute (about 3 sign-ups a second for 200 users)."""
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
    downloaded: int = 0

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
    index: int, cluster: Cluster, stats: Stats, run: Run, plans: dict[str, str]
) -> None:
    """One person, doing what the web app's pages do (or, for `API_SHARE` of them, what a
    script on the public API does): no request the product's own clients would not send."""
    rng = random.Random(index)
    await asyncio.sleep(rng.uniform(0, run.ramp_s))  # arrivals spread over the ramp
    email, password = f"load-{index}-{uuid.uuid4().hex[:6]}@example.org", f"L-{uuid.uuid4().hex}!"
    async with httpx.AsyncClient(base_url=cluster.url, timeout=CLIENT_TIMEOUT_S) as client:
        body = {"email": email, "password": password}
        registered = await stats.call(
            client, "POST", "register", "/api/v1/auth/register", json=body
        )
        if registered.status_code != 201:
            return
        user_id, plan = registered.json()["id"], _plan(rng)
        await asyncio.to_thread(_set_plan, run.database, user_id, plan)
        plans[user_id] = plan
        login = await stats.call(client, "POST", "login", "/api/v1/auth/login", json=body)
        if login.status_code != 200:
            return
        token = login.json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        await stats.call(client, "GET", "users/me", "/api/v1/users/me", headers=headers)
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
        tab = Tab(client, headers, render_id, stats)
        if rng.random() < API_SHARE:
            finished = await tab.poll(run.deadline)
        else:
            await tab.status()  # the render page: the render, then its project
            await stats.call(
                client, "GET", "project", f"/api/v1/projects/{project.json()['id']}",
                headers=headers,
            )  # fmt: skip
            finished = await tab.follow(cluster, token, run.deadline)
        if finished == "succeeded":
            await tab.download()


@dataclass(frozen=True, slots=True)
class Run:
    deadline: float
    ramp_s: float
    database: Engine


@dataclass(frozen=True, slots=True)
class Tab:
    """One user's view of their render."""

    client: httpx.AsyncClient
    headers: dict[str, str]
    render_id: str
    stats: Stats

    async def status(self) -> str | None:
        response = await self.stats.call(
            self.client, "GET", "render status", f"/api/v1/renders/{self.render_id}",
            headers=self.headers,
        )  # fmt: skip
        return str(response.json()["status"]) if response.status_code == 200 else None

    async def follow(self, cluster: Cluster, token: str, deadline: float) -> str | None:
        """The render page: live events over the WebSocket, the render re-read on each."""
        url = cluster.url.replace("http://", "ws://") + f"/api/v1/ws?token={token}"
        try:
            async with connect(url, open_timeout=CLIENT_TIMEOUT_S) as socket:
                while time.monotonic() < deadline:
                    message = json.loads(
                        await asyncio.wait_for(socket.recv(), deadline - time.monotonic())
                    )
                    if message.get("render_id") != self.render_id:
                        continue
                    status = await self.status()
                    if message["type"] in FINISHED:
                        self.stats.followed += 1
                        return status
        except (TimeoutError, OSError):
            return None
        return None

    async def poll(self, deadline: float) -> str | None:
        """A script on the public API: the render's status every `POLL_S` until it ends."""
        while time.monotonic() < deadline:
            status = await self.status()
            if status in FINISHED:
                return status
            await asyncio.sleep(POLL_S)
        return None

    async def download(self) -> None:
        """The video, as the Download button fetches it: a redirect to the object store."""
        response = await self.stats.call(
            self.client, "GET", "download", f"/api/v1/renders/{self.render_id}/video",
            headers=self.headers, params={"download": "true"},
        )  # fmt: skip
        if response.is_redirect:
            response = await self.client.get(response.headers["location"])
        if response.status_code == 200 and response.content[4:8] == b"ftyp":
            self.stats.downloaded += 1


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


def _set_plan(engine: Engine, user_id: str, plan: str) -> None:
    """What billing would do once a person has chosen a plan (before their first render)."""
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE users SET plan = :plan WHERE id = :id"),
            {"plan": plan, "id": uuid.UUID(user_id)},
        )


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


async def _run(cluster: Cluster, users: int, seconds: float, ramp_s: float) -> dict[str, object]:
    stats, plans = Stats(), dict[str, str]()
    run = Run(time.monotonic() + seconds, ramp_s, create_engine(cluster.database_url))
    cpu_before, started = _cluster_cpu_s(cluster), time.monotonic()
    tasks = [asyncio.create_task(_user(i, cluster, stats, run, plans)) for i in range(users)]
    await asyncio.gather(*tasks, return_exceptions=True)
    run.database.dispose()
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
        "downloaded": stats.downloaded,
        "ramp_s": ramp_s,
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
        f"{data['seconds']} s, arriving over the first {data['ramp_s']:.0f} s. Each user "
        "registers, signs in, creates a project and submits a 10 s 480p render, then does what "
        "the web app's render page does: follows it over a WebSocket through nginx, reads the "
        f"render again on each of its events, and downloads the video when it is done; "
        f"{API_SHARE:.0%} of them instead script the API, polling the render every "
        f"{POLL_S:.0f} s. Plans: 75 % free, 15 % basic, 10 % pro. Workers run at nice 10, "
        "their session's scheduling group included.",
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
        f"{data['duplicated']}; {data['downloaded']} videos downloaded; 5xx responses "
        f"{data['server_errors']} — "
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
    parser.add_argument(
        "--ramp", type=float, default=RAMP_S, help="seconds over which users arrive"
    )
    args = parser.parse_args(argv)

    def measure() -> dict[str, object]:
        with (
            tempfile.TemporaryDirectory(prefix="reelforge-load-") as tmp,
            running_cluster(
                Path(tmp) / "run", api=2, workers=args.workers, env=LOAD_ENV
            ) as cluster,
        ):
            data = asyncio.run(_run(cluster, args.users, args.seconds, args.ramp))
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
