"""What each plan may do. Concurrency lives with the queue (`REELFORGE_QUEUE__*`); the
limits checked when a render is submitted live here, one table for docs and code."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from reelforge.model.choices import Resolution


class Plan(StrEnum):
    FREE = "free"
    BASIC = "basic"
    PRO = "pro"
    ENTERPRISE = "enterprise"


@dataclass(frozen=True, slots=True)
class PlanLimits:
    max_duration_s: float
    max_resolution: Resolution
    monthly_minutes: float | None
    """Rendered minutes per calendar month (UTC); None = unlimited."""
    max_waiting: int
    """Renders queued at once; more is a 429 (the queue is not a to-do list)."""
    storage_bytes: int
    """What the user may keep stored: projects (prompt, settings, storyboard), the
    snapshot each render carries, rendered files and uploaded assets. More is a 413
    `storage-quota`."""
    max_upload_bytes: int
    """The largest asset one upload may store; more is a 413 `file-too-large`."""
    max_asset_duration_s: float
    """The longest clip or song one upload may be; longer is a 402 `plan-limit`."""
    max_batch_rows: int
    """Rows in one batch; more is a 402 `plan-limit` (the batch's renders also count
    against `max_waiting`, so a batch never queues more than the plan lets wait)."""


MB = 1_000_000
GB = 1000 * MB

PLAN_LIMITS: dict[Plan, PlanLimits] = {
    Plan.FREE: PlanLimits(60, Resolution.HD, 30, 5, 500 * MB, 50 * MB, 300, 5),
    Plan.BASIC: PlanLimits(180, Resolution.FHD, 120, 20, 5 * GB, 250 * MB, 600, 20),
    Plan.PRO: PlanLimits(600, Resolution.FHD, 600, 50, 50 * GB, 1 * GB, 1800, 50),
    Plan.ENTERPRISE: PlanLimits(600, Resolution.FHD, None, 200, 500 * GB, 2 * GB, 3600, 200),
}

DURATION_GRACE = 0.1
"""How far over `max_duration_s` a rendered video may run: narration is paced by the voice,
so a script sized to the plan's maximum can come out a little longer. Longer fails."""

RESOLUTION_ORDER = (Resolution.SD, Resolution.HD, Resolution.FHD)


def render_cap_s(limits: PlanLimits) -> float:
    """The longest video a render on this plan may produce (seconds)."""
    return limits.max_duration_s * (1 + DURATION_GRACE)


def resolution_allowed(limits: PlanLimits, resolution: Resolution) -> bool:
    return RESOLUTION_ORDER.index(resolution) <= RESOLUTION_ORDER.index(limits.max_resolution)


def max_upload_bytes() -> int:
    """The largest file any plan may upload: the API's body limit on the upload route."""
    return max(limits.max_upload_bytes for limits in PLAN_LIMITS.values())
