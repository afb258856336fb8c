"""The web app's weight and speed on loopback: the JS+CSS it ships (gzipped) and each
page's DOMContentLoaded in Debian's Chromium (median of 5 loads after a warm-up), with a
real account, project and render behind them. Targets: heaviest page DOMContentLoaded
< 300 ms; JS+CSS < 150 KB gzipped.

Run: `python -m bench.web` (part of `make bench`); writes bench/results/web.json and the
`## Web app` section of bench/RESULTS.md.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
from tests.support.server import start_serve

from bench.report import cpu_model, mark, markdown_table, run

RESULTS_JSON = Path(__file__).parent / "results" / "web.json"
DIST = Path(__file__).parents[1] / "src" / "reelforge" / "web" / "dist"
SECTION = "## Web app"
RUNS = 5
DCL_TARGET_MS = 300.0
SIZE_TARGET_KB = 150.0
PASSWORD = "correct horse battery"


def shipped_kb() -> dict[str, float]:
    """Gzipped KB of every JS and CSS file the app loads."""
    sizes = {}
    for path in sorted((DIST / "assets").iterdir()):
        if path.suffix in (".js", ".css"):
            sizes[path.name] = len(gzip.compress(path.read_bytes(), 9)) / 1024
    return sizes


def _arrange(base: str) -> dict[str, str]:
    """An account with a rendered project: the pages to load, by name."""
    http = httpx.Client(base_url=f"{base}/api/v1", timeout=60)
    email = "bench@example.org"
    http.post("/auth/register", json={"email": email, "password": PASSWORD})
    token = http.post("/auth/login", json={"email": email, "password": PASSWORD}).json()
    http.headers["Authorization"] = f"Bearer {token['access_token']}"
    project = http.post("/projects", json={
        "name": "Bench", "prompt": "Bees make honey. They fan it dry. Winter comes.",
        "settings": {"resolution": "480p", "target_duration_s": 10},
    }).json()  # fmt: skip
    render = http.post(f"/projects/{project['id']}/renders").json()
    while http.get(f"/renders/{render['id']}").json()["status"] in ("queued", "running"):
        time.sleep(0.3)
    return {
        "dashboard /": "/", "create /new": "/new",
        "render view /renders/{id}": f"/renders/{render['id']}",
        "editor /projects/{id}": f"/projects/{project['id']}", "sign-in /signin": "/signin",
    }  # fmt: skip


def measure() -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        server = start_serve(Path(tmp))
        base = server.base
        try:
            pages = _arrange(base)
            loads: dict[str, list[float]] = {}
            with sync_playwright() as playwright:
                chromium = shutil.which("chromium")
                args = ["--no-sandbox"] if os.geteuid() == 0 else []
                browser = playwright.chromium.launch(executable_path=chromium, args=args)
                page = browser.new_page()
                page.goto(f"{base}/signin")
                page.get_by_label("Email").fill("bench@example.org")
                page.get_by_label("Password").fill(PASSWORD)
                page.get_by_role("button", name="Sign in").click()
                page.get_by_role("heading", name="Your projects").wait_for()
                for name, path in pages.items():
                    if path == "/signin":  # signed out: a fresh context
                        page = browser.new_page()
                    page.goto(base + path)  # warm-up
                    runs = []
                    for _ in range(RUNS):
                        page.goto(base + path, wait_until="load")
                        runs.append(page.evaluate(
                            "performance.getEntriesByType('navigation')[0].domContentLoadedEventEnd"
                        ))  # fmt: skip
                    loads[name] = runs
                browser.close()
        finally:
            server.stop()
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(), "cores": os.cpu_count(), "load_1m": os.getloadavg()[0],
        "shipped_kb": shipped_kb(), "dcl_ms": loads,
    }  # fmt: skip


def section(data: dict[str, Any]) -> str:
    rows = [
        [f"`{name}`", f"{statistics.median(runs):.0f}", f"{min(runs):.0f}", f"{max(runs):.0f}"]
        for name, runs in data["dcl_ms"].items()
    ]
    heaviest = max(data["dcl_ms"].items(), key=lambda item: statistics.median(item[1]))
    heaviest_ms = statistics.median(heaviest[1])
    total_kb = sum(data["shipped_kb"].values())
    files = ", ".join(f"{name} {kb:.1f} KB" for name, kb in data["shipped_kb"].items())
    return "\n".join([
        SECTION,
        "",
        f"{data['when']} on {data['cpu']} ({data['cores']} cores, load {data['load_1m']:.2f}); "
        f"Debian's Chromium, headless, over loopback against `reelforge serve`, signed in, "
        f"{RUNS} loads per page after a warm-up (the browser cache warm, as on a return visit).",
        "",
        *markdown_table(["page", "DOMContentLoaded median (ms)", "best", "worst"], rows),
        "",
        f"- Heaviest page DOMContentLoaded < {DCL_TARGET_MS:.0f} ms: "
        f"**{mark(heaviest_ms < DCL_TARGET_MS)}** ({heaviest[0]}: {heaviest_ms:.0f} ms).",
        f"- JS+CSS shipped < {SIZE_TARGET_KB:.0f} KB gzipped: "
        f"**{mark(total_kb < SIZE_TARGET_KB)}** ({total_kb:.1f} KB: {files}).",
    ])  # fmt: skip


def main() -> None:
    run(RESULTS_JSON, SECTION, measure, section)


if __name__ == "__main__":
    main()
