"""Scene planning: narration → scenes of balanced length, each with a headline and keywords.

Paragraphs are hard boundaries (a writer's paragraph break is a scene cut);
inside a paragraph, sentences are grouped so that scenes are as even in
spoken length as possible.
"""

from __future__ import annotations

from functools import lru_cache
from itertools import pairwise

import yake

from reelforge.model.durations import WORDS_PER_SECOND
from reelforge.model.storyboard import (
    Pacing,
    Scene,
    Storyboard,
    VideoSettings,
    VisualKind,
    VisualSpec,
)
from reelforge.model.text import count_words, split_paragraphs, split_sentences
from reelforge.providers.base import Script

TARGET_SCENE_S = Pacing().scene_s
MAX_KEYWORDS = 3


def scene_count(
    total_words: int, sentences: int, rate: float = 1.0, scene_s: float = TARGET_SCENE_S
) -> int:
    """Scenes for `total_words` of narration: at least one, at most one a sentence."""
    spoken_s = total_words / (WORDS_PER_SECOND * rate)
    return max(1, min(sentences, round(spoken_s / scene_s)))


def balanced_groups(weights: list[int], groups: int) -> list[int]:
    """Split `weights` (in order) into `groups` contiguous runs of near-equal sums.

    Minimises the sum of squared deviations from the mean run, by dynamic
    programming; returns the start index of each run.
    """
    n = len(weights)
    groups = max(1, min(groups, n))
    prefix = [0]
    for w in weights:
        prefix.append(prefix[-1] + w)
    mean = prefix[-1] / groups
    inf = float("inf")
    cost = [[inf] * (n + 1) for _ in range(groups + 1)]
    cut = [[0] * (n + 1) for _ in range(groups + 1)]
    cost[0][0] = 0.0
    for g in range(1, groups + 1):
        for end in range(g, n - (groups - g) + 1):
            for start in range(g - 1, end):
                candidate = cost[g - 1][start] + (prefix[end] - prefix[start] - mean) ** 2
                if candidate < cost[g][end]:
                    cost[g][end], cut[g][end] = candidate, start
    starts, end = [], n
    for g in range(groups, 0, -1):
        end = cut[g][end]
        starts.append(end)
    return starts[::-1]


@lru_cache(maxsize=4)
def _extractor(language: str, max_ngram: int) -> yake.KeywordExtractor:
    return yake.KeywordExtractor(lan=language, n=max_ngram, top=10, dedupLim=0.7)


def keywords(
    text: str, language: str = "en", limit: int = MAX_KEYWORDS, avoid: str = ""
) -> tuple[str, ...]:
    """The most salient words/short phrases of `text`, most salient first.

    A candidate sharing a word with `avoid` (the headline) or with a keyword
    already taken is skipped, so the title card never repeats itself.
    """
    taken = {w.lower() for w in avoid.split()}
    chosen: list[str] = []
    for phrase, _score in _extractor(language, 2).extract_keywords(text):
        words = {w.lower() for w in phrase.split()}
        if words & taken:
            continue
        chosen.append(phrase)
        taken |= words
        if len(chosen) == limit:
            break
    return tuple(chosen)


def headline(text: str, language: str = "en") -> str:
    """A short title-cased key phrase for the scene's title card."""
    found: list[str] = [kw for kw, _score in _extractor(language, 3).extract_keywords(text)]
    if not found:
        return " ".join(text.split()[:5])
    phrase = found[0]
    return phrase[:1].upper() + phrase[1:]


def _plan_paragraph(sentences: list[str], scenes: int) -> list[str]:
    starts = balanced_groups([count_words(s) for s in sentences], scenes)
    bounds = [*starts, len(sentences)]
    return [" ".join(sentences[a:b]) for a, b in pairwise(bounds)]


def _card(text: str, settings: VideoSettings) -> Scene:
    """A title card: the text spoken over the card colour, drawn as the scene's headline."""
    visual = VisualSpec(kind=VisualKind.COLOR, color=settings.cards.color)
    return Scene(
        narration=text, headline=text, visual=visual, transition=settings.pacing.transition
    )


def _framed(title: str, scenes: list[Scene], settings: VideoSettings) -> Storyboard:
    """The storyboard of `scenes` between the settings' intro and outro cards (if any), every
    scene cut with the settings' transition."""
    cards = settings.cards
    body = [s.model_copy(update={"transition": settings.pacing.transition}) for s in scenes]
    intro = [_card(cards.intro, settings)] if cards.intro.strip() else []
    outro = [_card(cards.outro, settings)] if cards.outro.strip() else []
    return Storyboard(title=title, settings=settings, scenes=(*intro, *body, *outro))


def plan_scenes(script: Script, settings: VideoSettings) -> Storyboard:
    """Turn a script into a storyboard; pre-planned scenes from the provider are kept."""
    if script.scenes:
        return _framed(script.title, list(script.scenes), settings)
    paragraphs = [split_sentences(p, settings.language) for p in split_paragraphs(script.narration)]
    paragraphs = [p for p in paragraphs if p]
    total_words = sum(count_words(s) for p in paragraphs for s in p)
    total_sentences = sum(len(p) for p in paragraphs)
    wanted = scene_count(
        total_words, total_sentences, settings.speaking_rate, settings.pacing.scene_s
    )
    narrations: list[str] = []
    for sentences in paragraphs:
        words_here = sum(count_words(s) for s in sentences)
        share = max(1, round(wanted * words_here / max(total_words, 1)))
        narrations.extend(_plan_paragraph(sentences, share))
    scenes = []
    for text in narrations:
        title = headline(text, settings.language)
        scenes.append(
            Scene(
                narration=text,
                headline=title,
                keywords=keywords(text, settings.language, avoid=title),
                visual=VisualSpec(prompt=text),
            )
        )
    return _framed(script.title, scenes, settings)
