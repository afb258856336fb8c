"""Render status, cancel, retry and downloads (Range-capable, for `<video>` seeking).

A render is its project owner's (their plan pays); members of the project read and
download it, editors also cancel and retry it, the owner alone deletes it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Query, Response, status
from fastapi.responses import FileResponse, RedirectResponse
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from reelforge.api import schemas
from reelforge.api.deps import (
    CurrentUser,
    DbSession,
    DownloadFlag,
    Now,
    Offset,
    PlatformDep,
    SignedLinkOrUser,
    limit_submit,
)
from reelforge.db.crud import product_events, projects, ratings, renders
from reelforge.db.crud.product_events import Fact
from reelforge.db.crud.projects import Page
from reelforge.db.models import JobState, RenderJob, Role, User
from reelforge.errors import Conflict, NotFound
from reelforge.jobs import submissions
from reelforge.jobs.kinds import RENDER_FILES, render_blob_key
from reelforge.logs import get_logger
from reelforge.platform import retention
from reelforge.platform.services import Platform
from reelforge.security.signing import UrlSigner

router = APIRouter(prefix="/renders", tags=["renders"])
log = get_logger("reelforge.api.renders")
MIN_PROGRESS_FOR_ETA = 0.05
DOWNLOADS = {
    "video": "video",
    "thumbnail": "thumbnail",
    "subtitles.srt": "srt",
    "subtitles.vtt": "vtt",
    "manifest.json": "manifest",
}
"""URL name → the render's file (see `jobs.kinds.RENDER_FILES`)."""


def _eta_s(job: RenderJob, now: datetime) -> float | None:
    """Remaining seconds, extrapolated from the progress so far (None until it means something)."""
    if job.state != JobState.RUNNING or job.started_at is None:
        return None
    if job.progress < MIN_PROGRESS_FOR_ETA:
        return None
    elapsed = (now - job.started_at).total_seconds()
    return round(max(elapsed * (1.0 - job.progress) / job.progress, 0.0), 1)


def render_links(
    render_id: uuid.UUID, signer: UrlSigner | None = None, ttl_s: int = 0
) -> schemas.RenderLinks:
    """Download paths; signed (`?expires=&sig=`) so a `<video src>` can play them without
    an Authorization header, until they expire."""
    base = f"/api/v1/renders/{render_id}"

    def link(file: str) -> str:
        if signer is None:
            return f"{base}/{file}"
        expires, sig = signer.sign(f"{base}/{file}", ttl_s)
        return f"{base}/{file}?expires={expires}&sig={sig}"

    return schemas.RenderLinks(
        video=link("video"), thumbnail=link("thumbnail"),
        srt=link("subtitles.srt"), vtt=link("subtitles.vtt"),
    )  # fmt: skip


def render_out(
    session: Session, job: RenderJob, now: datetime, platform: Platform
) -> schemas.RenderOut:
    finished = job.state == JobState.SUCCEEDED and bool(job.result)
    error = (
        schemas.RenderError(
            error_class=job.error_class, message=job.error_message or "", stage=job.error_stage
        )
        if job.error_class
        else None
    )
    return schemas.RenderOut(
        id=job.id, project_id=job.project_id, status=JobState(job.state), stage=job.stage,
        progress=round(100.0 * (1.0 if finished else job.progress), 1),
        queue_position=platform.jobs.queue_position(session, job.id), eta_s=_eta_s(job, now),
        attempts=job.attempts, error=error,
        cost_usd=job.cost_usd or float((job.result or {}).get("cost_usd", 0.0)),
        duration_s=(job.result or {}).get("duration_s"),
        scenes_reused=(job.result or {}).get("scenes_reused"),
        scenes_total=(job.result or {}).get("scenes_total"),
        checks=(job.result or {}).get("checks", []),
        created_at=job.enqueued_at, started_at=job.started_at, finished_at=job.finished_at,
        links=render_links(job.id, platform.url_signer, platform.settings.api.download_url_ttl_s)
        if finished
        else None,
    )  # fmt: skip


def _page(
    session: Session, page: Page, now: datetime, limit: int, offset: int, platform: Platform
) -> schemas.Page[schemas.RenderOut]:
    return schemas.Page(
        items=[render_out(session, job, now, platform) for job in page.items],
        total=page.total, limit=limit, offset=offset,
    )  # fmt: skip


@router.get("")
def list_renders(
    user: CurrentUser,
    session: DbSession,
    platform: PlatformDep,
    at: Now,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Offset = 0,
    sort: renders.RenderSort = "-created_at",
    status_: Annotated[JobState | None, Query(alias="status")] = None,
    project_id: uuid.UUID | None = None,
) -> schemas.Page[schemas.RenderOut]:
    """My renders; with `project_id`, all of that project's (a shared one's too)."""
    if project_id is not None:
        projects.accessible(session, user.id, project_id, need=Role.VIEWER)
    page = renders.listing(
        session, user.id, limit=limit, offset=offset, sort=sort, state=status_,
        project_id=project_id,
    )  # fmt: skip
    return _page(session, page, at, limit, offset, platform)


@router.get("/{render_id}")
def read_render(
    render_id: uuid.UUID, user: CurrentUser, session: DbSession, platform: PlatformDep, at: Now
) -> schemas.RenderOut:
    job = renders.accessible(session, user.id, render_id, need=Role.VIEWER)
    return render_out(session, job, at, platform)


@router.get("/{render_id}/rating")
def read_rating(render_id: uuid.UUID, user: CurrentUser, session: DbSession) -> schemas.RatingOut:
    """My rating of the render (404 until I rate it)."""
    renders.accessible(session, user.id, render_id, need=Role.VIEWER)
    return schemas.RatingOut.model_validate(ratings.of(session, render_id, user.id))


@router.put("/{render_id}/rating", responses={409: {"description": "The render has not succeeded"}})
def rate_render(
    render_id: uuid.UUID, body: schemas.RatingIn, user: CurrentUser, session: DbSession
) -> schemas.RatingOut:
    """Rate a finished video 1–5, with an optional comment; sending again changes it.
    Anyone who may watch it rates it: its owner and its project's members."""
    job = renders.accessible(session, user.id, render_id, need=Role.VIEWER)
    rating = ratings.put(session, job, user.id, stars=body.stars, comment=body.comment.strip())
    return schemas.RatingOut.model_validate(rating)


@router.post("/{render_id}/cancel", status_code=status.HTTP_202_ACCEPTED)
def cancel_render(
    render_id: uuid.UUID, user: CurrentUser, session: DbSession, platform: PlatformDep, at: Now
) -> schemas.RenderOut:
    """A queued render stops at once; a running one within about two seconds."""
    job = renders.accessible(session, user.id, render_id, need=Role.EDITOR)
    if platform.jobs.cancel(job.id, job.owner_id, session) is None:
        raise Conflict(f"this render has already finished ({job.state})")
    session.refresh(job)
    return render_out(session, job, at, platform)


@router.delete(
    "/{render_id}", status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "Still queued or running"}},
)  # fmt: skip
def delete_render(
    render_id: uuid.UUID, user: CurrentUser, session: DbSession, platform: PlatformDep, at: Now,
    background: BackgroundTasks,
) -> None:  # fmt: skip
    """Deletes a finished render: what it stored stops counting against the storage quota
    and its links stop working at once; its files are removed from storage (after
    `REELFORGE_RETENTION__DELETED_FILES_HOURS`). Cancel a queued or running one first."""
    job = renders.accessible(session, user.id, render_id, need=Role.OWNER)
    keep_s = platform.deleted_files_keep_s
    purge_after_commit(
        background, platform, retention.delete_render(session, job, at=at, keep_s=keep_s)
    )


def purge_after_commit(
    background: BackgroundTasks, platform: Platform, tombstones: list[uuid.UUID]
) -> None:
    """With no grace period, remove a deletion's files once the response is sent: after the
    request's transaction committed (a rolled-back deletion has no tombstones to find). A
    store that fails then leaves them to the prune."""
    if tombstones and platform.deleted_files_keep_s == 0:
        background.add_task(platform.purge_deleted, tombstones)


@router.post(
    "/{render_id}/retry",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(limit_submit)],
)
def retry_render(
    render_id: uuid.UUID, user: CurrentUser, session: DbSession, platform: PlatformDep, at: Now,
    response: Response,
) -> schemas.RenderOut:  # fmt: skip
    """A new render of the same snapshot, for a failed or canceled one (the owner's)."""
    failed = renders.accessible(session, user.id, render_id, need=Role.EDITOR)
    owner = session.get(User, failed.owner_id)
    assert owner is not None  # the job's foreign key cascades on the owner's deletion
    job = submissions.retry(session, platform.jobs, owner, failed, at)
    response.headers["Location"] = f"/api/v1/renders/{job.id}"
    return render_out(session, job, at, platform)


def _downloadable(session: DbSession, render_id: uuid.UUID, caller: uuid.UUID | None) -> RenderJob:
    """The render, if the link is signed for it (`caller` None) or the caller may read it."""
    if caller is not None:
        return renders.accessible(session, caller, render_id, need=Role.VIEWER)
    job = session.get(RenderJob, render_id)
    if job is None or job.kind != "render":
        raise NotFound("render not found", stage="input")
    return job


def record_viewing(
    platform: Platform, job: RenderJob, user_id: uuid.UUID | None, *, download: bool,
    range_header: str | None,
) -> None:  # fmt: skip
    """A video played or downloaded, as a product fact about its project. A player asks
    again for each seek: only a request from the start (no `Range`, or `bytes=0-`) counts.

    In a short transaction of its own: a download is a read (its request's SQLite session
    never takes the write lock, and upgrading it could fail on a busy database), and a
    fact that cannot be written must not stop the video, so that failure is only logged."""
    if range_header is not None and not range_header.replace(" ", "").startswith("bytes=0-"):
        return
    fact = Fact.VIDEO_DOWNLOADED if download else Fact.VIDEO_PLAYED
    try:
        with platform.writer_sessions() as session:
            product_events.record(session, fact, user_id, subject_id=job.project_id)
            session.commit()
    except SQLAlchemyError as exc:
        log.warning("viewing not recorded", fact=fact, error=type(exc).__name__)


@router.get(
    "/{render_id}/{file}",
    response_class=Response,
    responses={
        200: {
            "description": "The file",
            "content": {"video/mp4": {}, "image/jpeg": {}, "application/json": {}},
        },
        206: {"description": "Part of the file (Range)"},
        307: {"description": "Redirect to a signed object-storage URL"},
    },
)
def download(
    render_id: uuid.UUID,
    file: Literal["video", "thumbnail", "subtitles.srt", "subtitles.vtt", "manifest.json"],
    session: DbSession,
    platform: PlatformDep,
    caller: SignedLinkOrUser,
    download: DownloadFlag = False,
    range_header: Annotated[str | None, Header(alias="Range", include_in_schema=False)] = None,
) -> Response:
    job = _downloadable(session, render_id, caller)
    if job.state != JobState.SUCCEEDED or not (job.result or {}).get("blobs"):
        raise Conflict(f"this render has no files yet ({job.state})")
    if file == "video":
        record_viewing(platform, job, caller, download=download, range_header=range_header)
    blob_name, content_type = RENDER_FILES[DOWNLOADS[file]]
    filename = f"reelforge-{str(job.id)[:8]}-{blob_name}"
    return send_blob(platform, render_blob_key(job.id, blob_name), content_type, filename, download)


def send_blob(
    platform: Platform, key: str, content_type: str, filename: str, download: bool
) -> Response:
    """The blob's file (Range-capable), or a redirect to a signed object-storage URL."""
    local = platform.blobs.local_path(key)
    if local is not None:
        return FileResponse(
            local, media_type=content_type, filename=filename,
            content_disposition_type="attachment" if download else "inline",
        )  # fmt: skip
    url = platform.blobs.signed_url(
        key, expires_s=platform.settings.s3.url_ttl_s,
        filename=filename if download else None, content_type=content_type,
    )  # fmt: skip
    assert url is not None  # a store without local files signs URLs
    return RedirectResponse(url, status.HTTP_307_TEMPORARY_REDIRECT)
