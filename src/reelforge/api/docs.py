"""The interactive API docs at `/api/docs`: Swagger UI served from files shipped in the
package (vendored `swagger-ui-dist`, see THIRD_PARTY.md), so they work with no network."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_PATH = "/api/docs"
ASSETS = Path(__file__).parent / "swagger"
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{title} API docs</title>
<link rel="stylesheet" href="{docs}/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="{docs}/assets/swagger-ui-bundle.js"></script>
<script src="{docs}/assets/swagger-init.js"></script>
</body>
</html>
"""


def install(app: FastAPI) -> None:
    page = PAGE.format(title=app.title, docs=DOCS_PATH)

    @app.get(DOCS_PATH, include_in_schema=False)
    def swagger_ui() -> HTMLResponse:
        return HTMLResponse(page)

    app.mount(f"{DOCS_PATH}/assets", StaticFiles(directory=ASSETS), name="swagger-assets")
