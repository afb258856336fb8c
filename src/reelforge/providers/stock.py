"""What every stock library source does per scene: search, choose, download, credit.

A vendor module (pexels.py, pixabay.py) subclasses `StockSource` and supplies the search
call and how to read its hits; the choice itself is the pure `visual_choice.choose`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from reelforge.errors import ProviderError
from reelforge.model.storyboard import Scene, VideoSettings
from reelforge.providers.base import Attribution, VisualAsset
from reelforge.providers.http import ProviderClient
from reelforge.providers.usage import Meter
from reelforge.providers.visual_choice import (
    Rendition,
    choose,
    is_image,
    save_media,
    search_query,
)

Hit = dict[str, Any]
PER_PAGE = 15


class StockSource:
    """A `VisualSource` over one stock library endpoint (photos or videos)."""

    id = ""
    version = "1"
    vendor = ""
    """Provider name in usage records and error messages."""
    is_video = False

    def __init__(
        self, client: ProviderClient, api_key: str, meter: Meter | None = None, *,
        per_page: int = PER_PAGE,
    ) -> None:  # fmt: skip
        self._client = client
        self._key = api_key
        self._meter = meter or Meter()
        self._per_page = per_page

    # Vendor hooks.
    def search(self, query: str, settings: VideoSettings) -> list[Hit]:
        """The first page of hits for `query`, in the vendor's ranking."""
        raise NotImplementedError

    def renditions(self, hit: Hit) -> list[Rendition]:
        raise NotImplementedError

    def shape(self, hit: Hit) -> tuple[int, int]:
        """(width, height) of the hit's media, (0, 0) if unknown."""
        raise NotImplementedError

    def attribution(self, hit: Hit) -> Attribution:
        raise NotImplementedError

    def download(self, url: str) -> tuple[bytes, str]:
        """The file's bytes and content type."""
        response = self._client.request("GET", url)
        return response.content, response.headers.get("content-type", "")

    def hits(self, body: Any, items: str) -> list[Hit]:
        """`body[items]` as a list of objects, or a ProviderError naming the vendor."""
        found = body.get(items) if isinstance(body, dict) else None
        if not isinstance(found, list):
            raise ProviderError(f"{self.vendor} sent an unexpected search response")
        self._meter.record(self.vendor, "search", requests=1)
        return [hit for hit in found if isinstance(hit, dict)]

    def find(
        self, scene: Scene, index: int, settings: VideoSettings, size: tuple[int, int],
        out_dir: Path,
    ) -> VisualAsset | None:  # fmt: skip
        """Search for the scene's query and download the chosen file into `out_dir`.

        Returns None when the search has no usable result.
        Raises:
            InvalidInput: the key or the request was refused. ProviderError: the call failed.
        """
        query = search_query(scene)
        if not query:
            return None
        chosen = choose(
            self.search(query, settings), shape=self.shape, renditions=self.renditions,
            query=query, seed=settings.seed, index=index, aspect=settings.aspect, size=size,
        )  # fmt: skip
        if chosen is None:
            return None
        hit, rendition = chosen
        content, content_type = self.download(rendition.url)
        if not self.is_video and not is_image(content):
            raise ProviderError(f"{self.vendor} sent a file that is not an image")
        path = save_media(
            content, content_type, rendition.url, out_dir, f"{self.id}-{hit.get('id', index)}",
            ".mp4" if self.is_video else ".jpg",
        )  # fmt: skip
        return VisualAsset(path, is_video=self.is_video, attribution=self.attribution(hit))
