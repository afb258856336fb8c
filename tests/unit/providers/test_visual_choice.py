"""The pure choices behind the visual sources: query, orientation, pick, rendition, order."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import pytest

from reelforge.errors import InvalidInput
from reelforge.model.storyboard import Aspect, Scene, VisualSpec, VisualStyle
from reelforge.providers import pexels, pixabay
from reelforge.providers.http import ClientOptions
from reelforge.providers.openai_images import image_prompt, image_size
from reelforge.providers.usage import Meter
from reelforge.providers.visual_chain import build_visual_sources, order_for
from reelforge.providers.visual_choice import (
    Rendition,
    best_rendition,
    choose,
    file_suffix,
    pexels_orientation,
    pick_index,
    pixabay_orientation,
    search_query,
)

HD = (1280, 720)


def _r(width: int, height: int, url: str = "") -> Rendition:
    return Rendition(url or f"https://cdn/{width}x{height}.mp4", width, height)


@pytest.mark.parametrize(
    ("scene", "query"),
    [
        (Scene(narration="n", visual=VisualSpec(query="  ocean   waves ")), "ocean waves"),
        (Scene(narration="n", keywords=("coffee", " beans ")), "coffee beans"),
        (Scene(narration="n", headline="Morning Trade"), "Morning Trade"),
        (Scene(narration="Ships, at dawn, leave the busy harbour today. Then more."),
         "Ships at dawn leave the busy"),
    ],
)  # fmt: skip
def test_search_query_prefers_query_then_keywords_headline_narration(
    scene: Scene, query: str
) -> None:
    assert search_query(scene) == query


def test_search_query_is_cut_at_a_word_within_100_chars() -> None:
    query = search_query(Scene(narration="n", visual=VisualSpec(query="word " * 40)))
    assert len(query) <= 100 and query.endswith("word")


def test_orientations_follow_the_aspect() -> None:
    assert [pexels_orientation(a) for a in Aspect] == ["landscape", "portrait", "square"]
    assert [pixabay_orientation(a) for a in Aspect] == ["horizontal", "vertical", "all"]


def test_pick_index_is_stable_in_range_and_spread() -> None:
    picks = [pick_index("ocean", seed, 3, count=12) for seed in range(200)]
    assert picks == [pick_index("Ocean", seed, 3, count=12) for seed in range(200)]
    assert set(picks) == set(range(5))  # only the top five, all of them used
    assert max(Counter(picks).values()) < 70
    assert pick_index("ocean", 1, 0, count=1) == 0
    with pytest.raises(ValueError):
        pick_index("ocean", 1, 0, count=0)


def test_best_rendition_is_the_smallest_that_covers() -> None:
    files = [_r(640, 360), _r(3840, 2160), _r(1920, 1080), _r(1280, 720), _r(960, 540)]
    assert best_rendition(files, HD) == _r(1280, 720)
    assert best_rendition(files, (1434, 806)) == _r(1920, 1080)


def test_best_rendition_never_takes_4k_for_a_720p_frame() -> None:
    assert best_rendition([_r(3840, 2160), _r(960, 540)], HD) == _r(960, 540)
    assert best_rendition([_r(3840, 2160), _r(4096, 2160)], HD) == _r(3840, 2160)
    assert best_rendition([_r(3840, 2160)], (3840, 2160)) == _r(3840, 2160)  # a 4K frame may


def test_best_rendition_falls_back_to_the_largest_and_skips_unknown_sizes() -> None:
    assert best_rendition([_r(640, 360), _r(960, 540), _r(0, 0)], HD) == _r(960, 540)
    assert best_rendition([_r(0, 0), Rendition("", 1280, 720)], HD) is None
    # A portrait frame is not covered by a landscape clip: the largest one is used.
    assert best_rendition([_r(1920, 1080), _r(1280, 720)], (720, 1280)) == _r(1920, 1080)


@dataclass(frozen=True)
class _Hit:
    name: str
    width: int
    height: int


def test_choose_prefers_the_frame_shape_and_usable_hits() -> None:
    hits = [_Hit("wide", 1920, 1080), _Hit("tall", 1080, 1920), _Hit("broken", 1080, 1920)]

    def renditions(hit: _Hit) -> list[Rendition]:
        return [] if hit.name == "broken" else [_r(hit.width, hit.height)]

    def choose_for(aspect: Aspect) -> _Hit | None:
        chosen = choose(
            hits, shape=lambda h: (h.width, h.height), renditions=renditions, query="q",
            seed=1, index=0, aspect=aspect, size=HD,
        )  # fmt: skip
        return chosen[0] if chosen else None

    assert choose_for(Aspect.PORTRAIT) == hits[1]
    assert choose_for(Aspect.LANDSCAPE) == hits[0]
    assert choose(
        [hits[2]], shape=lambda h: (h.width, h.height), renditions=renditions, query="q",
        seed=1, index=0, aspect=Aspect.PORTRAIT, size=HD,
    ) is None  # fmt: skip


def test_pexels_variant_sizes_follow_the_cdn_parameters() -> None:
    base = "https://images.pexels.com/photos/1/pexels-photo-1.jpeg"
    assert pexels.variant_size(base, 4000, 3000) == (4000, 3000)
    large2x = f"{base}?auto=compress&cs=tinysrgb&dpr=2&h=650&w=940"
    assert pexels.variant_size(large2x, 4000, 3000) == (1733, 1300)
    crop = f"{base}?auto=compress&cs=tinysrgb&fit=crop&h=627&w=1200"
    assert pexels.variant_size(crop, 4000, 3000) == (1200, 627)
    assert pexels.variant_size(f"{base}?h=350", 4000, 3000) == (467, 350)


def test_pexels_video_renditions_keep_only_mp4_links() -> None:
    hit = {"video_files": [
        {"file_type": "video/mp4", "width": 1280, "height": 720, "link": "a.mp4"},
        {"file_type": "video/mp4", "width": None, "height": None, "link": "hls.mp4"},
        {"file_type": "application/x-mpegURL", "width": 1920, "height": 1080, "link": "b"},
    ]}  # fmt: skip
    assert pexels.video_renditions(hit) == [
        Rendition("a.mp4", 1280, 720), Rendition("hls.mp4", 0, 0)
    ]  # fmt: skip


def test_pixabay_renditions_read_the_documented_fields() -> None:
    hit = {"imageWidth": 4000, "imageHeight": 2250, "largeImageURL": "l.jpg",
           "webformatURL": "w.jpg", "webformatWidth": 640, "webformatHeight": 360}  # fmt: skip
    assert pixabay.photo_renditions(hit) == [
        Rendition("w.jpg", 640, 360), Rendition("l.jpg", 1280, 720)
    ]  # fmt: skip
    film = {"videos": {"large": {"url": "", "width": 0, "height": 0},
                       "medium": {"url": "m.mp4", "width": 1280, "height": 720}}}  # fmt: skip
    assert pixabay.video_renditions(film) == [Rendition("m.mp4", 1280, 720)]


def test_file_suffix_from_content_type_then_url() -> None:
    assert file_suffix("image/jpeg; charset=binary", "x", ".png") == ".jpg"
    assert file_suffix("application/octet-stream", "https://cdn/a/clip.MP4?x=1", ".bin") == ".mp4"
    assert file_suffix("", "https://cdn/get/abc", ".jpg") == ".jpg"


def test_image_size_and_prompt() -> None:
    assert image_size(Aspect.PORTRAIT, "gpt-image-1") == "1024x1536"
    assert image_size(Aspect.LANDSCAPE, "dall-e-3") == "1792x1024"
    one = image_prompt(Scene(narration="Boats leave. Gulls cry. Night."), VisualStyle.WARM)
    two = image_prompt(Scene(narration="n", visual=VisualSpec(prompt="A red kite.")),
                       VisualStyle.WARM)  # fmt: skip
    assert one.startswith("Boats leave. Gulls cry. Style: ")
    assert two.startswith("A red kite. Style: ")
    assert one.split("Style: ")[1] == two.split("Style: ")[1]
    assert "no text" in one


def _sources(names: list[str], **keys: str | None) -> list[str]:
    built = build_visual_sources(
        names,
        openai_key=keys.get("openai"), openai_base_url="http://127.0.0.1:9/v1",
        image_model="gpt-image-1",
        pexels_key=keys.get("pexels"), pexels_base_url="http://127.0.0.1:9",
        pixabay_key=keys.get("pixabay"), pixabay_base_url="http://127.0.0.1:9/api",
        meter=Meter(), options=ClientOptions(timeout_s=5, max_concurrency=2),
    )  # fmt: skip
    return [source.id for source in built]


def test_build_keeps_the_configured_order_among_sources_with_a_key() -> None:
    chain = ["pexels-video", "pixabay-video", "pexels", "pixabay", "openai-images"]
    assert _sources(chain) == []
    assert _sources(chain, pixabay="k", openai="sk") == [
        "pixabay-video",
        "pixabay",
        "openai-images",
    ]
    assert _sources(["openai-images", "pexels", "pexels"], pexels="k", openai="sk") == [
        "openai-images", "pexels"
    ]  # fmt: skip
    with pytest.raises(InvalidInput, match="unknown visual source"):
        _sources(["pexels", "shutterstock"], pexels="k")


def test_order_for_follows_the_scene_kind() -> None:
    chain = ["pexels-video", "openai-images", "pixabay"]
    sources = build_visual_sources(
        chain, openai_key="sk", openai_base_url="http://127.0.0.1:9/v1", image_model="m",
        pexels_key="k", pexels_base_url="http://127.0.0.1:9", pixabay_key="k",
        pixabay_base_url="http://127.0.0.1:9/api", meter=Meter(),
        options=ClientOptions(timeout_s=5, max_concurrency=1),
    )  # fmt: skip

    def ids(kind: str) -> list[str]:
        scene = Scene(narration="n", visual=VisualSpec(kind=kind, color="#112233"))
        return [source.id for source in order_for(scene, sources)]

    assert ids("stock") == ["pexels-video", "pixabay", "openai-images"]
    assert ids("generated") == chain
    assert ids("color") == [] and ids("file") == []
