"""A whole render with remote providers, all served by local wire-protocol stubs: an LLM
script, a stock clip, a generated still and a cloud voice; attribution and cost in the
manifest; an identical second render calls no provider at all."""

from __future__ import annotations

import json
from pathlib import Path

import av
import pytest

from reelforge.engine.pipeline import render
from reelforge.model.storyboard import VideoSettings
from reelforge.platform.providers import build_providers
from reelforge.settings import ProviderSettings
from tests.support.stubs import pexels
from tests.support.stubs.openai import OpenAIStub

pytestmark = pytest.mark.slow


def reply() -> str:
    scene = {"headline": "Tides", "keywords": ["sea"], "visual_prompt": "the moon over the sea"}
    return json.dumps(
        {
            "title": "Tides",
            "scenes": [
                scene | {"narration": "Tides rise twice a day.", "stock_query": "ocean waves"},
                scene | {"narration": "The moon pulls the water.", "stock_query": pexels.NO_MATCH},
            ],
        }
    )


def test_remote_providers_end_to_end_then_all_from_cache(tmp_path: Path) -> None:
    with OpenAIStub(api_key="sk-test") as openai, pexels.PexelsStub() as stock:
        config = ProviderSettings(
            llm_base_url=openai.base_url, llm_api_key="sk-test", llm_model="gpt-4o-mini",
            openai_base_url=openai.base_url, openai_api_key="sk-test",
            pexels_api_key=pexels.KEY, pexels_base_url=stock.url,
            visual_chain=["pexels-video", "openai-images"],
        )  # fmt: skip
        settings = VideoSettings(resolution="480p", target_duration_s=10, voice="openai/alloy")

        def once(name: str) -> dict[str, object]:
            openai.reply(reply())
            result = render(
                "How tides work", output=tmp_path / f"{name}.mp4", settings=settings,
                providers=build_providers(config), cache_dir=tmp_path / "cache",
            )  # fmt: skip
            with av.open(str(result.video)) as container:
                assert container.streams.video[0].codec_context.height == 480
                assert container.streams.audio
            manifest: dict[str, object] = json.loads(result.manifest.read_text())
            return manifest

        first = once("first")
        calls_after_first = len(openai.requests) + len(stock.server.requests)
        scenes = first["scenes"]
        assert isinstance(scenes, list)
        assert [s["visual"]["source"] for s in scenes] == ["pexels-video", "openai-images"]
        assert scenes[0]["visual"]["attribution"]["license"] == "Pexels License"
        assert first["storyboard"]["title"] == "Tides"  # type: ignore[index]
        usage = first["usage"]
        assert isinstance(usage, dict)
        assert set(usage) == {"openai-chat", "openai-images", "openai-tts", "pexels"}
        assert first["cost"]["total_usd"] > 0  # type: ignore[index]
        assert len(openai.speech) == 2 and openai.speech[0].voice == "alloy"

        second = once("second")
        assert len(openai.requests) + len(stock.server.requests) == calls_after_first
        assert second["cost"]["total_usd"] == 0  # type: ignore[index]
