"""`reelforge serve` as `make run` starts it: a real server process on a free port, used
over HTTP by an account made with `reelforge user create`; SIGTERM stops it cleanly."""

from __future__ import annotations

import io
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest

from tests.support.server import Server, serve_env, start_serve

pytestmark = pytest.mark.slow
PASSWORD = "correct horse battery"


def reelforge(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "reelforge", *args],
        env=serve_env(tmp_path), capture_output=True, text=True, timeout=120,
    )  # fmt: skip


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    server = start_serve(tmp_path)
    yield server
    server.stop(timeout_s=5)


def test_serve_renders_for_a_user_made_on_the_command_line(server: Server, tmp_path: Path) -> None:
    base = server.base
    made = reelforge(tmp_path, "user", "create", "Ops@Example.org", "--password", PASSWORD)
    assert made.returncode == 0, made.stderr
    assert reelforge(tmp_path, "user", "set-plan", "ops@example.org", "pro").returncode == 0
    weak = reelforge(tmp_path, "user", "create", "b@example.org", "--password", "short")
    assert weak.returncode == 2 and "Traceback" not in weak.stderr
    assert len(weak.stderr.strip().splitlines()) == 1

    with httpx.Client(base_url=base, timeout=30) as http:
        tokens = http.post(
            "/api/v1/auth/login", json={"email": "ops@example.org", "password": PASSWORD}
        ).json()
        http.headers["Authorization"] = f"Bearer {tokens['access_token']}"
        assert http.get("/api/v1/users/me").json()["plan"] == "pro"
        project = http.post(
            "/api/v1/projects",
            json={
                "name": "Bees",
                "prompt": "Bees make honey from nectar. They fan it with their wings.",
                "settings": {"resolution": "480p", "target_duration_s": 10, "aspect": "9:16"},
            },
        ).json()
        render = http.post(f"/api/v1/projects/{project['id']}/renders").json()
        deadline = time.monotonic() + 240
        while (status := http.get(f"/api/v1/renders/{render['id']}").json())["status"] in (
            "queued", "running",
        ):  # fmt: skip
            assert time.monotonic() < deadline, status
            time.sleep(0.5)
        assert status["status"] == "succeeded", status
        video = http.get(status["links"]["video"])
    with av.open(io.BytesIO(video.content)) as container:
        codec = container.streams.video[0].codec_context
        assert (codec.width, codec.height) == (480, 854)

    # uvicorn shuts down gracefully, then re-raises the signal so the exit status tells it.
    assert server.stop() in (0, -signal.SIGTERM)
    stdout, stderr = server.output()
    assert "serving at http://127.0.0.1" in stdout and "Traceback" not in stderr


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("REELFORGE_SECRET_KEY", "short", "REELFORGE_SECRET_KEY must be at least 32 bytes"),
        ("REELFORGE_API__CORS_ORIGINS", '["*"]', 'not "*": the API sends credentials'),
        ("REELFORGE_API__TRUSTED_PROXIES", '["lb.local"]', "'lb.local' is not an IP address"),
    ],
    ids=["short-secret", "cors-wildcard", "trusted-proxy-name"],
)
def test_bad_settings_are_one_line_not_a_traceback(
    tmp_path: Path, name: str, value: str, says: str
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "reelforge", "serve"],
        env=serve_env(tmp_path, {name: value}),
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert says in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_several_api_processes_share_one_secret_and_database(tmp_path: Path) -> None:
    server = start_serve(tmp_path, "--workers", "0", "--processes", "2")
    base = server.base
    try:
        body = {"email": "multi@example.org", "password": PASSWORD}
        assert httpx.post(f"{base}/api/v1/auth/register", json=body).status_code == 201
        token = httpx.post(f"{base}/api/v1/auth/login", json=body).json()["access_token"]
        headers = {"Authorization": f"Bearer {token}"}
        # New connections land on either process: a token signed by one verifies in both.
        answers = {
            httpx.get(f"{base}/api/v1/users/me", headers=headers).status_code for _ in range(20)
        }
        assert answers == {200}
    finally:
        server.stop()
    assert "Traceback" not in server.output()[1]
