"""A local Pixabay: the API (image and video search) and its media hosts on one server.

    GET /api/?key=&q=&image_type=&orientation=&safesearch=&per_page=&page=
        → {"total", "totalHits", "hits": [{"largeImageURL", "webformatURL", "user", ...}]}
    GET /api/videos/?key=&q=&video_type=&safesearch=&per_page=&page=
        → {"total", "totalHits", "hits": [{"videos": {"large": {"url", ...}, ...}, ...}]}
    GET /get/<id>_<640|1280>.jpg           a JPEG fitted to that box
    GET /video/<id>_<large|medium|...>.mp4 an MP4 of the advertised size

A missing or wrong `key` gets Pixabay's plain-text 400; `per_page` outside 3..200 too.
Any query matches the whole catalogue except one containing "nothingmatches";
`orientation` (horizontal/vertical/all) filters images by shape.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from tests.support.stubs import media
from tests.support.stubs.base import Recorded, StubResponse, StubServer

KEY = "12345678-0a1b2c3d4e5f6a7b8c9d0e1f2"
NO_MATCH = "nothingmatches"


@dataclass(frozen=True)
class Image:
    id: int
    width: int
    height: int
    user: str
    tags: str = ""


@dataclass(frozen=True)
class Film:
    id: int
    user: str
    sizes: dict[str, tuple[int, int]]
    """large/medium/small/tiny → (width, height); a missing `large` is served as empty."""


IMAGES = (
    Image(195893, 4000, 2250, "Josch13", "blossom, bloom, flower"),
    Image(736885, 3000, 2000, "Pexels", "tree, landscape, field"),
    Image(1072823, 2000, 3000, "jplenio", "tree, forest, portrait"),
    Image(2681319, 1200, 900, "Couleur", "sunset, small"),
    Image(3605478, 2400, 2400, "Mylene2401", "coffee, cup"),
)
_FHD = {"large": (1920, 1080), "medium": (1280, 720), "small": (960, 540), "tiny": (640, 360)}
FILMS = (
    Film(125, "Coverr-Free-Footage", _FHD),
    Film(
        28745, "Pixabay", {"large": (3840, 2160), **{k: v for k, v in _FHD.items() if k != "large"}}
    ),
    Film(31377, "Engin_Akyurt", {k: v for k, v in _FHD.items() if k != "large"}),
    Film(
        44181, "Vertical_Clips", {"medium": (1080, 1920), "small": (720, 1280), "tiny": (360, 640)}
    ),
)


def _orientation_ok(image: Image, orientation: str) -> bool:
    if orientation == "horizontal":
        return image.width >= image.height
    if orientation == "vertical":
        return image.height > image.width
    return True


def _error(message: str, status: int = 400) -> StubResponse:
    return StubResponse(
        status, body=f"[ERROR {status}] {message}".encode(), content_type="text/plain"
    )


class PixabayStub:
    def __init__(
        self, key: str = KEY, images: tuple[Image, ...] = IMAGES, films: tuple[Film, ...] = FILMS
    ) -> None:
        self.key = key
        self.images = {i.id: i for i in images}
        self.films = {f.id: f for f in films}
        self.server = StubServer(
            {
                ("GET", r"/api/"): self._search_images,
                ("GET", r"/api/videos/"): self._search_films,
                ("GET", r"/get/(\d+)_(\d+)\.jpg"): self._image_file,
                ("GET", r"/video/(\d+)_(\w+)\.mp4"): self._film_file,
            }
        )

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def api_url(self) -> str:
        """What `pixabay_base_url` is set to (`https://pixabay.com/api` for real)."""
        return f"{self.server.url}/api"

    def reset(self) -> None:
        """Forget requests and queued failures, so one server can serve a module's tests."""
        with self.server._lock:
            self.server.requests.clear()
            self.server._failures.clear()

    def __enter__(self) -> PixabayStub:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    # API

    def _page(self, request: Recorded, items: list[Any]) -> tuple[list[Any], int] | StubResponse:
        if request.param("key") != self.key:
            return _error("Invalid API key. Note: This value is case-sensitive.")
        try:
            page = int(request.param("page", "1") or 1)
            per_page = int(request.param("per_page", "20") or 20)
        except ValueError:
            return _error('"page" and "per_page" must be integers.')
        if not 3 <= per_page <= 200:
            return _error('"per_page" is out of valid range.')
        if len(request.param("q") or "") > 100:
            return _error('"q" is too long.')
        if NO_MATCH in (request.param("q") or "").lower():
            items = []
        return items[(page - 1) * per_page : page * per_page], len(items)

    def _search_images(self, request: Recorded, _: re.Match[str]) -> StubResponse:
        orientation = request.param("orientation", "all") or "all"
        images = [i for i in self.images.values() if _orientation_ok(i, orientation)]
        paged = self._page(request, images)
        if isinstance(paged, StubResponse):
            return paged
        chunk, total = paged
        hits = [self._image_json(i) for i in chunk]
        return StubResponse(json={"total": total, "totalHits": total, "hits": hits})

    def _search_films(self, request: Recorded, _: re.Match[str]) -> StubResponse:
        paged = self._page(request, list(self.films.values()))
        if isinstance(paged, StubResponse):
            return paged
        chunk, total = paged
        hits = [self._film_json(f) for f in chunk]
        return StubResponse(json={"total": total, "totalHits": total, "hits": hits})

    def _image_json(self, i: Image) -> dict[str, Any]:
        web_w, web_h = media.fit_within(i.width, i.height, 640, 640)
        prev_w, prev_h = media.fit_within(i.width, i.height, 150, 150)
        return {
            "id": i.id, "pageURL": f"https://pixabay.com/photos/{i.tags.split(',')[0]}-{i.id}/",
            "type": "photo", "tags": i.tags,
            "previewURL": f"{self.url}/get/{i.id}_150.jpg",
            "previewWidth": prev_w, "previewHeight": prev_h,
            "webformatURL": f"{self.url}/get/{i.id}_640.jpg",
            "webformatWidth": web_w, "webformatHeight": web_h,
            "largeImageURL": f"{self.url}/get/{i.id}_1280.jpg",
            "imageWidth": i.width, "imageHeight": i.height, "imageSize": i.width * i.height // 3,
            "views": 7671, "downloads": 6439, "collections": 12, "likes": 5, "comments": 2,
            "user_id": i.id % 99991, "user": i.user,
            "userImageURL": "https://cdn.pixabay.com/user/2013/11/05/02-10-23-764_250x250.jpg",
        }  # fmt: skip

    def _film_json(self, f: Film) -> dict[str, Any]:
        videos = {}
        for name in ("large", "medium", "small", "tiny"):
            w, h = f.sizes.get(name, (0, 0))
            url = f"{self.url}/video/{f.id}_{name}.mp4" if name in f.sizes else ""
            thumb = url.replace(".mp4", ".jpg")
            videos[name] = {"url": url, "width": w, "height": h, "size": w * h, "thumbnail": thumb}
        return {
            "id": f.id, "pageURL": f"https://pixabay.com/videos/id-{f.id}/", "type": "film",
            "tags": "nature, clip", "duration": media.CLIP_S, "videos": videos,
            "views": 4462, "downloads": 1464, "likes": 18, "comments": 0,
            "user_id": f.id % 99991, "user": f.user,
            "userImageURL": "https://cdn.pixabay.com/user/2015/10/16/09-28-45-303_250x250.png",
        }  # fmt: skip

    # Media hosts (no key, as on the real CDN)

    def _image_file(self, _: Recorded, match: re.Match[str]) -> StubResponse:
        image, box = self.images.get(int(match[1])), int(match[2])
        if image is None:
            return StubResponse(404, body=b"Not Found", content_type="text/plain")
        size = media.fit_within(image.width, image.height, box, box)
        return StubResponse(body=media.jpeg(*size), content_type="image/jpeg")

    def _film_file(self, _: Recorded, match: re.Match[str]) -> StubResponse:
        film = self.films.get(int(match[1]))
        if film is None or match[2] not in film.sizes:
            return StubResponse(404, body=b"Not Found", content_type="text/plain")
        return StubResponse(body=media.mp4(*film.sizes[match[2]]), content_type="video/mp4")
