"""Templates: the built-in ones and mine; create, edit (a new version each time), delete, and a
preview image of each version, rendered once and kept in the blob store."""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Header, Query, Response, status
from pydantic import ValidationError

from reelforge.api import schemas
from reelforge.api.deps import CurrentUser, DbSession, PlatformDep, SignedLinkOrUser
from reelforge.api.routes.projects import deep_merge
from reelforge.db.crud import projects, templates
from reelforge.db.models import Role
from reelforge.errors import InvalidInput, NotFound
from reelforge.model.storyboard import VideoSettings, describe_validation_error
from reelforge.model.templates import BUILTIN_TEMPLATES, Template, TemplateStyle, style_of
from reelforge.platform.services import Platform

router = APIRouter(prefix="/templates", tags=["templates"])
PREVIEW_CONTENT_TYPE = "image/png"
IMMUTABLE = "private, max-age=31536000, immutable"
"""A preview of a named version never changes (the blob key holds a digest of its style)."""
REVALIDATE = "private, no-cache"
"""Without `?version=` the latest version is shown, which an edit changes."""
Version = Annotated[int | None, Query(ge=1, le=2**31 - 1, description="Default: the latest")]


def _preview_path(template_id: str) -> str:
    return f"/api/v1/templates/{template_id}/preview.png"


def template_out(template: Template, platform: Platform) -> schemas.TemplateOut:
    path = _preview_path(template.id)
    expires, sig = platform.url_signer.sign(path, platform.settings.api.download_url_ttl_s)
    return schemas.TemplateOut(
        id=template.id, name=template.name, description=template.description,
        version=template.version, builtin=template.builtin, style=template.style,
        preview_url=f"{path}?version={template.version}&expires={expires}&sig={sig}",
    )  # fmt: skip


@router.get("")
def list_templates(
    user: CurrentUser, session: DbSession, platform: PlatformDep
) -> list[schemas.TemplateOut]:
    """The built-in templates, then mine (newest first), each at its latest version."""
    found = [*BUILTIN_TEMPLATES.values(), *templates.mine(session, user.id)]
    return [template_out(t, platform) for t in found]


@router.get("/{template_id}")
def read_template(
    template_id: str, user: CurrentUser, session: DbSession, platform: PlatformDep,
    version: Version = None,
) -> schemas.TemplateOut:  # fmt: skip
    return template_out(templates.get(session, user.id, template_id, version), platform)


@router.post("", status_code=status.HTTP_201_CREATED)
def create_template(
    body: schemas.TemplateCreate, user: CurrentUser, session: DbSession, platform: PlatformDep
) -> schemas.TemplateOut:
    sources = [s for s in (body.style, body.from_template, body.from_project) if s is not None]
    if len(sources) != 1:
        raise InvalidInput("give exactly one of style, from_template and from_project")
    if body.from_template is not None:
        style = templates.get(session, user.id, body.from_template).style
    elif body.from_project is not None:
        access = projects.accessible(session, user.id, body.from_project, need=Role.VIEWER)
        project = access.project
        style = style_of(VideoSettings.model_validate(project.settings))
    else:
        assert body.style is not None
        style = body.style
    created = templates.create(
        session, user.id, name=body.name.strip(), description=body.description, style=style
    )
    return template_out(created, platform)


@router.patch("/{template_id}")
def update_template(
    template_id: str, body: schemas.TemplatePatch, user: CurrentUser, session: DbSession,
    platform: PlatformDep,
) -> schemas.TemplateOut:  # fmt: skip
    """Save the edit as a new version; projects and renders made from earlier versions keep
    the style they were made with."""
    if template_id in BUILTIN_TEMPLATES:
        raise InvalidInput("built-in templates cannot be edited: create one from it instead")
    current = templates.get(session, user.id, template_id)
    style = current.style
    if body.style is not None:
        try:
            merged = deep_merge(current.style.model_dump(mode="json"), body.style)
            style = TemplateStyle.model_validate(merged)
        except ValidationError as exc:
            raise InvalidInput(f"style.{describe_validation_error(exc)}") from exc
    updated = templates.update(
        session, user.id, template_id, name=(body.name or current.name).strip(),
        description=current.description if body.description is None else body.description,
        style=style,
    )  # fmt: skip
    return template_out(updated, platform)


@router.delete("/{template_id}", status_code=status.HTTP_204_NO_CONTENT)
def delete_template(
    template_id: str, user: CurrentUser, session: DbSession, platform: PlatformDep
) -> None:
    if template_id in BUILTIN_TEMPLATES:
        raise InvalidInput("built-in templates cannot be deleted")
    templates.delete(session, user.id, template_id)
    platform.blobs.delete_prefix(_preview_folder(template_id))


def _preview_folder(template_id: str) -> str:
    return f"previews/templates/{template_id}/"


def _preview_key(template: Template) -> str:
    state = template.model_dump_json(include={"name", "style"})
    digest = hashlib.sha256(state.encode()).hexdigest()[:16]
    return f"{_preview_folder(template.id)}v{template.version}-{digest}.png"


def _cached_preview(platform: Platform, template: Template) -> tuple[str, bytes]:
    """The preview's blob key and bytes, rendering and storing it on first use."""
    key = _preview_key(template)
    try:
        return key, platform.blobs.read_bytes(key)
    except NotFound:
        pass
    from reelforge.engine.preview import render_preview

    with tempfile.TemporaryDirectory(prefix="preview-") as tmp:
        out = Path(tmp) / "preview.png"
        render_preview(template, out)
        platform.blobs.put_file(key, out, PREVIEW_CONTENT_TYPE)
        return key, out.read_bytes()


@router.get(
    "/{template_id}/preview.png",
    response_class=Response,
    responses={
        200: {"description": "The preview", "content": {PREVIEW_CONTENT_TYPE: {}}},
        304: {"description": "Unchanged (If-None-Match)"},
    },
)
def preview(
    template_id: str,
    session: DbSession,
    platform: PlatformDep,
    caller: SignedLinkOrUser,
    version: Version = None,
    if_none_match: Annotated[str | None, Header(max_length=500)] = None,
) -> Response:
    """A frame in the template's style; `preview_url` in a template is a signed link to it."""
    template = templates.get(session, caller, template_id, version)  # any, by a signed link
    key, data = _cached_preview(platform, template)
    etag = '"' + key.rsplit("-", 1)[-1].removesuffix(".png") + '"'
    headers = {"ETag": etag, "Cache-Control": IMMUTABLE if version else REVALIDATE}
    if if_none_match is not None and etag in {t.strip() for t in if_none_match.split(",")}:
        return Response(status_code=status.HTTP_304_NOT_MODIFIED, headers=headers)
    return Response(data, media_type=PREVIEW_CONTENT_TYPE, headers=headers)
