"""The API's own probes and sampled response times, the raw material of uptime and
response time in the admins' analytics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient
from sqlalchemy import Engine, create_engine, select
from sqlalchemy.orm import Session, sessionmaker

from reelforge.api.monitor import SAMPLES_PER_PROBE, Monitor
from reelforge.db.crud import product_events
from reelforge.db.crud.product_events import Fact
from reelforge.db.models import ProductEvent


def facts(engine: Engine) -> list[tuple[str, float | None]]:
    with Session(engine) as session:
        rows = session.execute(
            select(ProductEvent.kind, ProductEvent.value).order_by(ProductEvent.id)
        ).all()
    return [(kind, value) for kind, value in rows]


def test_a_probe_writes_itself_and_the_samples_and_keeps_an_outage(
    engine: Engine, tmp_path: Path
) -> None:
    with Session(engine) as session:  # older than kept: removed by the next probe
        old = datetime.now(UTC) - timedelta(days=8)
        product_events.record(session, Fact.PROBE, None, value=1, at=old)
        product_events.record(session, Fact.API_REQUEST, None, value=9.9, at=old)
        session.commit()
    monitor = Monitor(engine, sessionmaker(engine), keep=timedelta(days=7))
    for n in range(SAMPLES_PER_PROBE * 3):
        monitor.observe(n / 1000)
    samples = monitor.take_samples()
    assert len(samples) == SAMPLES_PER_PROBE and monitor.take_samples() == []
    assert monitor.probe(samples[:2])
    assert facts(engine) == [
        ("probe", 1.0),
        ("api_request", samples[0]),
        ("api_request", samples[1]),
    ]

    gone = create_engine(f"sqlite:///{tmp_path / 'no-such-dir' / 'db.sqlite'}")
    down = Monitor(gone, sessionmaker(gone), keep=timedelta(days=7))
    assert not down.probe([])  # the database does not answer: kept for later
    down.engine, down.sessions = engine, sessionmaker(engine)
    assert down.probe([])
    assert [value for kind, value in facts(engine) if kind == "probe"] == [1.0, 0.0, 1.0]


def test_api_requests_are_handed_to_the_monitor(client: TestClient) -> None:
    monitor: Monitor = client.app.state.monitor  # type: ignore[attr-defined]
    monitor.take_samples()
    client.get("/api/v1/healthz")
    client.get("/index.html")  # the web app's files are not API response times
    [sample] = monitor.take_samples()
    assert 0 < sample < 2
