"""Render throughput by worker count (`make bench`): how renders a minute grow from 1 to 3
`reelforge worker` processes in the `make cluster` topology on this machine.

For each worker count, a fresh cluster (nginx, one API replica, N workers, SeaweedFS S3,
PostgreSQL, Redis) gets the same renders queued at once — one per user, so no per-user limit
throttles them, each narration its own so no cache serves it — and drains them. Throughput is
renders ÷ (last finish − first start) from the job rows; CPU seconds are the workers' and their
ffmpeg children's. Results: bench/results/scaling.json and `## Scaling` in RESULTS.md.

    python -m bench.scaling [--renders 12] [--workers 1 2 3]
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import tempfile
import time
from pathlib import Path

import httpx
import psutil
from sqlalchemy import create_engine, text
from tests.support.cluster import Cluster, running_cluster, sign_up, submit

from bench.load import LOAD_ENV, PROMPTS, SETTINGS
from bench.report import cpu_model, markdown_table, publish

RESULTS_JSON = Path(__file__).parent / "results" / "scaling.json"
SECTION = "## Scaling"
DRAIN_TIMEOUT_S = 900.0


def _workers_cpu_s(cluster: Cluster, workers: int) -> float:
    """CPU seconds of the worker processes and of the ffmpeg children they have waited for."""
    total = 0.0
    for index in range(1, workers + 1):
        times = psutil.Process(cluster.pid(f"worker-{index}")).cpu_times()
        total += times.user + times.system + times.children_user + times.children_system
    return total


def _set_plan(cluster: Cluster, headers: dict[str, str], plan: str) -> None:
    me = httpx.get(f"{cluster.url}/api/v1/users/me", headers=headers).json()
    engine = create_engine(cluster.database_url)
    with engine.begin() as conn:
        conn.execute(
            text("UPDATE users SET plan = :plan WHERE id = :id"), {"plan": plan, "id": me["id"]}
        )
    engine.dispose()


def _drain(cluster: Cluster, renders: int) -> list[dict[str, object]]:
    engine = create_engine(cluster.database_url)
    deadline = time.monotonic() + DRAIN_TIMEOUT_S
    try:
        while time.monotonic() < deadline:
            with engine.connect() as conn:
                rows = [
                    dict(row._mapping)
                    for row in conn.execute(
                        text("SELECT state, started_at, finished_at, result FROM render_jobs")
                    )
                ]
            if len(rows) == renders and all(r["state"] in ("succeeded", "failed") for r in rows):
                return rows
            time.sleep(0.5)
    finally:
        engine.dispose()
    raise SystemExit(f"scaling: {renders} renders not drained within {DRAIN_TIMEOUT_S:.0f} s")


def measure(workers: int, renders: int) -> dict[str, object]:
    with (
        tempfile.TemporaryDirectory(prefix="reelforge-scaling-") as tmp,
        running_cluster(Path(tmp) / "run", api=1, workers=workers, env=LOAD_ENV) as cluster,
    ):
        users = [sign_up(cluster.url) for _ in range(renders)]
        for headers in users:
            _set_plan(cluster, headers, "pro")
        cpu_before = _workers_cpu_s(cluster, workers)
        for index, headers in enumerate(users):
            prompt = f"{PROMPTS[index % len(PROMPTS)]} This is render number {index}."
            submit(cluster.url, headers, SETTINGS, prompt)
        rows = _drain(cluster, renders)
        cpu_s = _workers_cpu_s(cluster, workers) - cpu_before
    done = [r for r in rows if r["state"] == "succeeded"]
    first = min(r["started_at"] for r in rows)  # type: ignore[type-var]
    last = max(r["finished_at"] for r in rows)  # type: ignore[type-var]
    wall_s = (last - first).total_seconds()  # type: ignore[operator]
    video_s = sum(float(r["result"]["duration_s"]) for r in done)  # type: ignore[index]
    return {
        "workers": workers,
        "renders": renders,
        "succeeded": len(done),
        "wall_s": round(wall_s, 1),
        "renders_per_minute": round(len(done) / wall_s * 60, 1),
        "video_s_per_wall_s": round(video_s / wall_s, 2),
        "cpu_s_per_video_s": round(cpu_s / video_s, 2) if video_s else None,
    }


def section(runs: list[dict[str, object]], machine: dict[str, object]) -> str:
    base = float(str(runs[0]["renders_per_minute"]))
    rows = [
        [
            str(run["workers"]),
            f"{run['succeeded']}/{run['renders']}",
            f"{run['wall_s']} s",
            str(run["renders_per_minute"]),
            f"{float(str(run['renders_per_minute'])) / base:.2f}x",
            f"{run['video_s_per_wall_s']}x",
            str(run["cpu_s_per_video_s"]),
        ]
        for run in runs
    ]
    header = [
        "workers", "renders done", "wall", "renders/min", "vs first row", "video s per wall s",
        "CPU s per video s",
    ]  # fmt: skip
    return "\n".join(
        [
            SECTION,
            "",
            f"{machine['when']} on {machine['cpu']} ({machine['cores']} cores, load "
            f"{machine['load']} before): `make cluster` with one API replica and N workers; "
            f"{runs[0]['renders']} renders of 10 s at 480p (one per pro user, each narration its "
            "own) queued at once and drained. Renders a minute = renders ÷ (last finish − "
            "first start).",
            "",
            *markdown_table(header, rows),
        ]
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.scaling", description=__doc__)
    parser.add_argument("--renders", type=int, default=12)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 3])
    args = parser.parse_args(argv)
    machine: dict[str, object] = {
        "when": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "cpu": cpu_model(), "cores": os.cpu_count(), "load": f"{os.getloadavg()[0]:.2f}",
    }  # fmt: skip
    runs = [measure(workers, args.renders) for workers in args.workers]
    publish(RESULTS_JSON, SECTION, {"machine": machine, "runs": runs}, section(runs, machine))
    print(section(runs, machine))


if __name__ == "__main__":
    main()
