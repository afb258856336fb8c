"""One `VoiceProvider` over several: `openai/alloy` and `elevenlabs/Rachel` go to the
cloud voices, a plain name (`joe`, or a Piper voice the user installed) to the default.

The engine keys cached speech on the voice provider's `id@version` and the voice name.
The router's id and version are built from every provider it routes to, so a change in
any of them (a new model, a new provider version) gives new keys; a router with no
prefixes is the default provider itself, and keeps its keys.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from reelforge.errors import InvalidInput, ReelforgeError
from reelforge.providers.base import Speech, VoiceProvider
from reelforge.providers.registry import provider_id

SEPARATOR = "/"

log = logging.getLogger(__name__)


class VoiceRouter:
    """Routes each voice name to the provider named by its prefix.

    A routed provider may offer `knows(voice) -> bool` to accept names it does not list
    (ElevenLabs takes voice ids as well as names); otherwise a voice must be in `voices()`.
    """

    def __init__(self, default: VoiceProvider, by_prefix: Mapping[str, VoiceProvider]) -> None:
        """
        Args:
            default: speaks plain names (no prefix).
            by_prefix: e.g. `{"openai": OpenAIVoices(...), "elevenlabs": ElevenLabsVoices(...)}`.

        Raises:
            InvalidInput: a prefix is empty or contains the separator.
        """
        for prefix in by_prefix:
            if not prefix or SEPARATOR in prefix:
                raise InvalidInput(f"bad voice prefix {prefix!r}", stage="voice")
        self.default = default
        self.by_prefix = dict(sorted(by_prefix.items()))
        if self.by_prefix:
            self.id = "voice-router"
            self.version = ";".join(
                [provider_id(default)]
                + [f"{prefix}={provider_id(p)}" for prefix, p in self.by_prefix.items()]
            )
        else:
            self.id, self.version = default.id, default.version

    def route(self, voice: str) -> tuple[VoiceProvider, str]:
        """(provider, its own name for the voice) for `voice`; the voice is not checked.

        Raises:
            InvalidInput: the prefix names no configured provider.
        """
        prefix, sep, name = voice.partition(SEPARATOR)
        if not sep:
            return self.default, voice
        provider = self.by_prefix.get(prefix)
        if provider is None:
            configured = ", ".join(self.by_prefix) or "none"
            raise InvalidInput(
                f"voice {voice!r} needs the {prefix!r} voice provider, which is not configured"
                f" (configured: {configured}); available: {', '.join(self.voices())}",
                stage="voice",
            )
        return provider, name

    def voices(self) -> list[str]:
        """Every voice: the default's plain, the others as `prefix/name`.

        A provider that cannot list its voices right now (network down) is left out and
        logged, so one vendor's outage does not hide the others.
        """
        listed = list(self.default.voices())
        for prefix, provider in self.by_prefix.items():
            try:
                listed.extend(f"{prefix}{SEPARATOR}{name}" for name in provider.voices())
            except ReelforgeError as exc:
                log.warning("could not list the %s voices: %s", prefix, exc)
        return listed

    def synthesize(self, text: str, *, voice: str, rate: float, out: Path) -> Speech:
        """Speak with the provider `voice` routes to.

        Raises:
            InvalidInput: unknown prefix or voice (the message lists the voices there are),
                or whatever the routed provider raises.
            ProviderError: the routed provider failed.
        """
        provider, name = self.route(voice)
        knows = getattr(provider, "knows", None)
        known = bool(knows(name)) if callable(knows) else name in provider.voices()
        if not known:
            raise InvalidInput(
                f"unknown voice {voice!r}; available: {', '.join(self.voices())}", stage="voice"
            )
        return provider.synthesize(text, voice=name, rate=rate, out=out)
