"""The PostgreSQL server the benchmarks use, and a throwaway database on it."""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

PG_SERVER = os.environ.get("REELFORGE_BENCH_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


def server_available() -> bool:
    admin = create_engine(f"{PG_SERVER}/postgres")
    try:
        with admin.connect():
            return True
    except OperationalError:
        return False
    finally:
        admin.dispose()


@contextlib.contextmanager
def fresh_database(prefix: str) -> Iterator[str]:
    """A uniquely named database on the server, dropped afterwards whatever happens."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield f"{PG_SERVER}/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
        admin.dispose()
