"""Scripts from a GGUF model run in-process by llama-cpp-python (`reelforge[local-llm]`).

For users with no LLM server at all: the model file is all they need. The storyboard
schema becomes a llama.cpp grammar, so even a small model emits the right JSON shape; the
prompt, validation and repair rounds are the ones every LLM provider shares
(`script_prompt.py`). The library is imported only here, when this provider is built.
"""

from __future__ import annotations

import importlib
import threading
from pathlib import Path
from typing import Any

from reelforge.errors import InvalidInput, ProviderError
from reelforge.model.storyboard import VideoSettings
from reelforge.providers.base import Script
from reelforge.providers.script_prompt import (
    Message,
    bounded_schema,
    with_schema_in_prompt,
    write_script,
)
from reelforge.providers.usage import Meter

PROVIDER = "local-llm"
INSTALL_HINT = "pip install reelforge[local-llm]"


def _llama_module() -> Any:
    try:
        return importlib.import_module("llama_cpp")
    except ImportError as exc:
        raise InvalidInput(
            f"a local LLM model needs llama-cpp-python: {INSTALL_HINT} ({exc})"
        ) from exc


class LocalLlamaScript:
    """A `ScriptProvider` over a local GGUF file; the model loads on first use."""

    version = "1"

    def __init__(self, model_path: Path, *, meter: Meter, n_ctx: int = 4096) -> None:
        """
        Raises:
            InvalidInput: llama-cpp-python is not installed, or the model file is missing.
        """
        self._llama = _llama_module()
        if not model_path.is_file():
            raise InvalidInput(f"the local LLM model file {model_path} does not exist")
        self.id = f"{PROVIDER}:{model_path.name}"
        self.model_path = model_path
        self.n_ctx = n_ctx
        self._meter = meter
        self._model: Any = None
        self._lock = threading.Lock()
        """llama.cpp contexts are not thread-safe: one generation at a time."""

    def _loaded(self) -> Any:
        if self._model is None:
            try:
                self._model = self._llama.Llama(
                    model_path=str(self.model_path), n_ctx=self.n_ctx, verbose=False
                )
            except (ValueError, RuntimeError) as exc:
                raise InvalidInput(f"cannot load the LLM model {self.model_path}: {exc}") from exc
        return self._model

    def write(self, prompt: str, settings: VideoSettings) -> Script:
        """A storyboard for `prompt` sized to `settings.target_duration_s`.

        Raises:
            InvalidInput: empty prompt or unusable model file.
            ProviderError: generation failed, or two unusable storyboards in a row.
        """

        def complete(messages: list[Message]) -> str:
            return self._complete(messages, settings)

        return write_script(complete, prompt, settings, name=self.id)

    def _complete(self, messages: list[Message], settings: VideoSettings) -> str:
        with self._lock:
            model = self._loaded()
            try:
                result = model.create_chat_completion(
                    messages=with_schema_in_prompt(messages),
                    response_format={"type": "json_object", "schema": bounded_schema(settings)},
                    temperature=0.0,
                    seed=settings.seed,
                )
            except (ValueError, RuntimeError) as exc:
                # e.g. the conversation outgrew n_ctx: a bigger context may fix it later.
                raise ProviderError(f"{self.id} failed to generate: {exc}") from exc
        usage = result.get("usage") or {}
        self._meter.record(
            PROVIDER,
            "chat",
            input_tokens=float(usage.get("prompt_tokens") or 0),
            output_tokens=float(usage.get("completion_tokens") or 0),
        )
        try:
            content = result["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError) as exc:
            raise ProviderError(f"{self.id} returned no message") from exc
        return content if isinstance(content, str) else ""
