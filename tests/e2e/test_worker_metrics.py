"""`reelforge worker --metrics-port P`: a worker process serves its own Prometheus histograms
(what it observes as jobs end) and the free space of its folders, runs at a lower CPU
priority than the API (renders are batch work), and SIGTERM still stops it gracefully."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil

from tests.support.seaweed import free_ports


def test_a_worker_process_serves_its_metrics_at_a_lower_priority(tmp_path: Path) -> None:
    env = {**os.environ, "REELFORGE_DATA_DIR": str(tmp_path / "data")}
    reelforge = [sys.executable, "-m", "reelforge"]
    subprocess.run([*reelforge, "db", "upgrade"], env=env, check=True, timeout=120,
                   capture_output=True)  # fmt: skip
    (port,) = free_ports(1)
    worker = subprocess.Popen([*reelforge, "worker", "--metrics-port", str(port)], env=env)
    try:
        text, deadline = "", time.monotonic() + 60
        while time.monotonic() < deadline and "reelforge_job_wait_seconds" not in text:
            try:
                text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
            except httpx.TransportError:
                time.sleep(0.2)
        assert "# TYPE reelforge_job_wait_seconds histogram" in text
        assert "# TYPE reelforge_job_run_seconds histogram" in text
        assert 'reelforge_disk_free_bytes{dir="data"}' in text
        assert psutil.Process(worker.pid).nice() == 10  # REELFORGE_WORKERS__NICE's default
    finally:
        worker.send_signal(signal.SIGTERM)
        worker.wait(60)
    assert worker.returncode == 0


def _autogroup_nice(pid: int) -> int | None:
    """The nice value of the process's scheduling group (`/proc/PID/autogroup`:
    "/autogroup-N nice K"), or None where autogroups do not schedule it: the file is empty
    when a CPU cgroup (a container's, a systemd slice's) ranks the process instead."""
    fields = Path(f"/proc/{pid}/autogroup").read_text().split()
    return int(fields[-1]) if fields else None


def test_a_worker_leading_its_own_session_lowers_that_session_too(tmp_path: Path) -> None:
    """Under autogroup scheduling a nice value only counts within its session: a worker that
    a service manager (or `make cluster`) starts in a session of its own must lower the
    session's group, or its renders compete with the API replicas as equals. One started in
    someone else's session (here: the test's) must leave that session's priority alone.
    Where a CPU cgroup schedules the processes instead, the nice value alone ranks them."""
    env = {**os.environ, "REELFORGE_DATA_DIR": str(tmp_path / "data")}
    reelforge = [sys.executable, "-m", "reelforge"]
    subprocess.run([*reelforge, "db", "upgrade"], env=env, check=True, timeout=120,
                   capture_output=True)  # fmt: skip
    ours = _autogroup_nice(os.getpid())
    own_session = subprocess.Popen([*reelforge, "worker"], env=env, start_new_session=True)
    shared_session = subprocess.Popen([*reelforge, "worker"], env=env)
    try:
        deadline = time.monotonic() + 60
        for worker in (own_session, shared_session):
            while time.monotonic() < deadline and psutil.Process(worker.pid).nice() != 10:
                time.sleep(0.1)
            assert psutil.Process(worker.pid).nice() == 10  # REELFORGE_WORKERS__NICE's default
        if ours is not None:
            while time.monotonic() < deadline and _autogroup_nice(own_session.pid) != 10:
                time.sleep(0.1)
            assert _autogroup_nice(own_session.pid) == 10
        assert _autogroup_nice(shared_session.pid) == ours == _autogroup_nice(os.getpid())
    finally:
        for worker in (own_session, shared_session):
            worker.send_signal(signal.SIGTERM)
            worker.wait(60)
