"""`make test` needs a PostgreSQL and a Redis server: check both answer before the tests
start, and say plainly what is missing and how to point the tests elsewhere.

Run: `python -m tests.support.services` (the Makefile's `services` target).
"""

from __future__ import annotations

import os
import socket
import sys

from sqlalchemy.engine import make_url

PG = os.environ.get("REELFORGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")
REDIS = os.environ.get("REELFORGE_TEST_REDIS", "redis://127.0.0.1:6379/0")
CONNECT_TIMEOUT_S = 3.0


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=CONNECT_TIMEOUT_S):
            return True
    except OSError:
        return False


def missing() -> list[str]:
    pg, redis = make_url(PG), make_url(REDIS)
    needed = [
        ("PostgreSQL", pg.host or "127.0.0.1", pg.port or 5432, "REELFORGE_TEST_PG", PG),
        ("Redis", redis.host or "127.0.0.1", redis.port or 6379, "REELFORGE_TEST_REDIS", REDIS),
    ]
    return [
        f"{name} does not answer at {host}:{port} ({variable}={url}): start it, or set "
        f"{variable} to a server the tests may create databases/keys on"
        for name, host, port, variable, url in needed
        if not _answers(host, port)
    ]


def main() -> None:
    problems = missing()
    for problem in problems:
        print(f"make test: {problem}", file=sys.stderr)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
