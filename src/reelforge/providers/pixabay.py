"""Pixabay stock photos and videos (https://pixabay.com/api/docs/).

    GET /api/?key=&q=&image_type=photo&orientation=&safesearch=true&per_page=&page=
    GET /api/videos/?key=&q=&video_type=film&safesearch=true&per_page=&page=

Pixabay takes the key as a query parameter, so it is in every search URL: errors raised
here are scrubbed of it, and httpx's request log lines get it masked.
"""

from __future__ import annotations

import logging
import re
from typing import Any

from reelforge.errors import ReelforgeError
from reelforge.model.storyboard import VideoSettings
from reelforge.providers.base import Attribution
from reelforge.providers.stock import Hit, StockSource
from reelforge.providers.visual_choice import Rendition, as_int, fit_within, pixabay_orientation

LICENSE = "Pixabay Content License"
LARGE_IMAGE_PX = 1280
"""`largeImageURL` is the original scaled to fit this box."""
FULL_HD_PX = 1920
"""`fullHDURL` (accounts with full API access) fits this box."""
VIDEO_SIZES = ("large", "medium", "small", "tiny")
_KEY_PARAM = re.compile(r"([?&]key=)[^&\s\"']+")


class _MaskKey(logging.Filter):
    """Masks `key=` query values in log records (httpx logs every request URL at INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = _KEY_PARAM.sub(r"\1***", message)
        if masked != message:
            record.msg, record.args = masked, ()
        return True


def _mask_httpx_logs() -> None:
    logger = logging.getLogger("httpx")
    if not any(isinstance(f, _MaskKey) for f in logger.filters):
        logger.addFilter(_MaskKey())


def photo_renditions(hit: Hit) -> list[Rendition]:
    """`largeImageURL` (and `fullHDURL`/`imageURL` when the account has them), `webformatURL`."""
    width, height = as_int(hit.get("imageWidth")), as_int(hit.get("imageHeight"))
    found = [
        Rendition(str(hit["webformatURL"]), as_int(hit.get("webformatWidth")),
                  as_int(hit.get("webformatHeight")))
    ] if hit.get("webformatURL") else []  # fmt: skip
    if width > 0 and height > 0:
        boxes = (("largeImageURL", LARGE_IMAGE_PX), ("fullHDURL", FULL_HD_PX))
        for field, box in boxes:
            if hit.get(field):
                found.append(Rendition(str(hit[field]), *fit_within(width, height, box, box)))
        if hit.get("imageURL"):
            found.append(Rendition(str(hit["imageURL"]), width, height))
    return found


def video_renditions(hit: Hit) -> list[Rendition]:
    """`videos.{large,medium,small,tiny}`; `large` has an empty URL when there is none."""
    videos = hit.get("videos")
    if not isinstance(videos, dict):
        return []
    return [
        Rendition(str(v["url"]), as_int(v.get("width")), as_int(v.get("height")))
        for v in (videos.get(name) for name in VIDEO_SIZES)
        if isinstance(v, dict) and v.get("url")
    ]


class _PixabaySource(StockSource):
    vendor = "pixabay"
    _path = "/"
    _kind = ("image_type", "photo")
    """The media-type filter: (parameter, value)."""

    def search(self, query: str, settings: VideoSettings) -> list[Hit]:
        params: dict[str, Any] = {
            "key": self._key, "q": query, self._kind[0]: self._kind[1], "safesearch": "true",
            "per_page": max(3, self._per_page), "page": 1,  # Pixabay's minimum is 3
        }  # fmt: skip
        if not self.is_video:  # the video search has no orientation filter
            params["orientation"] = pixabay_orientation(settings.aspect)
        _mask_httpx_logs()  # the key is in this URL, which httpx logs
        try:
            response = self._client.request("GET", self._path, params=params)
        except ReelforgeError as exc:
            raise self._scrubbed(exc) from None
        try:
            body = response.json()
        except ValueError:
            body = None
        return self.hits(body, "hits")

    def download(self, url: str) -> tuple[bytes, str]:
        try:
            return super().download(url)
        except ReelforgeError as exc:
            raise self._scrubbed(exc) from None

    def _scrubbed(self, exc: ReelforgeError) -> ReelforgeError:
        """The same error without the key, should the vendor echo the request back."""
        if not self._key or self._key not in exc.message:
            return exc
        clean = type(exc).__new__(type(exc))
        ReelforgeError.__init__(clean, exc.message.replace(self._key, "***"), stage=exc.stage)
        return clean

    def attribution(self, hit: Hit) -> Attribution:
        return Attribution(
            "Pixabay", str(hit.get("user") or ""), str(hit.get("pageURL") or ""), LICENSE
        )


class PixabayPhotos(_PixabaySource):
    """Stock photos: the size that covers the frame (`largeImageURL` caps at 1280 px)."""

    id = "pixabay"

    def renditions(self, hit: Hit) -> list[Rendition]:
        return photo_renditions(hit)

    def shape(self, hit: Hit) -> tuple[int, int]:
        return as_int(hit.get("imageWidth")), as_int(hit.get("imageHeight"))


class PixabayVideos(_PixabaySource):
    """Stock clips: the smallest MP4 that covers the frame, else the largest one."""

    id = "pixabay-video"
    _path = "/videos/"
    _kind = ("video_type", "film")
    is_video = True

    def renditions(self, hit: Hit) -> list[Rendition]:
        return video_renditions(hit)

    def shape(self, hit: Hit) -> tuple[int, int]:
        sizes = [(r.width, r.height) for r in video_renditions(hit)]
        return max(sizes, default=(0, 0), key=lambda wh: wh[0] * wh[1])
