"""Projects, their editable storyboard, and submitting a render of one.

Every route names the role it needs (`projects.accessible`): viewers read, editors write
and submit (charged to the owner: the job is the owner's), the owner alone deletes (the
project with its renders and their files)."""

from __future__ import annotations

import functools
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, BackgroundTasks, Depends, Header, Query, Request, Response, status
from pydantic import ValidationError
from sqlalchemy.orm import Session

from reelforge.api import schemas
from reelforge.api.deps import (
    Credentials,
    CurrentUser,
    DbSession,
    Now,
    Offset,
    PlatformDep,
    limit_submit,
    signed_in_read,
)
from reelforge.api.routes.renders import purge_after_commit, render_out
from reelforge.db.crud import activity, assets, product_events, projects, quota, templates
from reelforge.db.crud.product_events import Fact
from reelforge.db.models import Project, Role, User
from reelforge.errors import InvalidInput, NotFound
from reelforge.jobs import submissions
from reelforge.model.storyboard import Storyboard, VideoSettings, describe_validation_error
from reelforge.model.templates import apply
from reelforge.platform import retention
from reelforge.platform.providers import narrates_the_prompt

router = APIRouter(prefix="/projects", tags=["projects"])
Limit = Annotated[int, Query(ge=1, le=100)]


def project_out(project: Project, role: Role = Role.OWNER) -> schemas.ProjectOut:
    return schemas.ProjectOut(
        id=project.id, name=project.name, prompt=project.prompt,
        settings=project.settings, template_id=project.template_id,
        template_version=project.template_version,
        has_storyboard=project.storyboard is not None,
        created_at=project.created_at, updated_at=project.updated_at,
        role=role, shared=role != Role.OWNER,
    )  # fmt: skip


@router.get("", response_model=schemas.Page[schemas.ProjectOut])
async def list_projects(
    request: Request,
    at: Now,
    credentials: Credentials,
    limit: Limit = 20,
    offset: Offset = 0,
    sort: projects.ProjectSort = "-updated_at",
    q: Annotated[str | None, Query(max_length=200, description="Name contains")] = None,
) -> Response:
    """The busiest read: one thread-pool call (`signed_in_read`), and serialized there,
    once (a returned model is validated again against the response model)."""

    def page_json(session: Session, user: User) -> bytes:
        page = projects.listing(session, user.id, limit=limit, offset=offset, sort=sort, search=q)
        items = [listed_out(item) for item in page.items]
        out = schemas.Page[schemas.ProjectOut](
            items=items, total=page.total, limit=limit, offset=offset
        )
        return out.model_dump_json().encode()

    content = await signed_in_read(request, credentials, at, page_json)
    return Response(content, media_type="application/json")


SETTINGS_CACHE_SIZE = 1024
"""Distinct stored settings kept parsed: about 1 KB each."""


@functools.lru_cache(maxsize=SETTINGS_CACHE_SIZE)
def parsed_settings(settings_json: str) -> VideoSettings:
    """Stored settings, parsed once while they stay in use: a listing is read again and
    again (the dashboard), and parsing every row's settings each time was a sixth of its
    CPU in the thread. Shared between responses: only serialize it, never change it."""
    return VideoSettings.model_validate_json(settings_json)


def listed_out(item: projects.Listed) -> schemas.ProjectOut:
    return schemas.ProjectOut(
        id=item.id, name=item.name, prompt=item.prompt,
        settings=parsed_settings(item.settings_json),
        template_id=item.template_id, template_version=item.template_version,
        has_storyboard=item.has_storyboard, created_at=item.created_at,
        updated_at=item.updated_at, role=item.role, shared=item.role != Role.OWNER,
    )  # fmt: skip


@router.post("", status_code=status.HTTP_201_CREATED)
def create_project(
    body: schemas.ProjectCreate, user: CurrentUser, session: DbSession
) -> schemas.ProjectOut:
    """With `template_id`, the template's style fills every setting not sent in `settings`."""
    assets.check_references(session, user.id, body.settings)
    project = projects.create(
        session, user.id, name=body.name.strip(), prompt=body.prompt,
        settings=body.settings.model_dump(mode="json"), template_id=None,
    )  # fmt: skip
    if body.template_id is not None:
        use_template(session, user.id, project, body.template_id, body.settings.model_fields_set)
    quota.ensure_room(session, user)
    product_events.record(session, Fact.PROJECT_CREATED, user.id, subject_id=project.id)
    return project_out(project)


def use_template(
    session: Session, user_id: uuid.UUID, project: Project, template_id: str, keep: set[str]
) -> None:
    """Copy the template's latest version into the project's settings (except the fields
    in `keep`) and record which version that was; later edits of the template do not reach
    the project."""
    template = templates.get(session, user_id, template_id)
    settings = apply(template, VideoSettings.model_validate(project.settings), keep)
    project.settings = settings.model_dump(mode="json")
    project.template_id, project.template_version = template.id, template.version
    product_events.record(session, Fact.TEMPLATE_USED, user_id, subject_id=project.id)


@router.get("/{project_id}")
def read_project(
    project_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> schemas.ProjectOut:
    access = projects.accessible(session, user.id, project_id, need=Role.VIEWER)
    return project_out(access.project, access.role)


@router.patch("/{project_id}")
def update_project(
    project_id: uuid.UUID, body: schemas.ProjectPatch, user: CurrentUser, session: DbSession
) -> schemas.ProjectOut:
    access = projects.accessible(session, user.id, project_id, need=Role.EDITOR)
    project = access.project
    before = quota.project_bytes(project)
    given = body.model_dump(exclude_unset=True, mode="json")
    for field in ("name", "prompt"):
        if given.get(field) is not None:
            setattr(project, field, given[field])
    if given.get("settings") is not None:  # only the fields sent change
        merged = deep_merge(project.settings, given["settings"])
        try:
            settings = VideoSettings.model_validate(merged)
        except ValidationError as exc:
            raise InvalidInput(f"settings.{describe_validation_error(exc)}") from exc
        assets.check_references(session, project.owner_id, settings)
        project.settings = settings.model_dump(mode="json")
        # A storyboard write also sets the settings: one read before this is now stale.
        project.storyboard_version = Project.storyboard_version + 1
    if given.get("template_id") is not None:
        use_template(
            session, user.id, project, given["template_id"], set(given.get("settings") or {})
        )
        project.storyboard_version = Project.storyboard_version + 1  # its style set settings
    elif "template_id" in given:  # null forgets the template; the settings stay
        project.template_id, project.template_version = None, None
    session.flush()
    activity.record(session, project.id, user.id, "project_edited", fields=",".join(given))
    if quota.project_bytes(project) > before:  # shrinking is allowed even over the quota
        quota.ensure_room(session, project.owner)
    return project_out(project, access.role)


def deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@router.delete(
    "/{project_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "A render of the project is running"}},
)
def delete_project(
    project_id: uuid.UUID, user: CurrentUser, session: DbSession, platform: PlatformDep, at: Now,
    background: BackgroundTasks,
) -> None:  # fmt: skip
    """Deletes the project and its renders (queued ones are canceled): what they stored
    stops counting against the storage quota at once, and their files are removed from
    storage (after `REELFORGE_RETENTION__DELETED_FILES_HOURS`). A running render must be
    canceled first. Uploaded assets stay in the library."""
    project = projects.accessible(session, user.id, project_id, need=Role.OWNER).project
    keep_s = platform.deleted_files_keep_s
    buried = retention.delete_project(session, platform.jobs, project, at=at, keep_s=keep_s)
    purge_after_commit(background, platform, buried)


IfMatch = Annotated[
    str | None,
    Header(max_length=500, description="The ETag you read; a stale one gets 412"),
]


@router.get(
    "/{project_id}/storyboard",
    responses={200: {"headers": {"ETag": {"description": "Send back as If-Match"}}}},
)
def read_storyboard(
    project_id: uuid.UUID, user: CurrentUser, session: DbSession, response: Response
) -> Storyboard:
    project = projects.accessible(session, user.id, project_id, need=Role.VIEWER).project
    if project.storyboard is None:
        raise NotFound("this project has no storyboard yet: PUT one, or render the prompt")
    response.headers["ETag"] = projects.storyboard_etag(project)
    return Storyboard.model_validate(project.storyboard)


@router.post("/{project_id}/storyboard/draft")
def draft_storyboard(
    project_id: uuid.UUID, user: CurrentUser, session: DbSession, platform: PlatformDep,
    response: Response,
) -> Storyboard:  # fmt: skip
    """The storyboard a render of the prompt would use, to start editing from (not saved;
    its ETag is the project's current one, for the first PUT's If-Match)."""
    from reelforge.engine.pipeline import plan

    project = projects.accessible(session, user.id, project_id, need=Role.EDITOR).project
    if not project.prompt.strip():
        raise InvalidInput("this project has no prompt to plan from: write one first")
    settings = VideoSettings.model_validate(project.settings)
    storyboard, _ = plan(project.prompt, settings, platform.providers_for_user(project.owner_id))
    response.headers["ETag"] = projects.storyboard_etag(project)
    return storyboard.model_copy(update={"title": storyboard.title or project.name})


@router.put(
    "/{project_id}/storyboard",
    responses={412: {"description": "If-Match is stale: someone saved since you read it"}},
)
def write_storyboard(
    project_id: uuid.UUID, body: Storyboard, user: CurrentUser, session: DbSession,
    response: Response, if_match: IfMatch = None,
) -> Storyboard:  # fmt: skip
    """Replaces the storyboard. Send the ETag you read as `If-Match`: if anyone saved
    since, this gets a 412 instead of silently overwriting their change."""
    project = projects.accessible(session, user.id, project_id, need=Role.EDITOR).project
    before = quota.project_bytes(project)
    # An editor's storyboard uses the owner's library: renders run on the owner's account.
    assets.check_references(session, project.owner_id, body.settings, body)
    if "settings" not in body.model_fields_set:  # keep the project's, don't reset them
        body = body.model_copy(update={"settings": VideoSettings.model_validate(project.settings)})
    projects.save_storyboard(
        session, project, storyboard=body.model_dump(mode="json"),
        settings=body.settings.model_dump(mode="json"), if_match=if_match,
    )  # fmt: skip
    activity.record(session, project.id, user.id, "storyboard_edited", scenes=len(body.scenes))
    if quota.project_bytes(project) > before:
        quota.ensure_room(session, project.owner)
    response.headers["ETag"] = projects.storyboard_etag(project)
    return body


@router.delete("/{project_id}/storyboard", status_code=status.HTTP_204_NO_CONTENT)
def clear_storyboard(
    project_id: uuid.UUID, user: CurrentUser, session: DbSession, if_match: IfMatch = None
) -> None:
    """Back to rendering from the prompt."""
    project = projects.accessible(session, user.id, project_id, need=Role.EDITOR).project
    projects.save_storyboard(
        session, project, storyboard=None, settings=project.settings, if_match=if_match
    )
    activity.record(session, project.id, user.id, "storyboard_cleared")


@router.post(
    "/{project_id}/renders",
    status_code=status.HTTP_202_ACCEPTED,
    dependencies=[Depends(limit_submit)],
    responses={
        402: {"description": "Plan limit"},
        413: {"description": "Storage quota"},
        429: {"description": "Too many requests"},
    },
)
def submit_render(
    project_id: uuid.UUID,
    user: CurrentUser,
    session: DbSession,
    platform: PlatformDep,
    at: Now,
    response: Response,
    idempotency_key: Annotated[str | None, Header(max_length=200)] = None,
) -> schemas.RenderOut:
    """Queue a render of the project as it is now; repeat-safe with `Idempotency-Key`.
    An editor's render is the owner's: their plan's limits, quota and provider keys."""
    project = projects.accessible(session, user.id, project_id, need=Role.EDITOR).project
    submitted = submissions.submit(
        session, platform.jobs, project.owner, project, at, idempotency_key=idempotency_key,
        voice_vendors=platform.voice_vendors(session, project.owner_id),
        narrates_the_prompt=narrates_the_prompt(platform.settings.providers),
    )  # fmt: skip
    if submitted.created:
        job_id = str(submitted.job.id)
        activity.record(session, project.id, user.id, "render_submitted", render_id=job_id)
        product_events.record(session, Fact.RENDER_SUBMITTED, user.id, subject_id=project.id)
    else:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/renders/{submitted.job.id}"
    return render_out(session, submitted.job, at, platform)
