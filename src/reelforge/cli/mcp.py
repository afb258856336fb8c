"""`reelforge mcp`: the Model Context Protocol server for AI agents (docs/mcp.md).

A client of the public API with one user's key, like any other: it reads no database and
needs no server settings, so it can run wherever the agent runs. The MCP SDK loads only here.
"""

from __future__ import annotations

from typing import Annotated

import typer

from reelforge.cli.console import bad_input, err

DEFAULT_HTTP_PORT = 8765


def register(app: typer.Typer) -> None:
    app.command(name="mcp")(mcp_command)


def mcp_command(
    url: Annotated[
        str, typer.Option(envvar="REELFORGE_MCP_URL", help="Where reelforge serves its API.")
    ] = "http://127.0.0.1:8000",
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="REELFORGE_MCP_API_KEY",
            help="A personal API key (rfk_…, POST /api/v1/auth/api-keys); prefer the env var.",
        ),
    ] = None,
    http: Annotated[
        bool, typer.Option("--http", help="Serve streamable HTTP instead of stdio.")
    ] = False,
    host: Annotated[str, typer.Option(help="With --http: the address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="With --http: the port.")] = DEFAULT_HTTP_PORT,
) -> None:
    """Serve the Model Context Protocol (stdio, or streamable HTTP at /mcp) for AI agents:
    templates, voices, projects, storyboards, estimates, renders and download links, acting
    as the user whose API key it is given."""
    if not api_key:
        bad_input("no API key: set REELFORGE_MCP_API_KEY (or pass --api-key) to a key from "
                  "POST /api/v1/auth/api-keys")  # fmt: skip
    if not url.startswith(("http://", "https://")):
        bad_input(f"--url must be an http(s) URL, not {url!r}")
    import anyio

    from reelforge.mcp.client import ReelforgeApi
    from reelforge.mcp.server import HTTP_PATH, serve

    api = ReelforgeApi(url, api_key)
    if http:
        # stdout belongs to the protocol only with stdio; over HTTP, say where it listens.
        err.print(f"MCP over streamable HTTP at http://{host}:{port}{HTTP_PATH}", highlight=False)
        anyio.run(lambda: serve(api, "streamable-http", host=host, port=port))
    else:
        anyio.run(lambda: serve(api, "stdio"))
