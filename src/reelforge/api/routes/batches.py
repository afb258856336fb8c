"""Batches: many videos submitted at once from a CSV upload or a JSON list of rows.

Every row is checked before anything is queued; a bad row is reported by its line (422 with
`rows`), and the batch queues nothing, unless `skip_invalid=true` queues the others.
`dry_run=true` only reports. Each row is an ordinary render of the caller's, so the render
routes cancel and retry one row, and the plan's limits count a batch as its renders."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Iterable, Iterator
from datetime import datetime
from functools import partial
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Response, status
from fastapi.responses import StreamingResponse
from pydantic import ValidationError

from reelforge.api import schemas
from reelforge.api.deps import CurrentUser, DbSession, Now, Offset, PlatformDep, limit_submit
from reelforge.api.zipstream import Member, stream_zip
from reelforge.db.crud import batches
from reelforge.db.models import FINAL_STATES, Batch, JobState, RenderJob
from reelforge.errors import InvalidInput
from reelforge.jobs import batches as batch_jobs
from reelforge.jobs.kinds import render_blob_key
from reelforge.model.batches import RawRow, csv_cell, read_csv, read_json, video_name
from reelforge.model.storyboard import describe_validation_error
from reelforge.platform.providers import narrates_the_prompt
from reelforge.platform.services import Platform

router = APIRouter(prefix="/batches", tags=["batches"])
RESULT_COLUMNS = ("line", "title", "status", "render_id", "file", "duration_s", "error")
REQUEST_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": schemas.BatchIn.model_json_schema()},
        "text/csv": {"schema": {"type": "string"}, "example": "prompt,title\nTides...,Tides\n"},
    },
}


def _rows(body: Any, template: str | None) -> tuple[list[RawRow], str | None, str]:
    """The upload's rows, its template and its name: a CSV (bytes) or a `BatchIn`."""
    if isinstance(body, bytes):  # its size is bounded by the API's body limit (middleware)
        try:
            text = body.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise InvalidInput("the CSV is not UTF-8 text") from exc
        return read_csv(text), template, ""
    try:
        sent = schemas.BatchIn.model_validate(body)
    except ValidationError as exc:
        raise InvalidInput(describe_validation_error(exc)) from exc
    return read_json(sent.rows), sent.template_id or template, sent.name


def batch_out(batch: Batch) -> schemas.BatchOut:
    counts = batches.counts(batch)
    base = f"/api/v1/batches/{batch.id}"
    return schemas.BatchOut(
        id=batch.id, name=batch.name, template_id=batch.template_id, created_at=batch.created_at,
        total=len(batch.rows), counts=counts,
        done=sum(counts[state] for state in FINAL_STATES),
        skipped=[schemas.RowProblemOut(**problem) for problem in batch.skipped],
        rows=[
            schemas.BatchRowOut(
                line=row.line, title=row.title, status=batches.row_state(row),
                render_id=row.render_id,
                error=row.render.error_message if row.render is not None else None,
            )
            for row in batch.rows
        ],
        links=schemas.BatchLinks(results=f"{base}/results.csv", download=f"{base}/download.zip"),
    )  # fmt: skip


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    dependencies=[Depends(limit_submit)],
    openapi_extra={"requestBody": REQUEST_BODY},
    responses={
        200: {"model": schemas.BatchCheckOut, "description": "A dry run's report"},
        402: {"description": "Plan limit: rows per batch, duration, resolution, minutes"},
        422: {"description": "Bad rows, each by `line` with its `reason` (in `rows`)"},
        429: {"description": "More renders than the plan lets wait"},
    },
)
def create_batch(
    body: Annotated[Any, Body()],
    user: CurrentUser,
    session: DbSession,
    platform: PlatformDep,
    at: Now,
    response: Response,
    template: Annotated[str | None, Query(max_length=100, description="For every row")] = None,
    name: Annotated[str, Query(max_length=200)] = "",
    dry_run: Annotated[bool, Query(description="Only check the rows; queue nothing")] = False,
    skip_invalid: Annotated[bool, Query(description="Queue the valid rows anyway")] = False,
) -> schemas.BatchOut | schemas.BatchCheckOut:
    """Queue one render per row: a CSV body (`Content-Type: text/csv`, a header row) or
    JSON (`BatchIn`)."""
    rows, template_id, sent_name = _rows(body, template)
    checked = batch_jobs.check(
        session, user, rows, template_id=template_id,
        voice_vendors=platform.voice_vendors(session, user.id),
        narrates_the_prompt=narrates_the_prompt(platform.settings.providers),
    )  # fmt: skip
    if dry_run:
        response.status_code = status.HTTP_200_OK
        return schemas.BatchCheckOut(
            valid=[
                schemas.RowPreviewOut(
                    line=row.request.line, title=row.request.title,
                    text=row.request.text[:200], duration_s=row.snapshot.reserved_s,
                )
                for row in checked.valid
            ],
            invalid=[schemas.RowProblemOut(line=n, reason=why) for n, why in checked.invalid],
            plan_problem=batch_jobs.usage_problem(session, user, checked, at),
        )  # fmt: skip
    batch = batch_jobs.submit(
        session, platform.jobs, user, checked, at, name=(name or sent_name).strip(),
        template_id=template_id, skip_invalid=skip_invalid,
    )  # fmt: skip
    response.headers["Location"] = f"/api/v1/batches/{batch.id}"
    return batch_out(batch)


@router.get("")
def list_batches(
    user: CurrentUser,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    offset: Offset = 0,
) -> schemas.Page[schemas.BatchOut]:
    """My batches, newest first."""
    page = batches.listing(session, user.id, limit=limit, offset=offset)
    items = [batch_out(batch) for batch in page.items]
    return schemas.Page(items=items, total=page.total, limit=limit, offset=offset)


@router.get("/{batch_id}")
def read_batch(batch_id: uuid.UUID, user: CurrentUser, session: DbSession) -> schemas.BatchOut:
    return batch_out(batches.owned(session, user.id, batch_id))


@router.post("/{batch_id}/cancel", status_code=status.HTTP_202_ACCEPTED)
def cancel_batch(
    batch_id: uuid.UUID, user: CurrentUser, session: DbSession, platform: PlatformDep
) -> schemas.BatchOut:
    """Queued rows stop at once, running ones within about two seconds; finished rows stay."""
    batch_jobs.cancel(session, platform.jobs, batches.owned(session, user.id, batch_id))
    return batch_out(batches.owned(session, user.id, batch_id))


@router.post(
    "/{batch_id}/retry", status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(limit_submit)],
)  # fmt: skip
def retry_batch(
    batch_id: uuid.UUID, user: CurrentUser, session: DbSession, platform: PlatformDep, at: Now
) -> schemas.BatchOut:
    """A new render for every failed or canceled row, checked against the plan as now."""
    batch_jobs.retry(session, platform.jobs, user, batches.owned(session, user.id, batch_id), at)
    return batch_out(batches.owned(session, user.id, batch_id))


def _results_csv(batch: Batch) -> str:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(RESULT_COLUMNS)
    for row in batch.rows:
        job = row.render
        done = job is not None and job.state == JobState.SUCCEEDED
        writer.writerow((
            row.line, csv_cell(row.title), batches.row_state(row), row.render_id or "",
            video_name(row.line, row.title) if done else "",
            (job.result or {}).get("duration_s", "") if done and job else "",
            csv_cell(job.error_message or "") if job else "",
        ))  # fmt: skip
    for problem in batch.skipped:
        writer.writerow((problem["line"], "", "invalid", "", "", "", csv_cell(problem["reason"])))
    return out.getvalue()


@router.get(
    "/{batch_id}/results.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "One line per row"}},
)
def results_csv(batch_id: uuid.UUID, user: CurrentUser, session: DbSession) -> Response:
    """Each row's status, render id, file name in the ZIP, length and error."""
    batch = batches.owned(session, user.id, batch_id)
    return Response(
        _results_csv(batch), media_type="text/csv",
        headers={"Content-Disposition": f'attachment; filename="batch-{str(batch.id)[:8]}.csv"'},
    )  # fmt: skip


def _blob_chunks(platform: Platform, key: str) -> Iterator[bytes]:
    size = platform.blobs.stat(key).size_bytes
    if size:
        yield from platform.blobs.open_range(key, 0, size - 1)


def _members(platform: Platform, batch: Batch, results: str, at: datetime) -> Iterable[Member]:
    for row in batch.rows:
        job: RenderJob | None = row.render
        if job is None or job.state != JobState.SUCCEEDED or not (job.result or {}).get("blobs"):
            continue
        chunks = partial(_blob_chunks, platform, render_blob_key(job.id, "video.mp4"))
        yield video_name(row.line, row.title), job.finished_at or at, chunks
    yield "results.csv", at, partial(list, [results.encode()])


@router.get(
    "/{batch_id}/download.zip",
    response_class=StreamingResponse,
    responses={200: {"content": {"application/zip": {}}, "description": "MP4s + results.csv"}},
)
def download_zip(
    batch_id: uuid.UUID, user: CurrentUser, session: DbSession, platform: PlatformDep, at: Now
) -> StreamingResponse:
    """The finished rows' videos and the results CSV, streamed from the blob store as the
    archive is written (rows still rendering are left out: download again later)."""
    batch = batches.owned(session, user.id, batch_id)
    members = list(
        _members(platform, batch, _results_csv(batch), at)
    )  # read before the session ends
    return StreamingResponse(
        stream_zip(members), media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="batch-{str(batch.id)[:8]}.zip"'},
    )  # fmt: skip
