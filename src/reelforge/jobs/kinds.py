"""What a worker does for each kind of job: `render`, the product. (`noop` and `sleep`, for
benchmarks and crash/cancel tests, live in `jobs/testing.py` and are never registered here.)"""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reelforge.engine.context import ProgressCallback
from reelforge.engine.ffmpeg import DEFAULT_WATCHDOG, Watchdog
from reelforge.errors import InvalidInput, StorageError
from reelforge.jobs import inputs
from reelforge.jobs.backoff import Backoff
from reelforge.jobs.manager import ClaimedJob
from reelforge.model.storyboard import Storyboard, VideoSettings, describe_validation_error
from reelforge.providers.registry import Providers
from reelforge.storage import BlobStore

JobRunner = Callable[[ClaimedJob, ProgressCallback], dict[str, Any]]


RENDER_FILES = {
    "video": ("video.mp4", "video/mp4"),
    "thumbnail": ("thumbnail.jpg", "image/jpeg"),
    "srt": ("subtitles.srt", "application/x-subrip"),
    "vtt": ("subtitles.vtt", "text/vtt"),
    "manifest": ("manifest.json", "application/json"),
}
"""What a finished render publishes: result key → (blob name, content type)."""


STAGE_SHARES = {
    "script": 0.03, "scenes": 0.01, "visuals": 0.15, "voice": 0.15, "captions": 0.01,
    "music": 0.03, "compose": 0.53, "checks": 0.04, "publish": 0.05,
}  # fmt: skip
"""Rough share of a render's time per stage (bench/RESULTS.md), to turn each stage's own
fraction into one overall progress that only moves forward."""


def overall_progress(on_progress: ProgressCallback) -> ProgressCallback:
    """Each stage's fraction as one overall fraction. A stage run alongside later ones (music,
    during compose) may end after they moved on: the overall fraction then stays where it is."""
    starts: dict[str, float] = {}
    total = 0.0
    for stage, share in STAGE_SHARES.items():
        starts[stage] = total
        total += share
    reached = 0.0

    def report(stage: str, fraction: float, message: str) -> None:
        nonlocal reached
        share = STAGE_SHARES.get(stage, 0.0)
        reached = max(reached, min(starts.get(stage, 0.0) + share * fraction, 1.0))
        on_progress(stage, reached, message)

    return report


PUBLISH_PATIENCE_S = 300.0
"""How long a finished render waits for the blob store to come back before its attempt
fails: an outage of a few minutes costs a wait, not a re-render (the files are kept)."""
PUBLISH_PAUSE_MAX_S = 10.0


def prune_abandoned_work(data_dir: Path, max_age_s: float, now: float | None = None) -> int:
    """Remove render work folders (`data_dir/renders/<id>`) untouched for `max_age_s`: a
    worker killed mid-render leaves one behind (a live render touches its folder as it
    writes). Returns how many were removed."""
    now = time.time() if now is None else now
    renders = data_dir / "renders"
    stale = [
        folder for folder in (renders.iterdir() if renders.is_dir() else ())
        if folder.is_dir() and now - _newest_mtime(folder) > max_age_s
    ]  # fmt: skip
    for folder in stale:
        shutil.rmtree(folder, ignore_errors=True)
    return len(stale)


def _newest_mtime(folder: Path) -> float:
    return max((p.stat().st_mtime for p in folder.rglob("*")), default=folder.stat().st_mtime)


def render_blob_key(job_id: object, name: str) -> str:
    return f"{render_blob_folder(job_id)}/{name}"


def render_blob_folder(job_id: object) -> str:
    """The blob-store folder holding every file a render published."""
    return f"renders/{job_id}"


@dataclass(frozen=True, slots=True)
class RenderKind:
    """Renders the job's storyboard (or its prompt + settings) into `data_dir/renders/<id>/`;
    with a blob store, publishes the files there (`renders/<id>/...`) and removes the copy."""

    data_dir: Path
    cache_dir: Path
    blobs: BlobStore | None = None
    providers_for: Callable[[ClaimedJob], Providers] | None = None
    """The job owner's providers (their own keys, else the server's); offline if unset."""
    watchdog: Watchdog = DEFAULT_WATCHDOG
    """How long each ffmpeg may run (`REELFORGE_RENDER__FFMPEG_TIMEOUT_*`)."""
    publish_patience_s: float = PUBLISH_PATIENCE_S

    def __call__(self, job: ClaimedJob, on_progress: ProgressCallback) -> dict[str, Any]:
        from reelforge.engine.pipeline import render

        on_progress = overall_progress(on_progress)
        source, settings = self._source(job.payload)
        out_dir = self.data_dir / "renders" / str(job.id)
        cap = job.payload.get("max_duration_s")  # the plan's, fixed at submit
        try:
            assets = job.payload.get("assets") or {}
            fetched = inputs.fetch(self.blobs, assets, out_dir / "inputs")
            source, settings = inputs.with_files(source, settings, fetched)
            result = render(
                source, settings=settings, output=out_dir / "video.mp4",
                cache_dir=self.cache_dir, on_progress=on_progress,
                providers=self.providers_for(job) if self.providers_for else None,
                max_duration_s=float(cap) if cap is not None else None,
                watchdog=self.watchdog,
            )  # fmt: skip
        finally:
            shutil.rmtree(out_dir / "inputs", ignore_errors=True)
        files = {
            "video": result.video, "srt": result.srt, "vtt": result.vtt,
            "thumbnail": result.thumbnail, "manifest": result.manifest,
        }  # fmt: skip
        summary: dict[str, Any] = {
            "duration_s": result.duration_s, "stage_seconds": result.stage_seconds,
            "cost_usd": result.cost_usd, "usage": result.usage, "checks": result.checks,
            "scenes_reused": result.scenes_reused,
            "scenes_total": len(result.storyboard.scenes),
            "bytes": sum(path.stat().st_size for path in files.values()),  # storage quota
        }  # fmt: skip
        if self.blobs is None:
            return summary | {name: str(path) for name, path in files.items()}
        self._publish(job, files, on_progress)
        shutil.rmtree(out_dir, ignore_errors=True)
        on_progress("publish", 1.0, "published")
        return summary | {"blobs": {name: RENDER_FILES[name][0] for name in files}}

    def _publish(
        self, job: ClaimedJob, files: dict[str, Path], on_progress: ProgressCallback
    ) -> None:
        """Upload every file, retrying through a blob-store outage for `publish_patience_s`
        (progress reports keep the lease and let a cancel or shutdown interrupt the wait)."""
        assert self.blobs is not None
        backoff = Backoff(1.0, PUBLISH_PAUSE_MAX_S)
        deadline = time.monotonic() + self.publish_patience_s
        on_progress("publish", 0.0, "uploading the files")
        for done, (name, path) in enumerate(files.items()):
            blob_name, content_type = RENDER_FILES[name]
            while True:
                try:
                    self.blobs.put_file(render_blob_key(job.id, blob_name), path, content_type)
                    break
                except StorageError:
                    if time.monotonic() >= deadline:
                        raise
                    pause_s = backoff.next_s()
                    waiting = f"storage unavailable, trying again in {pause_s:.0f} s"
                    on_progress("publish", done / len(files), waiting)
                    time.sleep(pause_s)

    @staticmethod
    def _source(payload: dict[str, Any]) -> tuple[Storyboard | str, VideoSettings | None]:
        """The payload's storyboard, or its prompt and settings for the script stage."""
        try:
            if "storyboard" in payload:
                return Storyboard.model_validate(payload["storyboard"]), None
            settings = VideoSettings.model_validate(payload.get("settings") or {})
            return str(payload["prompt"]), settings
        except (KeyError, ValueError) as exc:
            message = f"job has no valid storyboard or prompt: {describe_validation_error(exc)}"
            raise InvalidInput(message, stage="input") from exc


def default_kinds(
    data_dir: Path,
    cache_dir: Path,
    blobs: BlobStore | None = None,
    providers_for: Callable[[ClaimedJob], Providers] | None = None,
    watchdog: Watchdog = DEFAULT_WATCHDOG,
) -> dict[str, JobRunner]:
    return {"render": RenderKind(data_dir, cache_dir, blobs, providers_for, watchdog)}
