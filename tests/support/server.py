"""`reelforge serve` as a subprocess, for end-to-end tests and benchmarks: on a free port,
its data and cache under the caller's folder, its output in files there (a pipe nobody
reads would fill up and stall a chatty server), handed over once `/readyz` answers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.seaweed import free_ports

READY_TIMEOUT_S = 90.0


@dataclass(frozen=True, slots=True)
class Server:
    base: str
    """`http://127.0.0.1:PORT`"""
    process: subprocess.Popen[bytes]
    root: Path

    def output(self) -> tuple[str, str]:
        """What the server printed so far: (stdout, stderr)."""
        return tuple(  # type: ignore[return-value]
            (self.root / name).read_text(errors="replace") for name in ("serve.out", "serve.err")
        )

    def stop(self, timeout_s: float = 30.0) -> int:
        """SIGTERM (graceful), then SIGKILL if it is still running after `timeout_s`."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout=timeout_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def serve_env(root: Path, extra: Mapping[str, str] | None = None) -> dict[str, str]:
    return {
        **os.environ,
        "REELFORGE_DATA_DIR": str(root / "data"),
        "REELFORGE_CACHE_DIR": str(root / "cache"),
        **(extra or {}),
    }


def start_serve(root: Path, *args: str, env: Mapping[str, str] | None = None) -> Server:
    """`reelforge serve ARGS` with its data under `root`; raises with the end of its stderr
    if it exits or is not ready within READY_TIMEOUT_S."""
    root.mkdir(parents=True, exist_ok=True)
    (port,) = free_ports(1)
    with (root / "serve.out").open("wb") as out, (root / "serve.err").open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "reelforge", "serve", "--port", str(port), *args],
            env=serve_env(root, env), stdout=out, stderr=err, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    server = Server(f"http://127.0.0.1:{port}", process, root)
    deadline = time.monotonic() + READY_TIMEOUT_S
    while process.poll() is None and time.monotonic() < deadline:
        try:
            if httpx.get(f"{server.base}/api/v1/readyz").status_code == 200:
                return server
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    server.stop(timeout_s=5)
    raise AssertionError(f"reelforge serve did not start: {server.output()[1][-2000:]}")
