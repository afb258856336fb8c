"""The offline script provider: the prompt itself is the narration.

Without an LLM there is nothing honest to add to a prompt, so a topic-only
prompt becomes a short video of exactly that prompt, flagged `topic_only` so
the caller can tell the user how to configure an LLM for full scripts.
"""

from __future__ import annotations

from reelforge.errors import InvalidInput
from reelforge.model.storyboard import VideoSettings
from reelforge.model.text import count_words, split_sentences
from reelforge.providers.base import Script

MIN_SCRIPT_SENTENCES = 2
MIN_SCRIPT_WORDS = 20
TITLE_MAX_WORDS = 8


class PromptScript:
    id = "prompt"
    version = "1"

    def write(self, prompt: str, settings: VideoSettings) -> Script:
        text = prompt.strip()
        if not text:
            raise InvalidInput("the prompt is empty", stage="script")
        sentences = split_sentences(text, settings.language)
        topic_only = len(sentences) < MIN_SCRIPT_SENTENCES and count_words(text) < MIN_SCRIPT_WORDS
        first = sentences[0].rstrip(".!?") if sentences else text
        title_words = first.split()
        title = " ".join(title_words[:TITLE_MAX_WORDS]) + (
            "…" if len(title_words) > TITLE_MAX_WORDS else ""
        )
        return Script(title=title, narration=text, topic_only=topic_only)
