"""The "## API" section of bench/RESULTS.md and bench/results/api.json for `bench.api`."""

from __future__ import annotations

import os
import platform
import time
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil

from bench.report import cpu_model, mark, markdown_table, publish

SECTION = "## API"
RESULTS_JSON = Path(__file__).resolve().parent / "results" / "api.json"
FIXED_RATE_P99_TARGET_MS = 50.0
WS_P99_TARGET_MS = 250.0
NOISY_SHARE = 0.15
"""Other processes' CPU share above which a figure is marked noisy."""


def machine() -> dict[str, Any]:
    return {
        "cpus": len(os.sched_getaffinity(0)),
        "cpu_model": cpu_model(),
        "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "uvicorn": version("uvicorn"),
        "fastapi": version("fastapi"),
    }


def results_json(backends: list[dict[str, Any]], *, quick: bool) -> dict[str, Any]:
    return {
        "run_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        "quick": quick,
        "machine": machine(),
        "backends": backends,
    }


def _target(phase: dict[str, Any]) -> str:
    noisy = phase["other_cpu_share"] > NOISY_SHARE
    if phase["key"] == "fixed_rate":
        met = phase["p99_ms"] < FIXED_RATE_P99_TARGET_MS and phase["ok"] == phase["requests"]
        return f"p99 < {FIXED_RATE_P99_TARGET_MS:g} ms: {mark(met, noisy)}"
    if phase["key"] == "websocket":
        complete = phase["events_delivered"] == phase["events_expected"]
        met = phase["p99_ms"] < WS_P99_TARGET_MS and complete
        return f"p99 < {WS_P99_TARGET_MS:g} ms, none lost: {mark(met, noisy)}"
    return "—"


def _errors(phase: dict[str, Any]) -> str:
    bad = {k: v for k, v in phase["statuses"].items() if not k.startswith("2")}
    return ", ".join(f"{v}×{k}" for k, v in bad.items()) or "none"


def _rate(phase: dict[str, Any]) -> str:
    if phase["key"] == "websocket":
        delivered = f"{phase['events_delivered']}/{phase['events_expected']}"
        return f"{delivered} events, {phase['clients']} sockets"
    return f"{phase['throughput_rps']:.0f} req/s"


def _fixed_rate_client(payload: dict[str, Any]) -> str:
    clients = {
        phase.get("client", "httpx")
        for backend in payload["backends"]
        for phase in backend["phases"]
        if phase["key"] == "fixed_rate"
    }
    if clients == {"wrk"}:
        return (
            "The fixed-rate reads are sent by `wrk` (C, paced by a Lua script, each "
            "request timed from when it was due), which costs a fraction of httpx's CPU."
        )
    return (
        "The fixed-rate reads are sent by httpx too (`wrk` was not installed), whose CPU "
        "per request is about the server's."
    )


def render_section(payload: dict[str, Any]) -> str:
    facts = payload["machine"]
    lines = [
        SECTION,
        "",
        f"Run {payload['run_at']} on {facts['cpus']} CPUs ({facts['cpu_model']}), "
        f"{facts['ram_gib']} GiB RAM; Python {facts['python']}, uvicorn {facts['uvicorn']}, "
        f"FastAPI {facts['fastapi']}. Reproduce with `make bench` (`python -m bench.api`)."
        + (" **Quick run (a quarter of the load).**" if payload["quick"] else ""),
        "",
        f"`reelforge serve --workers 0 --processes {payload.get('processes', 1)}` (the "
        "target is one API process) runs apart from this process, which is the client "
        "(httpx, asyncio) over loopback, on the same 2 cores, so the client's CPU is "
        f"counted against the server's throughput. {_fixed_rate_client(payload)} "
        "50 users with 25 projects each (a page is "
        "20) on the enterprise plan; rate limits raised via `REELFORGE_API__RATE_*`. "
        "Submits stay queued (no workers). Event latency is from the event's `created_at` "
        "(stamped in the committing transaction) to the client's receipt. On PostgreSQL, "
        '"other CPU" includes the PostgreSQL and Redis servers themselves.',
        "",
    ]
    header = [
        "backend", "measurement", "requests", "throughput", "p50", "p99", "max",
        "server CPU / req", "non-2xx", "other CPU", "target",
    ]  # fmt: skip
    rows = []
    for backend in payload["backends"]:
        for phase in backend["phases"]:
            rows.append(
                [
                    backend["name"],
                    phase["label"],
                    str(phase["requests"]),
                    _rate(phase),
                    f"{phase['p50_ms']:.1f} ms",
                    f"{phase['p99_ms']:.1f} ms",
                    f"{phase['max_ms']:.1f} ms",
                    f"{phase['server_cpu_ms_per_request']:.2f} ms"
                    if phase["key"] != "websocket"
                    else "—",
                    _errors(phase),
                    f"{100 * phase['other_cpu_share']:.0f} %",
                    _target(phase),
                ]
            )
    lines += markdown_table(header, rows)
    baseline = payload.get("baseline")
    if baseline is not None:
        lines += ["", *_comparison(baseline, payload)]
    return "\n".join(lines) + "\n"


CHANGES = (
    "What made an authenticated read cheaper (issue #21 point 4): the project listing used "
    "no index (an OR across an outer join, with no index on `projects.owner_id`), so each "
    "page and its count scanned every user's projects; it now unions two index lookups "
    "(migration 0012), builds its statements once per sort (their construction and "
    "SQLAlchemy cache keys cost more CPU than running them), and counts only when the page "
    "does not show the end of the list. SQLite's BEGIN goes straight to the driver. "
    "Auth, session revocation on the very next request, rate limits, headers, request ids "
    "and metrics are unchanged. On a machine this busy the gain (in-process, serial: "
    "about 9-12 → 8.8 ms of CPU per read) is within the noise of the paired runs; the "
    "rest of a read's CPU is the framework (about 1.5 ms), authentication on its own "
    "session (about 1 ms), the ORM and four thread-pool hand-offs."
)


def _comparison(baseline: dict[str, Any], payload: dict[str, Any]) -> list[str]:
    """Server CPU per request of a baseline run (`--baseline`, measured just before, on
    the same machine) beside this run's: steadier than wall time on a shared machine."""
    before = {
        (backend["name"], phase["key"]): phase
        for backend in baseline["backends"]
        for phase in backend["phases"]
    }
    rows = []
    for backend in payload["backends"]:
        for phase in backend["phases"]:
            old = before.get((backend["name"], phase["key"]))
            if old is None or phase["key"] == "websocket":
                continue
            rows.append([
                backend["name"], phase["label"],
                f"{old['server_cpu_ms_per_request']:.2f} ms",
                f"{phase['server_cpu_ms_per_request']:.2f} ms",
                f"{old['throughput_rps']:.0f} → {phase['throughput_rps']:.0f} req/s",
                f"{old['p99_ms']:.1f} → {phase['p99_ms']:.1f} ms",
                f"{100 * old['other_cpu_share']:.0f} % / {100 * phase['other_cpu_share']:.0f} %",
            ])  # fmt: skip
    header = [
        "backend", "measurement", "server CPU / req before", "after", "throughput", "p99",
        "other CPU before / after",
    ]  # fmt: skip
    return [
        f"Before and after, paired: {baseline['label']} (run {baseline['run_at']}), then "
        "this run, back to back.",
        "",
        *markdown_table(header, rows),
        "",
        CHANGES,
    ]


def write_results(payload: dict[str, Any]) -> None:
    publish(RESULTS_JSON, SECTION, payload, render_section(payload))
