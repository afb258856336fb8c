"""The tables. Every job, state change and event is a row first: notifications only wake
readers up, the database is the source of truth (so a dead worker loses nothing)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.types import DateTime, TypeDecorator

from reelforge.model.plans import Plan


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC) if value is not None else None

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELED = "canceled"


FINAL_STATES = (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELED)


class Role(StrEnum):
    """What a person may do with a project, each role including the ones before it."""

    VIEWER = "viewer"
    """Watch and download its renders, read its storyboard, comment."""
    EDITOR = "editor"
    """Also edit the project and its storyboard and submit renders (charged to the owner)."""
    OWNER = "owner"
    """Also share, delete, and manage public links."""

    @property
    def rank(self) -> int:
        return list(Role).index(self)

    def includes(self, needed: Role) -> bool:
        return self.rank >= needed.rank


class Base(DeclarativeBase):
    type_annotation_map: ClassVar[dict[Any, Any]] = {datetime: UTCDateTime(), dict[str, Any]: JSON}


class User(Base):
    __tablename__ = "users"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    password_hash: Mapped[str | None] = mapped_column(String(200), default=None)
    plan: Mapped[Plan] = mapped_column(String(20), default=Plan.FREE)
    is_admin: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_claimed_at: Mapped[datetime | None] = mapped_column(default=None)
    """When a worker last started one of this user's jobs: the round-robin clock."""

    projects: Mapped[list[Project]] = relationship(back_populates="owner")


class Project(Base):
    __tablename__ = "projects"
    __table_args__ = (Index("ix_projects_owner", "owner_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    prompt: Mapped[str] = mapped_column(Text, default="")
    settings: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The engine's `VideoSettings` (aspect, resolution, length, voice...) as JSON."""
    template_id: Mapped[str | None] = mapped_column(String(100), default=None)
    template_version: Mapped[int | None] = mapped_column(default=None)
    """The version of `template_id` the settings were made from (templates are versioned)."""
    storyboard: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    storyboard_version: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    """Bumped by every write of the storyboard or settings: the ETag a write must match,
    checked in the UPDATE itself so it holds across API processes."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    owner: Mapped[User] = relationship(back_populates="projects")


class Template(Base):
    """A user's template; what it holds is in its versions, which are never changed."""

    __tablename__ = "templates"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    version: Mapped[int] = mapped_column(Integer, default=1)
    """The latest version: the one a new project gets."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)

    versions: Mapped[list[TemplateVersion]] = relationship(
        back_populates="template", cascade="all, delete-orphan", passive_deletes=True
    )


class TemplateVersion(Base):
    """One immutable version of a template: an edit adds a row, never changes one."""

    __tablename__ = "template_versions"

    template_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("templates.id", ondelete="CASCADE"), primary_key=True
    )
    version: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(String(300), default="")
    style: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The model's `TemplateStyle` as JSON."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    template: Mapped[Template] = relationship(back_populates="versions")


class ProjectMember(Base):
    """Someone the owner shared the project with; `accepted_at` unset = still invited."""

    __tablename__ = "project_members"
    __table_args__ = (
        UniqueConstraint("project_id", "user_id", name="uq_project_members_user"),
        Index("ix_project_members_user", "user_id"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    role: Mapped[Role] = mapped_column(String(20))
    invited_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    invited_at: Mapped[datetime] = mapped_column(default=utcnow)
    accepted_at: Mapped[datetime | None] = mapped_column(default=None)

    project: Mapped[Project] = relationship()
    user: Mapped[User] = relationship(foreign_keys=[user_id])


class ShareLink(Base):
    """A public, read-only link to one finished render; only the token's digest is kept."""

    __tablename__ = "share_links"
    __table_args__ = (Index("ix_share_links_project", "project_id"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    render_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("render_jobs.id", ondelete="CASCADE"))
    created_by: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class Activity(Base):
    """What members did to a project (shared, edited, submitted, commented), append-only."""

    __tablename__ = "project_activity"
    __table_args__ = (Index("ix_project_activity_project", "project_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    actor_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    action: Mapped[str] = mapped_column(String(40))
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)
    at: Mapped[datetime] = mapped_column(default=utcnow)


class Comment(Base):
    """A member's comment on one scene of a project's storyboard (by its index)."""

    __tablename__ = "comments"
    __table_args__ = (Index("ix_comments_project", "project_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    project_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("projects.id", ondelete="CASCADE"))
    scene: Mapped[int] = mapped_column(Integer)
    author_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    body: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class RenderJob(Base):
    __tablename__ = "render_jobs"
    __table_args__ = (
        Index("ix_render_jobs_claim", "state", "owner_id", "enqueued_at"),
        Index("ix_render_jobs_owner", "owner_id", "enqueued_at"),
        UniqueConstraint("owner_id", "idempotency_key", name="uq_render_jobs_idempotency"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    project_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("projects.id", ondelete="SET NULL"), default=None
    )
    kind: Mapped[str] = mapped_column(String(40), default="render")
    """What the worker runs: `render`, or `noop`/`sleep` for benchmarks and tests."""
    state: Mapped[JobState] = mapped_column(String(20), default=JobState.QUEUED)
    plan: Mapped[Plan] = mapped_column(String(20))
    """The owner's plan when submitted: it fixes the job's priority class."""
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    """The storyboard snapshot (and options) the job renders."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    max_attempts: Mapped[int] = mapped_column(Integer, default=3)
    progress: Mapped[float] = mapped_column(default=0.0)
    stage: Mapped[str | None] = mapped_column(String(40), default=None)
    checkpoints: Mapped[dict[str, Any]] = mapped_column(default=dict)
    error_class: Mapped[str | None] = mapped_column(String(20), default=None)
    error_message: Mapped[str | None] = mapped_column(Text, default=None)
    error_stage: Mapped[str | None] = mapped_column(String(40), default=None)
    result: Mapped[dict[str, Any] | None] = mapped_column(default=None)
    cost_usd: Mapped[float] = mapped_column(default=0.0)
    enqueued_at: Mapped[datetime] = mapped_column(default=utcnow)
    run_after: Mapped[datetime] = mapped_column(default=utcnow)
    """Not claimable before this (retry backoff)."""
    started_at: Mapped[datetime | None] = mapped_column(default=None)
    finished_at: Mapped[datetime | None] = mapped_column(default=None)
    heartbeat_at: Mapped[datetime | None] = mapped_column(default=None)
    worker_id: Mapped[str | None] = mapped_column(String(100), default=None)
    cancel_requested: Mapped[bool] = mapped_column(default=False)
    idempotency_key: Mapped[str | None] = mapped_column(String(200), default=None)
    """The client's `Idempotency-Key`: a repeated submit returns this job, not a new one."""


class BlobTombstone(Base):
    """A folder of the blob store whose owner was deleted (a render, or each render of a
    deleted project): its files are removed once `purge_after` has passed, by the prune
    (`platform/retention.py`). Written in the deletion's transaction, so a deletion that
    commits never leaves its files behind, and one that rolls back never loses them."""

    __tablename__ = "blob_tombstones"
    __table_args__ = (Index("ix_blob_tombstones_due", "purge_after"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    prefix: Mapped[str] = mapped_column(String(512))
    """The blob-store folder to remove, e.g. `renders/<id>`."""
    owner_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    """Whose files they were; no foreign key: the tombstone outlives a deleted user."""
    reason: Mapped[str] = mapped_column(String(40))
    """`render_deleted` or `project_deleted`."""
    deleted_at: Mapped[datetime] = mapped_column(default=utcnow)
    purge_after: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """Append-only log of what happened to a user's jobs; its id orders events per user."""

    __tablename__ = "events"
    __table_args__ = (
        Index("ix_events_user", "user_id", "id"),
        Index("ix_events_job", "job_id"),
    )
    """`ix_events_job`: the members of a shared project read its renders' events by job."""

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    job_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    type: Mapped[str] = mapped_column(String(40))
    data: Mapped[dict[str, Any]] = mapped_column(default=dict)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class AuthSession(Base):
    """One login: the family of its rotating refresh tokens. Revoking it logs out."""

    __tablename__ = "auth_sessions"
    __table_args__ = (Index("ix_auth_sessions_user", "user_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime]
    """The absolute timeout: no refresh extends a session past this."""
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_reason: Mapped[str | None] = mapped_column(String(60), default=None)
    user_agent: Mapped[str] = mapped_column(String(300), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")


class RefreshToken(Base):
    """Stored as a digest only; `rotated_at` set = spent, and presenting it again is theft."""

    __tablename__ = "refresh_tokens"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    session_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("auth_sessions.id", ondelete="CASCADE"), index=True
    )
    digest: Mapped[str] = mapped_column(String(64), unique=True)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    rotated_at: Mapped[datetime | None] = mapped_column(default=None)


class ApiKey(Base):
    """A personal key for scripts; only its lookup prefix is kept in clear."""

    __tablename__ = "api_keys"

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), index=True
    )
    name: Mapped[str] = mapped_column(String(100))
    lookup_prefix: Mapped[str] = mapped_column(String(32), unique=True)
    digest: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(default=None)
    revoked_at: Mapped[datetime | None] = mapped_column(default=None)


class UserSecret(Base):
    """A secret a user brings (their own provider API key), encrypted at rest."""

    __tablename__ = "user_secrets"
    __table_args__ = (UniqueConstraint("user_id", "name", name="uq_user_secrets_name"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(60))
    ciphertext: Mapped[str] = mapped_column(Text)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class AuditEntry(Base):
    """Who did what security-relevant thing (logins, admin actions), append-only."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_actor", "actor_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    actor_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    action: Mapped[str] = mapped_column(String(60))
    target: Mapped[str] = mapped_column(String(200), default="")
    ip: Mapped[str] = mapped_column(String(64), default="")
    detail: Mapped[dict[str, Any]] = mapped_column(default=dict)


class Asset(Base):
    """A user's uploaded image, clip or song: its file (and thumbnail) are blobs under
    `assets/<id>/`; this row holds what was learnt from the content at upload."""

    __tablename__ = "assets"
    __table_args__ = (Index("ix_assets_owner", "owner_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    kind: Mapped[str] = mapped_column(String(10))
    """`image`, `clip` or `audio` (`platform.media.MediaKind`)."""
    content_type: Mapped[str] = mapped_column(String(100))
    blob_key: Mapped[str] = mapped_column(String(512))
    thumbnail_key: Mapped[str | None] = mapped_column(String(512), default=None)
    stored_bytes: Mapped[int] = mapped_column(BigInteger)
    """The file and its thumbnail: what counts against the storage quota."""
    width: Mapped[int | None] = mapped_column(Integer, default=None)
    height: Mapped[int | None] = mapped_column(Integer, default=None)
    duration_s: Mapped[float | None] = mapped_column(default=None)
    codec: Mapped[str | None] = mapped_column(String(40), default=None)
    tags: Mapped[str] = mapped_column(String(1100), default="")
    """`,a,b,`: each tag between commas, so `tag = x` is a portable `LIKE '%,x,%'`."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class ProductEvent(Base):
    """A product fact for the admins' analytics (`db/crud/product_events.py` names the
    kinds): who (a user id, nothing else about them), what, on which subject, when.

    Written in the transaction of the action it records, so a fact exists if and only if
    the action happened. `value` carries the one number some kinds need (a render's cost,
    a rating, a probe's result, a request's duration); `label` a bounded word (a plan)."""

    __tablename__ = "product_events"
    __table_args__ = (
        Index("ix_product_events_kind_at", "kind", "at", "value"),
        Index("ix_product_events_user_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    at: Mapped[datetime] = mapped_column(default=utcnow)
    kind: Mapped[str] = mapped_column(String(40))
    user_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL"), default=None
    )
    """Kept as null when the user is deleted: the fact still counts, nobody is named."""
    subject_id: Mapped[uuid.UUID | None] = mapped_column(default=None)
    """The project (or render, asset) the fact is about."""
    value: Mapped[float | None] = mapped_column(default=None)
    label: Mapped[str | None] = mapped_column(String(40), default=None)


class Rating(Base):
    """A user's 1–5 rating of a finished render; one per user and render, changeable."""

    __tablename__ = "ratings"
    __table_args__ = (UniqueConstraint("render_id", "user_id", name="uq_ratings_user"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    render_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("render_jobs.id", ondelete="CASCADE"))
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    stars: Mapped[int] = mapped_column(Integer)
    comment: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookEndpoint(Base):
    """A URL a user wants told of events; its signing secret is kept encrypted."""

    __tablename__ = "webhook_endpoints"
    __table_args__ = (Index("ix_webhook_endpoints_user", "user_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    user_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[list[str]] = mapped_column(JSON, default=list)
    description: Mapped[str] = mapped_column(String(300), default="")
    enabled: Mapped[bool] = mapped_column(default=True)
    secret_ciphertext: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow, onupdate=utcnow)


class WebhookDelivery(Base):
    """One event for one endpoint: the unique key makes the fan-out idempotent, and the row is
    the queue entry the sender claims (`locked_until` is its lease)."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        UniqueConstraint("endpoint_id", "event_id", name="uq_webhook_deliveries_event"),
        Index("ix_webhook_deliveries_due", "state", "next_attempt_at"),
        Index("ix_webhook_deliveries_endpoint", "endpoint_id", "created_at"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    endpoint_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_endpoints.id", ondelete="CASCADE")
    )
    event_id: Mapped[int | None] = mapped_column(BigInteger, default=None)
    """The `events` row it announces (unset for a future non-job event, e.g. a batch)."""
    event_type: Mapped[str] = mapped_column(String(40))
    payload: Mapped[dict[str, Any]] = mapped_column(default=dict)
    state: Mapped[str] = mapped_column(String(20), default="pending")
    """`pending` (to send, now or after `next_attempt_at`), `succeeded` or `failed`."""
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(default=utcnow)
    give_up_at: Mapped[datetime] = mapped_column(default=utcnow)
    """No retry is scheduled after this: a day after the first try (or a redelivery)."""
    locked_until: Mapped[datetime | None] = mapped_column(default=None)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_status: Mapped[int | None] = mapped_column(Integer, default=None)


class WebhookAttempt(Base):
    """The delivery log: one row per HTTP attempt, with what the receiver answered."""

    __tablename__ = "webhook_attempts"
    __table_args__ = (Index("ix_webhook_attempts_delivery", "delivery_id", "id"),)

    id: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer, "sqlite"), primary_key=True, autoincrement=True
    )
    delivery_id: Mapped[uuid.UUID] = mapped_column(
        ForeignKey("webhook_deliveries.id", ondelete="CASCADE")
    )
    attempted_at: Mapped[datetime] = mapped_column(default=utcnow)
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
    response_excerpt: Mapped[str] = mapped_column(String(1100), default="")
    error: Mapped[str | None] = mapped_column(String(300), default=None)


class WebhookCursor(Base):
    """How far the fan-out has read the `events` log: one row, moved in the same transaction
    as the deliveries it inserts (a crash repeats nothing and skips nothing)."""

    __tablename__ = "webhook_cursor"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_event_id: Mapped[int] = mapped_column(BigInteger, default=0)


class Batch(Base):
    """Many renders submitted at once from one CSV or JSON list; its progress is that of
    its rows' renders, read when asked (nothing to keep in step)."""

    __tablename__ = "batches"
    __table_args__ = (Index("ix_batches_owner", "owner_id", "created_at"),)

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    owner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(200))
    template_id: Mapped[str | None] = mapped_column(String(100), default=None)
    skipped: Mapped[list[dict[str, Any]]] = mapped_column(JSON, default=list)
    """The rows refused at submit (`skip_invalid`): `{"line", "reason"}` each."""
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    rows: Mapped[list[BatchRow]] = relationship(
        back_populates="batch", order_by="BatchRow.line", cascade="all, delete-orphan",
        passive_deletes=True,
    )  # fmt: skip


class BatchRow(Base):
    """One queued row of a batch: its line in the upload and its latest render (a retry
    moves `render_id` to the new one)."""

    __tablename__ = "batch_rows"
    __table_args__ = (
        Index("ix_batch_rows_render", "render_id"),
        UniqueConstraint("batch_id", "line", name="uq_batch_rows_line"),
    )

    id: Mapped[uuid.UUID] = mapped_column(primary_key=True, default=uuid.uuid4)
    batch_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("batches.id", ondelete="CASCADE"))
    line: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(200), default="")
    render_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("render_jobs.id", ondelete="SET NULL"), default=None
    )

    batch: Mapped[Batch] = relationship(back_populates="rows")
    render: Mapped[RenderJob | None] = relationship()
