"""The public HTTP API as the MCP server uses it: one user's API key, JSON in and out, and
every failure as an `ApiProblem` carrying the problem's `detail` (never a traceback).

It knows only the documented routes (docs/api.md), so the MCP server can run on another
machine than reelforge, with nothing but the URL and a key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from reelforge.errors import ReelforgeError

DEFAULT_URL = "http://127.0.0.1:8000"
TIMEOUT_S = 60.0
API_PREFIX = "/api/v1"

JsonObject = dict[str, Any]


class ApiProblem(ReelforgeError):
    """The API answered an error (problem+json), or could not be reached (`status` 0)."""

    def __init__(self, detail: str, *, status: int, type_: str = "") -> None:
        super().__init__(detail, stage="api")
        self.status = status
        self.type = type_


@dataclass(frozen=True, slots=True)
class Reply:
    """A successful answer: its JSON body and the `ETag` it carried, if any."""

    body: Any
    etag: str | None = None


class ReelforgeApi:
    """An async client of `/api/v1` authenticated with a personal API key (`rfk_…`).

    Args:
        base_url: where reelforge serves, e.g. `http://127.0.0.1:8000`.
        api_key: the user's API key; every call acts as that user.
        transport: for tests, an httpx transport to use instead of the network.
    """

    def __init__(
        self, base_url: str, api_key: str, *, transport: httpx.AsyncBaseTransport | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._http = httpx.AsyncClient(
            base_url=f"{self.base_url}{API_PREFIX}",
            headers={"Authorization": f"Bearer {api_key}", "User-Agent": "reelforge-mcp"},
            timeout=TIMEOUT_S,
            # Downloads from S3 answer 307 to a signed URL; httpx drops the Authorization
            # header when a redirect leaves the API's origin, so the key stays here.
            follow_redirects=True,
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    def absolute(self, path: str) -> str:
        """A link the API gave as a path (`/api/v1/renders/…/video?expires=…`), as a URL a
        client elsewhere can fetch."""
        return path if "://" in path else f"{self.base_url}{path}"

    async def request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        headers: dict[str, str] | None = None,
    ) -> Reply:
        """One call; the JSON body (None for 204) and its ETag.

        Raises:
            ApiProblem: an error status (with the problem's `detail`), or no connection.
        """
        try:
            response = await self._http.request(method, path, json=json, headers=headers)
        except httpx.TransportError as exc:
            raise ApiProblem(
                f"cannot reach reelforge at {self.base_url}: {exc or type(exc).__name__}",
                status=0,
            ) from exc
        if response.is_error:
            raise _problem(response)
        body = response.json() if response.content else None
        return Reply(body, response.headers.get("etag"))

    async def get(self, path: str) -> Any:
        return (await self.request("GET", path)).body

    async def post(self, path: str, json: Any = None) -> Any:
        return (await self.request("POST", path, json=json)).body


def _problem(response: httpx.Response) -> ApiProblem:
    """An error answer as an `ApiProblem`: the problem's `detail`, else its title or status."""
    try:
        problem = response.json()
    except ValueError:
        problem = None
    if not isinstance(problem, dict):
        return ApiProblem(
            f"reelforge answered {response.status_code} {response.reason_phrase}",
            status=response.status_code,
        )
    detail = problem.get("detail") or problem.get("title") or f"HTTP {response.status_code}"
    return ApiProblem(str(detail), status=response.status_code, type_=str(problem.get("type", "")))
