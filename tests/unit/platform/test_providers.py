"""Which providers a render gets from the settings and a user's own keys, and the estimate."""

from __future__ import annotations

import pytest
from pydantic import SecretStr

from reelforge.errors import ConfigurationError, InvalidInput
from reelforge.jobs.retry import ErrorClass, classify
from reelforge.model.storyboard import VideoSettings
from reelforge.platform.providers import build_providers, estimate
from reelforge.providers.http import ClientOptions
from reelforge.providers.usage import Prices
from reelforge.settings import DEFAULT_PRICES, ProviderSettings
from tests.support.stubs.base import StubResponse, StubServer


def test_nothing_configured_means_the_offline_defaults() -> None:
    providers = build_providers(ProviderSettings())
    assert providers.visuals == () and providers.script.id == "prompt"
    assert providers.voice.voices() == ["joe"]
    assert estimate(providers, VideoSettings(), "x", prices=Prices(DEFAULT_PRICES)) == []


def test_server_keys_enable_providers_and_a_users_own_key_wins() -> None:
    config = ProviderSettings(
        openai_api_key=SecretStr("sk-server"), pexels_api_key=SecretStr("px-server"),
        visual_chain=["pexels", "openai-images"],
    )  # fmt: skip
    server = build_providers(config)
    assert [s.id for s in server.visuals] == ["pexels", "openai-images"]
    assert "openai/alloy" in server.voice.voices() and "joe" in server.voice.voices()
    own = build_providers(config, {"pexels": "px-mine"})
    assert own.visuals[0]._key == "px-mine"  # type: ignore[attr-defined]
    assert server.visuals[0]._key == "px-server"  # type: ignore[attr-defined]


def test_every_remote_client_gets_the_settings_timeout_and_concurrency() -> None:
    config = ProviderSettings(
        llm_base_url="http://127.0.0.1:9/v1", llm_model="m", timeout_s=7, max_concurrency=2,
        openai_api_key=SecretStr("sk"), elevenlabs_api_key=SecretStr("el"),
        pixabay_api_key=SecretStr("px"), visual_chain=["pixabay", "openai-images"],
    )  # fmt: skip
    providers = build_providers(config)
    voices = providers.voice.by_prefix.values()  # type: ignore[attr-defined]
    remote = [providers.script, *voices, *providers.visuals]
    expected = ClientOptions(timeout_s=7, max_concurrency=2, key_owner="server")
    assert len(remote) == 5
    assert all(p._client.options == expected for p in remote)


def refusing(request: object, match: object) -> StubResponse:
    return StubResponse(401, json={"error": {"message": "Incorrect API key provided"}})


def test_a_refused_server_key_is_the_operators_problem_and_a_users_own_key_theirs() -> None:
    """A 401 on the server's key is a system error (admins alerted), not the user's input;
    on the key a user stored it is their input to fix."""
    with StubServer({("POST", r"/v1/chat/completions"): refusing}) as stub:
        config = ProviderSettings(
            llm_base_url=f"{stub.url}/v1", llm_model="m", llm_api_key=SecretStr("sk-server"),
            pexels_api_key=SecretStr("px"), pexels_base_url=stub.url, visual_chain=["pexels"],
        )  # fmt: skip
        with pytest.raises(ConfigurationError, match="refused the server's API key") as server:
            build_providers(config).script.write("a prompt", VideoSettings())
        assert classify(server.value) is ErrorClass.SYSTEM
        with pytest.raises(InvalidInput, match="refused the API key") as own:
            build_providers(config, {"llm": "sk-mine"}).script.write("a prompt", VideoSettings())
        assert classify(own.value) is ErrorClass.VALIDATION
    mine = build_providers(config, {"pexels": "px-mine"}).visuals[0]
    assert mine._client.options.key_owner == "user"  # type: ignore[attr-defined]
    assert build_providers(config).visuals[0]._client.options.key_owner == "server"  # type: ignore[attr-defined]


def test_the_estimate_counts_what_the_configured_providers_bill() -> None:
    config = ProviderSettings(openai_api_key=SecretStr("sk"), visual_chain=["openai-images"])
    video = VideoSettings(target_duration_s=60, voice="openai/nova")
    lines = {line.provider: line for line in estimate(
        build_providers(config), video, "tides", prices=Prices(DEFAULT_PRICES)
    )}  # fmt: skip
    assert lines["openai-images"].units == {"images": 10}
    assert lines["openai-images"].cost_usd == 0.4
    assert lines["openai-tts"].units == {"characters": 900}


def test_a_price_override_keeps_the_other_defaults() -> None:
    from reelforge.platform.providers import prices_for

    prices = prices_for(ProviderSettings(prices={"openai-chat": {"input_tokens": 0.0}}))
    assert prices.cost("openai-chat", {"input_tokens": 1_000_000}) == 0.0
    assert prices.cost("openai-images", {"images": 1}) == DEFAULT_PRICES["openai-images"]["images"]
