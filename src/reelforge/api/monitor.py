"""The API watching itself for the admins' analytics: once a probe interval, each API
process checks that it is ready (the database answers, as `/readyz` does) and writes a
`probe` fact, with the response times it sampled since, in one small transaction.

Sampling keeps it cheap whatever the traffic: at most `SAMPLES_PER_PROBE` requests per
interval (a uniform reservoir sample), and no write per request. A probe that could not be
written (the database was down) is kept and written with the next one, so an outage shows
up in the uptime once the database is back."""

from __future__ import annotations

import asyncio
import random
from datetime import datetime, timedelta

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session, sessionmaker

from reelforge.api.background import cancel_all
from reelforge.db.crud import product_events
from reelforge.db.crud.product_events import PROBE_INTERVAL_S, Fact
from reelforge.db.models import utcnow
from reelforge.logs import get_logger

SAMPLES_PER_PROBE = 30
log = get_logger("reelforge.api.monitor")


def database_problem(engine: Engine) -> str | None:
    """Why the database does not answer (None: it does)."""
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
    except Exception as exc:  # any failure means "not ready"; its class says why
        return f"database: {type(exc).__name__}"
    return None


class Monitor:
    def __init__(self, engine: Engine, sessions: sessionmaker[Session], *, keep: timedelta) -> None:
        """`keep`: how long probes and samples are kept (older ones go with each write)."""
        self.engine, self.sessions, self.keep = engine, sessions, keep
        self._samples: list[float] = []
        self._seen = 0
        self._unwritten: list[datetime] = []
        """Failed probes not yet written (the database was down)."""
        self._task: asyncio.Task[None] | None = None
        self._random = random.Random()  # nosec B311 - a sample, not a secret
        """Not `secrets`: its every draw is a getrandom() system call, on every request."""

    def observe(self, seconds: float) -> None:
        """One request's response time (reservoir sampling: each request of the interval
        is kept with the same chance)."""
        self._seen += 1
        if len(self._samples) < SAMPLES_PER_PROBE:
            self._samples.append(seconds)
            return
        slot = self._random.randrange(self._seen)
        if slot < SAMPLES_PER_PROBE:
            self._samples[slot] = seconds

    def take_samples(self) -> list[float]:
        samples, self._samples, self._seen = self._samples, [], 0
        return samples

    def probe(self, samples: list[float]) -> bool:
        """Check readiness and write the probe and `samples`; False if it failed."""
        at = utcnow()
        problem = database_problem(self.engine)
        try:
            if problem is None:
                with self.sessions() as session:
                    for failed_at in self._unwritten:
                        product_events.record(session, Fact.PROBE, None, value=0, at=failed_at)
                    product_events.record(session, Fact.PROBE, None, value=1, at=at)
                    for seconds in samples:
                        product_events.record(session, Fact.API_REQUEST, None, value=seconds)
                    product_events.prune_service_facts(session, at - self.keep)
                    session.commit()
                self._unwritten.clear()
                return True
        except Exception as exc:  # the database went away between the check and the write
            problem = f"database: {type(exc).__name__}"
        log.warning("not ready", problem=problem)
        self._unwritten.append(at)
        return False

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(PROBE_INTERVAL_S)
            await asyncio.to_thread(self.probe, self.take_samples())

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_all([self._task])
