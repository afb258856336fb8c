"""Contract tests for `OpenAIScript` against a local OpenAI wire-protocol stub."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator

import httpx
import pytest

from reelforge.errors import InvalidInput, ProviderError
from reelforge.model.storyboard import VideoSettings, VisualKind
from reelforge.providers.http import ClientOptions, RetryPolicy
from reelforge.providers.openai_script import OpenAIScript
from reelforge.providers.script_prompt import STORYBOARD_SCHEMA
from reelforge.providers.usage import Meter
from tests.support.stubs.base import StubResponse
from tests.support.stubs.openai import OpenAIStub, storyboard_json

KEY = "sk-test-123"
MODEL = "gpt-4o-mini"
CHAT = "/v1/chat/completions"
Make = Callable[..., OpenAIScript]


@pytest.fixture(scope="module")
def server() -> Iterator[OpenAIStub]:
    with OpenAIStub(api_key=KEY) as running:
        yield running


@pytest.fixture
def stub(server: OpenAIStub) -> OpenAIStub:
    server.reset()
    return server


@pytest.fixture
def meter() -> Meter:
    return Meter()


@pytest.fixture
def sleeps() -> list[float]:
    return []


@pytest.fixture
def make(stub: OpenAIStub, meter: Meter, sleeps: list[float]) -> Iterator[Make]:
    made: list[OpenAIScript] = []

    def build(key: str = KEY) -> OpenAIScript:
        provider = OpenAIScript(
            stub.base_url, key, MODEL, meter=meter, options=ClientOptions(
                timeout_s=5, retry=RetryPolicy(attempts=4, base_delay_s=0), sleep=sleeps.append
            ),
        )  # fmt: skip
        made.append(provider)
        return provider

    yield build
    for provider in made:
        provider.close()


def system_text(stub: OpenAIStub, call: int = -1) -> str:
    return str(stub.chats[call]["messages"][0]["content"])


def test_request_shape_and_result(stub: OpenAIStub, make: Make) -> None:
    stub.reply(storyboard_json(3, topic="tides"))
    script = make().write("Why do tides happen?", VideoSettings(seed=11))
    (request,) = stub.matching("POST", CHAT)
    assert request.headers["authorization"] == f"Bearer {KEY}"
    assert request.headers["content-type"] == "application/json"
    body = request.json()
    assert body["model"] == MODEL
    assert (body["temperature"], body["seed"]) == (0, 11)
    assert [m["role"] for m in body["messages"]] == ["system", "user"]
    assert body["messages"][1]["content"] == "Why do tides happen?"
    fmt = body["response_format"]
    assert fmt["type"] == "json_schema"
    assert fmt["json_schema"]["strict"] is True
    assert fmt["json_schema"]["schema"] == STORYBOARD_SCHEMA
    assert script.title == "All about tides"
    assert len(script.scenes) == 3
    assert all(s.visual.kind is VisualKind.GENERATED and s.visual.query for s in script.scenes)


def test_provider_id_names_the_model(make: Make) -> None:
    provider = make()
    assert provider.id == f"openai-chat:{MODEL}"
    assert provider.version


def test_identical_requests_send_identical_bodies(stub: OpenAIStub, make: Make) -> None:
    provider = make()
    for _ in range(2):
        provider.write("Tides", VideoSettings())
    first, second = stub.matching("POST", CHAT)
    assert first.body == second.body


@pytest.mark.parametrize(("duration_s", "budget"), [(30, 75), (120, 300), (300, 750)])
def test_word_budget_in_prompt_scales_with_duration(
    stub: OpenAIStub, make: Make, duration_s: float, budget: int
) -> None:
    make().write("Tides", VideoSettings(target_duration_s=duration_s))
    assert f"about {budget} words" in system_text(stub)


def test_bad_key_is_invalid_input_without_retries(stub: OpenAIStub, make: Make) -> None:
    with pytest.raises(InvalidInput, match=r"refused the API key \(401\).*Incorrect API key"):
        make(key="sk-wrong").write("Tides", VideoSettings())
    assert stub.count("POST", CHAT) == 1


def test_rate_limit_is_retried_after_retry_after(
    stub: OpenAIStub, make: Make, sleeps: list[float]
) -> None:
    stub.fail_next(CHAT, StubResponse(429, json={"error": {"message": "slow down"}},
                                      headers={"Retry-After": "0"}))  # fmt: skip
    script = make().write("Tides", VideoSettings())
    assert script.scenes
    assert stub.count("POST", CHAT) == 2
    assert sleeps == [0.0]


def test_server_errors_are_retried_then_provider_error(stub: OpenAIStub, make: Make) -> None:
    stub.fail_next(CHAT, *[StubResponse(500, json={"error": {"message": "boom"}})] * 4)
    with pytest.raises(ProviderError, match=r"failed after 4 attempts: HTTP 500: boom"):
        make().write("Tides", VideoSettings())
    assert stub.count("POST", CHAT) == 4


def test_malformed_json_is_repaired(stub: OpenAIStub, make: Make) -> None:
    stub.reply('{"title": "Tides", "scenes": [', storyboard_json(2))
    script = make().write("Tides", VideoSettings())
    assert len(script.scenes) == 2
    assert stub.count("POST", CHAT) == 2
    repair = stub.chats[1]["messages"]
    assert repair[-2] == {"role": "assistant", "content": '{"title": "Tides", "scenes": ['}
    assert "not valid JSON" in repair[-1]["content"]


def test_invalid_storyboard_is_repaired(stub: OpenAIStub, make: Make) -> None:
    stub.reply(json.dumps({"title": "Tides", "scenes": []}), storyboard_json(2))
    assert len(make().write("Tides", VideoSettings()).scenes) == 2
    assert "scenes" in stub.chats[1]["messages"][-1]["content"]


def test_malformed_twice_is_a_provider_error(stub: OpenAIStub, make: Make) -> None:
    stub.reply("Sure! Here is a script about tides.", "still not JSON")
    with pytest.raises(
        ProviderError, match="unusable storyboard twice: the reply is not valid JSON"
    ):
        make().write("Tides", VideoSettings())
    assert stub.count("POST", CHAT) == 2


def test_json_schema_rejection_falls_back_to_json_object(stub: OpenAIStub, make: Make) -> None:
    stub.reject_json_schema = True
    provider = make()
    assert provider.write("Tides", VideoSettings()).scenes
    assert stub.count("POST", CHAT) == 2  # rejected, then json_object
    assert stub.chats[0]["response_format"] == {"type": "json_object"}
    assert '"additionalProperties": false' in system_text(stub, 0)
    provider.write("Tides again", VideoSettings())
    assert stub.count("POST", CHAT) == 3  # remembered: no second rejected attempt
    assert stub.chats[1]["response_format"] == {"type": "json_object"}


def test_usage_is_recorded_per_call(stub: OpenAIStub, make: Make, meter: Meter) -> None:
    stub.reply("nope", storyboard_json(2))
    make().write("Tides", VideoSettings())
    assert [(c.provider, c.operation) for c in meter.calls] == [("openai-chat", "chat")] * 2
    assert all(c.units["input_tokens"] > 0 and c.units["output_tokens"] > 0 for c in meter.calls)


def test_long_reply_gets_one_shorten_round(stub: OpenAIStub, make: Make) -> None:
    stub.reply(storyboard_json(10, words_per_scene=12), storyboard_json(5, words_per_scene=12))
    script = make().write("Tides", VideoSettings(target_duration_s=30))  # 75-word budget
    assert len(script.scenes) == 5
    assert "at most 75 words" in stub.chats[1]["messages"][-1]["content"]


def test_missing_usage_records_zero_and_no_key_sends_no_auth(meter: Meter) -> None:
    seen: list[httpx.Request] = []

    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        message = {"role": "assistant", "content": storyboard_json(1)}
        return httpx.Response(200, json={"choices": [{"message": message}]})

    options = ClientOptions(transport=httpx.MockTransport(handle))
    provider = OpenAIScript("http://ollama.local/v1", None, "llama3.2", meter=meter,
                            options=options)  # fmt: skip
    assert provider.write("Tides", VideoSettings()).scenes
    assert "authorization" not in seen[0].headers
    assert str(seen[0].url) == "http://ollama.local/v1/chat/completions"
    assert meter.calls[0].units == {"input_tokens": 0.0, "output_tokens": 0.0}
