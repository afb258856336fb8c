"""My asset library: upload images, clips and songs to use in storyboards; list, search,
rename, tag and delete them; fetch their files and thumbnails."""

from __future__ import annotations

import shutil
import tempfile
import uuid
from pathlib import Path
from typing import Annotated, Literal

from fastapi import APIRouter, Query, Request, Response, status

from reelforge.api import schemas, uploads
from reelforge.api.deps import (
    CurrentUser,
    DbSession,
    DownloadFlag,
    Offset,
    PlatformDep,
    SignedLinkOrUser,
    UploadingUser,
    db_gate,
)
from reelforge.api.routes.renders import send_blob
from reelforge.db.crud import assets
from reelforge.db.models import Asset
from reelforge.errors import Conflict, NotFound
from reelforge.model.plans import PLAN_LIMITS, Plan
from reelforge.platform import library
from reelforge.platform.services import Platform

router = APIRouter(prefix="/assets", tags=["assets"])
MULTIPART_OVERHEAD_BYTES = 64 * 1024
"""Room for the form's other fields and part headers around the file."""


def asset_out(asset: Asset, platform: Platform) -> schemas.AssetOut:
    base = f"/api/v1/assets/{asset.id}"

    def link(file: str) -> str:
        expires, sig = platform.url_signer.sign(
            f"{base}/{file}", platform.settings.api.download_url_ttl_s
        )
        return f"{base}/{file}?expires={expires}&sig={sig}"

    return schemas.AssetOut(
        id=asset.id, name=asset.name, kind=asset.kind,
        content_type=asset.content_type, size_bytes=asset.stored_bytes, width=asset.width,
        height=asset.height, duration_s=asset.duration_s, codec=asset.codec,
        tags=assets.tag_list(asset), created_at=asset.created_at, updated_at=asset.updated_at,
        links=schemas.AssetLinks(
            file=link("file"), thumbnail=link("thumbnail") if asset.thumbnail_key else None
        ),
    )  # fmt: skip


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {
                            "file": {"type": "string", "format": "binary"},
                            "name": {"type": "string", "maxLength": 200},
                            "tags": {"type": "string", "description": "Comma-separated"},
                        },
                    }
                }
            },
        }
    },
    responses={
        402: {"description": "A clip or song over the plan's duration"},
        413: {"description": "Over the plan's file size, or the storage quota"},
        415: {"description": "Not an image, clip or song we take (judged by content)"},
    },
)
async def upload_asset(
    request: Request, user: UploadingUser, platform: PlatformDep
) -> schemas.AssetOut:
    """Upload one file (multipart field `file`, optional `name` and comma-separated
    `tags`). It is identified by its content; images are re-encoded without EXIF/GPS."""
    limit = PLAN_LIMITS[Plan(user.plan)].max_upload_bytes
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_OVERHEAD_BYTES:
        raise uploads.too_large(limit, user.plan)  # refused before a byte is read
    work = Path(tempfile.mkdtemp(prefix="upload-", dir=library.upload_dir(platform)))
    try:
        upload = await uploads.receive(request, work / "upload", max_bytes=limit, plan=user.plan)
        name = upload.fields.get("name", "").strip() or library.default_name(upload.filename)
        tags = assets.normalize_tags(upload.fields.get("tags", "").split(","))
        asset = await library.add(
            platform, user, upload.path, work=work, name=name[: library.MAX_NAME_CHARS],
            tags=assets.stored_tags(tags), db_turn=db_gate(request, write=True),
        )  # fmt: skip
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return asset_out(asset, platform)


@router.get("")
def list_assets(
    user: CurrentUser,
    session: DbSession,
    platform: PlatformDep,
    limit: Annotated[int, Query(ge=1, le=100)] = 50,
    offset: Offset = 0,
    q: Annotated[str | None, Query(max_length=200, description="Name or tag contains")] = None,
    kind: Literal["image", "clip", "audio"] | None = None,
    tag: Annotated[str | None, Query(max_length=40, description="Has this tag")] = None,
) -> schemas.Page[schemas.AssetOut]:
    page = assets.listing(
        session, user.id, limit=limit, offset=offset, search=q, kind=kind, tag=tag
    )
    return schemas.Page(
        items=[asset_out(a, platform) for a in page.items], total=page.total, limit=limit,
        offset=offset,
    )  # fmt: skip


@router.get("/{asset_id}")
def read_asset(
    asset_id: uuid.UUID, user: CurrentUser, session: DbSession, platform: PlatformDep
) -> schemas.AssetOut:
    return asset_out(assets.owned(session, user.id, asset_id), platform)


@router.patch("/{asset_id}")
def update_asset(
    asset_id: uuid.UUID, body: schemas.AssetPatch, user: CurrentUser, session: DbSession,
    platform: PlatformDep,
) -> schemas.AssetOut:  # fmt: skip
    asset = assets.owned(session, user.id, asset_id)
    if body.name is not None:
        asset.name = body.name.strip() or asset.name
    if body.tags is not None:
        asset.tags = assets.stored_tags(assets.normalize_tags(body.tags))
    session.flush()
    return asset_out(asset, platform)


@router.delete(
    "/{asset_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    responses={409: {"description": "A project uses it: send ?force=true to delete anyway"}},
)
def delete_asset(
    asset_id: uuid.UUID,
    user: CurrentUser,
    session: DbSession,
    platform: PlatformDep,
    force: Annotated[bool, Query(description="Delete even if a project uses it")] = False,
) -> None:
    """Finished renders keep their own files and are not affected; a project still using
    the asset fails to render (a 422 naming it) until it is replaced, as does a render
    queued before the delete."""
    asset = assets.owned(session, user.id, asset_id)
    using = assets.projects_using(session, asset)
    if using and not force:
        names = ", ".join(repr(p.name) for p in using[:3])
        raise Conflict(
            f"{len(using)} project(s) use this asset ({names}): send ?force=true to delete it"
        )
    session.delete(asset)
    session.flush()
    # Files go before the commit: if the store fails (503), the row stays and the same
    # DELETE can be sent again (removing what is already gone is not an error).
    platform.blobs.delete_prefix(library.asset_prefix(asset.id))


@router.get(
    "/{asset_id}/{file}",
    response_class=Response,
    responses={307: {"description": "Redirect to a signed object-storage URL"}},
)
def download_asset(
    asset_id: uuid.UUID,
    file: Literal["file", "thumbnail"],
    session: DbSession,
    platform: PlatformDep,
    caller: SignedLinkOrUser,
    download: DownloadFlag = False,
) -> Response:
    if caller is None:  # a link signed for this file
        asset = session.get(Asset, asset_id)
    else:
        asset = assets.owned(session, caller, asset_id)
    if asset is None or (file == "thumbnail" and asset.thumbnail_key is None):
        raise NotFound(f"asset {file} not found", stage="input")
    if file == "thumbnail":
        assert asset.thumbnail_key is not None
        return send_blob(platform, asset.thumbnail_key, "image/jpeg", "thumbnail.jpg", download)
    filename = asset.name + Path(asset.blob_key).suffix
    return send_blob(platform, asset.blob_key, asset.content_type, filename, download)
