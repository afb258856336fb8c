"""A render's uploaded assets, fetched from the blob store into the job's folder, and the
storyboard rewritten to name those files: the engine only ever reads local paths.

The submit step put each asset's blob key in the payload (`submissions.assets_payload`),
so the worker needs no database here. An asset deleted since fails the render with an
input error naming it (not retried: deleting it again would not help).
"""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path
from typing import Any

from reelforge.errors import InvalidInput, NotFound
from reelforge.model.storyboard import Storyboard, VideoSettings, VisualKind
from reelforge.storage import BlobStore

Source = Storyboard | str


def fetch(blobs: BlobStore | None, assets: dict[str, Any], folder: Path) -> dict[uuid.UUID, Path]:
    """Copy each asset's blob to `folder`; asset id → its file.

    Raises:
        InvalidInput: an asset was deleted since the render was submitted.
    """
    if not assets:
        return {}
    if blobs is None:
        raise InvalidInput("this render uses uploaded assets, which need a blob store")
    folder.mkdir(parents=True, exist_ok=True)
    files: dict[uuid.UUID, Path] = {}
    for asset_id, ref in assets.items():
        key = str(ref["key"])
        dest = folder / f"{asset_id}{Path(key).suffix}"
        try:
            _copy(blobs, key, dest)
        except NotFound:
            raise InvalidInput(
                f"asset {asset_id} was deleted after this render was submitted: "
                "pick another in the storyboard and render again",
                stage="input",
            ) from None
        files[uuid.UUID(asset_id)] = dest
    return files


def _copy(blobs: BlobStore, key: str, dest: Path) -> None:
    local = blobs.local_path(key)
    if local is not None:
        shutil.copyfile(local, dest)
        return
    size = blobs.stat(key).size_bytes
    with dest.open("wb") as out:
        for chunk in blobs.open_range(key, 0, max(size - 1, 0)) if size else ():
            out.write(chunk)


def with_files(
    source: Source, settings: VideoSettings | None, files: dict[uuid.UUID, Path]
) -> tuple[Source, VideoSettings | None]:
    """`source` and `settings` with each asset id's file set where it is used."""
    if not files:
        return source, settings
    if settings is not None:
        settings = _settings_with(settings, files)
    if isinstance(source, Storyboard):
        scenes = tuple(
            scene.model_copy(
                update={"visual": scene.visual.model_copy(
                    update={"kind": VisualKind.FILE, "path": files[scene.visual.asset_id]}
                )}
            )
            if scene.visual.asset_id is not None
            else scene
            for scene in source.scenes
        )  # fmt: skip
        source = source.model_copy(
            update={"scenes": scenes, "settings": _settings_with(source.settings, files)}
        )
    return source, settings


def _settings_with(settings: VideoSettings, files: dict[uuid.UUID, Path]) -> VideoSettings:
    update: dict[str, Any] = {}
    if settings.music.asset_id is not None:
        update["music"] = settings.music.model_copy(update={"file": files[settings.music.asset_id]})
    mark = settings.watermark
    if mark is not None and mark.asset_id is not None:
        update["watermark"] = mark.model_copy(update={"file": files[mark.asset_id]})
    return settings.model_copy(update=update)
