"""A local Pexels: the API (photo and video search) and its media CDN on one server.

    GET /v1/search       {"total_results", "page", "per_page", "photos": [...], "next_page"?}
    GET /videos/search   {"total_results", "page", "per_page", "url", "videos": [...], ...}
    GET /photos/<id>/pexels-photo-<id>.jpeg[?w=&h=&dpr=&fit=]   a JPEG of that size
    GET /video-files/<id>/<id>-<quality>_<w>_<h>_<fps>fps.mp4   an MP4 of that size

Search needs `Authorization: <key>` (401 otherwise); media needs no key, as on the real
CDN. Any query matches the whole catalogue except one containing "nothingmatches";
`orientation` filters by shape and `page`/`per_page` paginate as Pexels does.

    with PexelsStub() as pexels:
        client = ProviderClient("pexels", pexels.url)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from tests.support.stubs import media
from tests.support.stubs.base import Recorded, StubResponse, StubServer

KEY = "563492ad6f91700001000001-test-key"
NO_MATCH = "nothingmatches"
MAX_PER_PAGE = 80


@dataclass(frozen=True)
class Photo:
    id: int
    width: int
    height: int
    photographer: str
    alt: str = ""


@dataclass(frozen=True)
class Video:
    id: int
    width: int
    height: int
    user: str
    files: tuple[tuple[str, int, int], ...]
    """(quality, width, height) of each MP4 rendition, in Pexels' (unsorted) order."""


PHOTOS = (
    Photo(2014422, 2400, 1600, "Joey Farina", "Brown rocks during golden hour"),
    Photo(3573351, 1600, 2400, "Lukas Rodriguez", "Trees during day"),
    Photo(1136456, 2700, 1800, "Johannes Plenio", "Silhouette of clouds"),
    Photo(3655681, 1500, 2000, "Ena Marinkovic", "Sea landscape"),
    Photo(459489, 2000, 2000, "Pixabay", "Cup of coffee on saucer"),
    Photo(2880507, 3000, 2000, "Min An", "Harbour at dawn"),
)
_LANDSCAPE_FILES = (
    ("sd", 640, 360), ("uhd", 3840, 2160), ("hd", 1280, 720),
    ("sd", 960, 540), ("hd", 1920, 1080),
)  # fmt: skip
_PORTRAIT_FILES = (("hd", 1080, 1920), ("sd", 540, 960), ("uhd", 2160, 3840), ("hd", 720, 1280))
VIDEOS = (
    Video(1448735, 3840, 2160, "Ruvim Miksanskiy", _LANDSCAPE_FILES),
    Video(3571264, 3840, 2160, "Taryn Elliott", _LANDSCAPE_FILES),
    Video(856973, 1920, 1080, "Engin Akyurt", (*_LANDSCAPE_FILES[:3], _LANDSCAPE_FILES[4])),
    Video(5528047, 2160, 3840, "Cottonbro Studio", _PORTRAIT_FILES),
    Video(6394054, 1080, 1920, "Mikhail Nilov", (*_PORTRAIT_FILES[:2], _PORTRAIT_FILES[3])),
    Video(2499611, 1080, 1080, "Anna Shvets", (("hd", 1080, 1080), ("sd", 540, 540))),
)


def _orientation(width: int, height: int) -> str:
    if abs(width - height) <= min(width, height) * 0.05:
        return "square"
    return "landscape" if width > height else "portrait"


class PexelsStub:
    def __init__(
        self, key: str = KEY, photos: tuple[Photo, ...] = PHOTOS, videos: tuple[Video, ...] = VIDEOS
    ) -> None:
        self.key = key
        self.photos = {p.id: p for p in photos}
        self.videos = {v.id: v for v in videos}
        self.server = StubServer(
            {
                ("GET", r"/v1/search"): self._search_photos,
                ("GET", r"/videos/search"): self._search_videos,
                ("GET", r"/photos/(\d+)/pexels-photo-\d+\.jpeg"): self._photo_file,
                ("GET", r"/video-files/(\d+)/\d+-\w+_(\d+)_(\d+)_(\d+)fps\.mp4"): self._video_file,
            }
        )

    @property
    def url(self) -> str:
        return self.server.url

    def reset(self) -> None:
        """Forget requests and queued failures, so one server can serve a module's tests."""
        with self.server._lock:
            self.server.requests.clear()
            self.server._failures.clear()

    def __enter__(self) -> PexelsStub:
        self.server.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.__exit__(*exc)

    # API

    def _refuse(self, request: Recorded) -> StubResponse | None:
        auth = request.headers.get("authorization")
        if not auth:
            return StubResponse(401, json={"error": "Authorization field missing"})
        if auth != self.key:
            return StubResponse(401, json={"error": "Invalid API key"})
        if not request.param("query"):
            return StubResponse(400, json={"error": "query is required"})
        return None

    def _page(
        self, request: Recorded, items: list[Any], path: str
    ) -> tuple[list[Any], dict[str, Any]]:
        page = max(1, int(request.param("page", "1") or 1))
        per_page = min(MAX_PER_PAGE, max(1, int(request.param("per_page", "15") or 15)))
        query = request.param("query") or ""
        if NO_MATCH in query.lower():
            items = []
        orientation = request.param("orientation")
        if orientation:
            items = [i for i in items if _orientation(i.width, i.height) == orientation]
        chunk = items[(page - 1) * per_page : page * per_page]
        meta: dict[str, Any] = {"total_results": len(items), "page": page, "per_page": per_page}
        base = {"query": query, "per_page": per_page}
        if orientation:
            base["orientation"] = orientation
        if page * per_page < len(items):
            meta["next_page"] = f"{self.url}{path}/?{urlencode({**base, 'page': page + 1})}"
        if page > 1:
            meta["prev_page"] = f"{self.url}{path}/?{urlencode({**base, 'page': page - 1})}"
        return chunk, meta

    def _search_photos(self, request: Recorded, _: re.Match[str]) -> StubResponse:
        refused = self._refuse(request)
        if refused:
            return refused
        chunk, meta = self._page(request, list(self.photos.values()), "/v1/search")
        return StubResponse(json={**meta, "photos": [self._photo_json(p) for p in chunk]})

    def _search_videos(self, request: Recorded, _: re.Match[str]) -> StubResponse:
        refused = self._refuse(request)
        if refused:
            return refused
        chunk, meta = self._page(request, list(self.videos.values()), "/videos/search")
        videos = [self._video_json(v) for v in chunk]
        return StubResponse(
            json={**meta, "url": "https://www.pexels.com/videos/", "videos": videos}
        )

    def _photo_json(self, p: Photo) -> dict[str, Any]:
        file = f"{self.url}/photos/{p.id}/pexels-photo-{p.id}.jpeg"
        compress = "auto=compress&cs=tinysrgb"
        slug = re.sub(r"\W+", "-", p.alt.lower()).strip("-")
        return {
            "id": p.id, "width": p.width, "height": p.height,
            "url": f"https://www.pexels.com/photo/{slug}-{p.id}/",
            "photographer": p.photographer,
            "photographer_url": f"https://www.pexels.com/@{p.photographer.split()[0].lower()}",
            "photographer_id": p.id % 1000003, "avg_color": "#978E82",
            "src": {
                "original": file,
                "large2x": f"{file}?{compress}&dpr=2&h=650&w=940",
                "large": f"{file}?{compress}&h=650&w=940",
                "medium": f"{file}?{compress}&h=350",
                "small": f"{file}?{compress}&h=130",
                "portrait": f"{file}?{compress}&fit=crop&h=1200&w=800",
                "landscape": f"{file}?{compress}&fit=crop&h=627&w=1200",
                "tiny": f"{file}?{compress}&dpr=1&fit=crop&h=200&w=280",
            },
            "liked": False, "alt": p.alt,
        }  # fmt: skip

    def _video_json(self, v: Video) -> dict[str, Any]:
        files = [
            {
                "id": v.id * 10 + n, "quality": quality, "file_type": "video/mp4",
                "width": w, "height": h, "fps": 29.97,
                "link": f"{self.url}/video-files/{v.id}/{v.id}-{quality}_{w}_{h}_30fps.mp4",
                "size": w * h,
            }
            for n, (quality, w, h) in enumerate(v.files)
        ]  # fmt: skip
        return {
            "id": v.id, "width": v.width, "height": v.height, "duration": media.CLIP_S,
            "full_res": None, "tags": [], "avg_color": None,
            "url": f"https://www.pexels.com/video/clip-{v.id}/",
            "image": f"https://images.pexels.com/videos/{v.id}/free-video-{v.id}.jpg",
            "user": {"id": v.id % 999983, "name": v.user, "url": "https://www.pexels.com/@user"},
            "video_files": files,
            "video_pictures": [],
        }  # fmt: skip

    # CDN

    def _photo_file(self, request: Recorded, match: re.Match[str]) -> StubResponse:
        photo = self.photos.get(int(match[1]))
        if photo is None:
            return StubResponse(404, body=b"Not Found", content_type="text/plain")
        dpr = float(request.param("dpr", "1") or 1)
        w, h = request.param("w"), request.param("h")
        size = (photo.width, photo.height)
        if w or h:
            box_w = round(float(w) * dpr) if w else photo.width
            box_h = round(float(h) * dpr) if h else photo.height
            crop = request.param("fit") == "crop" and w and h
            size = (box_w, box_h) if crop else media.fit_within(*size, box_w, box_h)
        return StubResponse(body=media.jpeg(*size), content_type="image/jpeg")

    def _video_file(self, _: Recorded, match: re.Match[str]) -> StubResponse:
        video = self.videos.get(int(match[1]))
        size = (int(match[2]), int(match[3]))
        if video is None or size not in {(w, h) for _, w, h in video.files}:
            return StubResponse(404, body=b"Not Found", content_type="text/plain")
        return StubResponse(body=media.mp4(*size, fps=int(match[4])), content_type="video/mp4")
