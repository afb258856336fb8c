"""Tools the tests need from Debian's packages (nginx, chromium): found on PATH or in /usr/sbin,
installed with apt when missing — never downloaded from anywhere else."""

from __future__ import annotations

import os
import shutil
import subprocess

APT_TIMEOUT_S = 1200


def debian_binary(name: str, package: str) -> str:
    """The path of `name`; installs the Debian `package` that provides it first if needed."""
    found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    if found is None:
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-qq"], check=True, env=env, timeout=APT_TIMEOUT_S)
        subprocess.run(
            ["apt-get", "install", "-y", "-qq", package], check=True, env=env,
            timeout=APT_TIMEOUT_S,
        )  # fmt: skip
        found = shutil.which(name) or shutil.which(name, path="/usr/sbin:/sbin")
    assert found is not None, f"apt-get installed {package}, but no {name} binary"
    return found
