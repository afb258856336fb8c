"""The shell's `REELFORGE_*` settings never reach a test (tests/conftest.py)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from reelforge.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
SHELL_KEY = "sk-exported-in-the-developers-shell"


def test_settings_inside_a_test_are_the_defaults() -> None:
    assert not [n for n in os.environ if n.startswith("REELFORGE_") and "_TEST_" not in n]
    assert Settings().providers.openai_api_key is None


def test_an_exported_provider_key_does_not_reach_the_tests() -> None:
    env = {
        **os.environ,
        "REELFORGE_PROVIDERS__OPENAI_API_KEY": SHELL_KEY,
        "REELFORGE_DATA_DIR": "/nonexistent/shell-data",
    }
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
         f"{__file__}::test_settings_inside_a_test_are_the_defaults"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:]
    assert "1 passed" in done.stdout


def test_make_test_names_a_service_that_does_not_answer() -> None:
    env = {**os.environ, "REELFORGE_TEST_REDIS": "redis://127.0.0.1:1/0"}
    done = subprocess.run(
        [sys.executable, "-m", "tests.support.services"], cwd=ROOT, env=env,
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 1
    assert "Redis does not answer at 127.0.0.1:1" in done.stderr
    assert "PostgreSQL" not in done.stderr
