"""Request and response shapes, kept apart from the tables (`db/models.py`) so the wire
format can stay stable while the storage changes."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from reelforge.db.models import JobState, Role
from reelforge.model.plans import Plan
from reelforge.model.storyboard import VideoSettings
from reelforge.model.templates import TemplateStyle

T = TypeVar("T")

Name = Annotated[str, Field(min_length=1, max_length=200)]
Password = Annotated[str, Field(min_length=1, max_length=128)]
Email = Annotated[str, Field(min_length=3, max_length=320)]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(from_attributes=True)


class Page(_Out, Generic[T]):
    items: list[T]
    total: int
    limit: int
    offset: int


# -- auth --------------------------------------------------------------------------------


class RegisterIn(_In):
    email: Email
    password: Password
    name: Annotated[str, Field(max_length=200)] = ""


class LoginIn(_In):
    email: Email
    password: Password
    client: Literal["api", "browser"] = "api"
    """`browser`: the refresh token comes only as an HttpOnly cookie; `api`: in the body."""


class RefreshIn(_In):
    refresh_token: Annotated[str, Field(max_length=200)] | None = None
    """Omit to use the `reelforge_refresh` cookie."""


class TokenOut(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    session_id: uuid.UUID
    refresh_token: str | None = None


class TicketOut(BaseModel):
    ticket: str
    """For `/ws?ticket=` or `/events?ticket=`: valid once."""
    expires_in: int
    """Seconds."""


class SessionOut(_Out):
    id: uuid.UUID
    created_at: datetime
    last_used_at: datetime
    expires_at: datetime
    user_agent: str
    ip: str
    current: bool = False


class ApiKeyIn(_In):
    name: Annotated[str, Field(min_length=1, max_length=100)]


class ApiKeyOut(_Out):
    id: uuid.UUID
    name: str
    lookup_prefix: str
    created_at: datetime
    last_used_at: datetime | None


class ApiKeyCreated(ApiKeyOut):
    key: str
    """The whole key: shown this once, store it now."""


# -- users -------------------------------------------------------------------------------


class LimitsOut(BaseModel):
    concurrent_renders: int
    max_duration_s: float
    max_resolution: str
    monthly_minutes: float | None
    max_waiting: int
    storage_bytes: int
    """The storage quota: projects, render snapshots, rendered files and assets."""
    max_upload_bytes: int
    max_asset_duration_s: float
    max_batch_rows: int


class UsageOut(BaseModel):
    minutes_this_month: float
    running: int
    waiting: int
    cost_usd_this_month: float
    storage_bytes: int


class UserOut(_Out):
    id: uuid.UUID
    email: str
    name: str
    plan: Plan
    is_admin: bool
    created_at: datetime


class MeOut(UserOut):
    limits: LimitsOut
    usage: UsageOut


class UserPatch(_In):
    name: Annotated[str, Field(max_length=200)] | None = None


class SecretIn(_In):
    value: Annotated[str, Field(min_length=1, max_length=4096)]


class SecretOut(_Out):
    name: str
    updated_at: datetime


class PlanPatch(_In):
    plan: Plan | None = None
    is_admin: bool | None = None


# -- projects ------------------------------------------------------------------------------


class ProjectCreate(_In):
    name: Name
    prompt: Annotated[str, Field(max_length=20_000)] = ""
    settings: VideoSettings = VideoSettings()
    template_id: Annotated[str, Field(max_length=100)] | None = None


class ProjectPatch(_In):
    name: Name | None = None
    prompt: Annotated[str, Field(max_length=20_000)] | None = None
    settings: dict[str, Any] | None = None
    """Only the settings sent change (nested groups merge); the result must be valid."""
    template_id: Annotated[str, Field(max_length=100)] | None = None


class ProjectOut(_Out):
    id: uuid.UUID
    name: str
    prompt: str
    settings: VideoSettings
    template_id: str | None
    template_version: int | None
    has_storyboard: bool
    created_at: datetime
    updated_at: datetime
    role: Role = Role.OWNER
    """Mine, or shared with me as `viewer` / `editor`."""
    shared: bool = False
    """Someone else's project, shared with me."""


# -- templates -----------------------------------------------------------------------------

Description = Annotated[str, Field(max_length=300)]


class TemplateCreate(_In):
    """A new template: its style copied from a built-in (or my) template, from one of my
    projects, or given in full; exactly one of the three."""

    name: Name
    description: Description = ""
    from_template: Annotated[str, Field(max_length=100)] | None = None
    from_project: uuid.UUID | None = None
    style: TemplateStyle | None = None


class TemplatePatch(_In):
    name: Name | None = None
    description: Description | None = None
    style: dict[str, Any] | None = None
    """Only the style fields sent change (nested groups merge); the result must be valid."""


class TemplateOut(_Out):
    id: str
    name: str
    description: str
    version: int
    builtin: bool
    style: TemplateStyle
    preview_url: str
    """A signed link to the preview image of this version (usable in an `<img src>`)."""


# -- renders -------------------------------------------------------------------------------


class RenderError(BaseModel):
    error_class: str
    message: str
    stage: str | None


class RenderLinks(BaseModel):
    video: str
    thumbnail: str
    srt: str
    vtt: str


class CheckOut(BaseModel):
    name: str
    ok: bool
    detail: str


class RenderOut(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID | None
    status: JobState
    stage: str | None
    progress: float
    """Percent, 0–100."""
    queue_position: int | None
    eta_s: float | None
    attempts: int
    error: RenderError | None
    cost_usd: float
    duration_s: float | None
    scenes_reused: int | None = None
    """Scenes taken whole from earlier renders (unchanged since), once it succeeded."""
    scenes_total: int | None = None
    checks: list[CheckOut] = []
    """The output checks the finished video passed (container, durations, picture, narration,
    loudness, captions); a render failing one fails in stage `checks`."""
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    links: RenderLinks | None


class EventOut(BaseModel):
    id: int
    type: str
    render_id: uuid.UUID | None
    data: dict[str, Any]
    created_at: datetime


# -- admin ---------------------------------------------------------------------------------


class FailedRenderOut(BaseModel):
    id: uuid.UUID
    owner_id: uuid.UUID
    error_class: str | None
    error_stage: str | None
    error_message: str | None
    attempts: int
    finished_at: datetime | None


class AuditOut(_Out):
    id: int
    at: datetime
    actor_id: uuid.UUID | None
    action: str
    target: str
    ip: str
    detail: dict[str, Any]


# -- studio (the create flow) ----------------------------------------------------------------


class VoiceOut(BaseModel):
    id: str
    """The value for `settings.voice`."""
    label: str
    vendor: str
    sample_url: str | None
    """A short spoken sample (WAV), for voices that have one."""


class EstimateIn(_In):
    prompt: Annotated[str, Field(max_length=20_000)] = ""
    settings: VideoSettings = VideoSettings()


class EstimateLineOut(BaseModel):
    provider: str
    units: dict[str, float]
    cost_usd: float


class EstimateOut(BaseModel):
    render_seconds: float
    """Rough wall time once the render starts (the queue wait not included)."""
    cost_usd: float
    """Remote provider cost; 0 with the offline defaults. Cache hits make it lower."""
    lines: list[EstimateLineOut]
    script: Literal["prompt", "llm"]
    """`prompt`: the prompt is narrated as written; `llm`: a language model writes a script."""
    stock_available: bool
    """Whether scenes can use a stock-footage search (a stock provider is configured)."""


class LatestEventOut(BaseModel):
    id: int
    """Pass as `after=` to follow only what happens from now on."""


# -- assets ------------------------------------------------------------------------------


class AssetLinks(BaseModel):
    """Signed paths (like a render's), so `<img src>` works without a header."""

    file: str
    thumbnail: str | None


class AssetOut(BaseModel):
    id: uuid.UUID
    name: str
    kind: Literal["image", "clip", "audio"]
    content_type: str
    size_bytes: int
    """The file and its thumbnail, as the storage quota counts them."""
    width: int | None
    height: int | None
    duration_s: float | None
    codec: str | None
    tags: list[str]
    created_at: datetime
    updated_at: datetime
    links: AssetLinks


class AssetPatch(_In):
    name: Name | None = None
    tags: Annotated[list[Annotated[str, Field(max_length=40)]], Field(max_length=20)] | None = None


# -- sharing -------------------------------------------------------------------------------

MemberRole = Literal[Role.VIEWER, Role.EDITOR]


class InviteIn(_In):
    email: Email
    role: MemberRole = Role.VIEWER


class MemberPatch(_In):
    role: MemberRole


class MemberOut(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    email: str
    name: str
    role: Role
    status: Literal["invited", "accepted"]
    invited_at: datetime


class InvitationOut(BaseModel):
    id: uuid.UUID
    project_id: uuid.UUID
    project_name: str
    invited_by: str | None
    role: Role
    invited_at: datetime


class LinkIn(_In):
    render_id: uuid.UUID
    expires_in_s: Annotated[int, Field(ge=60, le=366 * 86_400)] | None = None
    """None: until revoked."""


class LinkOut(_Out):
    id: uuid.UUID
    render_id: uuid.UUID
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None


class LinkCreated(LinkOut):
    token: str
    """Shown this once (only its digest is stored)."""
    url: str
    """The page that plays it without signing in: `/s/<token>`."""


class SharedRenderOut(BaseModel):
    """What a public link shows: the video and its files through short-lived signed URLs."""

    title: str
    duration_s: float | None
    finished_at: datetime | None
    links: RenderLinks


class ActivityOut(BaseModel):
    at: datetime
    action: str
    """`shared`, `joined`, `declined`, `role_changed`, `revoked`, `project_edited`,
    `storyboard_edited`, `storyboard_cleared`, `render_submitted`, `render_succeeded`,
    `render_failed`, `render_canceled`, `commented`, `link_created`, `link_revoked`."""
    actor: str | None
    detail: dict[str, Any]


class CommentIn(_In):
    scene: Annotated[int, Field(ge=0, le=1000)]
    """The scene's index in the storyboard (0 = the first)."""
    body: Annotated[str, Field(min_length=1, max_length=5000)]


class CommentOut(BaseModel):
    id: uuid.UUID
    scene: int
    author: str | None
    body: str
    created_at: datetime


class RatingIn(_In):
    stars: int = Field(ge=1, le=5)
    comment: str = Field(default="", max_length=2000)


class RatingOut(_Out):
    render_id: uuid.UUID
    stars: int
    comment: str
    created_at: datetime
    updated_at: datetime


# -- webhooks ----------------------------------------------------------------------------

WebhookEvent = Literal["render.succeeded", "render.failed", "render.canceled", "batch.finished"]
"""`db.crud.webhooks.EVENTS` as a type (a test keeps the two the same)."""
WebhookUrl = Annotated[str, Field(min_length=8, max_length=2000)]
WebhookEvents = Annotated[list[WebhookEvent], Field(min_length=1, max_length=4)]


class WebhookIn(_In):
    url: WebhookUrl
    events: WebhookEvents
    description: Annotated[str, Field(max_length=300)] = ""


class WebhookPatch(_In):
    url: WebhookUrl | None = None
    events: WebhookEvents | None = None
    description: Annotated[str | None, Field(max_length=300)] = None
    enabled: bool | None = None


class WebhookOut(_Out):
    id: uuid.UUID
    url: str
    events: list[str]
    description: str
    enabled: bool
    created_at: datetime
    updated_at: datetime


class WebhookCreated(WebhookOut):
    secret: str
    """The signing secret (`whsec_...`): shown this once, store it now."""


class WebhookAttemptOut(_Out):
    attempted_at: datetime
    status_code: int | None
    duration_ms: int
    response_excerpt: str
    error: str | None


class WebhookDeliveryOut(_Out):
    id: uuid.UUID
    """Sent as `webhook-id`: the same on every attempt, for receivers to drop duplicates."""
    event_type: str
    state: str
    payload: dict[str, Any]
    created_at: datetime
    next_attempt_at: datetime | None
    """When it is tried next (pending deliveries only)."""
    attempts: list[WebhookAttemptOut]


# -- batches -----------------------------------------------------------------------------

MAX_BATCH_ROWS_SENT = 1000
"""Rows one request may carry at all (the plan's `max_batch_rows` is checked after)."""


class BatchIn(BaseModel):
    """A batch as JSON: each row an object with the CSV's columns (`prompt` or `script`,
    `title`, `template`, `aspect`, `resolution`, `duration`, `voice`, ..., `music`,
    `watermark`, `visuals`)."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[str, Field(max_length=200)] = ""
    template_id: Annotated[str | None, Field(max_length=100)] = None
    rows: Annotated[list[dict[str, Any]], Field(max_length=MAX_BATCH_ROWS_SENT)]


class RowProblemOut(_Out):
    line: int
    reason: str


class BatchRowOut(_Out):
    line: int
    title: str
    status: JobState
    render_id: uuid.UUID | None
    error: str | None = None


class BatchLinks(_Out):
    results: str
    download: str


class BatchOut(_Out):
    id: uuid.UUID
    name: str
    template_id: str | None
    created_at: datetime
    total: int
    done: int
    """Rows finished: succeeded, failed or canceled."""
    counts: dict[str, int]
    """Rows by status (every status, zeros included)."""
    skipped: list[RowProblemOut]
    """Rows refused at submit (`skip_invalid=true`), by line."""
    rows: list[BatchRowOut]
    links: BatchLinks


class RowPreviewOut(_Out):
    line: int
    title: str
    text: str
    """The prompt or script, cut to its first 200 characters."""
    duration_s: float
    """What the row counts for against the month's minutes until it is rendered."""


class BatchCheckOut(_Out):
    """A dry run: what would be queued, and every bad row; nothing is queued."""

    valid: list[RowPreviewOut]
    invalid: list[RowProblemOut]
    plan_problem: str | None = None
    """Why the plan would refuse the valid rows as a whole now (renders waiting, minutes
    left this month); None if they fit."""
