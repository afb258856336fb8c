"""Scripts from any OpenAI-compatible Chat Completions server: OpenAI, Ollama, vLLM,
LocalAI, llama.cpp server.

Structured output is asked for with a strict `json_schema`; servers that reject it (a 4xx
naming `response_format`/`json_schema`) get `json_object` with the schema in the prompt
instead, once, and that choice is kept for later calls. Temperature 0 and the settings'
seed make identical requests as repeatable as the server allows, so the engine's artifact
cache (keyed on id, version, prompt and settings) can serve them.
"""

from __future__ import annotations

from typing import Any

from reelforge.errors import InvalidInput, ProviderError
from reelforge.model.storyboard import VideoSettings
from reelforge.providers.base import Script
from reelforge.providers.http import ClientOptions, ProviderClient
from reelforge.providers.script_prompt import (
    STORYBOARD_SCHEMA,
    Message,
    with_schema_in_prompt,
    write_script,
)
from reelforge.providers.usage import Meter

PROVIDER = "openai-chat"
"""The name usage is recorded under (and priced by in settings)."""
_SCHEMA_NAME = "storyboard"


def _rejects_json_schema(error: InvalidInput) -> bool:
    """A request error about structured output, not a bad key or a bad model name."""
    text = error.message.lower()
    return "rejected the request" in text and ("response_format" in text or "json_schema" in text)


class OpenAIScript:
    """A `ScriptProvider` over `POST {base_url}/chat/completions`."""

    version = "1"

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        *,
        meter: Meter,
        options: ClientOptions | None = None,
    ) -> None:
        """
        Args:
            base_url: the API root, e.g. `https://api.openai.com/v1` or
                `http://127.0.0.1:11434/v1` (Ollama).
            api_key: sent as a Bearer token; None for local servers without auth.
            options: for the `ProviderClient` (tests make retries instant).
        """
        if not model:
            raise InvalidInput("an LLM model name is needed (REELFORGE_PROVIDERS__LLM_MODEL)")
        self.id = f"{PROVIDER}:{model}"
        self.model = model
        self._meter = meter
        self._structured = True
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = ProviderClient(
            f"LLM {model} at {base_url}", base_url, headers=headers, options=options
        )

    def close(self) -> None:
        self._client.close()

    def write(self, prompt: str, settings: VideoSettings) -> Script:
        """A storyboard for `prompt` sized to `settings.target_duration_s`.

        Raises:
            InvalidInput: empty prompt, bad key, or a request the server rejects.
            ProviderError: the server failed, or answered with an unusable storyboard twice.
        """

        def complete(messages: list[Message]) -> str:
            return self._complete(messages, settings.seed)

        return write_script(complete, prompt, settings, name=self.id)

    def _complete(self, messages: list[Message], seed: int) -> str:
        if self._structured:
            try:
                return self._chat(messages, seed, structured=True)
            except InvalidInput as exc:
                if not _rejects_json_schema(exc):
                    raise
                self._structured = False  # this server has no json_schema; never ask again
        return self._chat(with_schema_in_prompt(messages), seed, structured=False)

    def _chat(self, messages: list[Message], seed: int, *, structured: bool) -> str:
        response_format: dict[str, Any] = (
            {
                "type": "json_schema",
                "json_schema": {"name": _SCHEMA_NAME, "strict": True, "schema": STORYBOARD_SCHEMA},
            }
            if structured
            else {"type": "json_object"}
        )
        body = {
            "model": self.model,
            "messages": messages,
            "temperature": 0,
            "seed": seed,
            "response_format": response_format,
        }
        response = self._client.request("POST", "chat/completions", json=body)
        try:
            data = response.json()
        except ValueError as exc:
            raise ProviderError(f"{self.id} answered with a body that is not JSON") from exc
        self._record_usage(data)
        return self._content(data)

    def _record_usage(self, data: Any) -> None:
        usage = data.get("usage") if isinstance(data, dict) else None
        usage = usage if isinstance(usage, dict) else {}
        self._meter.record(
            PROVIDER,
            "chat",
            input_tokens=float(usage.get("prompt_tokens") or 0),
            output_tokens=float(usage.get("completion_tokens") or 0),
        )

    def _content(self, data: Any) -> str:
        try:
            message = data["choices"][0]["message"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ProviderError(f"{self.id} answered without choices[0].message") from exc
        refusal = message.get("refusal") if isinstance(message, dict) else None
        if refusal:
            raise InvalidInput(f"{self.id} refused to write this script: {refusal}")
        content = message.get("content") if isinstance(message, dict) else None
        return content if isinstance(content, str) else ""
