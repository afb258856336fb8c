"""The MCP tools against a fake API (httpx's MockTransport): which requests they send, and
how the API's answers and problems come back. No network, no MCP SDK."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from typing import Any

import anyio
import httpx
import pytest

from reelforge.errors import Conflict, InvalidInput
from reelforge.mcp.client import ApiProblem, ReelforgeApi
from reelforge.mcp.tools import Tools, _name_from

BASE = "http://reelforge.test"
PROJECT = uuid.UUID("11111111-1111-4111-8111-111111111111")
RENDER = uuid.UUID("22222222-2222-4222-8222-222222222222")
BOARD = {"title": "T", "settings": {"resolution": "480p"}, "scenes": [{"narration": "One."}]}

Handler = Callable[[httpx.Request], httpx.Response]


def problem(status: int, detail: str) -> httpx.Response:
    body = {"type": "urn:reelforge:problem:x", "title": "X", "status": status, "detail": detail}
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def run(handler: Handler, call: Callable[[Tools], Any]) -> Any:
    async def main() -> Any:
        api = ReelforgeApi(BASE, "rfk_test", transport=httpx.MockTransport(handler))
        try:
            return await call(Tools(api))
        finally:
            await api.aclose()

    return anyio.run(main)


def test_every_call_carries_the_api_key_and_problems_keep_their_detail() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return problem(401, "this API key was revoked")

    with pytest.raises(ApiProblem, match="this API key was revoked") as raised:
        run(handler, lambda tools: tools.list_voices())
    assert raised.value.status == 401 and raised.value.type == "urn:reelforge:problem:x"
    assert seen[0].headers["authorization"] == "Bearer rfk_test"
    assert seen[0].url == f"{BASE}/api/v1/voices"


def test_an_answer_that_is_not_a_problem_still_says_what_happened() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>bad gateway</html>")

    with pytest.raises(ApiProblem, match="reelforge answered 502 Bad Gateway"):
        run(handler, lambda tools: tools.list_templates())


def test_an_unreachable_server_is_named() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused")

    with pytest.raises(ApiProblem, match=f"cannot reach reelforge at {BASE}") as raised:
        run(handler, lambda tools: tools.list_voices())
    assert raised.value.status == 0


def test_links_come_back_absolute() -> None:
    path = f"/api/v1/renders/{RENDER}/video?expires=1&sig=ab"

    def handler(request: httpx.Request) -> httpx.Response:
        links = {"video": path, "thumbnail": path, "srt": path, "vtt": path}
        return httpx.Response(200, json={"id": str(RENDER), "status": "succeeded", "links": links})

    links = run(handler, lambda tools: tools.get_download_links(RENDER))
    assert links["video"] == f"{BASE}{path}"


def test_no_links_before_the_render_succeeded() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={"id": str(RENDER), "status": "running", "links": None})

    with pytest.raises(Conflict, match=r"no files yet \(running\)"):
        run(handler, lambda tools: tools.get_download_links(RENDER))


def test_a_scene_edit_starts_from_the_draft_and_refuses_a_concurrent_save() -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        if request.method == "GET":
            return problem(404, "this project has no storyboard yet")
        if request.url.path.endswith("/draft"):
            return httpx.Response(200, json=BOARD, headers={"etag": '"v7"'})
        return httpx.Response(200, json=json.loads(request.content), headers={"etag": '"v8"'})

    saved = run(handler, lambda tools: tools.set_scene_narration(PROJECT, 1, "Two."))
    assert saved == {"saved": True, "storyboard": BOARD | {"scenes": [{"narration": "Two."}]}}
    put = sent[-1]
    assert put.method == "PUT" and put.headers["if-match"] == '"v7"'
    assert put.url.path == f"/api/v1/projects/{PROJECT}/storyboard"

    with pytest.raises(InvalidInput, match="scene 3 does not exist: the storyboard has 1"):
        run(handler, lambda tools: tools.set_scene_narration(PROJECT, 3, "Three."))


def test_an_unknown_project_is_the_drafts_404() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "GET":
            return problem(404, "this project has no storyboard yet")
        return problem(404, "project not found")

    with pytest.raises(ApiProblem, match="project not found"):
        run(handler, lambda tools: tools.get_storyboard(PROJECT))


def test_the_estimate_of_a_project_with_a_storyboard_reads_its_narration() -> None:
    bodies: list[Any] = []

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/storyboard"):
            return httpx.Response(200, json=BOARD)
        if request.url.path.endswith("/estimate"):
            bodies.append(json.loads(request.content))
            return httpx.Response(200, json={"render_seconds": 3.0})
        project = {"prompt": "ignored", "settings": {}, "has_storyboard": True}
        return httpx.Response(200, json=project)

    assert run(handler, lambda tools: tools.estimate(PROJECT)) == {"render_seconds": 3.0}
    assert bodies == [{"prompt": "One.", "settings": {"resolution": "480p"}}]


def test_waiting_reports_each_change_of_progress_until_it_finishes(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("reelforge.mcp.tools.POLL_INTERVAL_S", 0.0)
    answers = iter([
        {"status": "queued", "stage": None, "progress": 0.0, "queue_position": 2},
        {"status": "running", "stage": "voice", "progress": 24.0},
        {"status": "running", "stage": "voice", "progress": 24.0},
        {"status": "succeeded", "stage": "compose", "progress": 100.0, "links": None},
    ])  # fmt: skip
    reports: list[tuple[float, float | None, str | None]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json=next(answers))

    async def report(progress: float, total: float | None, message: str | None) -> None:
        reports.append((progress, total, message))

    done = run(handler, lambda tools: tools.wait_for_render(RENDER, 60, report))
    assert done["finished"] is True and done["status"] == "succeeded"
    assert reports == [
        (0.0, 100.0, "queued (position 2)"),
        (24.0, 100.0, "running: voice"),
        (100.0, 100.0, "succeeded: compose"),
    ]


@pytest.mark.parametrize(
    ("prompt", "name"),
    [
        ("Bees make honey.", "Bees make honey."),
        ("word " * 30, "word word word word word word word word word word word word…"),
        ("x" * 80, "x" * 60),
        ("   ", "Untitled"),
    ],
)
def test_a_project_is_named_from_its_prompt(prompt: str, name: str) -> None:
    assert _name_from(prompt) == name
