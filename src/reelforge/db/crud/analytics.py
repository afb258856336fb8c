"""The brief's success metrics, computed from the product event log and the ratings for
one window of time: the one computation behind the admin API, `reelforge report` and the
web app's Analytics page.

Definitions (each over the window `[since, until)` unless said otherwise):

- **uptime**: the window from the first probe in it to `until` is cut into probe
  intervals; the share of them in which some API process found itself ready. A stopped
  API records nothing, so its silence counts as down time.
- **render success rate**: renders that succeeded over those that succeeded or failed
  for good (a retried attempt is not a failure; a cancel is neither).
- **response time**: the mean and the 95th percentile (nearest rank; past `P95_SAMPLES`
  samples, of an even subsample) of the sampled API response times.
- **registration completion**: accounts created over sign-up forms sent.
- **video creation completion**: of the projects created in the window, the share
  whose video was played or downloaded (by `until`).
- **7-day retention**: of the users who registered in the window at least 7 days before
  `until`, the share who did something (an activity fact) 7 days or more after registering.
- **cost per video**: the mean provider cost of the renders that succeeded, overall and by
  the plan they ran under.
- **satisfaction**: the ratings given or changed in the window: mean stars and the count
  per star.
- **feature adoption**: of the active users (anyone with an activity fact), the share who
  used a template, uploaded an asset, shared a project.
"""

from __future__ import annotations

import math
import re
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from reelforge.db.crud.product_events import PROBE_INTERVAL_S, Fact
from reelforge.db.models import ProductEvent, Rating
from reelforge.errors import InvalidInput

RETENTION_DAYS = 7
_SPAN = re.compile(r"^\s*(\d{1,4})\s*([hdw])\s*$")
_SPAN_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}
P95 = 0.95
P95_SAMPLES = 20_000
ACTIVITY_FACTS = (
    Fact.LOGIN, Fact.PROJECT_CREATED, Fact.TEMPLATE_USED, Fact.RENDER_SUBMITTED,
    Fact.VIDEO_PLAYED, Fact.VIDEO_DOWNLOADED, Fact.RATING_LEFT, Fact.ASSET_UPLOADED,
    Fact.PROJECT_SHARED,
)  # fmt: skip
"""What a person does (registering, and what the worker or the API does, is not activity)."""
ADOPTION = {
    "templates": Fact.TEMPLATE_USED,
    "uploads": Fact.ASSET_UPLOADED,
    "sharing": Fact.PROJECT_SHARED,
}


@dataclass(frozen=True, slots=True)
class Metric:
    """One number beside its target from the brief (`None`: nothing to measure yet)."""

    key: str
    title: str
    value: float | None
    unit: Literal["ratio", "s", "usd", "stars"]
    target: float | None = None
    better: Literal["above", "below"] = "above"

    @property
    def goal(self) -> str:
        """The target as text: `> 95.0%`, `< 2.000 s`, or empty."""
        if self.target is None:
            return ""
        return f"{'>' if self.better == 'above' else '<'} {shown(self.target, self.unit)}"

    @property
    def met(self) -> bool | None:
        """Green (True), red (False), or no verdict (no target, or no data)."""
        if self.value is None or self.target is None:
            return None
        return self.value > self.target if self.better == "above" else self.value < self.target


def shown(value: float | None, unit: str) -> str:
    """A metric's number as a person reads it (`–`: nothing measured)."""
    if value is None:
        return "–"
    if unit == "ratio":
        return f"{value:.1%}"
    if unit == "s":
        return f"{value:.3f} s"
    if unit == "usd":
        return f"${value:.4f}"
    return f"{value:.2f} / 5"


@dataclass(frozen=True, slots=True)
class Analytics:
    since: datetime
    until: datetime
    metrics: list[Metric]
    cost_by_plan: dict[str, float]
    rating_distribution: dict[int, int]
    counts: dict[str, int]

    def metric(self, key: str) -> Metric:
        return next(m for m in self.metrics if m.key == key)

    def as_dict(self) -> dict[str, Any]:
        return {
            "since": self.since.isoformat(),
            "until": self.until.isoformat(),
            "metrics": [{**asdict(m), "met": m.met} for m in self.metrics],
            "cost_by_plan": self.cost_by_plan,
            "rating_distribution": {str(k): v for k, v in self.rating_distribution.items()},
            "counts": self.counts,
        }


def parse_since(text: str) -> timedelta:
    """`30d`, `12h`, `2w`: how far back a report looks.

    Raises:
        InvalidInput: anything else, or zero.
    """
    found = _SPAN.match(text)
    if found is None or int(found[1]) == 0:
        raise InvalidInput(f"`since` takes a span like 30d, 12h or 2w, not {text!r}")
    return int(found[1]) * _SPAN_UNITS[found[2]]


def _ratio(part: int, whole: int) -> float | None:
    return part / whole if whole else None


class _Window:
    """Reads of one window of the log."""

    def __init__(self, session: Session, since: datetime, until: datetime) -> None:
        self.session, self.since, self.until = session, since, until

    def within(self, *facts: Fact) -> list[ColumnElement[bool]]:
        return [
            ProductEvent.kind.in_(facts),
            ProductEvent.at >= self.since,
            ProductEvent.at < self.until,
        ]

    def count(self, *facts: Fact) -> int:
        query = select(func.count()).select_from(ProductEvent).where(*self.within(*facts))
        return int(self.session.scalar(query) or 0)

    def users(self, *facts: Fact) -> set[uuid.UUID]:
        query = select(ProductEvent.user_id).distinct().where(*self.within(*facts))
        return {u for u in self.session.scalars(query) if u is not None}

    def uptime(self) -> float | None:
        probes = self.session.execute(
            select(ProductEvent.at, ProductEvent.value).where(*self.within(Fact.PROBE))
        ).all()
        if not probes:
            return None
        first = min(at for at, _ in probes)
        slots = max(1, math.ceil((self.until - first).total_seconds() / PROBE_INTERVAL_S))
        ready = {int((at - first).total_seconds() // PROBE_INTERVAL_S) for at, ok in probes if ok}
        return min(len(ready), slots) / slots

    def response_times(self) -> tuple[float | None, float | None, int]:
        """Mean (of every sample), 95th percentile (nearest rank), sample count.

        The percentile is taken from at most `P95_SAMPLES` of the samples, every k-th by id
        (a month of one busy process is 1.3 M rows: sorting them all took SQLite 4.9 s, this
        0.3 s), exact below that many."""
        where = self.within(Fact.API_REQUEST)
        n, mean = self.session.execute(
            select(func.count(), func.avg(ProductEvent.value)).where(*where)
        ).one()
        if not n:
            return None, None, 0
        stride = math.ceil(n / P95_SAMPLES)
        subsample = select(ProductEvent.value).where(*where)
        if stride > 1:
            subsample = subsample.where(ProductEvent.id % stride == 0)
        found = sorted(v for v in self.session.scalars(subsample) if v is not None)
        p95 = found[math.ceil(P95 * len(found)) - 1] if found else None
        return float(mean), p95, int(n)

    def video_completion(self) -> tuple[float | None, int]:
        """The projects created in the window, as a subquery (no id list travels)."""
        created = select(ProductEvent.subject_id).where(*self.within(Fact.PROJECT_CREATED))
        total = self.session.scalar(
            select(func.count(func.distinct(ProductEvent.subject_id))).where(
                *self.within(Fact.PROJECT_CREATED)
            )
        )
        watched = self.session.scalar(
            select(func.count(func.distinct(ProductEvent.subject_id))).where(
                ProductEvent.kind.in_((Fact.VIDEO_PLAYED, Fact.VIDEO_DOWNLOADED)),
                ProductEvent.subject_id.in_(created.scalar_subquery()),
                ProductEvent.at < self.until,
            )
        )
        return _ratio(int(watched or 0), int(total or 0)), int(total or 0)

    def retention(self) -> tuple[float | None, int]:
        """Per user of the cohort: when they registered and when they were last active,
        in one grouped query each (the cohort is a subquery, not an id list)."""
        cohort_where = (
            ProductEvent.kind == Fact.REGISTRATION_COMPLETED,
            ProductEvent.at >= self.since,
            ProductEvent.at <= self.until - timedelta(days=RETENTION_DAYS),
            ProductEvent.user_id.is_not(None),
        )
        registered = {
            user: at
            for user, at in self.session.execute(
                select(ProductEvent.user_id, func.min(ProductEvent.at))
                .where(*cohort_where)
                .group_by(ProductEvent.user_id)
            )
            if user is not None
        }
        if not registered:
            return None, 0
        cohort = select(ProductEvent.user_id).where(*cohort_where).scalar_subquery()
        last_seen = dict(
            self.session.execute(
                select(ProductEvent.user_id, func.max(ProductEvent.at))
                .where(
                    ProductEvent.kind.in_(ACTIVITY_FACTS),
                    ProductEvent.user_id.in_(cohort),
                    ProductEvent.at < self.until,
                )
                .group_by(ProductEvent.user_id)
            ).all()
        )
        back = timedelta(days=RETENTION_DAYS)
        kept = sum(1 for user, at in registered.items() if last_seen.get(user, at) >= at + back)
        return kept / len(registered), len(registered)

    def costs(self) -> tuple[float | None, dict[str, float]]:
        where = self.within(Fact.RENDER_SUCCEEDED)
        mean = self.session.scalar(select(func.avg(ProductEvent.value)).where(*where))
        by_plan = self.session.execute(
            select(ProductEvent.label, func.avg(ProductEvent.value))
            .where(*where)
            .group_by(ProductEvent.label)
            .order_by(ProductEvent.label)
        ).all()
        return (
            float(mean) if mean is not None else None,
            {str(plan): round(float(cost), 6) for plan, cost in by_plan},
        )

    def ratings(self) -> tuple[float | None, dict[int, int]]:
        rows = self.session.execute(
            select(Rating.stars, func.count())
            .where(Rating.updated_at >= self.since, Rating.updated_at < self.until)
            .group_by(Rating.stars)
        ).all()
        distribution = dict.fromkeys(range(1, 6), 0) | {int(s): int(n) for s, n in rows}
        total = sum(distribution.values())
        mean = sum(s * n for s, n in distribution.items()) / total if total else None
        return mean, distribution


def compute(session: Session, *, since: datetime, until: datetime) -> Analytics:
    """Every metric for `[since, until)` (read-only)."""
    window = _Window(session, since, until)
    succeeded, failed = window.count(Fact.RENDER_SUCCEEDED), window.count(Fact.RENDER_FAILED)
    started = window.count(Fact.REGISTRATION_STARTED)
    completed = window.count(Fact.REGISTRATION_COMPLETED)
    mean_s, p95_s, samples = window.response_times()
    completion, projects = window.video_completion()
    retention, cohort = window.retention()
    cost, cost_by_plan = window.costs()
    stars, distribution = window.ratings()
    active = window.users(*ACTIVITY_FACTS)
    metrics = [
        Metric("uptime", "Uptime", window.uptime(), "ratio", 0.95),
        Metric(
            "render_success_rate",
            "Render success rate",
            _ratio(succeeded, succeeded + failed),
            "ratio",
            0.80,
        ),
        Metric("response_time_mean", "API response time (mean)", mean_s, "s", 2.0, "below"),
        Metric("response_time_p95", "API response time (p95)", p95_s, "s", 2.0, "below"),
        Metric(
            "registration_completion",
            "Registration completion",
            _ratio(completed, started),
            "ratio",
            0.70,
        ),
        Metric("video_completion", "Video creation completion", completion, "ratio", 0.60),
        Metric("retention_7d", "7-day retention", retention, "ratio", 0.40),
        Metric("cost_per_video", "Cost per video", cost, "usd"),
        Metric("satisfaction", "Satisfaction (mean rating)", stars, "stars"),
        *(
            Metric(
                f"adoption_{feature}",
                f"Adoption: {feature}",
                _ratio(len(window.users(fact) & active), len(active)),
                "ratio",
            )
            for feature, fact in ADOPTION.items()
        ),
    ]
    counts = {
        "active_users": len(active),
        "registrations_started": started,
        "registrations_completed": completed,
        "renders_succeeded": succeeded,
        "renders_failed": failed,
        "projects_created": projects,
        "retention_cohort": cohort,
        "response_samples": samples,
        "ratings": sum(distribution.values()),
    }
    return Analytics(since, until, metrics, cost_by_plan, distribution, counts)
