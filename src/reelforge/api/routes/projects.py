"""Projects, their editable storyboard, and submitting a render of one."""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header, Query, Response, status
from pydantic import ValidationError
from sqlalchemy.orm import Session

from reelforge.api import schemas
from reelforge.api.deps import CurrentUser, DbSession, Now, Offset, PlatformDep, limit_submit
from reelforge.api.routes.renders import render_out
from reelforge.db.crud import assets, projects, quota, templates
from reelforge.db.models import Project
from reelforge.errors import InvalidInput, NotFound, PreconditionFailed
from reelforge.jobs import submissions
from reelforge.model.storyboard import Storyboard, VideoSettings, describe_validation_error
from reelforge.model.templates import apply
from reelforge.platform.providers import narrates_the_prompt

router = APIRouter(prefix="/projects", tags=["projects"])
Limit = Annotated[int, Query(ge=1, le=100)]


def project_out(project: Project) -> schemas.ProjectOut:
    return schemas.ProjectOut(
        id=project.id, name=project.name, prompt=project.prompt,
        settings=project.settings, template_id=project.template_id,
        template_version=project.template_version,
        has_storyboard=project.storyboard is not None,
        created_at=project.created_at, updated_at=project.updated_at,
    )  # fmt: skip


@router.get("")
def list_projects(
    user: CurrentUser,
    session: DbSession,
    limit: Limit = 20,
    offset: Offset = 0,
    sort: projects.ProjectSort = "-updated_at",
    q: Annotated[str | None, Query(max_length=200, description="Name contains")] = None,
) -> schemas.Page[schemas.ProjectOut]:
    page = projects.listing(session, user.id, limit=limit, offset=offset, sort=sort, search=q)
    return schemas.Page(
        items=[project_out(p) for p in page.items], total=page.total, limit=limit, offset=offset
    )


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


@router.get("/{project_id}")
def read_project(
    project_id: uuid.UUID, user: CurrentUser, session: DbSession
) -> schemas.ProjectOut:
    return project_out(projects.owned(session, user.id, project_id))


@router.patch("/{project_id}")
def update_project(
    project_id: uuid.UUID, body: schemas.ProjectPatch, user: CurrentUser, session: DbSession
) -> schemas.ProjectOut:
    project = projects.owned(session, user.id, project_id)
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
        assets.check_references(session, user.id, settings)
        project.settings = settings.model_dump(mode="json")
    if given.get("template_id") is not None:
        use_template(
            session, user.id, project, given["template_id"], set(given.get("settings") or {})
        )
    elif "template_id" in given:  # null forgets the template; the settings stay
        project.template_id, project.template_version = None, None
    session.flush()
    if quota.project_bytes(project) > before:  # shrinking is allowed even over the quota
        quota.ensure_room(session, user)
    return project_out(project)


def deep_merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


@router.delete("/{project_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_project(project_id: uuid.UUID, user: CurrentUser, session: DbSession) -> None:
    """Deletes the project; its renders stay listed (and downloadable) under /renders."""
    session.delete(projects.owned(session, user.id, project_id))


def storyboard_etag(project: Project) -> str:
    """A strong validator of what a storyboard write replaces: the storyboard (or its
    absence) and the project's settings, which a write also sets."""
    state = json.dumps([project.storyboard, project.settings], sort_keys=True, default=str)
    return '"' + hashlib.sha256(state.encode()).hexdigest()[:24] + '"'


def check_if_match(project: Project, if_match: str | None) -> None:
    """Optimistic concurrency: a write sent with `If-Match` applies only to what it read."""
    if if_match is None or if_match.strip() == "*":
        return
    sent = {tag.strip().removeprefix("W/") for tag in if_match.split(",")}
    if storyboard_etag(project) not in sent:
        raise PreconditionFailed(
            "the storyboard changed since you loaded it: reload it, or send it again "
            "without If-Match to overwrite"
        )


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
    project = projects.owned(session, user.id, project_id)
    if project.storyboard is None:
        raise NotFound("this project has no storyboard yet: PUT one, or render the prompt")
    response.headers["ETag"] = storyboard_etag(project)
    return Storyboard.model_validate(project.storyboard)


@router.post("/{project_id}/storyboard/draft")
def draft_storyboard(
    project_id: uuid.UUID, user: CurrentUser, session: DbSession, platform: PlatformDep,
    response: Response,
) -> Storyboard:  # fmt: skip
    """The storyboard a render of the prompt would use, to start editing from (not saved;
    its ETag is the project's current one, for the first PUT's If-Match)."""
    from reelforge.engine.pipeline import plan

    project = projects.owned(session, user.id, project_id)
    if not project.prompt.strip():
        raise InvalidInput("this project has no prompt to plan from: write one first")
    settings = VideoSettings.model_validate(project.settings)
    storyboard, _ = plan(project.prompt, settings, platform.providers_for_user(user.id))
    response.headers["ETag"] = storyboard_etag(project)
    return storyboard.model_copy(update={"title": storyboard.title or project.name})


@router.put(
    "/{project_id}/storyboard",
    responses={412: {"description": "If-Match is stale: someone saved since you read it"}},
)
def write_storyboard(
    project_id: uuid.UUID, body: Storyboard, user: CurrentUser, session: DbSession,
    response: Response, if_match: IfMatch = None,
) -> Storyboard:  # fmt: skip
    project = projects.owned(session, user.id, project_id)
    check_if_match(project, if_match)
    before = quota.project_bytes(project)
    assets.check_references(session, user.id, body.settings, body)
    if "settings" not in body.model_fields_set:  # keep the project's, don't reset them
        body = body.model_copy(update={"settings": VideoSettings.model_validate(project.settings)})
    project.storyboard = body.model_dump(mode="json")
    project.settings = body.settings.model_dump(mode="json")
    session.flush()
    if quota.project_bytes(project) > before:
        quota.ensure_room(session, user)
    response.headers["ETag"] = storyboard_etag(project)
    return body


@router.delete("/{project_id}/storyboard", status_code=status.HTTP_204_NO_CONTENT)
def clear_storyboard(project_id: uuid.UUID, user: CurrentUser, session: DbSession) -> None:
    """Back to rendering from the prompt."""
    projects.owned(session, user.id, project_id).storyboard = None


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
    """Queue a render of the project as it is now; repeat-safe with `Idempotency-Key`."""
    project = projects.owned(session, user.id, project_id)
    submitted = submissions.submit(
        session, platform.jobs, user, project, at, idempotency_key=idempotency_key,
        voice_vendors=platform.voice_vendors(session, user.id),
        narrates_the_prompt=narrates_the_prompt(platform.settings.providers),
    )  # fmt: skip
    if not submitted.created:
        response.headers["Idempotent-Replayed"] = "true"
    response.headers["Location"] = f"/api/v1/renders/{submitted.job.id}"
    return render_out(session, submitted.job, at, platform)
