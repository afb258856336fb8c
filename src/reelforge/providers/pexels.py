"""Pexels stock photos and videos (https://www.pexels.com/api/documentation/).

    GET /v1/search?query=&orientation=&per_page=&page=      → {"photos": [...]}
    GET /videos/search?query=&orientation=&per_page=&page=  → {"videos": [...]}

The API key goes in a bare `Authorization` header on the search calls only: media files
come from a CDN that needs no key, so downloads never carry it.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from reelforge.model.storyboard import VideoSettings
from reelforge.providers.base import Attribution
from reelforge.providers.stock import Hit, StockSource
from reelforge.providers.visual_choice import Rendition, as_int, fit_within, pexels_orientation

LICENSE = "Pexels License"
PHOTO_VARIANTS = ("original", "large2x", "large")
"""`src` sizes worth a full-screen still; the smaller ones would be upscaled."""


def variant_size(url: str, width: int, height: int) -> tuple[int, int]:
    """Pixel size of a `src` variant: its `w`/`h`/`dpr` parameters resize the original
    to fit that box (or crop to it exactly with `fit=crop`); none means the original."""
    params = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    try:
        dpr = float(params.get("dpr", "1"))
        box_w = round(float(params["w"]) * dpr) if "w" in params else None
        box_h = round(float(params["h"]) * dpr) if "h" in params else None
    except ValueError:
        return width, height
    if box_w is None and box_h is None:
        return width, height
    if params.get("fit") == "crop" and box_w and box_h:
        return box_w, box_h
    return fit_within(width, height, box_w or width, box_h or height)


def photo_renditions(hit: Hit) -> list[Rendition]:
    width, height, src = as_int(hit.get("width")), as_int(hit.get("height")), hit.get("src")
    if width <= 0 or height <= 0 or not isinstance(src, dict):
        return []
    return [
        Rendition(str(src[name]), *variant_size(str(src[name]), width, height))
        for name in PHOTO_VARIANTS
        if src.get(name)
    ]


def video_renditions(hit: Hit) -> list[Rendition]:
    return [
        Rendition(str(f["link"]), as_int(f.get("width")), as_int(f.get("height")))
        for f in hit.get("video_files") or ()
        if isinstance(f, dict) and f.get("file_type") == "video/mp4" and f.get("link")
    ]


class _PexelsSource(StockSource):
    vendor = "pexels"
    _path = ""
    _items = ""

    def search(self, query: str, settings: VideoSettings) -> list[Hit]:
        params = {"query": query, "orientation": pexels_orientation(settings.aspect),
                  "per_page": self._per_page, "page": 1}  # fmt: skip
        response = self._client.request(
            "GET", self._path, params=params, headers={"Authorization": self._key}
        )
        try:
            body = response.json()
        except ValueError:
            body = None
        return self.hits(body, self._items)

    def shape(self, hit: Hit) -> tuple[int, int]:
        return as_int(hit.get("width")), as_int(hit.get("height"))

    def _credit(self, hit: Hit, author: object) -> Attribution:
        return Attribution("Pexels", str(author or ""), str(hit.get("url") or ""), LICENSE)


class PexelsPhotos(_PexelsSource):
    """Stock photos: the `src` variant that covers the frame without a needless huge file."""

    id = "pexels"
    _path = "/v1/search"
    _items = "photos"

    def renditions(self, hit: Hit) -> list[Rendition]:
        return photo_renditions(hit)

    def attribution(self, hit: Hit) -> Attribution:
        return self._credit(hit, hit.get("photographer"))


class PexelsVideos(_PexelsSource):
    """Stock clips: the smallest MP4 that covers the frame, else the largest one."""

    id = "pexels-video"
    _path = "/videos/search"
    _items = "videos"
    is_video = True

    def renditions(self, hit: Hit) -> list[Rendition]:
        return video_renditions(hit)

    def attribution(self, hit: Hit) -> Attribution:
        user = hit.get("user")
        return self._credit(hit, user.get("name") if isinstance(user, dict) else "")
