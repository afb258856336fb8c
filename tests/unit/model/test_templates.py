from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from reelforge.model.storyboard import Music, VideoSettings
from reelforge.model.templates import (
    BUILTIN_TEMPLATES,
    STYLE_FIELDS,
    TemplateStyle,
    apply,
    find_builtin,
    style_of,
    template_manifest,
)


def test_there_are_six_builtins_each_with_a_style_of_its_own() -> None:
    styles = [t.style for t in BUILTIN_TEMPLATES.values()]
    assert len(styles) >= 6
    assert len({s.model_dump_json() for s in styles}) == len(styles)
    # visibly and audibly different: every pair differs in what a viewer sees or hears
    for i, a in enumerate(styles):
        for b in styles[i + 1 :]:
            seen = (a.aspect, a.visual_style, a.captions, a.cards)
            heard = (a.music, a.speaking_rate)
            assert seen != (b.aspect, b.visual_style, b.captions, b.cards)
            assert heard != (b.music, b.speaking_rate)


def test_apply_copies_the_style_and_stamps_the_version_but_keeps_the_projects_own() -> None:
    mine = VideoSettings(target_duration_s=42, language="fr", seed=3, resolution="1080p")
    listicle = BUILTIN_TEMPLATES["listicle"]
    applied = apply(listicle, mine)
    assert applied.aspect.value == "9:16"
    assert applied.captions == listicle.style.captions
    assert applied.cards.intro == "Top 5"
    assert applied.template_id == "listicle"
    assert applied.template is not None and applied.template.version == 1
    assert (applied.target_duration_s, applied.language, applied.seed) == (42, "fr", 3)
    assert applied.resolution.value == "1080p"


def test_style_of_round_trips_and_leaves_the_music_file_out() -> None:
    settings = apply(BUILTIN_TEMPLATES["quote"], VideoSettings())
    with_file = settings.model_copy(update={"music": Music(file=Path("/etc/passwd"))})
    assert style_of(settings) == BUILTIN_TEMPLATES["quote"].style
    assert style_of(with_file).music.file is None
    assert set(STYLE_FIELDS) <= set(VideoSettings.model_fields)


def test_a_template_cannot_name_a_music_file() -> None:
    with pytest.raises(ValidationError, match="music file"):
        TemplateStyle(music=Music(file=Path("/etc/passwd")))


def test_manifest_entry_names_the_version_and_style() -> None:
    assert template_manifest(VideoSettings()) is None
    entry = template_manifest(apply(BUILTIN_TEMPLATES["news-brief"], VideoSettings()))
    assert entry is not None
    assert (entry["id"], entry["name"], entry["version"]) == ("news-brief", "News brief", 1)
    assert entry["style"]["captions"]["position"] == "top"


@pytest.mark.parametrize("name", ["listicle", "LISTICLE", "Listicle / Top 5", " quote "])
def test_find_builtin_by_id_or_name(name: str) -> None:
    assert find_builtin(name) is not None


def test_find_builtin_unknown_is_none() -> None:
    assert find_builtin("nope") is None


def test_apply_keeps_the_fields_a_user_set() -> None:
    mine = VideoSettings(aspect="1:1")
    applied = apply(BUILTIN_TEMPLATES["listicle"], mine, keep={"aspect"})
    assert applied.aspect.value == "1:1"
    assert applied.cards.intro == "Top 5"
