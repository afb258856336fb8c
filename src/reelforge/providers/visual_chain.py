"""The visual sources a render tries per scene, built from settings values.

`build_visual_sources` makes them in the configured order, skipping those without a key;
`order_for` reorders them for one scene by what the scene asks for. The engine tries them
in turn and falls back to its procedural image provider when all return None.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from typing import Literal

from reelforge.errors import InvalidInput
from reelforge.model.storyboard import Scene, VisualKind
from reelforge.providers.base import VisualSource
from reelforge.providers.http import ClientOptions, ProviderClient
from reelforge.providers.openai_images import OpenAIImages
from reelforge.providers.pexels import PexelsPhotos, PexelsVideos
from reelforge.providers.pixabay import PixabayPhotos, PixabayVideos
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
    options: ClientOptions | None = None,
    server_keys: frozenset[str] = frozenset(),
) -> tuple[VisualSource, ...]:
    """The sources named in `names`, in that order, among those whose vendor has a key.

    A vendor's photo and video sources share one client, so they share its circuit
    breaker and concurrency cap. Duplicate names are kept once. `options` is for every
    client (default `ClientOptions()`); vendors named in `server_keys` (`pexels`, `pixabay`,
    `openai`) send the server's key, so a refused key is the operator's to fix.
    Raises:
        InvalidInput: a name is not a known source.
    """
    unknown = [name for name in names if name not in KNOWN_SOURCES]
    if unknown:
        raise InvalidInput(
            f"unknown visual source(s) {', '.join(unknown)}; known: {', '.join(KNOWN_SOURCES)}"
        )
    base_urls = {
        "pexels": pexels_base_url, "pixabay": pixabay_base_url, "openai-images": openai_base_url,
    }  # fmt: skip
    clients: dict[str, ProviderClient] = {}

    key_names = {"pexels": "pexels", "pixabay": "pixabay", "openai-images": "openai"}

    def client(name: str) -> ProviderClient:
        if name not in clients:
            owner: Literal["user", "server"] = (
                "server" if key_names[name] in server_keys else "user"
            )
            opts = replace(options or ClientOptions(), key_owner=owner)
            clients[name] = ProviderClient(name, base_urls[name], options=opts)
        return clients[name]

    sources: list[VisualSource] = []
    for name in dict.fromkeys(names):
        if name in ("pexels", "pexels-video") and pexels_key:
            pexels = PexelsVideos if name == "pexels-video" else PexelsPhotos
            sources.append(pexels(client("pexels"), pexels_key, meter))
        elif name in ("pixabay", "pixabay-video") and pixabay_key:
            pixabay = PixabayVideos if name == "pixabay-video" else PixabayPhotos
            sources.append(pixabay(client("pixabay"), pixabay_key, meter))
        elif name == "openai-images" and openai_key:
            images = client("openai-images")
            sources.append(OpenAIImages(images, openai_key, model=image_model, meter=meter))
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
