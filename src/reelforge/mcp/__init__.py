"""`reelforge mcp`: a Model Context Protocol server for AI agents, as a client of the public
HTTP API with one user's API key (docs/mcp.md).

A face like `cli/` and `web/`: it imports only `errors` of reelforge, plus httpx and the MCP
SDK (`server.py`, loaded only when the command runs). `client.py` speaks the API, `tools.py`
holds what an agent can do, `server.py` serves them.
"""
