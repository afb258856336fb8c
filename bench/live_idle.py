"""What idle live streams cost: `reelforge serve` (no workers) on a fresh PostgreSQL database,
N WebSockets open and nothing happening for a while; CPU seconds of the API process (psutil)
and transactions the database ran meanwhile (`pg_stat_database` commits + rollbacks, the
measuring query's own included).

Then how long an event written by another connection takes to reach an open WebSocket
(`--events` of them, one every 0.2 s: commit → received).

Run: `python -m bench.live_idle [--sockets 100] [--idle-s 20]` (not part of `make bench`:
prints one JSON line per run, with 0 sockets and with N, then the latency).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
import websockets
from sqlalchemy import create_engine, text

PG_SERVER = os.environ.get("REELFORGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
EXECUTABLE = Path(sys.executable).with_name("reelforge")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _commits(admin_url: str, name: str) -> int:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        found = conn.scalar(
            text("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = :n"),
            {"n": name},
        )
    engine.dispose()
    return int(found or 0)


async def _idle(base: str, token: str, sockets: int, idle_s: float, server: psutil.Process,
                admin_url: str, name: str) -> dict[str, Any]:  # fmt: skip
    ws_url = base.replace("http", "ws", 1) + f"/api/v1/ws?token={token}"
    opened = [await websockets.connect(ws_url) for _ in range(sockets)]
    await asyncio.sleep(5.0)  # let the hub anchor and everything settle
    time.sleep(0.5)  # pg_stat_database is updated by backends at most every 0.5 s
    commits, cpu = _commits(admin_url, name), server.cpu_times()
    await asyncio.sleep(idle_s)
    time.sleep(0.5)
    commits_after, cpu_after = _commits(admin_url, name), server.cpu_times()
    for ws in opened:
        await ws.close()
    xacts = commits_after - commits
    cpu_s = (cpu_after.user + cpu_after.system) - (cpu.user + cpu.system)
    return {
        "sockets": sockets, "idle_s": idle_s, "api_cpu_s": round(cpu_s, 3),
        "api_cpu_share": round(cpu_s / idle_s, 4),
        "db_xacts": xacts, "db_xacts_per_s": round(xacts / idle_s, 2),
    }  # fmt: skip


async def _latency(base: str, token: str, db_url: str, count: int) -> dict[str, Any]:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        user_id = conn.scalar(text("SELECT id FROM users LIMIT 1"))
    took_ms: list[float] = []
    async with websockets.connect(
        base.replace("http", "ws", 1) + f"/api/v1/ws?token={token}"
    ) as ws:
        await asyncio.sleep(1.0)
        for _ in range(count):
            await asyncio.sleep(0.2)
            with engine.begin() as conn:
                conn.execute(
                    text(
                        "INSERT INTO events (user_id, type, data, created_at)"
                        " VALUES (:u, 'note', '{}', now())"
                    ),
                    {"u": user_id},
                )
            committed = time.perf_counter()
            while json.loads(await ws.recv())["type"] != "note":
                pass
            took_ms.append((time.perf_counter() - committed) * 1000)
    engine.dispose()
    took_ms.sort()
    return {
        "events": count, "latency_ms_p50": round(statistics.median(took_ms), 1),
        "latency_ms_max": round(took_ms[-1], 1),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sockets", type=int, default=100)
    parser.add_argument("--idle-s", type=float, default=20.0)
    parser.add_argument("--events", type=int, default=30)
    args = parser.parse_args()
    name = f"reelforge_liveidle_{uuid.uuid4().hex[:10]}"
    admin_url = f"{PG_SERVER}/postgres"
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory() as data:
        env = os.environ | {
            "REELFORGE_DATABASE_URL": f"{PG_SERVER}/{name}",
            "REELFORGE_DATA_DIR": data,
            "REELFORGE_SECRET_KEY": "bench-secret-" + "k" * 40,
        }
        server = subprocess.Popen(
            [str(EXECUTABLE), "serve", "--workers", "0", "--port", str(port)], env=env,
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            with httpx.Client(base_url=base, timeout=10) as http:
                for _ in range(300):
                    try:
                        if http.get("/healthz").status_code == 200:
                            break
                    except httpx.TransportError:
                        pass
                    time.sleep(0.1)
                email = f"idle-{uuid.uuid4().hex[:8]}@example.org"
                password = "correct horse battery"
                http.post("/api/v1/auth/register", json={"email": email, "password": password})
                login = http.post("/api/v1/auth/login", json={"email": email, "password": password})
                token = login.json()["access_token"]
            process = psutil.Process(server.pid)
            for sockets in (0, args.sockets):
                result = asyncio.run(
                    _idle(base, token, sockets, args.idle_s, process, admin_url, name)
                )
                print(json.dumps(result), flush=True)
            latency = asyncio.run(_latency(base, token, f"{PG_SERVER}/{name}", args.events))
            print(json.dumps(latency), flush=True)
        finally:
            server.terminate()
            server.wait(30)
            with admin.connect() as conn:
                conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
            admin.dispose()


if __name__ == "__main__":
    main()
