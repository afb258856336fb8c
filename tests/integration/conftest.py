"""Databases for integration tests: a SQLite file and a real PostgreSQL database.

The PostgreSQL database is created with a unique name for the test session on the
server at 127.0.0.1:5432 and dropped at the end; tests get emptied tables.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text

from reelforge.db.migrate import upgrade
from reelforge.db.models import Base
from reelforge.db.session import make_engine
from reelforge.jobs.worker import Worker
from tests.support.seaweed import S3Endpoint, seaweed_s3

PG_SERVER = os.environ.get("REELFORGE_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432")


@pytest.fixture(autouse=True)
def _workers_stop_with_their_test(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Every worker a test starts is stopped when the test ends, even a failed one: a worker
    thread left running would claim the next tests' jobs (they share the database) and fail
    those tests too, hiding which one really failed."""
    started: list[Worker] = []
    run = Worker.run

    def tracked(worker: Worker) -> None:
        started.append(worker)
        run(worker)

    monkeypatch.setattr(Worker, "run", tracked)
    yield
    for worker in started:
        worker.stop()


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    name = f"reelforge_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(f"{PG_SERVER}/postgres", isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = f"{PG_SERVER}/{name}"
    upgrade(url)
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def sqlite_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    url = f"sqlite:///{tmp_path_factory.mktemp('db') / 'reelforge.db'}"
    upgrade(url)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "pg_url"
    url: str = request.getfixturevalue(name)
    return url


def emptied_engine(url: str) -> Iterator[Engine]:
    """An engine on `url` whose tables were emptied first (each test starts clean)."""
    engine = make_engine(url)
    with engine.begin() as conn:
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
    yield engine
    engine.dispose()


@pytest.fixture
def engine(db_url: str) -> Iterator[Engine]:
    yield from emptied_engine(db_url)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@pytest.fixture(scope="session")
def seaweed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Endpoint]:
    """One real SeaweedFS S3 server for the whole session (it takes ~3 s to start)."""
    with seaweed_s3(tmp_path_factory.mktemp("seaweed")) as endpoint:
        yield endpoint
