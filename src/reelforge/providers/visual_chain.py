"""The visual sources a render tries per scene, built from settings values.

`build_visual_sources` makes them in the configured order, skipping those without a key;
`order_for` reorders them for one scene by what the scene asks for. The engine tries them
in turn and falls back to its procedural image provider when all return None.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

import httpx

from reelforge.engine.storyboard import Scene, VisualKind
from reelforge.errors import InvalidInput
from reelforge.providers.base import VisualSource
from reelforge.providers.http import ProviderClient, RetryPolicy
from reelforge.providers.openai_images import OpenAIImages, openai_images_client
from reelforge.providers.pexels import PexelsPhotos, PexelsVideos, pexels_client
from reelforge.providers.pixabay import PixabayPhotos, PixabayVideos, pixabay_client
from reelforge.providers.usage import Meter

STOCK_SOURCES = ("pexels-video", "pixabay-video", "pexels", "pixabay")
GENERATED_SOURCES = ("openai-images",)
KNOWN_SOURCES = STOCK_SOURCES + GENERATED_SOURCES


def build_visual_sources(
    names: Sequence[str],
    *,
    openai_key: str | None,
    openai_base_url: str,
    image_model: str,
    pexels_key: str | None,
    pexels_base_url: str,
    pixabay_key: str | None,
    pixabay_base_url: str,
    meter: Meter,
    timeout_s: float,
    max_concurrency: int,
    transport: httpx.BaseTransport | None = None,
    retry: RetryPolicy | None = None,
    sleep: Callable[[float], None] = time.sleep,
) -> tuple[VisualSource, ...]:
    """The sources named in `names`, in that order, among those whose vendor has a key.

    A vendor's photo and video sources share one client, so they share its circuit
    breaker and concurrency cap. Duplicate names are kept once.
    Raises:
        InvalidInput: a name is not a known source.
    """
    unknown = [name for name in names if name not in KNOWN_SOURCES]
    if unknown:
        raise InvalidInput(
            f"unknown visual source(s) {', '.join(unknown)}; known: {', '.join(KNOWN_SOURCES)}"
        )
    factories: dict[str, tuple[Callable[..., ProviderClient], str]] = {
        "pexels": (pexels_client, pexels_base_url),
        "pixabay": (pixabay_client, pixabay_base_url),
        "openai": (openai_images_client, openai_base_url),
    }
    clients: dict[str, ProviderClient] = {}

    def client(vendor: str) -> ProviderClient:
        if vendor not in clients:
            factory, base_url = factories[vendor]
            clients[vendor] = factory(
                base_url, timeout_s=timeout_s, max_concurrency=max_concurrency,
                transport=transport, retry=retry, sleep=sleep,
            )  # fmt: skip
        return clients[vendor]

    sources: list[VisualSource] = []
    for name in dict.fromkeys(names):
        if name in ("pexels", "pexels-video") and pexels_key:
            pexels = PexelsVideos if name == "pexels-video" else PexelsPhotos
            sources.append(pexels(client("pexels"), pexels_key, meter))
        elif name in ("pixabay", "pixabay-video") and pixabay_key:
            pixabay = PixabayVideos if name == "pixabay-video" else PixabayPhotos
            sources.append(pixabay(client("pixabay"), pixabay_key, meter))
        elif name == "openai-images" and openai_key:
            images = OpenAIImages(client("openai"), openai_key, model=image_model, meter=meter)
            sources.append(images)
    return tuple(sources)


def order_for(scene: Scene, sources: Sequence[VisualSource]) -> tuple[VisualSource, ...]:
    """The sources to try for `scene`, best first.

    `stock` scenes try stock libraries first; other scenes keep the configured
    `visual_chain` order (the user's preference: `generated` is the default kind, so it
    must not override that). `file` and `color` scenes use no source: the engine draws them.
    """
    if scene.visual.kind in (VisualKind.FILE, VisualKind.COLOR):
        return ()
    if scene.visual.kind is not VisualKind.STOCK:
        return tuple(sources)
    preferred = [source for source in sources if source.id in STOCK_SOURCES]
    return (*preferred, *(source for source in sources if source.id not in STOCK_SOURCES))
