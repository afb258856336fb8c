"""The asset library: an upload, already on disk, checked and stored as a user's asset.

The steps are ordered so that a refusal stores nothing and an upload holds the database
only for its last, short step: content and plan checks (`media.inspect`), a first quota
check, the blobs written (no database held: a big file takes a while on S3), then the
row inserted and the quota checked again in one short transaction. If that last step
fails, the blobs just written are removed.
"""

from __future__ import annotations

import contextlib
import shutil
import time
import uuid
from contextlib import AbstractAsyncContextManager
from pathlib import Path

from starlette.concurrency import run_in_threadpool

from reelforge.db.crud import product_events, quota
from reelforge.db.crud.product_events import Fact
from reelforge.db.models import Asset, User
from reelforge.errors import LimitExceeded
from reelforge.model.plans import PLAN_LIMITS, Plan
from reelforge.platform.media import Media, inspect
from reelforge.platform.services import Platform
from reelforge.storage import BlobStore

MAX_NAME_CHARS = 200
STALE_UPLOAD_S = 24 * 3600


def asset_prefix(asset_id: uuid.UUID) -> str:
    return f"assets/{asset_id}"


def upload_dir(platform: Platform) -> Path:
    """Where uploads stream to before they are checked (each in a folder of its own)."""
    folder = platform.settings.data_dir / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    sweep(folder, time.time())
    return folder


def sweep(folder: Path, now: float) -> None:
    """Remove what uploads cut short by a crash left behind (a finished or refused upload
    removes its own folder); no upload takes `STALE_UPLOAD_S`."""
    for leftover in folder.iterdir():
        with contextlib.suppress(OSError):  # another process may be removing it too
            if now - leftover.stat().st_mtime > STALE_UPLOAD_S:
                shutil.rmtree(leftover)


def default_name(filename: str) -> str:
    stem = Path(filename).stem.strip() if filename else ""
    return (stem or "upload")[:MAX_NAME_CHARS]


def _checked(platform: Platform, user: User, source: Path, work: Path) -> Media:
    media = inspect(source, work)
    limits = PLAN_LIMITS[Plan(user.plan)]
    if media.duration_s is not None and media.duration_s > limits.max_asset_duration_s:
        raise LimitExceeded(
            f"this {media.kind} lasts {media.duration_s:.0f} s; the {user.plan} plan takes "
            f"clips and songs up to {limits.max_asset_duration_s:g} s",
            stage="input",
        )
    with platform.sessions() as session:  # before writing any blob
        quota.ensure_room(session, user, adding_bytes=_bytes(media))
    return media


def _bytes(media: Media) -> int:
    thumbnail = media.thumbnail.stat().st_size if media.thumbnail else 0
    return media.path.stat().st_size + thumbnail


def _publish(blobs: BlobStore, asset_id: uuid.UUID, media: Media) -> tuple[str, str | None]:
    prefix = asset_prefix(asset_id)
    try:
        key = blobs.put_file(f"{prefix}/file{media.extension}", media.path, media.content_type)
        thumbnail = None
        if media.thumbnail is not None:
            thumbnail = blobs.put_file(f"{prefix}/thumbnail.jpg", media.thumbnail, "image/jpeg")
    except BaseException:
        blobs.delete_prefix(prefix)
        raise
    return key.key, thumbnail.key if thumbnail else None


def _record(platform: Platform, user: User, asset: Asset) -> Asset:
    with platform.writer_sessions() as session:
        session.add(asset)
        session.flush()
        quota.ensure_room(session, user)
        product_events.record(session, Fact.ASSET_UPLOADED, user.id, subject_id=asset.id)
        session.commit()
    return asset


async def add(
    platform: Platform,
    user: User,
    source: Path,
    *,
    work: Path,
    name: str,
    tags: str,
    db_turn: AbstractAsyncContextManager[None],
) -> Asset:
    """Store the upload at `source` as one of `user`'s assets (`tags` already normalised,
    stored as `,a,b,`); `work` is a scratch folder the caller removes; `db_turn` is
    entered for the database write.

    Raises:
        UnsupportedMedia, InvalidInput: see `media.inspect`.
        LimitExceeded: a clip or song over the plan's duration.
        QuotaExceeded: the user's storage would be over the plan's quota.
    """
    media = await run_in_threadpool(_checked, platform, user, source, work)
    asset_id = uuid.uuid4()
    blob_key, thumbnail_key = await run_in_threadpool(_publish, platform.blobs, asset_id, media)
    asset = Asset(
        id=asset_id, owner_id=user.id, name=name, kind=str(media.kind),
        content_type=media.content_type, blob_key=blob_key, thumbnail_key=thumbnail_key,
        stored_bytes=_bytes(media), width=media.width, height=media.height,
        duration_s=media.duration_s, codec=media.codec, tags=tags,
    )  # fmt: skip
    try:
        async with db_turn:
            return await run_in_threadpool(_record, platform, user, asset)
    except BaseException:
        await run_in_threadpool(platform.blobs.delete_prefix, asset_prefix(asset_id))
        raise
