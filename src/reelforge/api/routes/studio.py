"""What the create flow needs before a render: voices with spoken samples, and an estimate
of a render's time and provider cost (the CLI's `--estimate`)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from fastapi.responses import FileResponse
from starlette.concurrency import run_in_threadpool

from reelforge.api import schemas
from reelforge.api.deps import CurrentUser, PlatformDep
from reelforge.platform import studio

router = APIRouter(tags=["studio"])
VoiceName = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]


@router.get("/voices")
def list_voices(user: CurrentUser, platform: PlatformDep) -> list[schemas.VoiceOut]:
    """The offline voices, each with a short sample to play before choosing."""
    return [
        schemas.VoiceOut(
            id=voice.id,
            label=voice.label,
            vendor=voice.vendor,
            sample_url=f"/api/v1/voices/{voice.id}/sample" if voice.has_sample else None,
        )
        for voice in studio.offline_voices(platform.settings)
    ]


@router.get(
    "/voices/{voice}/sample",
    response_class=FileResponse,
    responses={200: {"content": {"audio/wav": {}}, "description": "A spoken sample"}},
)
async def voice_sample(voice: VoiceName, user: CurrentUser, platform: PlatformDep) -> FileResponse:
    """A few seconds of the voice (made on first request, then cached)."""
    path = await run_in_threadpool(studio.voice_sample, platform.settings, voice)
    return FileResponse(
        path, media_type="audio/wav", headers={"Cache-Control": "private, max-age=86400"}
    )


@router.post("/estimate")
def estimate(
    body: schemas.EstimateIn, user: CurrentUser, platform: PlatformDep
) -> schemas.EstimateOut:
    """How long a render of these settings will take once started, and what its remote
    provider calls will cost (your own provider keys count, as in a real render)."""
    providers = platform.providers_for_user(user.id)
    found = studio.estimate_render(providers, platform.settings, body.settings, body.prompt)
    lines = [
        schemas.EstimateLineOut(provider=line.provider, units=line.units, cost_usd=line.cost_usd)
        for line in found.lines
    ]
    return schemas.EstimateOut(
        render_seconds=found.render_seconds,
        cost_usd=found.cost_usd,
        lines=lines,
        script="llm" if found.script == "llm" else "prompt",
        stock_available=found.stock_available,
    )
