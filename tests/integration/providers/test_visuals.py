"""Contract tests for the visual sources against local stubs of Pexels, Pixabay and the
OpenAI Images API, over real HTTP on 127.0.0.1 (no network)."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import av
import pytest
from PIL import Image

from reelforge.engine.frames import still_size
from reelforge.errors import InvalidInput, ProviderError
from reelforge.model.storyboard import Aspect, Scene, VideoSettings, VisualSpec, VisualStyle
from reelforge.providers.base import VisualAsset
from reelforge.providers.http import ClientOptions, ProviderClient, RetryPolicy
from reelforge.providers.openai_images import OpenAIImages
from reelforge.providers.pexels import PexelsPhotos, PexelsVideos
from reelforge.providers.pixabay import PixabayPhotos, PixabayVideos
from reelforge.providers.usage import Meter
from reelforge.providers.visual_chain import build_visual_sources
from tests.support.stubs import pexels as pexels_stub
from tests.support.stubs import pixabay as pixabay_stub
from tests.support.stubs.base import StubResponse
from tests.support.stubs.openai import OpenAIStub
from tests.support.stubs.pexels import PexelsStub
from tests.support.stubs.pixabay import PixabayStub

FAST = RetryPolicy(attempts=3, base_delay_s=0.0, max_delay_s=0.0)
SCENE = Scene(narration="Waves roll in.", visual=VisualSpec(kind="stock", query="ocean waves"))
NOTHING = Scene(narration="x", visual=VisualSpec(kind="stock", query="nothingmatches at all"))


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture(scope="module")
def pexels() -> Iterator[PexelsStub]:
    with PexelsStub() as stub:
        yield stub


@pytest.fixture(scope="module")
def pixabay() -> Iterator[PixabayStub]:
    with PixabayStub() as stub:
        yield stub


@pytest.fixture(scope="module")
def openai() -> Iterator[OpenAIStub]:
    with OpenAIStub(api_key="sk-test") as stub:
        yield stub


@pytest.fixture(autouse=True)
def _fresh(request: pytest.FixtureRequest) -> None:
    for name in ("pexels", "pixabay", "openai"):
        if name in request.fixturenames:
            request.getfixturevalue(name).reset()


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def _client(name: str, base_url: str, sleeps: Sleeps) -> ProviderClient:
    return ProviderClient(name, base_url, options=ClientOptions(retry=FAST, sleep=sleeps))


def _pexels(stub: PexelsStub, sleeps: Sleeps) -> ProviderClient:
    return _client("pexels", stub.url, sleeps)


def _pixabay(stub: PixabayStub, sleeps: Sleeps) -> ProviderClient:
    return _client("pixabay", stub.api_url, sleeps)


def _video_size(path: Path) -> tuple[int, int]:
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        frame = next(container.decode(stream))
        return int(frame.width), int(frame.height)


def _image_size(path: Path) -> tuple[int, int]:
    with Image.open(path) as img:
        img.load()
        return int(img.width), int(img.height)


def _find(
    source: object, settings: VideoSettings, out: Path, *, index: int = 0,
    scene: Scene = SCENE, size: tuple[int, int] | None = None,
) -> VisualAsset | None:  # fmt: skip
    find = source.find  # type: ignore[attr-defined]
    result: VisualAsset | None = find(scene, index, settings, size or settings.size, out)
    return result


# Pexels


@pytest.mark.parametrize(
    ("aspect", "orientation", "expected"),
    [
        (Aspect.LANDSCAPE, "landscape", (1280, 720)),
        (Aspect.PORTRAIT, "portrait", (720, 1280)),
        (Aspect.SQUARE, "square", (1080, 1080)),
    ],
)
def test_pexels_video_searches_by_aspect_and_downloads_the_best_mp4(
    pexels: PexelsStub, sleeps: Sleeps, tmp_path: Path,
    aspect: Aspect, orientation: str, expected: tuple[int, int],
) -> None:  # fmt: skip
    meter = Meter()
    source = PexelsVideos(_pexels(pexels, sleeps), pexels_stub.KEY, meter)
    asset = _find(source, VideoSettings(aspect=aspect), tmp_path)

    assert asset is not None and asset.is_video and asset.path.suffix == ".mp4"
    assert _video_size(asset.path) == expected  # smallest that covers, never 4K
    (search,) = pexels.server.matching("GET", "/videos/search")
    assert search.param("query") == "ocean waves"
    assert search.param("orientation") == orientation
    assert search.param("per_page") == "15" and search.param("page") == "1"
    assert search.headers["authorization"] == pexels_stub.KEY  # bare key, no "Bearer"
    (download,) = pexels.server.matching("GET", "/video-files/")
    assert "authorization" not in download.headers  # the key stays off the CDN
    assert asset.attribution is not None
    assert asset.attribution.source == "Pexels"
    assert asset.attribution.license == "Pexels License"
    assert asset.attribution.url.startswith("https://www.pexels.com/video/")
    assert asset.attribution.author in {v.user for v in pexels_stub.VIDEOS}
    assert [(c.provider, c.operation, c.units) for c in meter.calls] == [
        ("pexels", "search", {"requests": 1})
    ]


def test_pexels_photo_takes_the_variant_that_covers_the_still(
    pexels: PexelsStub, sleeps: Sleeps, tmp_path: Path
) -> None:
    settings = VideoSettings()
    size = still_size(settings.size)
    asset = _find(PexelsPhotos(_pexels(pexels, sleeps), pexels_stub.KEY), settings, tmp_path,
                  size=size)  # fmt: skip

    assert asset is not None and not asset.is_video
    width, height = _image_size(asset.path)
    assert width >= size[0] and height >= size[1]
    assert max(width, height) <= 1880  # large2x, not the multi-megapixel original
    (download,) = pexels.server.matching("GET", "/photos/")
    assert download.param("dpr") == "2"
    assert asset.attribution is not None
    assert asset.attribution.author in {p.photographer for p in pexels_stub.PHOTOS}
    assert asset.attribution.url.startswith("https://www.pexels.com/photo/")


def test_pexels_pick_is_stable_for_a_seed_and_varies_across_seeds(
    pexels: PexelsStub, sleeps: Sleeps, tmp_path: Path
) -> None:
    source = PexelsVideos(_pexels(pexels, sleeps), pexels_stub.KEY)
    first = _find(source, VideoSettings(seed=11), tmp_path / "a", index=2)
    again = _find(source, VideoSettings(seed=11), tmp_path / "b", index=2)
    assert first is not None and again is not None
    assert first.path.name == again.path.name
    assert first.path.read_bytes() == again.path.read_bytes()
    names = set()
    for seed in range(8):
        asset = _find(source, VideoSettings(seed=seed), tmp_path / f"s{seed}", index=2)
        assert asset is not None
        names.add(asset.path.name)
    assert len(names) > 1


def test_pexels_no_results_is_none(pexels: PexelsStub, sleeps: Sleeps, tmp_path: Path) -> None:
    source = PexelsPhotos(_pexels(pexels, sleeps), pexels_stub.KEY)
    assert _find(source, VideoSettings(), tmp_path, scene=NOTHING) is None
    assert pexels.server.count("GET") == 1  # the search only, no download


@pytest.mark.parametrize("key", ["wrong-key", ""])
def test_pexels_bad_key_is_invalid_input_without_retry(
    pexels: PexelsStub, sleeps: Sleeps, tmp_path: Path, key: str
) -> None:
    source = PexelsVideos(_pexels(pexels, sleeps), key)
    with pytest.raises(InvalidInput, match="pexels refused the API key"):
        _find(source, VideoSettings(), tmp_path)
    assert pexels.server.count("GET", "/videos/search") == 1
    assert sleeps == []


def test_pexels_429_waits_for_retry_after_then_succeeds(
    pexels: PexelsStub, sleeps: Sleeps, tmp_path: Path
) -> None:
    pexels.server.fail_next(
        "/v1/search", StubResponse(429, json={"error": "Rate limit"}, headers={"Retry-After": "2"})
    )
    asset = _find(PexelsPhotos(_pexels(pexels, sleeps), pexels_stub.KEY), VideoSettings(), tmp_path)
    assert asset is not None
    assert pexels.server.count("GET", "/v1/search") == 2
    assert sleeps == [2.0]


def test_pexels_500_every_time_is_provider_error(
    pexels: PexelsStub, sleeps: Sleeps, tmp_path: Path
) -> None:
    pexels.server.fail_next("/videos/search", *[StubResponse(500, json={"error": "boom"})] * 3)
    source = PexelsVideos(_pexels(pexels, sleeps), pexels_stub.KEY)
    with pytest.raises(ProviderError, match="pexels failed after 3 attempts"):
        _find(source, VideoSettings(), tmp_path)
    assert pexels.server.count("GET", "/videos/search") == 3
    assert len(sleeps) == 2


def test_pexels_stub_paginates(pexels: PexelsStub, sleeps: Sleeps) -> None:
    client = _pexels(pexels, sleeps)
    params = {"query": "sea", "per_page": 4, "page": 2}
    auth = {"Authorization": pexels_stub.KEY}
    body = client.request("GET", "/v1/search", params=params, headers=auth).json()
    assert body["page"] == 2 and body["per_page"] == 4
    assert len(body["photos"]) == len(pexels_stub.PHOTOS) - 4
    assert "next_page" not in body and "page=1" in body["prev_page"]


# Pixabay


@pytest.mark.parametrize(
    ("aspect", "orientation"),
    [(Aspect.LANDSCAPE, "horizontal"), (Aspect.PORTRAIT, "vertical"), (Aspect.SQUARE, "all")],
)
def test_pixabay_photo_request_shape_and_download(
    pixabay: PixabayStub, sleeps: Sleeps, tmp_path: Path, aspect: Aspect, orientation: str
) -> None:
    meter = Meter()
    settings = VideoSettings(aspect=aspect)
    source = PixabayPhotos(_pixabay(pixabay, sleeps), pixabay_stub.KEY, meter)
    asset = _find(source, settings, tmp_path, size=still_size(settings.size))

    assert asset is not None and not asset.is_video
    (search,) = pixabay.server.matching("GET", "/api/")
    assert search.param("key") == pixabay_stub.KEY
    assert search.param("q") == "ocean waves"
    assert search.param("orientation") == orientation
    assert search.param("image_type") == "photo" and search.param("safesearch") == "true"
    (download,) = pixabay.server.matching("GET", "/get/")
    assert download.path.endswith("_1280.jpg")  # largeImageURL beats the 640 px webformat
    width, height = _image_size(asset.path)
    assert max(width, height) == 1280
    assert asset.attribution is not None
    assert asset.attribution.license == "Pixabay Content License"
    assert asset.attribution.author in {i.user for i in pixabay_stub.IMAGES}
    assert asset.attribution.url.startswith("https://pixabay.com/photos/")
    assert meter.calls[0].provider == "pixabay" and meter.calls[0].units == {"requests": 1}


@pytest.mark.parametrize(
    ("aspect", "expected"), [(Aspect.LANDSCAPE, (1280, 720)), (Aspect.PORTRAIT, (720, 1280))]
)
def test_pixabay_video_picks_the_smallest_covering_mp4_of_the_right_shape(
    pixabay: PixabayStub, sleeps: Sleeps, tmp_path: Path,
    aspect: Aspect, expected: tuple[int, int],
) -> None:  # fmt: skip
    source = PixabayVideos(_pixabay(pixabay, sleeps), pixabay_stub.KEY)
    asset = _find(source, VideoSettings(aspect=aspect), tmp_path)

    assert asset is not None and asset.is_video
    assert _video_size(asset.path) == expected
    (search,) = pixabay.server.matching("GET", "/api/videos/")
    assert search.param("video_type") == "film" and search.param("orientation") is None
    assert asset.attribution is not None
    assert asset.attribution.url.startswith("https://pixabay.com/videos/")


def test_pixabay_no_results_is_none(pixabay: PixabayStub, sleeps: Sleeps, tmp_path: Path) -> None:
    source = PixabayVideos(_pixabay(pixabay, sleeps), pixabay_stub.KEY)
    assert _find(source, VideoSettings(), tmp_path, scene=NOTHING) is None


def test_pixabay_bad_key_is_invalid_input_and_never_shows_the_key(
    pixabay: PixabayStub, sleeps: Sleeps, tmp_path: Path
) -> None:
    secret = "98765432-deadbeefdeadbeefdeadbeef0"
    source = PixabayPhotos(_pixabay(pixabay, sleeps), secret)
    with pytest.raises(InvalidInput, match="Invalid API key") as raised:
        _find(source, VideoSettings(), tmp_path)
    assert secret not in str(raised.value) and secret not in repr(raised.value)
    assert pixabay.server.count("GET") == 1 and sleeps == []


def test_pixabay_key_is_scrubbed_when_the_server_echoes_it(
    pixabay: PixabayStub, sleeps: Sleeps, tmp_path: Path
) -> None:
    echo = f"[ERROR 400] bad request: /api/?key={pixabay_stub.KEY}&q=ocean"
    pixabay.server.fail_next("/api/", StubResponse(400, body=echo.encode()))
    pixabay.server.fail_next("/api/", *[StubResponse(503, body=echo.encode())] * 3)
    source = PixabayPhotos(_pixabay(pixabay, sleeps), pixabay_stub.KEY)
    with pytest.raises(InvalidInput) as bad:
        _find(source, VideoSettings(), tmp_path)
    with pytest.raises(ProviderError) as failed:
        _find(source, VideoSettings(), tmp_path)
    for exc in (bad.value, failed.value):
        assert pixabay_stub.KEY not in str(exc) and "key=***" in str(exc)
        assert exc.__cause__ is None  # no chained httpx error carrying the URL


def test_pixabay_key_is_masked_in_httpx_logs(
    pixabay: PixabayStub, sleeps: Sleeps, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="httpx")
    source = PixabayPhotos(_pixabay(pixabay, sleeps), pixabay_stub.KEY)
    assert _find(source, VideoSettings(), tmp_path) is not None
    assert "key=***" in caplog.text
    assert pixabay_stub.KEY not in caplog.text


# OpenAI Images


def _openai(stub: OpenAIStub, sleeps: Sleeps, key: str = "sk-test") -> OpenAIImages:
    client = _client("openai-images", stub.base_url, sleeps)
    return OpenAIImages(client, key, model="gpt-image-1", meter=METER)


METER = Meter()


@pytest.mark.parametrize(
    ("aspect", "size"),
    [(Aspect.LANDSCAPE, "1536x1024"), (Aspect.PORTRAIT, "1024x1536"), (Aspect.SQUARE, "1024x1024")],
)
def test_openai_images_generates_a_styled_still(
    openai: OpenAIStub, sleeps: Sleeps, tmp_path: Path, aspect: Aspect, size: str
) -> None:
    METER.calls.clear()
    source = _openai(openai, sleeps)
    settings = VideoSettings(aspect=aspect, visual_style=VisualStyle.NOIR)
    other = Scene(narration="The harbour wakes up. Boats leave.", headline="Morning")
    prompted = Scene(narration="x", visual=VisualSpec(prompt="A lighthouse in fog"))
    first = _find(source, settings, tmp_path, scene=prompted)
    second = _find(source, settings, tmp_path, scene=other, index=1)

    assert first is not None and second is not None and not first.is_video
    assert _image_size(first.path) == tuple(map(int, size.split("x")))
    request = openai.matching("POST", "/v1/images/generations")[0]
    assert request.headers["authorization"] == "Bearer sk-test"
    assert request.json() == {"model": "gpt-image-1", "prompt": openai.images[0].prompt,
                              "size": size, "n": 1}  # fmt: skip
    prompts = [call.prompt for call in openai.images]
    assert prompts[0].startswith("A lighthouse in fog.")
    assert prompts[1].startswith("Morning: The harbour wakes up. Boats leave")
    suffixes = {p.split(". Style: ", 1)[1] for p in prompts}
    assert len(suffixes) == 1 and "shadows" in suffixes.pop()  # one look for the video
    assert [(c.provider, c.operation, c.units) for c in METER.calls] == [
        ("openai-images", "generate", {"images": 1})
    ] * 2


def test_openai_images_downloads_a_url_without_sending_the_key(
    openai: OpenAIStub, pexels: PexelsStub, sleeps: Sleeps, tmp_path: Path
) -> None:
    photo = pexels_stub.PHOTOS[0].id
    url = f"{pexels.url}/photos/{photo}/pexels-photo-{photo}.jpeg?w=512&h=512"
    openai.fail_next("/v1/images", StubResponse(json={"created": 1, "data": [{"url": url}]}))
    asset = _find(_openai(openai, sleeps), VideoSettings(), tmp_path)
    assert asset is not None and asset.path.suffix == ".jpg"
    (download,) = pexels.server.matching("GET", "/photos/")
    assert "authorization" not in download.headers


def test_openai_images_bad_key_is_invalid_input(
    openai: OpenAIStub, sleeps: Sleeps, tmp_path: Path
) -> None:
    with pytest.raises(InvalidInput, match="openai-images refused the API key"):
        _find(_openai(openai, sleeps, key="sk-wrong"), VideoSettings(), tmp_path)
    assert openai.count("POST") == 1


def test_openai_images_garbage_is_provider_error(
    openai: OpenAIStub, sleeps: Sleeps, tmp_path: Path
) -> None:
    openai.fail_next("/v1/images", StubResponse(json={"data": [{"b64_json": "bm90IGFuIGltYWdl"}]}))
    with pytest.raises(ProviderError, match="not an image"):
        _find(_openai(openai, sleeps), VideoSettings(), tmp_path)


# The chain, built from settings values


def test_built_chain_finds_through_every_stub(
    pexels: PexelsStub, pixabay: PixabayStub, openai: OpenAIStub, tmp_path: Path
) -> None:
    meter = Meter()
    sources = build_visual_sources(
        ["pexels-video", "pixabay", "openai-images"],
        openai_key="sk-test", openai_base_url=openai.base_url, image_model="gpt-image-1",
        pexels_key=pexels_stub.KEY, pexels_base_url=pexels.url,
        pixabay_key=pixabay_stub.KEY, pixabay_base_url=pixabay.api_url,
        meter=meter, options=ClientOptions(timeout_s=10, max_concurrency=2),
    )  # fmt: skip
    assert [s.id for s in sources] == ["pexels-video", "pixabay", "openai-images"]
    for n, source in enumerate(sources):
        asset = source.find(SCENE, n, VideoSettings(), (1280, 720), tmp_path)
        assert asset is not None and asset.path.is_file()
    assert [c.provider for c in meter.calls] == ["pexels", "pixabay", "openai-images"]
