"""The MCP server: `Tools` and two resources on the official SDK's `MCPServer`, over stdio or
streamable HTTP.

Errors an agent can act on (the API's problem `detail`, an unknown scene) become MCP tool
errors (`isError`, the message as text) through `_as_tool_errors`, in one place; anything else
is a bug, which the SDK reports as `Error executing tool …` without a traceback.
"""

from __future__ import annotations

import functools
import inspect
import json
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Literal, ParamSpec, TypeVar

from mcp.server.mcpserver import Context, MCPServer
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError, ToolError
from pydantic import Field

from reelforge.errors import ReelforgeError
from reelforge.mcp.client import ApiProblem, JsonObject, ReelforgeApi
from reelforge.mcp.tools import DEFAULT_WAIT_S, MAX_WAIT_S, TOOL_NAMES, RenderId, Tools

P = ParamSpec("P")
R = TypeVar("R")

HTTP_PATH = "/mcp"
STORYBOARD_URI = "reelforge://projects/{project_id}/storyboard"
MANIFEST_URI = "reelforge://renders/{render_id}/manifest"
INSTRUCTIONS = (
    "reelforge turns a prompt into a narrated video. Typical flow: list_templates / "
    "list_voices → create_project(prompt, settings) → optionally get_storyboard and edit it "
    "(set_scene_narration, replace_storyboard) → estimate → render → wait_for_render → "
    "get_download_links. Renders take from seconds to minutes; wait_for_render reports progress."
)


def build_server(api: ReelforgeApi) -> MCPServer[Any]:
    """The MCP server acting, over `api`, as the user whose API key it holds."""
    tools = Tools(api)
    server: MCPServer[Any] = MCPServer(
        "reelforge", instructions=INSTRUCTIONS, website_url=api.base_url, log_level="WARNING"
    )
    for name in TOOL_NAMES:
        server.add_tool(_as_tool_errors(getattr(tools, name)))

    @server.tool()
    @_as_tool_errors
    async def wait_for_render(
        render_id: RenderId,
        ctx: Context[Any, Any],
        timeout_s: Annotated[
            float, Field(gt=0, le=MAX_WAIT_S, description="Give up waiting after this long.")
        ] = DEFAULT_WAIT_S,
    ) -> JsonObject:
        """Wait until a render finishes (or `timeout_s` passes), sending progress
        notifications (percent of 100) as it goes; its last status, with `finished` false if
        it is still going (call again to keep waiting)."""
        return await tools.wait_for_render(render_id, timeout_s, ctx.report_progress)

    @server.resource(
        STORYBOARD_URI, name="storyboard", mime_type="application/json",
        description="A project's saved storyboard (title, settings, scenes).",
    )  # fmt: skip
    async def storyboard(project_id: str) -> str:
        return await _read(api, "project", project_id, "/projects/{}/storyboard")

    @server.resource(
        MANIFEST_URI, name="manifest", mime_type="application/json",
        description="A succeeded render's manifest: the storyboard it rendered, the template, "
        "scene timings, providers, stage seconds, cache hits and cost.",
    )  # fmt: skip
    async def manifest(render_id: str) -> str:
        return await _read(api, "render", render_id, "/renders/{}/manifest.json")

    return server


async def serve(
    api: ReelforgeApi,
    transport: Literal["stdio", "streamable-http"],
    *,
    host: str = "127.0.0.1",
    port: int = 8765,
) -> None:
    """Serve until the client hangs up (stdio) or the process is stopped (HTTP), then close
    the API client."""
    server = build_server(api)
    try:
        if transport == "stdio":
            await server.run_stdio_async()
        else:
            await server.run_streamable_http_async(
                host=host, port=port, streamable_http_path=HTTP_PATH
            )
    finally:
        await api.aclose()


def _as_tool_errors(fn: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """`fn` with reelforge's errors as MCP tool errors. `functools.wraps` keeps the name,
    docstring and signature the SDK builds the tool's description and schema from; the
    docstring is dedented, as the SDK sends it as it is."""

    @functools.wraps(fn)
    async def call(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await fn(*args, **kwargs)
        except ReelforgeError as exc:
            raise ToolError(exc.message) from exc

    call.__doc__ = inspect.getdoc(fn)
    return call


async def _read(api: ReelforgeApi, kind: str, raw_id: str, path: str) -> str:
    """A resource's JSON text from the API, its problems as resource errors."""
    try:
        resource_id = uuid.UUID(raw_id)
    except ValueError:
        raise ResourceNotFoundError(f"{raw_id!r} is not a {kind} id") from None
    try:
        body = await api.get(path.format(resource_id))
    except ApiProblem as problem:
        error = ResourceNotFoundError if problem.status == 404 else ResourceError
        raise error(problem.message) from problem
    return json.dumps(body, indent=2)
