"""What an agent can do with reelforge, as plain async methods over the public API.

The MCP SDK sees each method of `Tools` named in `TOOL_NAMES` as one tool: its name, its
docstring (the description the model reads) and its typed parameters (the input schema).
They know nothing of MCP, so they are tested with a fake transport; `server.py` wires them to
the SDK, and `wait_for_render` to the MCP progress notifications.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated

from pydantic import Field

from reelforge.errors import Conflict, InvalidInput
from reelforge.mcp.client import ApiProblem, JsonObject, ReelforgeApi, Reply

POLL_INTERVAL_S = 1.0
DEFAULT_WAIT_S = 600.0
MAX_WAIT_S = 3600.0
NAME_FROM_PROMPT_CHARS = 60
FINISHED = frozenset({"succeeded", "failed", "canceled"})

ProgressReport = Callable[[float, float | None, str | None], Awaitable[None]]
"""`(progress, total, message)`, as MCP progress notifications carry them."""

# Ids are UUIDs, checked before they go into a path: "../users/me" never reaches the API.
ProjectId = Annotated[uuid.UUID, Field(description="A project's id (from create_project).")]
RenderId = Annotated[uuid.UUID, Field(description="A render's id (from render).")]


class Tools:
    """The MCP tools, acting as the user whose API key `api` holds."""

    def __init__(self, api: ReelforgeApi) -> None:
        self.api = api

    async def list_templates(self) -> list[JsonObject]:
        """List the video templates (built-in ones, then the user's own): a template sets a
        video's look, captions, music and pacing. Pass an `id` to create_project."""
        templates: list[JsonObject] = await self.api.get("/templates")
        return [t | {"preview_url": self.api.absolute(t["preview_url"])} for t in templates]

    async def list_voices(self) -> list[JsonObject]:
        """List the narration voices; an `id` is the value for the setting `voice`."""
        voices: list[JsonObject] = await self.api.get("/voices")
        return [
            v | {"sample_url": self.api.absolute(v["sample_url"]) if v["sample_url"] else None}
            for v in voices
        ]

    async def create_project(
        self,
        prompt: Annotated[
            str, Field(description="What the video says: a topic or a script, ≤ 20 000 chars.")
        ],
        name: Annotated[str | None, Field(description="Defaults to the prompt's start.")] = None,
        template_id: Annotated[
            str | None, Field(description="A template id from list_templates.")
        ] = None,
        settings: Annotated[
            JsonObject | None,
            Field(
                description='Video settings, e.g. {"resolution": "480p", '
                '"target_duration_s": 10, "aspect": "9:16", "voice": "joe", '
                '"music": {"enabled": false}}; a template fills those left out.'
            ),
        ] = None,
    ) -> JsonObject:
        """Create a video project from a prompt. Then render it as it is, or edit its
        storyboard first (get_storyboard, set_scene_narration, replace_storyboard)."""
        body: JsonObject = {"name": name or _name_from(prompt), "prompt": prompt}
        if template_id is not None:
            body["template_id"] = template_id
        if settings is not None:
            body["settings"] = settings
        project: JsonObject = await self.api.post("/projects", body)
        return project

    async def get_storyboard(self, project_id: ProjectId) -> JsonObject:
        """A project's storyboard: its title, settings and scenes (narration, headline,
        visual, duration). Before any edit it is the draft that rendering the prompt would
        use (`saved` is false)."""
        reply, saved = await self._storyboard(project_id)
        return {"saved": saved, "storyboard": reply.body}

    async def replace_storyboard(
        self,
        project_id: ProjectId,
        storyboard: Annotated[
            JsonObject,
            Field(
                description="The whole storyboard, as get_storyboard returns it: "
                '{"title": …, "settings": {…}, "scenes": [{"narration": …}, …]}.'
            ),
        ],
    ) -> JsonObject:
        """Replace a project's whole storyboard; the next render uses it instead of the
        prompt. Its settings, if given, become the project's."""
        reply = await self.api.request("PUT", f"/projects/{project_id}/storyboard", json=storyboard)
        return {"saved": True, "storyboard": reply.body}

    async def set_scene_narration(
        self,
        project_id: ProjectId,
        scene: Annotated[int, Field(ge=1, description="The scene's number, from 1.")],
        narration: Annotated[str, Field(min_length=1, description="What the voice says.")],
    ) -> JsonObject:
        """Change what one scene of a project's storyboard says, keeping everything else;
        refused if someone else saved the storyboard meanwhile (read it again then)."""
        reply, _ = await self._storyboard(project_id)
        board: JsonObject = reply.body
        scenes = board["scenes"]
        if scene > len(scenes):
            raise InvalidInput(f"scene {scene} does not exist: the storyboard has {len(scenes)}")
        scenes[scene - 1]["narration"] = narration
        headers = {"If-Match": reply.etag} if reply.etag else None
        saved = await self.api.request(
            "PUT", f"/projects/{project_id}/storyboard", json=board, headers=headers
        )
        return {"saved": True, "storyboard": saved.body}

    async def estimate(self, project_id: ProjectId) -> JsonObject:
        """Estimate a project's render: wall time once started (`render_seconds`), the cost
        of remote AI providers (`cost_usd`, 0 offline) and who writes the script."""
        project: JsonObject = await self.api.get(f"/projects/{project_id}")
        prompt, settings = project["prompt"], project["settings"]
        if project["has_storyboard"]:
            board: JsonObject = await self.api.get(f"/projects/{project_id}/storyboard")
            prompt = " ".join(scene["narration"] for scene in board["scenes"])
            settings = board["settings"]
        estimate: JsonObject = await self.api.post(
            "/estimate", {"prompt": prompt, "settings": settings}
        )
        return estimate

    async def render(
        self,
        project_id: ProjectId,
        idempotency_key: Annotated[
            str | None,
            Field(max_length=200, description="Resubmitting with the same key queues no twin."),
        ] = None,
    ) -> JsonObject:
        """Queue a render of a project (its storyboard if it has one, else its prompt).
        Follow it with wait_for_render or get_render."""
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        reply = await self.api.request("POST", f"/projects/{project_id}/renders", headers=headers)
        return self._render_view(reply.body)

    async def get_render(self, render_id: RenderId) -> JsonObject:
        """A render's status (queued, running, succeeded, failed, canceled), stage, progress
        in percent, ETA, error, and once succeeded its download links."""
        return self._render_view(await self.api.get(f"/renders/{render_id}"))

    async def get_download_links(self, render_id: RenderId) -> JsonObject:
        """Links to a succeeded render's files (video MP4, thumbnail JPEG, SRT and VTT
        captions): URLs that need no credentials and expire (an hour by default)."""
        status = await self.get_render(render_id)
        if status["links"] is None:
            raise Conflict(f"this render has no files yet ({status['status']})")
        links: JsonObject = status["links"]
        return links

    async def wait_for_render(
        self, render_id: uuid.UUID, timeout_s: float, on_progress: ProgressReport
    ) -> JsonObject:
        """Poll a render until it finishes or `timeout_s` passes, reporting its progress
        (percent of 100) at each change; its last status, with `finished`."""
        deadline = time.monotonic() + min(max(timeout_s, 0.0), MAX_WAIT_S)
        reported: tuple[float, str | None] | None = None
        while True:
            status = await self.get_render(render_id)
            now = (float(status["progress"]), status["stage"])
            if now != reported:
                await on_progress(now[0], 100.0, _progress_message(status))
                reported = now
            finished = status["status"] in FINISHED
            if finished or time.monotonic() >= deadline:
                return status | {"finished": finished}
            await asyncio.sleep(POLL_INTERVAL_S)

    async def _storyboard(self, project_id: uuid.UUID) -> tuple[Reply, bool]:
        """The saved storyboard, else the draft the prompt would give (with the project's
        ETag, so an edit of it still refuses to overwrite a concurrent save): `(reply,
        saved)`."""
        try:
            return await self.api.request("GET", f"/projects/{project_id}/storyboard"), True
        except ApiProblem as problem:
            if problem.status != 404:
                raise
        # 404 is also an unknown project: the draft's own 404 then says so.
        return await self.api.request("POST", f"/projects/{project_id}/storyboard/draft"), False

    def _render_view(self, render: JsonObject) -> JsonObject:
        links = render.get("links")
        if links:
            render["links"] = {name: self.api.absolute(link) for name, link in links.items()}
        return render


def _name_from(prompt: str) -> str:
    """A project name from the prompt's first words, cut at a word (the API wants one)."""
    name = ""
    for word in prompt.split():
        if len(name) + len(word) + 1 > NAME_FROM_PROMPT_CHARS:
            return f"{name}…" if name else word[:NAME_FROM_PROMPT_CHARS]
        name = f"{name} {word}".strip()
    return name or "Untitled"


def _progress_message(status: JsonObject) -> str:
    if status["status"] == "queued" and status.get("queue_position"):
        return f"queued (position {status['queue_position']})"
    stage = status.get("stage")
    return f"{status['status']}: {stage}" if stage else str(status["status"])


TOOL_NAMES = (
    "list_templates",
    "list_voices",
    "create_project",
    "get_storyboard",
    "replace_storyboard",
    "set_scene_narration",
    "estimate",
    "render",
    "get_render",
    "get_download_links",
)
"""The methods served as they are; `wait_for_render` is wired with the MCP progress token."""
