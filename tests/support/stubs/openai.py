"""A local stand-in for the OpenAI API (and compatible servers), over real HTTP.

    with OpenAIStub(api_key="sk-test") as stub:
        provider = OpenAIScript(stub.base_url, "sk-test", "gpt-4o-mini", meter=Meter())
        stub.reply(storyboard_json(3), "not json")          # queued chat replies
        ...
        assert stub.count("POST", "/v1/chat/completions") == 1

`stub.base_url` is `<url>/v1`. Every endpoint checks `Authorization: Bearer <api_key>` and
answers 401 with OpenAI's error shape (`{"error": {"message", "type", "param", "code"}}`,
code `invalid_api_key`) when it is wrong; a malformed body gets 400 in the same shape.
`fail_next` (from `StubServer`) still injects 429/500 before any of this.

POST /v1/chat/completions
    Replies with `choices[0].message.content` taken from the `reply(...)` queue; when the
    queue is empty, a valid storyboard (`storyboard_json`) about the last user message.
    `usage` counts ~4 characters a token. With `reject_json_schema = True` a
    `response_format` of type `json_schema` gets 400 naming `response_format` (as servers
    without structured outputs answer). The parsed bodies are in `stub.chats`.

POST /v1/images/generations   {model, prompt, size="1024x1024", n=1, ...}
    Returns `{"created", "data": [{"b64_json", "revised_prompt"}] * n, "usage"}`: a PNG of
    exactly `size` ("WxH"; "auto" is 1024x1024), a gradient whose colour follows the prompt
    (same prompt, same bytes). Only `b64_json` is served: `response_format="url"` → 400.
    Each call is recorded in `stub.images` as `ImageCall(model, prompt, size, n)`.

POST /v1/audio/speech   {model, input, voice, response_format="mp3", speed=1.0}
    Returns a 440 Hz sine tone, 24 kHz mono 16-bit, lasting 0.06 s per character of
    `input` divided by `speed` (as a real voice speeds up). `response_format` "wav" gives a
    WAV file (audio/wav), "pcm" raw little-endian samples (audio/pcm); any other format,
    `input` empty or over 4096 characters, or `speed` outside 0.25-4.0 → 400.
    Each call is recorded in `stub.speech` as `SpeechCall(model, voice, speed, input, format)`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import re
import threading
import time
import wave
from collections import deque
from dataclasses import dataclass
from typing import Any

import numpy as np
from PIL import Image

from tests.support.stubs.base import Recorded, StubResponse, StubServer

SPEECH_S_PER_CHAR = 0.06
SPEECH_SAMPLE_RATE = 24_000
SPEECH_MAX_CHARS = 4096
_FILLER = "waves carry light across the quiet water while the tide turns slowly again"
_SIZE = re.compile(r"^(\d{1,4})x(\d{1,4})$")


@dataclass(frozen=True)
class ImageCall:
    model: str
    prompt: str
    size: str
    n: int


@dataclass(frozen=True)
class SpeechCall:
    model: str
    voice: str
    speed: float
    input: str
    format: str


def error(
    status: int, message: str, *, code: str | None = None, param: str | None = None
) -> StubResponse:
    """OpenAI's error body."""
    kind = "invalid_request_error" if status < 500 else "server_error"
    return StubResponse(
        status, json={"error": {"message": message, "type": kind, "param": param, "code": code}}
    )


def storyboard_json(scenes: int = 3, *, topic: str = "the ocean", words_per_scene: int = 12) -> str:
    """A valid storyboard reply with `scenes` scenes of `words_per_scene` narration words."""
    filler = _FILLER.split()
    out = []
    for i in range(scenes):
        words = [filler[(i + j) % len(filler)] for j in range(words_per_scene)]
        out.append(
            {
                "narration": " ".join(words).capitalize() + ".",
                "headline": f"Part {i + 1} of {topic}",
                "keywords": [topic, filler[i % len(filler)]],
                "visual_prompt": f"A cinematic photo of {topic}, scene {i + 1}, golden hour",
                "stock_query": f"{topic} {filler[i % len(filler)]}",
            }
        )
    return json.dumps({"title": f"All about {topic}", "scenes": out})


def tone_samples(duration_s: float, rate: int = SPEECH_SAMPLE_RATE) -> bytes:
    t = np.arange(round(duration_s * rate)) / rate
    return (np.sin(2 * np.pi * 440.0 * t) * 0.3 * 32767).astype("<i2").tobytes()


def png_bytes(width: int, height: int, seed_text: str) -> bytes:
    digest = hashlib.sha256(seed_text.encode()).digest()
    ramp = np.linspace(0.35, 1.0, width)[None, :, None]
    colour = np.array(list(digest[:3]), dtype=float)[None, None, :]
    pixels = np.broadcast_to(ramp * colour, (height, width, 3)).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return buffer.getvalue()


def _tokens(text: str) -> int:
    return max(1, len(text) // 4)


class OpenAIStub(StubServer):
    def __init__(self, api_key: str = "sk-test") -> None:
        super().__init__(
            {
                ("POST", r"/v1/chat/completions"): self._chat,
                ("POST", r"/v1/images/generations"): self._images,
                ("POST", r"/v1/audio/speech"): self._speech,
            }
        )
        self.api_key = api_key
        self.reject_json_schema = False
        self.chats: list[dict[str, Any]] = []
        self.images: list[ImageCall] = []
        self.speech: list[SpeechCall] = []
        self._replies: deque[str] = deque()
        self._guard = threading.Lock()

    def __enter__(self) -> OpenAIStub:
        super().__enter__()
        return self

    @property
    def base_url(self) -> str:
        return f"{self.url}/v1"

    def reset(self) -> None:
        """Forget requests, queued replies and failures: one server can serve many tests
        (shutting one down costs half a second of `serve_forever` polling)."""
        with self._lock, self._guard:
            self.requests.clear()
            self._failures.clear()
            self._replies.clear()
            self.chats.clear()
            self.images.clear()
            self.speech.clear()
            self.reject_json_schema = False

    def reply(self, *contents: str) -> None:
        """The next chat completions answer these contents, in order."""
        with self._guard:
            self._replies.extend(contents)

    def _check(self, request: Recorded) -> dict[str, Any] | StubResponse:
        """The JSON body, or the error response (bad key first, as OpenAI does)."""
        if request.headers.get("authorization") != f"Bearer {self.api_key}":
            return error(
                401,
                "Incorrect API key provided. You can find your API key at "
                "https://platform.openai.com/account/api-keys.",
                code="invalid_api_key",
            )
        try:
            body = request.json()
        except ValueError:
            return error(400, "We could not parse the JSON body of your request.")
        if not isinstance(body, dict) or not isinstance(body.get("model"), str):
            return error(400, "you must provide a model parameter", param="model")
        return body

    def _chat(self, request: Recorded, _match: re.Match[str]) -> StubResponse:
        body = self._check(request)
        if isinstance(body, StubResponse):
            return body
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return error(400, "'messages' must be a non-empty array", param="messages")
        fmt = (body.get("response_format") or {}).get("type")
        if fmt == "json_schema" and self.reject_json_schema:
            return error(
                400,
                "Invalid parameter: 'response_format' of type 'json_schema' is not supported"
                " with this model.",
                param="response_format",
            )
        with self._guard:
            self.chats.append(body)
            content = self._replies.popleft() if self._replies else None
        if content is None:
            user = [m.get("content", "") for m in messages if m.get("role") == "user"]
            content = storyboard_json(topic=" ".join(str(user[-1]).split()[:4]) if user else "x")
        prompt_text = "".join(str(m.get("content", "")) for m in messages)
        usage = {"prompt_tokens": _tokens(prompt_text), "completion_tokens": _tokens(content)}
        usage["total_tokens"] = usage["prompt_tokens"] + usage["completion_tokens"]
        return StubResponse(
            json={
                "id": f"chatcmpl-stub{len(self.chats)}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body["model"],
                "system_fingerprint": "fp_stub",
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content, "refusal": None},
                        "logprobs": None,
                        "finish_reason": "stop",
                    }
                ],
                "usage": usage,
            }
        )

    def _images(self, request: Recorded, _match: re.Match[str]) -> StubResponse:
        body = self._check(request)
        if isinstance(body, StubResponse):
            return body
        prompt, size, n = body.get("prompt"), str(body.get("size") or "1024x1024"), body.get("n", 1)
        if not isinstance(prompt, str) or not prompt.strip():
            return error(400, "'prompt' is required", param="prompt")
        match = _SIZE.match("1024x1024" if size == "auto" else size)
        if not match or not isinstance(n, int) or not 1 <= n <= 10:
            return error(400, f"Invalid size {size!r} or n {n!r}", param="size")
        if body.get("response_format", "b64_json") != "b64_json":
            return error(
                400, "this stub serves only response_format b64_json", param="response_format"
            )
        width, height = int(match.group(1)), int(match.group(2))
        with self._guard:
            self.images.append(ImageCall(body["model"], prompt, size, n))
        image = base64.b64encode(png_bytes(width, height, prompt)).decode()
        return StubResponse(
            json={
                "created": int(time.time()),
                "data": [{"b64_json": image, "revised_prompt": prompt} for _ in range(n)],
                "usage": {
                    "input_tokens": _tokens(prompt),
                    "output_tokens": 0,
                    "total_tokens": _tokens(prompt),
                },
            }
        )

    def _speech(self, request: Recorded, _match: re.Match[str]) -> StubResponse:
        body = self._check(request)
        if isinstance(body, StubResponse):
            return body
        text, voice = body.get("input"), body.get("voice")
        fmt, speed = str(body.get("response_format") or "mp3"), body.get("speed", 1.0)
        if not isinstance(text, str) or not text or len(text) > SPEECH_MAX_CHARS:
            return error(400, f"'input' must be 1-{SPEECH_MAX_CHARS} characters", param="input")
        if not isinstance(voice, str) or not voice:
            return error(400, "'voice' is required", param="voice")
        if not isinstance(speed, int | float) or not 0.25 <= speed <= 4.0:
            return error(400, "'speed' must be between 0.25 and 4.0", param="speed")
        if fmt not in ("wav", "pcm"):
            return error(400, f"this stub serves wav and pcm, not {fmt!r}", param="response_format")
        with self._guard:
            self.speech.append(SpeechCall(body["model"], voice, float(speed), text, fmt))
        samples = tone_samples(len(text) * SPEECH_S_PER_CHAR / speed)
        if fmt == "pcm":
            return StubResponse(body=samples, content_type="audio/pcm")
        buffer = io.BytesIO()
        with wave.open(buffer, "wb") as out:
            out.setnchannels(1)
            out.setsampwidth(2)
            out.setframerate(SPEECH_SAMPLE_RATE)
            out.writeframes(samples)
        return StubResponse(body=buffer.getvalue(), content_type="audio/wav")
