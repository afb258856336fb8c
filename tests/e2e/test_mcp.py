"""`reelforge mcp` as an agent's MCP client starts it: a subprocess spoken to over stdio (or
streamable HTTP) with the official SDK's client, acting through a real `reelforge serve` with
a user's API key — create, edit, render, wait with progress, download an MP4 that probes."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import av
import httpx
import mcp_types as types
import pytest
from mcp.client.session import ClientSession
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client

from tests.support.seaweed import free_ports
from tests.support.server import Server, serve_env, start_serve

DOCS = Path(__file__).parents[2] / "docs" / "mcp.md"
PASSWORD = "correct horse battery"
SETTINGS = {"resolution": "480p", "target_duration_s": 10, "music": {"enabled": False}}
PROMPT = (
    "Bees make honey from the nectar of flowers. They carry it home in a second stomach. "
    "Back in the hive they fan it with their wings until most of the water is gone. "
    "Then they seal each cell with wax, and the honey keeps for years."
)
SCENES = (
    "Bees make honey from nectar.",
    "Back in the hive they fan it with their wings until most of the water is gone, "
    "then they seal each cell with wax.",
)
TOOLS = {
    "list_templates", "list_voices", "create_project", "get_storyboard", "replace_storyboard",
    "set_scene_narration", "estimate", "render", "get_render", "wait_for_render",
    "get_download_links",
}  # fmt: skip

Session = Callable[[ClientSession], Awaitable[None]]


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    server = start_serve(tmp_path / "serve")
    yield server
    server.stop(timeout_s=5)


@pytest.fixture
def api_key(server: Server) -> str:
    """A new user's personal API key, made over HTTP as a person would."""
    body = {"email": "agent@example.org", "password": PASSWORD}
    with httpx.Client(base_url=f"{server.base}/api/v1", timeout=30) as http:
        assert http.post("/auth/register", json=body).status_code == 201
        token = http.post("/auth/login", json=body).json()["access_token"]
        made = http.post(
            "/auth/api-keys", json={"name": "mcp"}, headers={"Authorization": f"Bearer {token}"}
        )
        assert made.status_code == 201, made.text
        return str(made.json()["key"])


def mcp_env(server: Server, key: str | None) -> dict[str, str]:
    """What an MCP client's configuration gives `reelforge mcp`: the URL and the key, and
    nothing of the server's (no data folder, no database)."""
    return {"REELFORGE_MCP_URL": server.base} | (
        {} if key is None else {"REELFORGE_MCP_API_KEY": key}
    )


def documented_config() -> dict[str, Any]:
    """The MCP client configuration docs/mcp.md shows (its first JSON block)."""
    block = DOCS.read_text(encoding="utf-8").split("```json\n", 1)[1].split("```", 1)[0]
    config: dict[str, Any] = json.loads(block)["mcpServers"]["reelforge"]
    return config


def over_stdio(env: dict[str, str], errlog: Path, session_fn: Session) -> None:
    """Start `reelforge mcp` as the documented client configuration says, over stdio with the
    SDK's client (which passes only `env` and a few variables such as PATH and HOME), and run
    `session_fn` in it; its stderr to `errlog`."""
    config = documented_config()
    assert set(config["env"]) == set(env) | {"REELFORGE_MCP_API_KEY"}
    # The `reelforge` command as an installed package puts it on PATH: here, the venv's.
    path = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    params = StdioServerParameters(
        command=config["command"], args=config["args"], env=env | {"PATH": path}
    )

    async def main() -> None:
        with errlog.open("w") as err:
            async with (
                stdio_client(params, errlog=err) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                await session_fn(session)

    anyio.run(main)
    assert "Traceback" not in errlog.read_text()


async def call(
    session: ClientSession, name: str, arguments: dict[str, Any] | None = None, **kw: Any
) -> types.CallToolResult:
    result = await session.call_tool(name, arguments or {}, **kw)
    assert isinstance(result, types.CallToolResult)
    return result


async def structured(session: ClientSession, name: str, **arguments: Any) -> Any:
    """A tool's structured result (lists come wrapped as `{"result": [...]}`)."""
    result = await call(session, name, arguments)
    assert not result.is_error, result.content
    content = result.structured_content
    assert content is not None
    return content.get("result", content) if set(content) == {"result"} else content


async def read_json(session: ClientSession, uri: str) -> Any:
    read = await session.read_resource(uri)
    assert isinstance(read, types.ReadResourceResult)
    (content,) = read.contents
    assert isinstance(content, types.TextResourceContents)
    return json.loads(content.text)


@pytest.mark.slow
def test_an_agent_creates_edits_renders_and_downloads(
    server: Server, api_key: str, tmp_path: Path
) -> None:
    seen: dict[str, Any] = {}

    async def agent(session: ClientSession) -> None:
        listed = await session.list_tools()
        assert {tool.name for tool in listed.tools} == TOOLS
        templates = await structured(session, "list_templates")
        assert "news-brief" in {t["id"] for t in templates}
        assert templates[0]["preview_url"].startswith(f"{server.base}/api/v1/templates/")
        assert "joe" in {v["id"] for v in await structured(session, "list_voices")}

        project = await structured(session, "create_project", prompt=PROMPT, settings=SETTINGS)
        assert project["name"].startswith("Bees make honey") and project["settings"]["fps"]
        draft = await structured(session, "get_storyboard", project_id=project["id"])
        assert draft["saved"] is False and draft["storyboard"]["scenes"]
        two_scenes = draft["storyboard"] | {"scenes": [{"narration": n} for n in SCENES]}
        replaced = await structured(
            session, "replace_storyboard", project_id=project["id"], storyboard=two_scenes
        )
        assert replaced["saved"] is True and len(replaced["storyboard"]["scenes"]) == 2
        edited = await structured(
            session, "set_scene_narration", project_id=project["id"], scene=1,
            narration="Honey bees turn nectar into honey.",
        )  # fmt: skip
        assert edited["saved"] is True
        board = await read_json(session, f"reelforge://projects/{project['id']}/storyboard")
        assert board["scenes"][0]["narration"] == "Honey bees turn nectar into honey."
        assert board["scenes"][1]["narration"] == SCENES[1]
        assert board["settings"]["resolution"] == "480p"
        missing = await call(
            session, "set_scene_narration", {"project_id": project["id"], "scene": 99,
                                             "narration": "Nope."},
        )  # fmt: skip
        assert missing.is_error and "scene 99 does not exist" in text_of(missing)

        estimate = await structured(session, "estimate", project_id=project["id"])
        assert estimate["render_seconds"] > 0 and estimate["cost_usd"] == 0
        render = await structured(session, "render", project_id=project["id"])
        assert render["status"] in ("queued", "running")
        early = await call(session, "get_download_links", {"render_id": render["id"]})
        seen["early"] = early.is_error, text_of(early)

        progress: list[tuple[float, float | None, str | None]] = []

        async def on_progress(value: float, total: float | None, message: str | None) -> None:
            progress.append((value, total, message))

        started = time.monotonic()
        done = await call(
            session, "wait_for_render", {"render_id": render["id"], "timeout_s": 240},
            progress_callback=on_progress,
        )  # fmt: skip
        seen["render_s"] = time.monotonic() - started
        status = done.structured_content
        assert status is not None and status["finished"] is True, done.content
        assert status["status"] == "succeeded", status
        seen["progress"] = progress
        seen["links"] = await structured(session, "get_download_links", render_id=render["id"])
        seen["manifest"] = await read_json(session, f"reelforge://renders/{render['id']}/manifest")

    over_stdio(mcp_env(server, api_key), tmp_path / "mcp.err", agent)

    is_error, message = seen["early"]
    assert not is_error or "has no files yet" in message  # unless it already finished
    values = [value for value, _, _ in seen["progress"]]
    assert values and values[-1] == 100.0 and values == sorted(values)
    assert all(total == 100.0 for _, total, _ in seen["progress"])
    links = seen["links"]
    assert set(links) == {"video", "thumbnail", "srt", "vtt"}
    assert links["video"].startswith(f"{server.base}/api/v1/renders/")
    video = httpx.get(links["video"], timeout=30)  # a signed link: no credentials needed
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(video.content)) as container:
        stream = container.streams.video[0]
        assert stream.codec_context.name == "h264"
        assert float(container.duration or 0) / 1_000_000 > 5.0
    manifest = seen["manifest"]
    assert manifest["duration_s"] > 5.0
    narrations = [scene["narration"] for scene in manifest["storyboard"]["scenes"]]
    assert narrations == ["Honey bees turn nectar into honey.", SCENES[1]]
    print(f"render through MCP: {seen['render_s']:.1f} s, {len(values)} progress notifications")


def text_of(result: types.CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))


def test_a_bad_api_key_is_a_tool_error_naming_the_problem(server: Server, tmp_path: Path) -> None:
    bad = "rfk_not-a-real-key"
    problem = httpx.get(
        f"{server.base}/api/v1/templates", headers={"Authorization": f"Bearer {bad}"}
    ).json()
    seen: list[types.CallToolResult] = []

    async def agent(session: ClientSession) -> None:
        seen.append(await call(session, "list_templates"))
        seen.append(await call(session, "get_render", {"render_id": "../users/me"}))

    over_stdio(mcp_env(server, bad), tmp_path / "mcp.err", agent)
    unauthorized, bad_id = seen
    assert problem["detail"] == "API key is not valid"
    assert unauthorized.is_error and problem["detail"] in text_of(unauthorized)
    assert "Traceback" not in text_of(unauthorized)
    assert bad_id.is_error and "valid UUID" in text_of(bad_id)


def test_a_missing_api_key_is_one_line_and_exit_2(tmp_path: Path) -> None:
    env = serve_env(tmp_path)
    env.pop("REELFORGE_MCP_API_KEY", None)
    done = subprocess.run(
        [sys.executable, "-m", "reelforge", "mcp"],
        env=env, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
    )  # fmt: skip
    assert done.returncode == 2 and done.stdout == ""
    assert len(done.stderr.strip().splitlines()) == 1
    assert "REELFORGE_MCP_API_KEY" in done.stderr and "Traceback" not in done.stderr


def test_streamable_http_lists_the_tools(server: Server, api_key: str, tmp_path: Path) -> None:
    (port,) = free_ports(1)
    with (tmp_path / "mcp-http.err").open("wb") as errlog:
        process = subprocess.Popen(
            [sys.executable, "-m", "reelforge", "mcp", "--http", "--port", str(port)],
            env=serve_env(tmp_path, mcp_env(server, api_key)),
            stdout=subprocess.DEVNULL, stderr=errlog, stdin=subprocess.DEVNULL,
        )  # fmt: skip
    try:
        url = f"http://127.0.0.1:{port}/mcp"
        names: set[str] = set()

        async def main() -> None:
            with anyio.fail_after(60):
                while True:  # listening once a connection is accepted
                    try:
                        await (await anyio.connect_tcp("127.0.0.1", port)).aclose()
                        break
                    except OSError:
                        assert process.poll() is None, (tmp_path / "mcp-http.err").read_text()
                        await anyio.sleep(0.2)
            async with (
                streamable_http_client(url) as (read, write),
                ClientSession(read, write) as session,
            ):
                await session.initialize()
                names.update(tool.name for tool in (await session.list_tools()).tools)
                voices = await call(session, "list_voices")
                assert not voices.is_error, voices.content

        anyio.run(main)
        assert names == TOOLS
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert "Traceback" not in (tmp_path / "mcp-http.err").read_text()
