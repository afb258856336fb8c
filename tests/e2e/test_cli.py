"""The `reelforge` command as a user runs it: real Piper voice, real ffmpeg, probed output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from itertools import pairwise
from pathlib import Path

import av
import numpy as np
import pytest

from reelforge.engine.ffmpeg import measure_loudness

SCRIPT = (
    "Honey never spoils if it is stored well. Archaeologists have found pots of it in ancient "
    "tombs that were still good to eat. Bees make it from flower nectar, which they carry back "
    "to the hive. There they fan it with their wings until most of the water evaporates. The "
    "result is so thick and acidic that bacteria cannot grow in it."
)
"""Four scenes (about 20 s): enough for scene changes, captions and loudness to show."""


def reelforge(*args: str, cwd: Path, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """Run the command as a user would, with `extra_env` set (the cache lives in `cwd`)."""
    env = {**os.environ, "REELFORGE_CACHE_DIR": str(cwd / "cache"), **extra_env}
    return subprocess.run(
        [sys.executable, "-m", "reelforge", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _srt_cues(text: str) -> list[tuple[float, float, str]]:
    cues = []
    for block in text.strip().split("\n\n"):
        lines = block.splitlines()
        start, end = (
            sum(float(x) * m for x, m in zip(re.split("[:,]", t)[:3], (3600, 60, 1), strict=True))
            + int(t[-3:]) / 1000
            for t in lines[1].split(" --> ")
        )
        cues.append((start, end, " ".join(lines[2:])))
    return cues


def _frame_at(path: Path, seconds: float) -> np.ndarray:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= seconds:
                return frame.to_ndarray(format="rgb24").astype(np.int16)
    raise AssertionError(f"no frame at {seconds}s")


def _mean_volume_db(path: Path) -> float:
    with av.open(str(path)) as container:
        chunks = [f.to_ndarray() for f in container.decode(container.streams.audio[0])]
    samples = np.concatenate([c.reshape(-1) for c in chunks]).astype(np.float64)
    return float(20 * np.log10(np.sqrt(np.mean(samples**2)) + 1e-12))


@pytest.mark.slow
@pytest.mark.parametrize(
    ("aspect", "resolution", "size"),
    [("16:9", "720p", (1280, 720)), ("9:16", "1080p", (1080, 1920))],
)
def test_render_probes_right(
    tmp_path: Path, aspect: str, resolution: str, size: tuple[int, int]
) -> None:
    out = tmp_path / "video.mp4"
    done = reelforge(
        "render", SCRIPT, "-o", str(out), "--aspect", aspect, "--resolution", resolution,
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr

    with av.open(str(out)) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert video.codec_context.name == "h264"
        assert (video.codec_context.width, video.codec_context.height) == size
        assert video.average_rate == 30
        assert audio.codec_context.name == "aac"
        assert audio.codec_context.sample_rate == 48_000
        duration = container.duration / 1e6

    manifest = json.loads(out.with_suffix(".json").read_text())
    narration = sum(s["voice_s"] for s in manifest["scenes"])
    assert abs(duration - narration) / narration <= 0.10
    assert _mean_volume_db(out) > -35

    scenes = manifest["scenes"]
    assert len(scenes) >= 3
    mids = [_frame_at(out, (s["start_s"] + s["end_s"]) / 2) for s in scenes]
    for a, b in pairwise(mids):
        assert np.abs(a - b).mean() > 12, "consecutive scenes look alike"

    cues = _srt_cues(out.with_suffix(".srt").read_text())
    assert " ".join(c[2] for c in cues).split() == SCRIPT.split()
    assert all(a[0] < a[1] <= b[0] for a, b in pairwise(cues))
    assert cues[-1][1] <= duration
    assert out.with_suffix(".vtt").read_text().startswith("WEBVTT")
    assert out.with_suffix(".jpg").stat().st_size > 0

    loudness, true_peak = measure_loudness(out)
    assert -15 <= loudness <= -13
    assert true_peak <= -1.0


@pytest.mark.parametrize(
    "args",
    [
        ["render", ""],
        ["render", "   "],
        ["render", "A fine topic.", "--duration", "0"],
        ["render", "A fine topic.", "--duration", "10000"],
        ["render", "A fine topic.", "--aspect", "4:3"],
        ["render", "--storyboard", "broken.json"],
        ["render", "--storyboard", "missing-asset.json"],
        ["render", "--prompt-file", "does-not-exist.txt"],
        ["render", "A fine topic.", "--template", "no-such-template"],
    ],
)
def test_bad_input_exits_2_with_one_line_and_writes_nothing(
    tmp_path: Path, args: list[str]
) -> None:
    (tmp_path / "broken.json").write_text("{ not json")
    (tmp_path / "missing-asset.json").write_text(
        json.dumps({"scenes": [{"narration": "Hi.", "visual": {"kind": "file", "path": "x.png"}}]})
    )
    out = tmp_path / "out.mp4"
    done = reelforge(*args, "-o", str(out), cwd=tmp_path)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("error: ")
    assert len(done.stderr.strip().splitlines()) == 1
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_templates_lists_the_builtins_as_a_table_and_as_json(tmp_path: Path) -> None:
    table = reelforge("templates", cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    listed = reelforge("templates", "--json", cwd=tmp_path)
    templates = json.loads(listed.stdout)
    assert len(templates) >= 6
    for template in templates:
        assert template["id"] in table.stdout
        assert template["builtin"] is True and template["style"]["aspect"]


@pytest.mark.slow
def test_render_with_a_template_uses_its_style_and_flags_win(tmp_path: Path) -> None:
    out = tmp_path / "quote.mp4"
    done = reelforge(
        "render", "Be kind. It costs nothing.", "--template", "Quote / motivational",
        "--resolution", "480p", "--duration", "10", "--aspect", "1:1", "-o", str(out),
        cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    manifest = json.loads(out.with_suffix(".json").read_text())
    assert manifest["template"]["id"] == "quote"
    settings = manifest["storyboard"]["settings"]
    assert settings["aspect"] == "1:1"  # the flag, over the template's 9:16
    assert settings["captions"]["size"] == 1.5  # the template's
    assert manifest["storyboard"]["scenes"][-1]["narration"] == "Share this with someone"
    with av.open(str(out)) as container:
        assert container.streams.video[0].codec_context.width == 480


def test_storyboard_plans_json_that_renders(tmp_path: Path) -> None:
    planned = reelforge("storyboard", SCRIPT, "--aspect", "1:1", cwd=tmp_path)
    assert planned.returncode == 0, planned.stderr
    board = json.loads(planned.stdout)
    assert board["settings"]["aspect"] == "1:1"
    assert " ".join(s["narration"] for s in board["scenes"]).split() == SCRIPT.split()
    board["scenes"] = board["scenes"][:2]
    board["settings"]["resolution"] = "480p"
    (tmp_path / "sb.json").write_text(json.dumps(board))
    done = reelforge("render", "--storyboard", "sb.json", "-o", "edited.mp4", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    with av.open(str(tmp_path / "edited.mp4")) as container:
        assert container.streams.video[0].codec_context.width == 480


def test_flags_given_with_a_storyboard_override_its_settings(tmp_path: Path) -> None:
    board = {
        "settings": {"aspect": "1:1", "resolution": "720p", "seed": 3},
        "scenes": [{"narration": "Flags given on the command line win over the file."}],
    }
    (tmp_path / "sb.json").write_text(json.dumps(board))
    done = reelforge(
        "render", "--storyboard", "sb.json", "-o", "flagged.mp4", "--aspect", "9:16",
        "--resolution", "480p", "--no-music", cwd=tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    with av.open(str(tmp_path / "flagged.mp4")) as container:
        stream = container.streams.video[0].codec_context
        assert (stream.width, stream.height) == (480, 854)
        assert len(container.streams.audio) == 1
    settings = json.loads((tmp_path / "flagged.json").read_text())["storyboard"]["settings"]
    assert settings["seed"] == 3  # not given as a flag: the file's value stays
    assert settings["music"]["enabled"] is False


def test_storyboard_schema_is_json_schema(tmp_path: Path) -> None:
    done = reelforge("storyboard", "--schema", cwd=tmp_path)
    schema = json.loads(done.stdout)
    assert "scenes" in schema["properties"]


def test_topic_only_prompt_renders_and_says_how_to_get_a_full_script(tmp_path: Path) -> None:
    done = reelforge(
        "render", "The history of coffee", "-o", "coffee.mp4", "--resolution", "480p", cwd=tmp_path
    )
    assert done.returncode == 0, done.stderr
    assert "LLM" in done.stderr
    manifest = json.loads((tmp_path / "coffee.json").read_text())
    assert [s["narration"] for s in manifest["storyboard"]["scenes"]] == ["The history of coffee"]


def test_voices_lists_the_bundled_voice(tmp_path: Path) -> None:
    done = reelforge("voices", cwd=tmp_path)
    assert done.returncode == 0
    assert "joe" in done.stdout.split()


def test_doctor_passes_on_a_working_install(tmp_path: Path) -> None:
    done = reelforge("doctor", cwd=tmp_path)
    assert done.returncode == 0, done.stdout
    assert "FAIL" not in done.stdout
    for check in ("ffmpeg", "voice", "cache", "output"):
        assert check in done.stdout


def test_doctor_fails_when_the_cache_is_not_writable(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    done = reelforge("doctor", cwd=tmp_path, REELFORGE_CACHE_DIR=str(blocker / "cache"))
    assert done.returncode == 1
    assert "FAIL cache" in done.stdout


def test_doctor_fails_naming_a_filter_the_engine_needs(tmp_path: Path) -> None:
    """An FFmpeg build without ebur128 (the loudness measurement) cannot render: say so."""
    import imageio_ffmpeg

    fake = tmp_path / "ffmpeg"
    fake.write_text(f'#!/bin/sh\n"{imageio_ffmpeg.get_ffmpeg_exe()}" "$@" | grep -v " ebur128 "\n')
    fake.chmod(0o755)
    done = reelforge("doctor", cwd=tmp_path, IMAGEIO_FFMPEG_EXE=str(fake))
    assert done.returncode == 1
    assert "FAIL ffmpeg" in done.stdout
    assert "ebur128" in done.stdout


def test_settings_are_logged_with_secrets_masked(tmp_path: Path) -> None:
    done = reelforge(
        "voices", cwd=tmp_path, REELFORGE_LOG_LEVEL="DEBUG",
        REELFORGE_PROVIDERS__LLM_API_KEY="sk-very-secret",
    )  # fmt: skip
    assert '"event": "settings"' in done.stderr
    assert "sk-very-secret" not in done.stderr + done.stdout
    assert "**********" in done.stderr


def test_db_upgrade_then_queue_stats(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return reelforge(*args, cwd=tmp_path, REELFORGE_DATA_DIR=str(tmp_path / "data"))

    for _ in range(2):  # idempotent
        upgraded = run("db", "upgrade")
        assert upgraded.returncode == 0, upgraded.stderr
    assert (tmp_path / "data" / "reelforge.db").is_file()
    stats = run("queue", "stats", "--json")
    assert stats.returncode == 0, stats.stderr
    assert json.loads(stats.stdout)["queued_by_plan"] == {}


@pytest.mark.slow
def test_report_prints_the_metrics_as_a_table_and_as_json(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    from sqlalchemy.orm import Session

    from reelforge.db.crud import product_events
    from reelforge.db.crud.product_events import Fact
    from reelforge.db.migrate import upgrade
    from reelforge.db.session import make_engine

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return reelforge(*args, cwd=tmp_path, REELFORGE_DATA_DIR=str(tmp_path / "data"))

    url = f"sqlite:///{tmp_path / 'data' / 'reelforge.db'}"
    (tmp_path / "data").mkdir()
    upgrade(url)
    engine = make_engine(url)
    with Session(engine) as session:
        hour_ago = datetime.now(UTC) - timedelta(hours=1)
        for cost, fact in ((0.5, Fact.RENDER_SUCCEEDED), (None, Fact.RENDER_FAILED)):
            product_events.record(session, fact, None, value=cost, label="free", at=hour_ago)
        session.commit()
    engine.dispose()

    printed = run("report", "--since", "7d", "--json")
    assert printed.returncode == 0, printed.stderr
    report = json.loads(printed.stdout)
    assert set(report) == {
        "since", "until", "metrics", "cost_by_plan", "rating_distribution", "counts",
    }  # fmt: skip
    metrics = {m["key"]: m for m in report["metrics"]}
    assert set(metrics["render_success_rate"]) == {
        "key", "title", "value", "unit", "target", "better", "met",
    }  # fmt: skip
    assert (metrics["render_success_rate"]["value"], metrics["render_success_rate"]["met"]) == (
        0.5, False,
    )  # fmt: skip
    assert report["cost_by_plan"] == {"free": 0.5}
    table = run("report", "--since", "7d")
    assert table.returncode == 0, table.stderr
    assert "Render success rate" in table.stdout and "50.0%" in table.stdout
    assert "> 80.0%" in table.stdout and "missed" in table.stdout


def test_backup_and_restore_on_the_command_line(tmp_path: Path) -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return reelforge(*args, cwd=tmp_path, REELFORGE_DATA_DIR=str(tmp_path / "data"))

    assert run("db", "upgrade").returncode == 0
    made = run("backup", "saved.tar")
    assert made.returncode == 0, made.stderr
    assert (
        "backed up the sqlite database" in made.stdout and "secret key is not in it" in made.stdout
    )
    careless = run("restore", "saved.tar")  # replacing a database needs --yes
    assert careless.returncode == 2 and "pass --yes" in careless.stderr
    (tmp_path / "junk.tar").write_text("not a backup")
    for bad in (("restore", "junk.tar", "--yes"), ("restore", "missing.tar", "--yes")):
        refused = run(*bad)
        assert refused.returncode == 2 and len(refused.stderr.strip().splitlines()) == 1, refused
        assert "Traceback" not in refused.stderr
    restored = run("restore", "saved.tar", "--yes")
    assert restored.returncode == 0 and "restored the sqlite database" in restored.stdout


def test_cache_prune_cuts_the_cache_to_size(tmp_path: Path) -> None:
    entry = tmp_path / "cache" / "ab" / ("ab" + "0" * 62)
    entry.mkdir(parents=True)
    (entry / "clip.wav").write_bytes(b"\0" * 4096)
    done = reelforge("cache", "prune", "--max-size-gib", "0", cwd=tmp_path,
                     REELFORGE_DATA_DIR=str(tmp_path / "data"))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "removed 1 artifacts" in done.stdout and not entry.exists()
