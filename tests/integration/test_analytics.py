"""Admin analytics on seeded facts, every metric against a hand-computed answer, on SQLite
and PostgreSQL (`db/crud/analytics.py` has the definitions)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session

from reelforge.db.crud import analytics, product_events
from reelforge.db.crud.product_events import Fact
from reelforge.db.models import Rating, RenderJob, User
from reelforge.errors import InvalidInput

UNTIL = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SINCE = UNTIL - timedelta(days=30)
DAY, MINUTE = timedelta(days=1), timedelta(minutes=1)


def user(session: Session, name: str) -> uuid.UUID:
    account = User(email=f"{name}@example.org")
    session.add(account)
    session.flush()
    return account.id


def fact(session: Session, kind: Fact, who: uuid.UUID | None, at: datetime, **more: object) -> None:
    product_events.record(session, kind, who, at=at, **more)  # type: ignore[arg-type]


def values(result: analytics.Analytics) -> dict[str, float | None]:
    return {m.key: (round(m.value, 4) if m.value is not None else None) for m in result.metrics}


def test_no_events_gives_no_numbers_and_no_verdicts(engine: Engine) -> None:
    with Session(engine) as session:
        result = analytics.compute(session, since=SINCE, until=UNTIL)
    assert set(values(result).values()) == {None}
    assert all(m.met is None for m in result.metrics)
    assert set(result.counts.values()) == {0}
    assert result.rating_distribution == {1: 0, 2: 0, 3: 0, 4: 0, 5: 0}
    assert result.cost_by_plan == {}


def test_one_user_who_registered_and_signed_in_yesterday(engine: Engine) -> None:
    with Session(engine) as session:
        one = user(session, "one")
        fact(session, Fact.REGISTRATION_STARTED, None, UNTIL - DAY)
        fact(session, Fact.REGISTRATION_COMPLETED, one, UNTIL - DAY)
        fact(session, Fact.LOGIN, one, UNTIL - DAY + MINUTE)
        session.commit()
        result = analytics.compute(session, since=SINCE, until=UNTIL)
    got = values(result)
    assert got["registration_completion"] == 1.0
    assert got["retention_7d"] is None  # registered less than 7 days ago: no cohort yet
    assert got["adoption_templates"] == got["adoption_uploads"] == got["adoption_sharing"] == 0
    assert result.counts["active_users"] == 1


def test_a_user_who_registers_but_never_signs_in(engine: Engine) -> None:
    with Session(engine) as session:
        quiet = user(session, "quiet")
        fact(session, Fact.REGISTRATION_STARTED, None, UNTIL - 9 * DAY)
        fact(session, Fact.REGISTRATION_COMPLETED, quiet, UNTIL - 9 * DAY)
        session.commit()
        result = analytics.compute(session, since=SINCE, until=UNTIL)
    got = values(result)
    assert got["registration_completion"] == 1.0
    assert got["retention_7d"] == 0.0  # in the cohort, never came back
    assert got["adoption_templates"] is None  # nobody active: no share to speak of
    assert result.counts["active_users"] == 0 and result.counts["retention_cohort"] == 1


def test_since_takes_hours_days_and_weeks() -> None:
    assert analytics.parse_since("30d") == 30 * DAY
    assert analytics.parse_since("12h") == timedelta(hours=12)
    assert analytics.parse_since("2w") == 14 * DAY
    for wrong in ("0d", "30", "d", "1y", "-1d", "99999d"):
        with pytest.raises(InvalidInput):
            analytics.parse_since(wrong)


def seed(session: Session) -> None:
    """a: registered 20 days ago, came back after 8; b: 3 days ago; c: registered 10 days
    ago and never signed in; d: an older user, active yesterday."""
    a, b, c, d = (user(session, name) for name in "abcd")
    for n in range(4):  # one of the four forms was refused
        fact(session, Fact.REGISTRATION_STARTED, None, UNTIL - (21 - n) * DAY)
    fact(session, Fact.REGISTRATION_COMPLETED, a, UNTIL - 20 * DAY)
    fact(session, Fact.REGISTRATION_COMPLETED, c, UNTIL - 10 * DAY)
    fact(session, Fact.REGISTRATION_COMPLETED, b, UNTIL - 3 * DAY)
    fact(session, Fact.REGISTRATION_COMPLETED, d, SINCE - DAY)  # before the window
    fact(session, Fact.LOGIN, a, UNTIL - 20 * DAY)
    fact(session, Fact.LOGIN, a, UNTIL - 12 * DAY)  # 8 days after registering: retained
    fact(session, Fact.LOGIN, b, UNTIL - 3 * DAY)
    fact(session, Fact.LOGIN, d, UNTIL - DAY)
    # projects: p1 played, p3 downloaded through a signed link (nobody named), p2 never
    # watched; p0 was created before the window (its play does not count)
    p0, p1, p2, p3 = (uuid.uuid4() for _ in range(4))
    fact(session, Fact.PROJECT_CREATED, d, SINCE - DAY, subject_id=p0)
    fact(session, Fact.PROJECT_CREATED, a, UNTIL - 20 * DAY, subject_id=p1)
    fact(session, Fact.PROJECT_CREATED, a, UNTIL - 19 * DAY, subject_id=p2)
    fact(session, Fact.PROJECT_CREATED, b, UNTIL - 3 * DAY, subject_id=p3)
    fact(session, Fact.TEMPLATE_USED, a, UNTIL - 20 * DAY, subject_id=p1)
    fact(session, Fact.VIDEO_PLAYED, d, UNTIL - DAY, subject_id=p0)
    fact(session, Fact.VIDEO_PLAYED, a, UNTIL - 19 * DAY, subject_id=p1)
    fact(session, Fact.VIDEO_PLAYED, a, UNTIL - 18 * DAY, subject_id=p1)  # again: one project
    fact(session, Fact.VIDEO_DOWNLOADED, None, UNTIL - 2 * DAY, subject_id=p3)
    fact(session, Fact.ASSET_UPLOADED, b, UNTIL - 3 * DAY)
    fact(session, Fact.PROJECT_SHARED, a, UNTIL - 19 * DAY, subject_id=p1)
    # renders: 3 succeeded, 1 failed (and one failure after the window)
    fact(session, Fact.RENDER_SUCCEEDED, a, UNTIL - 19 * DAY, value=0.10, label="free")
    fact(session, Fact.RENDER_SUCCEEDED, a, UNTIL - 18 * DAY, value=0.20, label="free")
    fact(session, Fact.RENDER_SUCCEEDED, b, UNTIL - 2 * DAY, value=0.60, label="pro")
    fact(session, Fact.RENDER_FAILED, b, UNTIL - 2 * DAY, label="pro")
    fact(session, Fact.RENDER_FAILED, b, UNTIL + MINUTE, label="pro")
    # probes every minute for the last 10 minutes; the one 5 minutes ago found it not ready
    for n in range(1, 11):
        fact(session, Fact.PROBE, None, UNTIL - n * MINUTE, value=0 if n == 5 else 1)
    # 20 sampled response times: 18 fast, 2 slow
    for n in range(20):
        fact(session, Fact.API_REQUEST, None, UNTIL - MINUTE, value=3.0 if n < 2 else 0.1)
    # ratings: a rates two renders, b one; an older rating falls outside the window
    r1, r2, r3 = (RenderJob(owner_id=a, plan="free", state="succeeded") for _ in range(3))
    session.add_all([r1, r2, r3])
    session.flush()
    session.add_all(
        [
            Rating(render_id=r1.id, user_id=a, stars=4, updated_at=UNTIL - 5 * DAY),
            Rating(render_id=r1.id, user_id=b, stars=5, updated_at=UNTIL - 2 * DAY),
            Rating(render_id=r2.id, user_id=a, stars=2, updated_at=UNTIL - 4 * DAY),
            Rating(render_id=r3.id, user_id=a, stars=1, updated_at=SINCE - DAY),
        ]
    )
    session.commit()


def test_every_metric_on_seeded_facts(engine: Engine) -> None:
    with Session(engine) as session:
        seed(session)
        result = analytics.compute(session, since=SINCE, until=UNTIL)
    assert values(result) == {
        "uptime": 0.9,  # 9 of 10 one-minute slots had a ready probe
        "render_success_rate": 0.75,  # 3 of 4 (the failure after the window is not counted)
        "response_time_mean": 0.39,  # (18 × 0.1 + 2 × 3.0) / 20
        "response_time_p95": 3.0,  # the 19th of 20 sorted
        "registration_completion": 0.75,  # 3 accounts of 4 forms
        "video_completion": 0.6667,  # p1 and p3 of p1, p2, p3
        "retention_7d": 0.5,  # a came back, c never did (b registered too recently)
        "cost_per_video": 0.3,  # (0.10 + 0.20 + 0.60) / 3
        "satisfaction": 3.6667,  # (4 + 5 + 2) / 3
        "adoption_templates": 0.3333,  # a of a, b, d (c only registered: not active)
        "adoption_uploads": 0.3333,  # b
        "adoption_sharing": 0.3333,  # a
    }
    verdicts = {m.key: m.met for m in result.metrics}
    assert verdicts["uptime"] is False and verdicts["render_success_rate"] is False
    assert verdicts["response_time_mean"] is True and verdicts["response_time_p95"] is False
    assert verdicts["registration_completion"] is True and verdicts["retention_7d"] is True
    assert verdicts["video_completion"] is True and verdicts["cost_per_video"] is None
    assert result.cost_by_plan == {"free": pytest.approx(0.15), "pro": pytest.approx(0.60)}
    assert result.rating_distribution == {1: 0, 2: 1, 3: 0, 4: 1, 5: 1}
    assert result.counts == {
        "active_users": 3, "registrations_started": 4, "registrations_completed": 3,
        "renders_succeeded": 3, "renders_failed": 1, "projects_created": 3,
        "retention_cohort": 2, "response_samples": 20, "ratings": 3,
    }  # fmt: skip
    assert result.as_dict()["metrics"][0] == {
        "key": "uptime", "title": "Uptime", "value": 0.9, "unit": "ratio", "target": 0.95,
        "better": "above", "met": False,
    }  # fmt: skip
