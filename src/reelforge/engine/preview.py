"""Template previews: one frame in a template's style, made as a render would make it.

The frame is the template's title card (the procedural provider's drawing, in the
template's palette) with a sample caption burned in by libass from the same ASS a render
writes, so the preview shows the real caption font, size, colours, position and word
highlight rather than an imitation of them.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from reelforge.assets import font_path
from reelforge.engine import ffmpeg
from reelforge.engine.captions import Cue, to_ass
from reelforge.engine.compile import still_captions_argv
from reelforge.model.storyboard import Resolution, Scene, VideoSettings, VisualSpec
from reelforge.model.templates import Template, apply
from reelforge.providers.base import Word
from reelforge.providers.procedural import ProceduralImages

SAMPLE_CAPTION = ("Your", "words", "appear", "here")
PREVIEW_SCALE = 0.5
"""Drawn at 480p (the smallest real frame, so captions are sized as in a video), then
halved: a gallery shows it at thumbnail size, and the full frame is ~320 KB of PNG."""
PREVIEW_TIMEOUT_S = 30.0


def _sample_cue() -> Cue:
    """A caption whose first word is being spoken at frame 0 (so `word_highlight` lights it;
    libass draws nothing at a frame where a zero-length event also starts)."""
    words = tuple(Word(text, 10.0 * i, 10.0 * i + 5) for i, text in enumerate(SAMPLE_CAPTION))
    return Cue(0.0, 60.0, words)


def render_preview(template: Template, out: Path) -> None:
    """Write a PNG of `template`'s look (a 480p frame at half size) to `out`.

    Raises:
        FFmpegError: libass could not burn the caption in.
    """
    settings = apply(template, VideoSettings(resolution=Resolution.SD))
    cards = template.style.cards
    title = cards.intro or template.name
    scene = Scene(narration=title, headline=title, keywords=(cards.outro,) if cards.outro else (),
                  visual=VisualSpec(prompt=title))  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="reelforge-preview-") as tmp:
        work = Path(tmp)
        ProceduralImages().render(scene, 0, settings, settings.size, work / "still.png")
        ass = to_ass([_sample_cue()], settings.captions, settings.aspect, settings.size, 0.0)
        (work / "caption.ass").write_text(ass, encoding="utf-8")
        argv = still_captions_argv(
            ffmpeg.ffmpeg_exe(), still=work / "still.png", subtitles=work / "caption.ass",
            fonts_dir=font_path(bold=True).parent, out=out, scale=PREVIEW_SCALE,
        )  # fmt: skip
        ffmpeg.run(argv, stage="preview", timeout_s=PREVIEW_TIMEOUT_S)
