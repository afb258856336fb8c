"""Asset upload benchmark (`make bench`): throughput and the server's peak memory for a
200 MiB clip and a small one, through `reelforge serve` over loopback (SQLite, local blobs).

An upload streams to disk as it arrives, is probed (PyAV decodes its first frame) and is
copied into the blob store, so the server's memory must not grow with the file's size:
the target is a peak RSS within 64 MiB of the small upload's.

Run: `python -m bench.assets`; writes bench/results/assets.json and the `## Asset uploads`
section of bench/RESULTS.md.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import imageio_ffmpeg
import psutil
from sqlalchemy import create_engine, update

from bench.api import Server, say, serve
from bench.report import cpu_model, mark, markdown_table, run
from reelforge.db.models import User
from reelforge.model.plans import Plan

RESULTS_JSON = Path(__file__).parent / "results" / "assets.json"
SECTION = "## Asset uploads"
MIB = 1024 * 1024
SIZES_MIB = {"small clip": 2, "200 MiB clip": 200}
RUNS = 3
GROWTH_TARGET_MIB = 64
PASSWORD = "correct horse battery"
SAMPLE_S = 0.01


def make_clip(path: Path, mib: int) -> Path:
    """A 720p clip of about `mib` MiB: uncompressed frames in a QuickTime file (any size
    is quick to make, and the server cannot shrink it)."""
    frame_bytes = 1280 * 720 * 2
    frames = max(1, mib * MIB // frame_bytes)
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y",
         "-f", "lavfi", "-i", "testsrc2=s=1280x720:r=30", "-frames:v", str(frames),
         "-c:v", "rawvideo", "-pix_fmt", "uyvy422", str(path)],
        check=True,
    )  # fmt: skip
    return path


class PeakRss:
    """The server's highest resident memory (its processes together) while the block runs."""

    def __init__(self, process: psutil.Process) -> None:
        self.process = process
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _rss(self) -> int:
        total = 0
        for process in (self.process, *self.process.children(recursive=True)):
            with contextlib.suppress(psutil.NoSuchProcess):  # a child that just ended
                total += process.memory_info().rss
        return total

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self._rss())
            time.sleep(SAMPLE_S)

    def __enter__(self) -> PeakRss:
        self.before = self._rss()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def sign_up(server: Server) -> dict[str, str]:
    email = f"bench-{time.time_ns()}@example.org"
    with httpx.Client(base_url=f"{server.base_url}/api/v1", timeout=60) as client:
        client.post("/auth/register", json={"email": email, "password": PASSWORD})
        login = client.post("/auth/login", json={"email": email, "password": PASSWORD})
        token = login.json()["access_token"]
    engine = create_engine(server.db_url)
    with engine.begin() as conn:  # room for the big clips (the free plan takes 50 MB)
        conn.execute(update(User).where(User.email == email).values(plan=Plan.ENTERPRISE))
    engine.dispose()
    return {"Authorization": f"Bearer {token}"}


def upload(server: Server, headers: dict[str, str], clip: Path) -> tuple[float, int, int]:
    """Seconds for one upload (201 back), the server's RSS before it and at its peak."""
    with clip.open("rb") as file, PeakRss(server.process) as rss:
        started = time.perf_counter()
        response = httpx.post(
            f"{server.base_url}/api/v1/assets", headers=headers, timeout=600,
            files={"file": (clip.name, file, "video/quicktime")},
        )  # fmt: skip
        elapsed = time.perf_counter() - started
    assert response.status_code == 201, response.text
    return elapsed, rss.before, rss.peak


def measure() -> dict[str, Any]:
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="reelforge-bench-assets-") as folder:
        work = Path(folder)
        clips = {label: make_clip(work / f"{mib}.mov", mib) for label, mib in SIZES_MIB.items()}
        with serve(work, None, None, processes=1) as server:
            headers = sign_up(server)
            upload(server, headers, clips["small clip"])  # warm-up: imports, the first probe
            for label, clip in clips.items():
                say(f"uploading the {label} ({clip.stat().st_size / MIB:.0f} MiB) x{RUNS}")
                runs = [upload(server, headers, clip) for _ in range(RUNS)]
                size = clip.stat().st_size
                results[label] = {
                    "bytes": size,
                    "seconds": [run[0] for run in runs],
                    "mib_per_s": max(size / MIB / run[0] for run in runs),
                    "rss_before_mib": min(run[1] for run in runs) / MIB,
                    "peak_rss_mib": max(run[2] for run in runs) / MIB,
                }
    return {
        "when": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cores": os.cpu_count(),
        "load_1m": os.getloadavg()[0],
        "uploads": results,
    }


def section(data: dict[str, Any]) -> str:
    uploads = data["uploads"]
    rows = [
        [label, f"{u['bytes'] / MIB:.1f}", f"{u['mib_per_s']:.0f}",
         f"{min(u['seconds']):.2f}", f"{u['rss_before_mib']:.0f}", f"{u['peak_rss_mib']:.0f}"]
        for label, u in uploads.items()
    ]  # fmt: skip
    growth = uploads["200 MiB clip"]["peak_rss_mib"] - uploads["small clip"]["peak_rss_mib"]
    header = ["upload", "MiB", "MiB/s (best)", "seconds (best)", "RSS before (MiB)",
              "peak RSS (MiB)"]  # fmt: skip
    lines = [
        SECTION,
        "",
        f"{data['when']} on {data['cpu']} ({data['cores']} cores, load {data['load_1m']:.2f}); "
        "`reelforge serve` (SQLite, local blob store) and the client on the same machine, "
        f"over loopback; best of {RUNS} uploads after a warm-up. Each upload streams to a "
        "temporary file, is probed by content (PyAV), then copied into the blob store: the "
        "throughput counts all of it. Peak RSS is the server's, sampled every "
        f"{SAMPLE_S * 1000:.0f} ms.",
        "",
        *markdown_table(header, rows),
        "",
        f"Memory does not grow with the file (peak within {GROWTH_TARGET_MIB} MiB of the "
        f"small upload's): **{mark(growth < GROWTH_TARGET_MIB)}** ({growth:+.0f} MiB for "
        "100× the bytes).",
    ]
    return "\n".join(lines)


def main() -> None:
    run(RESULTS_JSON, SECTION, measure, section)


if __name__ == "__main__":
    main()
