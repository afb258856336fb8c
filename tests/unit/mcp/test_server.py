"""The tools and resources as the SDK serves them, in process against a fake API: names,
schemas, API problems as tool errors, resources and their errors."""

from __future__ import annotations

import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
import httpx
import mcp_types as types
import pytest
from mcp import Client
from mcp.shared.exceptions import MCPError

from reelforge.mcp.client import ReelforgeApi
from reelforge.mcp.server import build_server

BASE = "http://reelforge.test"
RENDER = uuid.UUID("22222222-2222-4222-8222-222222222222")
MANIFEST = {"duration_s": 9.5, "scenes": []}


def handler(request: httpx.Request) -> httpx.Response:
    if request.url.path == f"/api/v1/renders/{RENDER}/manifest.json":
        return httpx.Response(200, json=MANIFEST)
    problem = {
        "type": "urn:reelforge:problem:not-found",
        "status": 404,
        "detail": "render not found",
    }
    return httpx.Response(404, json=problem)


def with_client(session: Callable[[Client], Awaitable[Any]]) -> Any:
    async def main() -> Any:
        api = ReelforgeApi(BASE, "rfk_test", transport=httpx.MockTransport(handler))
        async with Client(build_server(api)) as client:
            return await session(client)

    return anyio.run(main)


def text_of(result: types.CallToolResult) -> str:
    return " ".join(c.text for c in result.content if isinstance(c, types.TextContent))


def test_tools_have_descriptions_and_no_context_argument() -> None:
    tools = with_client(lambda client: client.list_tools()).tools
    assert all(tool.description and "\n    " not in tool.description for tool in tools)
    wait = next(tool for tool in tools if tool.name == "wait_for_render")
    assert set(wait.input_schema["properties"]) == {"render_id", "timeout_s"}
    assert wait.input_schema["properties"]["render_id"]["format"] == "uuid"


def test_an_api_problem_is_a_tool_error_with_its_detail() -> None:
    result = with_client(lambda client: client.call_tool("get_render", {"render_id": str(RENDER)}))
    assert result.is_error and text_of(result).endswith("render not found")


def test_the_manifest_resource_is_the_apis_json() -> None:
    read = with_client(
        lambda client: client.read_resource(f"reelforge://renders/{RENDER}/manifest")
    )
    (content,) = read.contents
    assert content.mime_type == "application/json" and json.loads(content.text) == MANIFEST


@pytest.mark.parametrize(
    ("uri", "says"),
    [
        (f"reelforge://projects/{RENDER}/storyboard", "render not found"),
        ("reelforge://renders/nope/manifest", "'nope' is not a render id"),
    ],
)
def test_a_missing_resource_is_a_protocol_error_naming_it(uri: str, says: str) -> None:
    async def read(client: Client) -> MCPError | None:
        try:
            await client.read_resource(uri)
        except MCPError as exc:  # caught here: outside, the client's task group wraps it
            return exc
        return None

    error = with_client(read)
    assert error is not None and says in str(error)
