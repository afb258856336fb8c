"""API benchmark (`make bench`): `reelforge serve --processes N`, load from this process.

For each backend (SQLite in a fresh data folder; PostgreSQL in a database made for the
run plus Redis for rate limits, when both answer on 127.0.0.1) it starts the server with
no render workers, seeds users and projects through the API, then measures
`GET /api/v1/projects` and `POST /api/v1/projects/{id}/renders` with 50 concurrent
clients, reads at a fixed `READ_RATE` req/s (sent by `wrk` when it is installed:
bench/api_wrk.py), and WebSocket event delivery. One API process
by default: the target is what one process serves (`--processes N` for more). Rate limits are raised
through `REELFORGE_API__*`; seeded users are put on the enterprise plan in the database
(200 waiting renders each), so plan limits don't stop the submits.

Results go to bench/results/api.json and the "## API" section of bench/RESULTS.md.
Takes about 5 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psutil
from sqlalchemy import create_engine, update

from bench import api_load, api_wrk, pg
from bench.api_load import Call, Latencies, WsUser
from bench.api_report import render_section, results_json, write_results
from bench.measure import own_cpu_s, system_busy_s
from reelforge.db.models import User
from reelforge.model.plans import Plan

REDIS_URL = os.environ.get("REELFORGE_BENCH_REDIS", "redis://127.0.0.1:6379/14")
PASSWORD = "bench password 1234"
CLIENTS = 50
USERS = 50
PROJECTS_PER_USER = 25
WS_USERS = 20
READ_RATE = 300.0
"""The fixed read rate, the target's: one API process serves it with p99 < 50 ms."""
UNLIMITED = "1000000/minute"
START_TIMEOUT_S = 60.0


def say(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True, slots=True)
class Server:
    base_url: str
    process: psutil.Process
    db_url: str


@contextlib.contextmanager
def serve(
    work: Path, db_url: str | None, redis_url: str | None, processes: int
) -> Iterator[Server]:
    """`reelforge serve --workers 0 --processes N` on a free loopback port, until the block
    ends."""
    port = free_port()
    env = os.environ | {
        "REELFORGE_DATA_DIR": str(work / "data"),
        "REELFORGE_CACHE_DIR": str(work / "cache"),
        "REELFORGE_SECRET_KEY": "bench-secret-" + "k" * 40,
        "REELFORGE_API__RATE_API": UNLIMITED,
        "REELFORGE_API__RATE_SUBMIT": UNLIMITED,
        "REELFORGE_API__RATE_AUTH": UNLIMITED,
        "REELFORGE_LOG_LEVEL": "WARNING",
    }
    for name, value in (("REELFORGE_DATABASE_URL", db_url), ("REELFORGE_REDIS_URL", redis_url)):
        env.pop(name, None)
        if value:
            env[name] = value
    reelforge = Path(sys.executable).with_name("reelforge")
    argv = [
        str(reelforge), "serve", "--port", str(port), "--workers", "0",
        "--processes", str(processes),
    ]  # fmt: skip
    log = (work / "server.log").open("wb")
    child = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)
    base_url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if child.poll() is not None:
                raise RuntimeError(f"server exited: {(work / 'server.log').read_text()[-2000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{base_url}/api/v1/readyz", timeout=1).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("server did not become ready")
            time.sleep(0.2)
        yield Server(
            base_url, psutil.Process(child.pid), db_url or f"sqlite:///{work}/data/reelforge.db"
        )
    except BaseException:
        kept = Path(tempfile.gettempdir()) / f"reelforge-bench-api-{port}.log"
        kept.write_bytes((work / "server.log").read_bytes())
        say(f"the server failed: its log is in {kept}")
        raise
    finally:
        child.terminate()
        try:
            child.wait(10)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
        log.close()


@dataclass(frozen=True, slots=True)
class Seeded:
    headers: list[dict[str, str]]
    projects: list[list[str]]
    ws_users: list[WsUser]


async def _sign_up(client: httpx.AsyncClient, email: str) -> str:
    body = {"email": email, "password": PASSWORD}
    created = await client.post("/api/v1/auth/register", json=body)
    created.raise_for_status()
    login = await client.post("/api/v1/auth/login", json=body)
    login.raise_for_status()
    token: str = login.json()["access_token"]
    return token


async def seed(server: Server) -> Seeded:
    """Users and projects through the API; the enterprise plan straight in the database."""
    tag = uuid.uuid4().hex[:6]
    prompt = "Tides rise twice a day. The moon pulls the oceans. Sailors read the tables."
    limits = httpx.Limits(max_connections=8)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as client:
        emails = [f"bench-{tag}-{i}@example.org" for i in range(USERS + WS_USERS)]
        tokens = await asyncio.gather(*(_sign_up(client, email) for email in emails))
        headers = [{"Authorization": f"Bearer {token}"} for token in tokens]

        async def new_project(auth: dict[str, str], n: int) -> str:
            body = {"name": f"Project {n}", "prompt": prompt, "settings": {"target_duration_s": 30}}
            made = await client.post("/api/v1/projects", json=body, headers=auth)
            made.raise_for_status()
            project_id: str = made.json()["id"]
            return project_id

        projects = [
            list(await asyncio.gather(*(new_project(auth, n) for n in range(PROJECTS_PER_USER))))
            for auth in headers[:USERS]
        ]
        ws_projects = await asyncio.gather(*(new_project(auth, 0) for auth in headers[USERS:]))
    engine = create_engine(server.db_url)
    with engine.begin() as conn:
        conn.execute(update(User).where(User.email.in_(emails)).values(plan=Plan.ENTERPRISE))
    engine.dispose()
    ws_users = [WsUser(t, p) for t, p in zip(tokens[USERS:], ws_projects, strict=True)]
    return Seeded(headers[:USERS], projects, ws_users)


class CpuMeter:
    """CPU seconds of the server, of this process, and of everything else, over a phase."""

    def __init__(self, server: psutil.Process) -> None:
        self.server = server
        self.server_s = self.client_s = self.other_share = 0.0

    def __enter__(self) -> CpuMeter:
        self._start = (self._server_cpu(), own_cpu_s(), system_busy_s(), time.perf_counter())
        return self

    def _server_cpu(self) -> float:
        """The server and its API processes (uvicorn's children under `--processes`)."""
        total = 0.0
        for process in (self.server, *self.server.children(recursive=True)):
            with contextlib.suppress(psutil.Error):
                times = process.cpu_times()
                total += times.user + times.system
        return total

    def __exit__(self, *exc: object) -> None:
        server0, own0, busy0, wall0 = self._start
        wall = time.perf_counter() - wall0
        self.server_s = self._server_cpu() - server0
        self.client_s = own_cpu_s() - own0
        other = system_busy_s() - busy0 - self.server_s - self.client_s
        self.other_share = max(0.0, other) / (wall * len(os.sched_getaffinity(0)))


async def measure(server: Server, seeded: Seeded, *, quick: bool) -> list[dict[str, Any]]:
    scale = 0.25 if quick else 1.0
    users = len(seeded.headers)

    def read(i: int) -> Call:
        return Call("GET", "/api/v1/projects", seeded.headers[i % users])

    def submit(i: int) -> Call:
        user = i % users
        project = seeded.projects[user][(i // users) % PROJECTS_PER_USER]
        return Call("POST", f"/api/v1/projects/{project}/renders", seeded.headers[user])

    phases = [
        ("reads", lambda: api_load.closed_loop(
            server.base_url, "GET /projects, 50 clients", read, clients=CLIENTS,
            total=int(4000 * scale)), int(4000 * scale)),
        ("submits", lambda: api_load.closed_loop(
            server.base_url, "POST /projects/{id}/renders, 50 clients", submit, clients=CLIENTS,
            total=int(2000 * scale)), int(2000 * scale)),
        ("fixed_rate", lambda: fixed_rate_reads(server, seeded, duration_s=20 * scale),
            int(READ_RATE * 20 * scale)),
        ("websocket", lambda: api_load.event_delivery(
            server.base_url, seeded.ws_users, rounds=max(2, int(10 * scale)), round_s=1.0), 0),
    ]  # fmt: skip
    results = []
    await api_load.closed_loop(server.base_url, "warm-up", read, clients=CLIENTS, total=200)
    for key, run, _ in phases:
        with CpuMeter(server.process) as cpu:
            measured = await run()
        summary = measured.summary() | {"key": key}
        # Per answered request: unanswered ones (status 0) cost the server little or nothing.
        requests = max(summary["requests"] - summary["statuses"].get("0", 0), 1)
        summary["server_cpu_ms_per_request"] = round(1000 * cpu.server_s / requests, 2)
        summary["client_cpu_s"] = round(cpu.client_s, 2)
        summary["server_cpu_s"] = round(cpu.server_s, 2)
        summary["other_cpu_share"] = round(cpu.other_share, 3)
        say(f"  {summary['label']}: {json.dumps(summary)}")
        results.append(summary)
    return results


async def fixed_rate_reads(server: Server, seeded: Seeded, *, duration_s: float) -> Latencies:
    """`READ_RATE` reads a second, sent by wrk when it is installed (its CPU per request is a
    fraction of httpx's, which competed with the server for the same cores), else by httpx."""
    label = f"GET /projects at {READ_RATE:g} req/s"
    path = "/api/v1/projects"
    if api_wrk.available():
        authorizations = [headers["Authorization"] for headers in seeded.headers]
        return await asyncio.to_thread(
            api_wrk.fixed_rate, server.base_url, label, path, authorizations, rate=READ_RATE,
            duration_s=duration_s,
        )  # fmt: skip
    say("wrk is not installed (Debian: apt-get install wrk): httpx sends the fixed-rate reads")
    users = len(seeded.headers)
    return await api_load.fixed_rate(
        server.base_url, label, lambda i: Call("GET", path, seeded.headers[i % users]),
        rate=READ_RATE, duration_s=duration_s,
    )  # fmt: skip


def redis_available() -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(REDIS_URL, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def run_backend(
    label: str, db_url: str | None, redis_url: str | None, quick: bool, processes: int
) -> list[dict[str, Any]]:
    with (
        tempfile.TemporaryDirectory(prefix="reelforge-bench-api-") as tmp,
        serve(Path(tmp), db_url, redis_url, processes) as server,
    ):
        say(f"{label}: serving at {server.base_url}; seeding")
        seeded = asyncio.run(seed(server))
        return asyncio.run(measure(server, seeded, quick=quick))


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.api", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a quarter of the load (smoke)")
    parser.add_argument("--sqlite-only", action="store_true", help="skip PostgreSQL")
    parser.add_argument("--no-write", action="store_true", help="don't touch RESULTS.md/json")
    parser.add_argument(
        "--processes", type=int, default=1,
        help="API processes (default: one, the target's; deployments run one per CPU)",
    )  # fmt: skip
    parser.add_argument(
        "--baseline", type=Path,
        help="a JSON this bench printed with --no-write, e.g. of the code before a change, "
        "run just before: its server CPU per request is shown beside this run's",
    )  # fmt: skip
    parser.add_argument(
        "--baseline-label", default="the baseline", help="what the baseline ran (its commit)"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    baseline = json.loads(args.baseline.read_text()) if args.baseline else None  # fail early
    backends = [
        {
            "name": "SQLite",
            "phases": run_backend("SQLite", None, None, args.quick, args.processes),
        },
    ]
    if not args.sqlite_only and not pg.server_available():
        say("PostgreSQL unavailable; skipping it")
    elif not args.sqlite_only:
        with pg.fresh_database("reelforge_bench_api") as pg_url:
            redis_url = REDIS_URL if redis_available() else None
            name = "PostgreSQL + Redis" if redis_url else "PostgreSQL (memory rate limits)"
            phases = run_backend(name, pg_url, redis_url, args.quick, args.processes)
            backends.append({"name": name, "phases": phases})
    payload = results_json(backends, quick=args.quick)
    payload["processes"] = args.processes
    if baseline is not None:
        payload["baseline"] = {
            "label": args.baseline_label, "run_at": baseline["run_at"],
            "backends": baseline["backends"],
        }  # fmt: skip
    if args.no_write:
        print(json.dumps(payload, indent=2))
    else:
        write_results(payload)
        print(render_section(payload))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
