"""The composition root: turns `Settings` into the live objects the API, the workers and
the CLI share (database engine, job manager, blob store, token signer, rate limiter).

Everything else receives these objects; nothing below this module reads settings.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine, inspect, make_url
from sqlalchemy.orm import Session, sessionmaker

from reelforge.db.crud import secrets, webhooks
from reelforge.db.crud.auth import SessionTimeouts
from reelforge.db.models import WebhookDelivery, utcnow
from reelforge.db.session import make_engine, session_factory
from reelforge.engine.cache import prune as prune_cache
from reelforge.engine.ffmpeg import Watchdog
from reelforge.jobs.alerts import WebhookAlert
from reelforge.jobs.kinds import JobRunner, default_kinds, prune_abandoned_work
from reelforge.jobs.manager import ClaimedJob, JobManager
from reelforge.jobs.policy import SchedulingPolicy
from reelforge.jobs.webhooks import WebhookLoop, WebhookSender
from reelforge.jobs.worker import WorkerTimings
from reelforge.model.plans import Plan
from reelforge.platform import retention
from reelforge.platform.providers import USER_KEY_NAMES, build_providers, reachable_voice_vendors
from reelforge.providers.registry import Providers
from reelforge.security.crypto import SecretBox
from reelforge.security.ratelimit import RateLimiter
from reelforge.security.signing import UrlSigner
from reelforge.security.tickets import WsTickets
from reelforge.security.tokens import AccessTokens
from reelforge.settings import Settings
from reelforge.storage import BlobStore, LocalBlobStore, S3BlobStore

SECRET_KEY_FILE = "secret.key"


def policy_for(settings: Settings) -> SchedulingPolicy:
    knobs = settings.queue
    concurrency = {
        Plan.FREE: knobs.concurrency_free,
        Plan.BASIC: knobs.concurrency_basic,
        Plan.PRO: knobs.concurrency_pro,
        Plan.ENTERPRISE: knobs.concurrency_enterprise,
    }
    return SchedulingPolicy(ageing_s=knobs.ageing_s, concurrency=concurrency)


def watchdog_for(settings: Settings) -> Watchdog:
    render = settings.render
    return Watchdog(render.ffmpeg_timeout_base_s, render.ffmpeg_timeout_per_media_s)


PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def prepare_data_dir(settings: Settings) -> None:
    """Create the data folder readable by this user only (0700), and the SQLite database
    file (0600) before SQLite or Alembic make it with the umask's usual 0644: it holds
    password hashes and encrypted secrets. Narrows an existing folder or file we own."""
    _private(settings.data_dir, PRIVATE_DIR_MODE, directory=True)
    url = make_url(settings.db_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        database = Path(url.database or "")
        database.parent.mkdir(parents=True, exist_ok=True)
        os.close(os.open(database, os.O_WRONLY | os.O_CREAT, PRIVATE_FILE_MODE))
        _private(database, PRIVATE_FILE_MODE, directory=False)


def _private(path: Path, mode: int, *, directory: bool) -> None:
    if directory:
        path.mkdir(mode=mode, parents=True, exist_ok=True)
    info = path.stat()
    if info.st_uid == os.getuid() and info.st_mode & 0o777 & ~mode:
        path.chmod(mode)


def load_secret_key(settings: Settings) -> str:
    """`REELFORGE_SECRET_KEY`, or a random key made once in the data folder (mode 0600),
    so the embedded default is safe without configuration and survives restarts."""
    if settings.secret_key is not None:
        return settings.secret_key.get_secret_value()
    path = settings.data_dir / SECRET_KEY_FILE
    prepare_data_dir(settings)
    if not path.exists():
        # Written aside, then linked into place: a process starting at the same moment
        # either sees no file or the whole key, and only one key ever wins.
        draft = path.with_name(f".{SECRET_KEY_FILE}.{os.getpid()}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(os.urandom(32).hex())
        with contextlib.suppress(FileExistsError):
            os.link(draft, path)
        draft.unlink()
    return path.read_text(encoding="ascii").strip()


def blob_store_for(settings: Settings) -> BlobStore:
    if settings.storage == "local":
        return LocalBlobStore(settings.data_dir / "blobs")
    s3 = settings.s3
    if not s3.bucket:
        raise ValueError("REELFORGE_STORAGE=s3 needs REELFORGE_S3__BUCKET")
    return S3BlobStore(
        s3.bucket,
        endpoint_url=s3.endpoint_url,
        region=s3.region,
        access_key_id=s3.access_key_id.get_secret_value() if s3.access_key_id else None,
        secret_access_key=s3.secret_access_key.get_secret_value() if s3.secret_access_key else None,
        prefix=s3.prefix,
        create_bucket=True,
    )


@dataclass
class Platform:
    """Built once per process; cheap attributes are created on first use."""

    settings: Settings

    @cached_property
    def engine(self) -> Engine:
        prepare_data_dir(self.settings)
        return make_engine(self.settings.db_url)

    @cached_property
    def sessions(self) -> sessionmaker[Session]:
        return session_factory(self.engine)

    @cached_property
    def writer_sessions(self) -> sessionmaker[Session]:
        """Sessions that will write: on SQLite they take the write lock when they begin,
        so a read-then-write request never fails on a snapshot another writer moved."""
        return session_factory(self.engine.execution_options(sqlite_immediate=True))

    @cached_property
    def jobs(self) -> JobManager:
        webhook = self.settings.admin_webhook_url
        alert = WebhookAlert(webhook.get_secret_value()) if webhook else None
        return JobManager(self.engine, policy_for(self.settings), on_system_error=alert)

    @cached_property
    def blobs(self) -> BlobStore:
        return blob_store_for(self.settings)

    @cached_property
    def secret_key(self) -> str:
        return load_secret_key(self.settings)

    @cached_property
    def tokens(self) -> AccessTokens:
        auth = self.settings.auth
        return AccessTokens(
            secret=self.secret_key, issuer=auth.issuer, audience=auth.audience,
            ttl_s=auth.access_ttl_s,
        )  # fmt: skip

    @property
    def timeouts(self) -> SessionTimeouts:
        auth = self.settings.auth
        return SessionTimeouts(idle_s=auth.idle_timeout_s, absolute_s=auth.absolute_timeout_s)

    @cached_property
    def url_signer(self) -> UrlSigner:
        return UrlSigner(self.secret_key)

    @cached_property
    def secret_box(self) -> SecretBox:
        return SecretBox(self.secret_key)

    def webhook_loop(self) -> WebhookLoop:
        """The webhook sender for a process that runs workers (not started yet)."""
        hooks = self.settings.webhooks
        sender = WebhookSender(
            self.engine, self.secret_box, allow_private=hooks.allow_private,
            base_delay_s=hooks.base_delay_s, retry_window_s=hooks.retry_window_s,
            timeout_s=hooks.timeout_s,
        )  # fmt: skip
        return WebhookLoop(sender, hooks.poll_s)

    @cached_property
    def ws_tickets(self) -> WsTickets:
        return WsTickets(self.secret_key, ttl_s=self.settings.api.ws_ticket_ttl_s)

    @cached_property
    def limiter(self) -> RateLimiter:
        return RateLimiter(self.settings.redis_url or "memory://")

    def job_kinds(self) -> dict[str, JobRunner]:
        settings = self.settings
        return default_kinds(
            settings.data_dir, settings.cache_dir, self.blobs, self.providers_for,
            watchdog_for(settings),
        )  # fmt: skip

    def prune(
        self,
        max_bytes: int | None = None,
        max_age_days: float | None = None,
        now: datetime | None = None,
    ) -> retention.Pruned:
        """Retention (`settings.retention`, or the values given): the artifact cache cut back,
        abandoned render work folders removed, old webhook deliveries removed, deleted
        renders' files removed once their grace has passed. Run at start-up, every
        `retention.prune_interval_minutes` where renders run, and by `reelforge cache prune`."""
        keep = self.settings.retention
        cache = prune_cache(
            self.settings.cache_dir,
            max_bytes=keep.cache_max_bytes if max_bytes is None else max_bytes,
            max_age_s=(keep.cache_max_age_days if max_age_days is None else max_age_days) * 86400,
        )
        work = prune_abandoned_work(self.settings.data_dir, keep.abandoned_work_hours * 3600)
        # `cache prune` may run on a data folder whose database was never set up.
        if not inspect(self.engine).has_table(WebhookDelivery.__tablename__):
            return retention.Pruned(cache, work, 0, retention.Purged(0, 0))
        before = (now or utcnow()) - timedelta(days=keep.webhook_deliveries_days)
        with self.writer_sessions() as session, session.begin():
            deliveries = webhooks.prune_deliveries(session, before)
        return retention.Pruned(cache, work, deliveries, self.purge_deleted())

    def prune_loop(self) -> retention.PruneLoop:
        """The periodic prune for a process that runs workers (not started yet)."""
        return retention.PruneLoop(self.prune, self.settings.retention.prune_interval_minutes * 60)

    @property
    def deleted_files_keep_s(self) -> float:
        """How long a deleted render's files stay in the blob store."""
        return self.settings.retention.deleted_files_hours * 3600

    def purge_deleted(self, ids: Sequence[uuid.UUID] | None = None) -> retention.Purged:
        """Remove the files of deleted renders and projects whose grace has passed (only
        the tombstones `ids` if given: right after a deletion, when there is no grace)."""
        return retention.purge(self.writer_sessions, self.blobs, utcnow(), ids=ids)

    def work_dirs(self) -> dict[str, Path]:
        """Where renders write (finished files, then the artifact cache): watched for space."""
        return {"data": self.settings.data_dir, "cache": self.settings.cache_dir}

    def worker_timings(self, **overrides: float) -> WorkerTimings:
        """The workers' timings from the settings (`overrides` win, e.g. the CLI's)."""
        return WorkerTimings(**{"grace_s": self.settings.workers.grace_s, **overrides})

    def voice_vendors(self, session: Session, user_id: uuid.UUID) -> frozenset[str]:
        """Cloud voice vendors a user's renders can reach: the server's keys or their own."""
        own = {row.name for row in secrets.names(session, user_id)}
        return reachable_voice_vendors(self.settings.providers, own)

    def providers_for(self, job: ClaimedJob) -> Providers:
        """The owner's own provider keys (decrypted only here, for this render) over ours."""
        return self.providers_for_user(job.owner_id)

    def providers_for_user(self, user_id: uuid.UUID) -> Providers:
        """The providers a render by `user_id` would use now (their keys over ours)."""
        with self.sessions() as session:
            own = {
                row.name: self.secret_box.decrypt(
                    row.ciphertext, context=secrets.context(user_id, row.name)
                )
                for row in secrets.names(session, user_id)
                if row.name in USER_KEY_NAMES
            }
        return build_providers(self.settings.providers, own)

    @property
    def work_dir(self) -> Path:
        return self.settings.data_dir / "work"
