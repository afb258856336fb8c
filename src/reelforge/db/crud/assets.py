"""Uploaded assets, always read through their owner, and the rule for what a storyboard
from the API may name: only the caller's own assets, never a path on the server."""

from __future__ import annotations

import uuid
from typing import Literal

from sqlalchemy import Text, cast, func, select
from sqlalchemy.orm import Session

from reelforge.db.crud.projects import Page
from reelforge.db.models import Asset, Project
from reelforge.errors import InvalidInput, NotFound
from reelforge.model.storyboard import Storyboard, VideoSettings

MAX_TAGS = 20
MAX_TAG_CHARS = 40
USES = {"visual": ("image", "clip"), "music": ("audio",), "watermark": ("image",)}
"""Where an asset is used → the kinds that may be used there."""


def normalize_tags(tags: list[str]) -> list[str]:
    """Lower case, trimmed, unique, in the order given.

    Raises:
        InvalidInput: too many tags, or one too long or holding a comma.
    """
    seen: dict[str, None] = {}
    for tag in tags:
        clean = " ".join(tag.lower().split())
        if "," in clean or len(clean) > MAX_TAG_CHARS:
            raise InvalidInput(
                f"tag {tag[:50]!r}: at most {MAX_TAG_CHARS} characters, no commas", field="tags"
            )
        if clean:
            seen[clean] = None
    if len(seen) > MAX_TAGS:
        raise InvalidInput(f"at most {MAX_TAGS} tags", field="tags")
    return list(seen)


def stored_tags(tags: list[str]) -> str:
    return "," + ",".join(tags) + "," if tags else ""


def tag_list(asset: Asset) -> list[str]:
    return [tag for tag in asset.tags.split(",") if tag]


def owned(session: Session, owner_id: uuid.UUID, asset_id: uuid.UUID) -> Asset:
    asset = session.get(Asset, asset_id)
    if asset is None or asset.owner_id != owner_id:
        raise NotFound("asset not found", stage="input")
    return asset


def listing(
    session: Session,
    owner_id: uuid.UUID,
    *,
    limit: int,
    offset: int,
    search: str | None = None,
    kind: Literal["image", "clip", "audio"] | None = None,
    tag: str | None = None,
) -> Page:
    """Newest first; `search` matches the name or a tag, `tag` one whole tag."""
    where = [Asset.owner_id == owner_id]
    if search:
        needle = search.lower()
        where.append(
            func.lower(Asset.name).contains(needle, autoescape=True)
            | Asset.tags.contains(needle, autoescape=True)
        )
    if kind:
        where.append(Asset.kind == kind)
    if tag:
        where.append(Asset.tags.contains(f",{' '.join(tag.lower().split())},", autoescape=True))
    items = session.scalars(
        select(Asset)
        .where(*where)
        .order_by(Asset.created_at.desc(), Asset.id)
        .limit(limit)
        .offset(offset)
    ).all()
    total = session.scalar(select(func.count()).select_from(Asset).where(*where)) or 0
    return Page(list(items), total)


def projects_using(session: Session, asset: Asset) -> list[Project]:
    """The owner's projects whose settings or storyboard name the asset."""
    needle = str(asset.id)
    return list(
        session.scalars(
            select(Project).where(
                Project.owner_id == asset.owner_id,
                cast(Project.settings, Text).contains(needle)
                | cast(Project.storyboard, Text).contains(needle),
            )
        ).all()
    )


def check_references(
    session: Session,
    owner_id: uuid.UUID,
    settings: VideoSettings,
    storyboard: Storyboard | None = None,
) -> dict[uuid.UUID, Asset]:
    """What a storyboard (or settings) from the API may name: the caller's own assets, of
    a kind that fits where each is used; never a path on the server, which would let a
    user make the renderer read any file it can (another user's render as music...).

    Returns:
        The assets named, by id.

    Raises:
        InvalidInput: a path, someone else's (or no) asset, or an asset of the wrong kind.
    """
    paths = settings.named_files() + (storyboard.named_files() if storyboard else [])
    if paths:
        raise InvalidInput(
            f"the API does not accept server file paths ({paths[0]}): upload the file to "
            "/api/v1/assets and name it by asset_id",
            stage="input",
        )
    uses = [("music", settings.music.asset_id)]
    if settings.watermark is not None:
        uses.append(("watermark", settings.watermark.asset_id))
    if storyboard is not None:
        uses += [("visual", scene.visual.asset_id) for scene in storyboard.scenes]
    wanted = {asset_id for _, asset_id in uses if asset_id is not None}
    found = {
        asset.id: asset
        for asset in session.scalars(
            select(Asset).where(Asset.owner_id == owner_id, Asset.id.in_(wanted))
        )
    }
    for use, asset_id in uses:
        if asset_id is None:
            continue
        asset = found.get(asset_id)
        if asset is None:
            raise InvalidInput(f"{use}: you have no asset {asset_id}", stage="input")
        if asset.kind not in USES[use]:
            raise InvalidInput(
                f"{use}: asset {asset.name!r} is {asset.kind}; a {use} takes "
                f"{' or '.join(USES[use])}",
                stage="input",
            )
    return found
