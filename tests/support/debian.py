"""Tools the tests need from Debian's packages (nginx, chromium): found on PATH or in /usr/sbin,
installed with apt when missing — never downloaded from anywhere else."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

APT_TIMEOUT_S = 1200
APT_TURN = Path(tempfile.gettempdir()) / "reelforge-tests-apt.lock"


def debian_binary(name: str, package: str) -> str:
    """The path of `name`; installs the Debian `package` that provides it first if needed.
    Test processes running side by side (pytest -n) take turns: apt allows one at a time."""
    found = _which(name)
    if found is None:
        with APT_TURN.open("w") as turn:
            fcntl.flock(turn, fcntl.LOCK_EX)
            found = _which(name) or _install(name, package)
    assert found is not None, f"apt-get installed {package}, but no {name} binary"
    return found


def _which(name: str) -> str | None:
    return shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")


def _install(name: str, package: str) -> str | None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=APT_TIMEOUT_S)
    subprocess.run(
        ["apt-get", "install", "-y", "-qq", package], check=True, env=env, timeout=APT_TIMEOUT_S,
    )  # fmt: skip
    return _which(name)
