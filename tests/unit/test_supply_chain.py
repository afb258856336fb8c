"""Supply chain: every dependency is installed pinned and hash-checked from requirements.lock,
which matches pyproject.toml; bandit (run by `make lint`) finds nothing of medium severity
or more in src/, and would find it if it were there."""

from __future__ import annotations

import re
import subprocess
import sys
import tomllib
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[2]
LOCK = ROOT / "requirements.lock"
BIN = Path(sys.executable).parent


def locked() -> dict[str, list[str]]:
    """Each pinned package → its hashes."""
    pins: dict[str, list[str]] = {}
    current = ""
    for line in LOCK.read_text().splitlines():
        if match := re.match(r"^([A-Za-z0-9_.\-]+)==\S+", line):
            current = canonicalize_name(match.group(1))
            pins[current] = []
        elif "--hash=sha256:" in line:
            pins[current].append(line.strip())
    return pins


def test_every_declared_dependency_is_locked_with_hashes() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    declared = [*project["dependencies"], *extras["dev"], *extras["bench"]]
    pins = locked()
    missing = [d for d in declared if canonicalize_name(Requirement(d).name) not in pins]
    assert not missing, f"not in requirements.lock (run `make lock`): {missing}"
    assert all(pins.values()), [name for name, hashes in pins.items() if not hashes]


def test_the_lock_is_made_the_way_make_lock_makes_it() -> None:
    makefile = (ROOT / "Makefile").read_text()
    lock_args = re.search(r"^LOCK_ARGS := (.+)$", makefile, re.MULTILINE)
    assert lock_args is not None
    assert f"uv pip compile pyproject.toml {lock_args.group(1)}" in LOCK.read_text()
    assert "--require-hashes -r requirements.lock" in makefile


def test_bandit_finds_what_it_is_there_to_find(tmp_path: Path) -> None:
    risky = tmp_path / "risky.py"
    risky.write_text("import subprocess\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n")
    argv = [str(BIN / "bandit"), "--quiet", "--severity-level", "medium"]
    flagged = subprocess.run([*argv, str(risky)], capture_output=True, text=True, check=False)
    assert flagged.returncode == 1 and "B602" in flagged.stdout
    ours = subprocess.run([*argv, "--recursive", str(ROOT / "src")], capture_output=True,
                          text=True, check=False)  # fmt: skip
    assert ours.returncode == 0, ours.stdout
