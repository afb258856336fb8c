"""Templates: named storyboard presets, and the six built in.

A template is only a `TemplateStyle` — the subset of `VideoSettings` that makes a video look
and sound a certain way (shape, captions, palette, music, voice, pacing, cards, script
hints) — with a name and a version. Applying one *copies* its style into a project's
settings and stamps them with the template's id, name and version, so a later edit of the
template (a new version) never reaches a project or render made from an earlier one.
"""

from __future__ import annotations

from collections.abc import Collection
from types import MappingProxyType
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from reelforge.model.storyboard import (
    Aspect,
    CaptionPosition,
    Captions,
    CaptionStyle,
    Hint,
    Music,
    MusicMood,
    Pacing,
    ScriptHints,
    TemplateId,
    TemplateStamp,
    Title,
    TitleCards,
    Transition,
    VideoSettings,
    VisualStyle,
    VoiceName,
)

__all__ = [
    "BUILTIN_TEMPLATES",
    "STYLE_FIELDS",
    "Template",
    "TemplateStyle",
    "apply",
    "find_builtin",
    "style_of",
    "template_manifest",
]


class TemplateStyle(BaseModel):
    """The settings a template sets; everything else (length, resolution, language, seed)
    stays the project's own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    aspect: Aspect = Aspect.LANDSCAPE
    voice: VoiceName = "joe"
    speaking_rate: Annotated[float, Field(ge=0.5, le=2.0)] = 1.0
    captions: Captions = Captions()
    music: Music = Music()
    visual_style: VisualStyle = VisualStyle.MODERN
    pacing: Pacing = Pacing()
    cards: TitleCards = TitleCards()
    script: ScriptHints = ScriptHints()

    @field_validator("music")
    @classmethod
    def _no_music_file(cls, music: Music) -> Music:
        # A template is shared across projects (and built-ins across users): a path to
        # one machine's file has no place in it.
        if music.file is not None:
            raise ValueError("a template cannot name a music file")
        return music


STYLE_FIELDS = tuple(TemplateStyle.model_fields)
"""The `VideoSettings` fields a template owns."""


class Template(BaseModel):
    """One version of a template: built in (a slug id) or a user's (a UUID id)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: TemplateId
    name: Title
    description: Hint = ""
    version: Annotated[int, Field(ge=1)] = 1
    builtin: bool = False
    style: TemplateStyle = TemplateStyle()

    @property
    def stamp(self) -> TemplateStamp:
        return TemplateStamp(id=self.id, name=self.name, version=self.version)


def apply(template: Template, settings: VideoSettings, keep: Collection[str] = ()) -> VideoSettings:
    """`settings` with the template's style copied in and stamped with its id and version.

    Args:
        keep: fields whose value in `settings` wins over the template's (those a user set
            on purpose, e.g. after picking the template in a form).
    """
    style = {name: getattr(template.style, name) for name in STYLE_FIELDS if name not in keep}
    return settings.model_copy(
        update={**style, "template_id": template.id, "template": template.stamp}
    )


def style_of(settings: VideoSettings) -> TemplateStyle:
    """The style of a project's settings, to make a template from it (its music file, a
    path on this machine, is left out)."""
    style: dict[str, Any] = {name: getattr(settings, name) for name in STYLE_FIELDS}
    style["music"] = settings.music.model_copy(update={"file": None})
    return TemplateStyle(**style)


def template_manifest(settings: VideoSettings) -> dict[str, Any] | None:
    """What a render's manifest records of its template: which version, and the style it
    applied (as the settings hold it at render time, not as the template is now)."""
    if settings.template is None:
        return None
    return {
        **settings.template.model_dump(mode="json"),
        "style": style_of(settings).model_dump(mode="json"),
    }


def _builtin(template_id: str, name: str, description: str, **style: Any) -> tuple[str, Template]:
    template = Template(
        id=template_id, name=name, description=description, builtin=True,
        style=TemplateStyle(**style),
    )  # fmt: skip
    return template_id, template


BUILTIN_TEMPLATES = MappingProxyType(
    dict(
        [
            _builtin(
                "explainer",
                "Explainer",
                "16:9, calm and clear: one idea a scene, highlighted words, a soft bed.",
                aspect=Aspect.LANDSCAPE,
                visual_style=VisualStyle.MODERN,
                captions=Captions(style=CaptionStyle.WORD_HIGHLIGHT, highlight_color="#2ED3E6"),
                music=Music(mood=MusicMood.CALM, volume=0.2),
                pacing=Pacing(scene_s=6.0, transition=Transition.FADE),
                cards=TitleCards(intro="Explained", color="#1A1150"),
                script=ScriptHints(
                    tone="clear, friendly, like a good teacher",
                    hook="open with the question the viewer is asking",
                    points="three or four steps, one idea a scene, plain words",
                    call_to_action="sum up the answer in one sentence",
                ),
            ),
            _builtin(
                "listicle",
                "Listicle / Top 5",
                "9:16, fast cuts, big boxed yellow captions, upbeat music, numbered cards.",
                aspect=Aspect.PORTRAIT,
                visual_style=VisualStyle.WARM,
                speaking_rate=1.15,
                captions=Captions(
                    style=CaptionStyle.BOX,
                    size=1.3,
                    max_words_per_cue=3,
                    color="#FFE08A",
                ),
                music=Music(mood=MusicMood.UPBEAT, volume=0.35),
                pacing=Pacing(scene_s=3.5, transition=Transition.CUT),
                cards=TitleCards(intro="Top 5", outro="Follow for more", color="#7C2A16"),
                script=ScriptHints(
                    tone="energetic and punchy",
                    hook="promise a ranked list of five in the first sentence",
                    points="five items counted down from 5 to 1, each scene opens with its number",
                    call_to_action="ask the viewer to follow for more",
                ),
            ),
            _builtin(
                "product-promo",
                "Product promo",
                "1:1, bright ocean palette, teal highlights, upbeat bed, a closing offer.",
                aspect=Aspect.SQUARE,
                visual_style=VisualStyle.OCEAN,
                speaking_rate=1.1,
                captions=Captions(size=1.2, highlight_color="#7EE8D2", max_words_per_cue=4),
                music=Music(mood=MusicMood.UPBEAT, volume=0.4),
                pacing=Pacing(scene_s=4.0, transition=Transition.CUT),
                cards=TitleCards(intro="Meet it", outro="Shop now", color="#04436E"),
                script=ScriptHints(
                    tone="confident and warm, never pushy",
                    hook="name the problem the product solves",
                    points="three benefits, each shown in use",
                    call_to_action="say where to get it",
                ),
            ),
            _builtin(
                "storytelling",
                "Storytelling",
                "16:9, slow and cinematic: noir palette, thin cream captions, dreamy music.",
                aspect=Aspect.LANDSCAPE,
                visual_style=VisualStyle.NOIR,
                speaking_rate=0.9,
                captions=Captions(
                    style=CaptionStyle.OUTLINE,
                    size=0.9,
                    bold=False,
                    color="#F5E6C8",
                    max_words_per_cue=8,
                ),
                music=Music(mood=MusicMood.DREAMY, volume=0.3),
                pacing=Pacing(scene_s=8.0, transition=Transition.FADE),
                cards=TitleCards(outro="The end", color="#0D0D10"),
                script=ScriptHints(
                    tone="intimate, vivid, past tense",
                    hook="start in the middle of a moment",
                    points="a beginning, a turn and an ending",
                    call_to_action="close on a quiet, reflective line",
                ),
            ),
            _builtin(
                "news-brief",
                "News brief",
                "16:9, captions boxed at the top, dramatic low bed, brisk neutral read.",
                aspect=Aspect.LANDSCAPE,
                visual_style=VisualStyle.MODERN,
                speaking_rate=1.1,
                captions=Captions(
                    style=CaptionStyle.BOX,
                    position=CaptionPosition.TOP,
                    size=0.9,
                    max_words_per_cue=6,
                ),
                music=Music(mood=MusicMood.DRAMATIC, volume=0.15),
                pacing=Pacing(scene_s=5.0, transition=Transition.CUT),
                cards=TitleCards(intro="News brief", color="#B3001B"),
                script=ScriptHints(
                    tone="neutral and factual",
                    hook="lead with the single most important fact",
                    points="who, what, when, where and why, one a scene",
                    call_to_action="say where to follow the story",
                ),
            ),
            _builtin(
                "quote",
                "Quote / motivational",
                "9:16, pastel, large outlined words, a slow calm read, an invitation to share.",
                aspect=Aspect.PORTRAIT,
                visual_style=VisualStyle.PASTEL,
                speaking_rate=0.85,
                captions=Captions(
                    style=CaptionStyle.OUTLINE,
                    size=1.5,
                    max_words_per_cue=4,
                ),
                music=Music(mood=MusicMood.CALM, volume=0.35),
                pacing=Pacing(scene_s=8.0, transition=Transition.FADE),
                cards=TitleCards(outro="Share this with someone", color="#7D6BD9"),
                script=ScriptHints(
                    tone="calm and uplifting",
                    hook="open with the quote itself",
                    points="one idea and two short reflections on it",
                    call_to_action="invite the viewer to share it",
                ),
            ),
        ]
    )
)
"""The built-in templates by id, in gallery order."""


def find_builtin(name: str) -> Template | None:
    """A built-in template by id or display name, ignoring case; None if there is none."""
    wanted = name.strip().lower()
    for template in BUILTIN_TEMPLATES.values():
        if wanted in (template.id, template.name.lower()):
            return template
    return None
