"""Every test starts from reelforge's defaults.

`REELFORGE_*` variables exported in the developer's shell (a provider API key, a database
URL, a data folder) would otherwise reach the tests and the subprocesses they start: an
exported key would make end-to-end tests call a paid API. Only the test suite's own
variables (`REELFORGE_TEST_*`: which PostgreSQL and Redis to test against) are kept.
"""

from __future__ import annotations

import os

import pytest

TEST_OWN_PREFIX = "REELFORGE_TEST_"


def pytest_configure(config: pytest.Config) -> None:
    for name in [n for n in os.environ if n.startswith("REELFORGE_")]:
        if not name.startswith(TEST_OWN_PREFIX):
            del os.environ[name]
