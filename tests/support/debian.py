"""Tools the tests and benchmarks need from Debian's packages (nginx, chromium, promtool, wrk):
found on PATH or in /usr/sbin, installed with apt when missing — never
downloaded from anywhere else.

`python -m tests.support.debian` installs the missing ones in one apt run: `make test` starts it
in the background, so on a fresh machine the installs overlap lint instead of holding up the
first test that needs each tool (which then waits on the lock, or finds it installed).
"""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

APT_TIMEOUT_S = 1200
APT_TURN = Path(tempfile.gettempdir()) / "reelforge-tests-apt.lock"
TOOLS = {"nginx": "nginx-light", "chromium": "chromium", "promtool": "prometheus", "wrk": "wrk"}
"""Each tool the tests and `make bench` use (wrk: the API bench's fixed-rate client), by the
Debian package that provides it."""


def debian_binary(name: str) -> str:
    """The path of `name`; installs the Debian package that provides it (TOOLS) first if needed.
    Test processes running side by side (pytest -n) take turns: apt allows one at a time."""
    found = _which(name)
    if found is None:
        with APT_TURN.open("w") as turn:
            fcntl.flock(turn, fcntl.LOCK_EX)
            found = _which(name)
            if found is None:
                _install(TOOLS[name])
                found = _which(name)
    assert found is not None, f"apt-get installed {TOOLS[name]}, but no {name} binary"
    return found


def install_missing() -> None:
    """Every tool in TOOLS that is missing, in one apt run, holding the lock throughout."""
    with APT_TURN.open("w") as turn:
        fcntl.flock(turn, fcntl.LOCK_EX)
        missing = [package for name, package in TOOLS.items() if _which(name) is None]
        if missing:
            _install(*missing)


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def _install(*packages: str) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=APT_TIMEOUT_S)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", *packages], check=True, env=env, timeout=APT_TIMEOUT_S,
    )  # fmt: skip


if __name__ == "__main__":
    install_missing()
