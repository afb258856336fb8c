"""Which providers a render uses: the offline defaults, plus every remote provider the
server or the user configured. A user's own keys (stored encrypted, see `/users/me/secrets`)
win over the server's; the settings stay here, the providers only get plain values.

Secret names a user may store: `llm`, `openai`, `pexels`, `pixabay`, `elevenlabs`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from pydantic import SecretStr

from reelforge.model.storyboard import VideoSettings
from reelforge.providers.base import ScriptProvider, VoiceProvider
from reelforge.providers.registry import Providers
from reelforge.providers.usage import Meter, Prices
from reelforge.settings import DEFAULT_PRICES, ProviderSettings

USER_KEY_NAMES = ("llm", "openai", "pexels", "pixabay", "elevenlabs")
WORDS_PER_MINUTE = 150.0
SECONDS_PER_SCENE = 6.0
CHARS_PER_WORD = 6.0
PROMPT_OVERHEAD_TOKENS = 700
TOKENS_PER_WORD = 1.4


def _key(own: Mapping[str, str], name: str, server: SecretStr | None) -> str | None:
    if own.get(name):
        return own[name]
    return server.get_secret_value() if server else None


def reachable_voice_vendors(config: ProviderSettings, own_key_names: set[str]) -> frozenset[str]:
    """The voice prefixes `build_providers` will route, given which keys a user stored."""
    server = {"openai": config.openai_api_key, "elevenlabs": config.elevenlabs_api_key}
    return frozenset(name for name, key in server.items() if key or name in own_key_names)


def narrates_the_prompt(config: ProviderSettings) -> bool:
    """True when no script writer (LLM) is configured, as `build_providers` decides: the
    offline script provider then narrates the prompt word for word, so its length bounds the
    video's before anything runs."""
    return config.llm_model_path is None and not (config.llm_base_url and config.llm_model)


def prices_for(config: ProviderSettings) -> Prices:
    """The default price table with the configured entries on top (per provider)."""
    return Prices(DEFAULT_PRICES | config.prices)


def build_providers(
    config: ProviderSettings, own_keys: Mapping[str, str] | None = None
) -> Providers:
    """The providers for one render (a fresh meter, so its cost is its own)."""
    from reelforge.providers.elevenlabs import ElevenLabsVoices
    from reelforge.providers.http import ClientOptions
    from reelforge.providers.openai_script import OpenAIScript
    from reelforge.providers.openai_tts import OpenAIVoices
    from reelforge.providers.visual_chain import build_visual_sources
    from reelforge.providers.voice_router import VoiceRouter

    own = own_keys or {}
    meter = Meter(prices_for(config))
    offline = Providers.offline(voices_dir=config.voices_dir)
    base_options = ClientOptions(timeout_s=config.timeout_s, max_concurrency=config.max_concurrency)

    def options_for(name: str) -> ClientOptions:
        """A refused key is the user's to fix if it is theirs, else the operator's."""
        return replace(base_options, key_owner="user" if own.get(name) else "server")

    openai_key = _key(own, "openai", config.openai_api_key)

    script: ScriptProvider = offline.script
    if config.llm_model_path is not None:
        from reelforge.providers.local_llm import LocalLlamaScript

        script = LocalLlamaScript(config.llm_model_path, meter=meter)
    elif config.llm_base_url and config.llm_model:
        script = OpenAIScript(
            config.llm_base_url, _key(own, "llm", config.llm_api_key), config.llm_model,
            meter=meter, options=options_for("llm"),
        )  # fmt: skip

    routes: dict[str, VoiceProvider] = {}
    if openai_key:
        routes["openai"] = OpenAIVoices(
            config.openai_base_url, openai_key, config.tts_model, meter=meter,
            options=options_for("openai"),
        )  # fmt: skip
    if eleven_key := _key(own, "elevenlabs", config.elevenlabs_api_key):
        routes["elevenlabs"] = ElevenLabsVoices(
            config.elevenlabs_base_url, eleven_key, meter=meter,
            options=options_for("elevenlabs"),
        )  # fmt: skip
    voice = VoiceRouter(offline.voice, routes) if routes else offline.voice

    visuals = build_visual_sources(
        config.visual_chain, openai_key=openai_key, openai_base_url=config.openai_base_url,
        image_model=config.image_model,
        pexels_key=_key(own, "pexels", config.pexels_api_key),
        pexels_base_url=config.pexels_base_url,
        pixabay_key=_key(own, "pixabay", config.pixabay_api_key),
        pixabay_base_url=config.pixabay_base_url, meter=meter, options=base_options,
        server_keys=frozenset(n for n in ("openai", "pexels", "pixabay") if not own.get(n)),
    )  # fmt: skip
    return Providers(
        script=script, images=offline.images, voice=voice, music=offline.music,
        visuals=visuals, meter=meter,
    )  # fmt: skip


@dataclass(frozen=True, slots=True)
class EstimateLine:
    provider: str
    units: dict[str, float]
    cost_usd: float


def estimate(
    providers: Providers, video: VideoSettings, prompt: str, *, prices: Prices
) -> list[EstimateLine]:
    """A dry-run cost estimate before rendering: words from the target duration, scenes
    from words, characters from words. Cache hits will make the real cost lower."""
    minutes = video.target_duration_s / 60.0
    words = WORDS_PER_MINUTE * video.speaking_rate * minutes
    scenes = max(1, round(video.target_duration_s / SECONDS_PER_SCENE))
    lines: list[EstimateLine] = []

    def add(provider: str, **units: float) -> None:
        lines.append(EstimateLine(provider, units, prices.cost(provider, units)))

    if providers.script.id.startswith("openai-chat"):
        prompt_tokens = len(prompt) / 4 + PROMPT_OVERHEAD_TOKENS
        add(
            "openai-chat",
            input_tokens=round(prompt_tokens),
            output_tokens=round(words * TOKENS_PER_WORD),
        )
    first = providers.visuals[0].id if providers.visuals else None
    if first == "openai-images":
        add("openai-images", images=scenes)
    elif first is not None:
        add(first.removesuffix("-video"), requests=scenes)
    vendor = video.voice.split("/", 1)[0] if "/" in video.voice else None
    if vendor == "openai":
        add("openai-tts", characters=round(words * CHARS_PER_WORD))
    elif vendor == "elevenlabs":
        add("elevenlabs", characters=round(words * CHARS_PER_WORD))
    return lines
