"""Refuses hostile input at the edge, before any route, schema or database sees it.

Found by a black-box probe (issue #22): a NUL byte in any text field was a 500 on
PostgreSQL (its text types cannot hold one), control characters (ESC, U+202E) were stored
as-is on SQLite, and a 300-deep JSON object was a 500. Rather than a check per field in
every schema, this pure ASGI middleware looks at what every route receives:

- JSON bodies (and bodies with no content type, which FastAPI parses as JSON): nested no
  deeper than `MAX_JSON_DEPTH`, and no key or string holding a character of `is_unsafe`
  (tab, newline and carriage return are fine). A 422 `validation` problem names the field.
- The query string and the header values: no control characters (a 400 `bad-request`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from reelforge.api.errors import problem, status_problem

MAX_JSON_DEPTH = 32
"""Our deepest document (a storyboard) nests about 6 levels."""
_UNSAFE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"  # C0 but tab/LF/CR, DEL, C1
    "\u202a-\u202e\u2066-\u2069"  # bidi embeddings, overrides and isolates (Trojan Source)
    "\ud800-\udfff]"  # lone surrogates: not encodable as UTF-8
)
_UNSAFE_IN_HEADER = re.compile("[\x00-\x08\x0a-\x1f\x7f]")
"""Headers are decoded as Latin-1, where bytes 0x80-0x9f are parts of UTF-8 characters."""
BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def is_unsafe(text: str) -> bool:
    """True if `text` holds a character no field of ours should store."""
    return _UNSAFE.search(text) is not None


def strip_unsafe(text: str) -> str:
    """`text` without the characters `is_unsafe` refuses (for headers we store, such as
    the User-Agent of a session)."""
    return _UNSAFE.sub("", text)


def json_depth(value: Any) -> int:
    """How deeply a parsed JSON `value` nests (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict | list):
            deepest = max(deepest, depth + 1)
            children = item.values() if isinstance(item, dict) else item
            stack.extend((child, depth + 1) for child in children)
    return deepest


def first_unsafe(value: Any) -> str | None:
    """The dotted path of the first key or string in `value` that `is_unsafe`, else None
    (a bad key is reported as its parent's path)."""
    for path, text in _strings(value, ()):
        if is_unsafe(text):
            return ".".join(path)
    return None


def _strings(value: Any, path: tuple[str, ...]) -> Iterator[tuple[tuple[str, ...], str]]:
    # Recursion is bounded: the depth was checked first.
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield path, key
            yield from _strings(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _strings(item, (*path, str(index)))


def _is_json(scope: Scope) -> bool:
    headers = dict(scope["headers"])
    content_type = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
    return (
        not content_type or content_type == b"application/json" or content_type.endswith(b"+json")
    )


def _refusal(field: str, message: str) -> Any:
    return problem(
        422, "validation", "Invalid request", f"{field}: {message}",
        errors=[{"field": field, "message": message}],
    )  # fmt: skip


def check_body(body: bytes) -> Any | None:
    """The 422 problem for a hostile JSON body, or None when it may go on."""
    too_deep = _refusal("body", f"JSON may not be nested deeper than {MAX_JSON_DEPTH} levels")
    try:
        value = json.loads(body)  # in C, linear; refuses absurd depth with RecursionError
    except RecursionError:
        return too_deep
    except ValueError:
        return None  # not JSON: the route's own parsing answers its usual 422
    if json_depth(value) > MAX_JSON_DEPTH:
        return too_deep
    field = first_unsafe(value)
    if field is not None:
        return _refusal(field or "body", "control characters are not allowed")
    return None


def check_head(scope: Scope) -> str | None:
    """Why the query string or a header value is refused, or None."""
    query = scope.get("query_string", b"").decode("utf-8", errors="replace")
    if is_unsafe(unquote(query, errors="replace")):
        return "control characters are not allowed in the query string"
    for name, value in scope["headers"]:
        if _UNSAFE_IN_HEADER.search(value.decode("latin-1")):
            return f"control characters are not allowed in the {name.decode('latin-1')} header"
    return None


class InputGuard:
    """Pure ASGI middleware: the checks above, then the request as it came (the body
    bounded by `LimitsAndHeaders`, which runs outside this one)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        refused = check_head(scope)
        if refused is not None:
            if scope["type"] == "websocket":
                await send({"type": "websocket.close", "code": 1008, "reason": refused})
            else:
                await status_problem(400, refused)(scope, receive, send)
            return
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS or not _is_json(scope):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client left
                return
            chunks.append(message.get("body", b""))
            more = message.get("more_body", False)
        body = b"".join(chunks)
        refusal = check_body(body) if body else None
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)
