"""Real renders through the queue: progress events, checkpoints, cancel with cleanup."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from reelforge.db.models import Event, JobState
from reelforge.engine import ffmpeg
from reelforge.jobs.kinds import default_kinds
from reelforge.jobs.manager import JobManager
from reelforge.jobs.worker import Worker, WorkerTimings
from reelforge.model.plans import Plan
from reelforge.model.storyboard import Storyboard

from .test_worker import add_user, job, submit, wait_for

pytestmark = pytest.mark.slow
TIMINGS = WorkerTimings(heartbeat_s=0.2, poll_s=0.2)


def storyboard(*narrations: str) -> dict[str, object]:
    return Storyboard.model_validate(
        {"settings": {"resolution": "480p"}, "scenes": [{"narration": n} for n in narrations]}
    ).model_dump(mode="json")


def start(engine: Engine, tmp_path: Path) -> tuple[JobManager, Worker, threading.Thread]:
    manager = JobManager(engine)
    worker = Worker(manager, default_kinds(tmp_path / "data", tmp_path / "cache"), timings=TIMINGS)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    return manager, worker, thread


def test_a_render_job_produces_a_video_with_progress_events(engine: Engine, tmp_path: Path) -> None:
    manager, worker, thread = start(engine, tmp_path)
    job_id = submit(
        manager, add_user(engine, Plan.FREE), "render",
        storyboard=storyboard("Tides rise twice a day.", "The moon pulls the oceans."),
    )  # fmt: skip
    wait_for(lambda: job(engine, job_id).state == JobState.SUCCEEDED, timeout_s=120)
    worker.stop()
    thread.join(10)
    done = job(engine, job_id)
    assert done.result is not None and Path(done.result["video"]).stat().st_size > 0
    assert done.progress == 1.0
    with Session(engine) as session:
        kinds = list(session.scalars(select(Event.type).where(Event.job_id == job_id)))
        stages = [
            e.data["stage"]
            for e in session.scalars(select(Event).where(Event.job_id == job_id))
            if e.type == "progress"
        ]
    assert kinds[:2] == ["queued", "started"] and kinds[-1] == "succeeded"
    assert stages  # heartbeats recorded the stages as they went


def test_a_hung_ffmpeg_fails_its_stage_after_the_watchdog_and_the_job_is_retried(
    engine: Engine, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """ffmpeg had no timeout: a hung one held its job forever (the heartbeat kept it alive).
    Here the final join hangs once: the watchdog kills it, the compose stage fails as a
    system error (admins alerted, retried once, ffmpeg's stderr kept), and the retry succeeds."""
    marker = tmp_path / "hung-once"
    hanging = tmp_path / "ffmpeg"
    hanging.write_text(
        "#!/bin/sh\n"
        f'case "$*" in *concat*) if [ ! -e "{marker}" ]; then touch "{marker}"; '
        "echo 'joining segments' >&2; exec sleep 600; fi;; esac\n"
        f'exec "{ffmpeg.ffmpeg_exe()}" "$@"\n'
    )
    hanging.chmod(0o755)
    monkeypatch.setattr(ffmpeg, "ffmpeg_exe", lambda: str(hanging))
    manager = JobManager(engine)
    watchdog = ffmpeg.Watchdog(base_s=3.0, per_media_s=2.0)
    kinds = default_kinds(tmp_path / "data", tmp_path / "cache", watchdog=watchdog)
    worker = Worker(manager, kinds, timings=TIMINGS)
    thread = threading.Thread(target=worker.run, daemon=True)
    thread.start()
    try:
        job_id = submit(
            manager, add_user(engine, Plan.PRO), "render", storyboard=storyboard("Short."),
        )  # fmt: skip
        wait_for(lambda: job(engine, job_id).state == JobState.SUCCEEDED, timeout_s=120)
    finally:
        worker.stop()
        thread.join(10)
    assert marker.exists()
    done = job(engine, job_id)
    assert done.attempts == 2
    with Session(engine) as session:
        [retrying] = session.scalars(
            select(Event).where(Event.job_id == job_id, Event.type == "retrying")
        ).all()
    assert retrying.data["error_class"] == "system"
    assert retrying.data["error_stage"] == "compose"
    assert "watchdog" in retrying.data["error_message"]
    assert "joining segments" in retrying.data["error_detail"]


def test_cancel_stops_a_real_render_and_cleans_up(engine: Engine, tmp_path: Path) -> None:
    manager, worker, thread = start(engine, tmp_path)
    user = add_user(engine, Plan.FREE)
    narration = [f"Sentence number {i} keeps this render busy for a while." for i in range(12)]
    job_id = submit(manager, user, "render", storyboard=storyboard(*narration))
    wait_for(lambda: job(engine, job_id).stage in {"voice", "compose"}, timeout_s=60)
    manager.cancel(job_id, user.id)
    # Promptly, but without a stopwatch assertion: a loaded CI machine stretches any fixed
    # second count; the render itself would run on for longer than this wait.
    wait_for(lambda: job(engine, job_id).state == JobState.CANCELED, timeout_s=10)
    worker.stop()
    thread.join(10)
    out_dir = tmp_path / "data" / "renders" / str(job_id)
    leftovers = list(out_dir.iterdir()) if out_dir.exists() else []
    assert leftovers == []
    tmp_cache = tmp_path / "cache" / "tmp"
    assert not tmp_cache.exists() or list(tmp_cache.iterdir()) == []


def test_a_render_longer_than_its_cap_fails_as_invalid_naming_the_stage(
    engine: Engine, tmp_path: Path
) -> None:
    manager, worker, thread = start(engine, tmp_path)
    user = add_user(engine, Plan.FREE)
    # 25 words: at least 5.25 s at the fastest pace; Piper reads them in ~6.6 s (+ 0.25 s).
    spoken = (
        "Sentence number one keeps this render busy for quite a while today, and the second"
        " half of it goes on a little longer than that."
    )
    over_when_spoken = submit(
        manager, user, "render", storyboard=storyboard(spoken), max_duration_s=6.0
    )
    over_when_planned = submit(
        manager, user, "render", storyboard=storyboard("One.", "Two."), max_duration_s=2.5
    )
    within = submit(manager, user, "render", storyboard=storyboard("One."), max_duration_s=4.0)
    finished = (JobState.FAILED, JobState.SUCCEEDED)
    for job_id in (over_when_spoken, over_when_planned, within):
        wait_for(lambda job_id=job_id: job(engine, job_id).state in finished, timeout_s=120)
    worker.stop()
    thread.join(10)

    spoken_job, planned_job = job(engine, over_when_spoken), job(engine, over_when_planned)
    assert (spoken_job.state, spoken_job.error_class, spoken_job.error_stage) == (
        JobState.FAILED, "validation", "timeline",
    )  # fmt: skip
    assert spoken_job.attempts == 1
    assert spoken_job.error_message is not None and "more than the 6 s" in spoken_job.error_message
    assert (planned_job.state, planned_job.error_class, planned_job.error_stage) == (
        JobState.FAILED, "validation", "scenes",
    )  # fmt: skip
    assert planned_job.error_message is not None and "at least 4.0 s" in planned_job.error_message
    done = job(engine, within)
    assert done.state == JobState.SUCCEEDED and done.result is not None
    assert 2.0 <= done.result["duration_s"] <= 4.0
    assert done.result["bytes"] == sum(
        Path(done.result[name]).stat().st_size
        for name in ("video", "srt", "vtt", "thumbnail", "manifest")
    )
