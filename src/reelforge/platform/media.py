"""What an uploaded file really is, learnt from its bytes (never its name or declared type).

Images are opened by Pillow, restricted to PNG, JPEG and WebP, with a pixel limit checked
from the header before any pixel is decoded (a decompression bomb is a tiny file that
inflates to gigabytes). Clips and songs are opened by PyAV with the container *forced*
from the file's magic bytes: letting FFmpeg probe would also run demuxers such as HLS or
concat, which read other files and URLs named inside the upload.

Accepted images are re-encoded (which drops EXIF, GPS and any trailing payload); every
accepted file has its first frame or picture decoded, so a corrupt one is refused here
rather than failing a render later.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import Any

import av
from PIL import Image, ImageOps, UnidentifiedImageError

from reelforge.errors import InvalidInput, UnsupportedMedia

MAX_IMAGE_PIXELS = 40_000_000
"""40 megapixels: any camera photo; decoded as RGBA it is at most 160 MB."""
THUMBNAIL_PX = 320
SNIFF_BYTES = 12
ACCEPTED = "PNG, JPEG or WebP images; MP4, MOV or WebM clips; MP3, WAV, OGG or M4A audio"


class MediaKind(StrEnum):
    IMAGE = "image"
    CLIP = "clip"
    AUDIO = "audio"


@dataclass(frozen=True, slots=True)
class Media:
    """An accepted upload: `path` is the file to store (re-encoded for an image)."""

    kind: MediaKind
    path: Path
    content_type: str
    extension: str
    thumbnail: Path | None
    width: int | None = None
    height: int | None = None
    duration_s: float | None = None
    codec: str | None = None


_IMAGES = {"PNG": ("image/png", ".png"), "JPEG": ("image/jpeg", ".jpg"),
           "WEBP": ("image/webp", ".webp")}  # fmt: skip
_SAVE_OPTIONS: dict[str, dict[str, Any]] = {"JPEG": {"quality": 95}, "WEBP": {"quality": 95}}
_WEBM_CODECS = {"vp8", "vp9", "av1", "vorbis", "opus"}


def inspect(source: Path, work: Path) -> Media:
    """Identify `source` and prepare what to store in the folder `work`.

    Raises:
        UnsupportedMedia: not an image, clip or song of the accepted formats.
        InvalidInput: one of those, but corrupt or over the pixel limit.
    """
    image = _open_image(source)
    if image is not None:
        with image:
            return _image(image, work)
    container = _container_format(source)
    if container is None:
        raise UnsupportedMedia(f"this file is not one we take ({ACCEPTED})", field="file")
    return _media(source, container, work)


def _open_image(source: Path) -> Image.Image | None:
    try:
        with warnings.catch_warnings():  # the pixel limit is ours (below), and lower
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            image = Image.open(source, formats=list(_IMAGES))
    except UnidentifiedImageError:
        return None
    except Image.DecompressionBombError as exc:
        raise _too_many_pixels() from exc
    width, height = image.size
    if width * height > MAX_IMAGE_PIXELS:
        image.close()
        raise _too_many_pixels(f" ({width}×{height})")
    return image


def _too_many_pixels(size: str = "") -> InvalidInput:
    return InvalidInput(
        f"this image has too many pixels{size}: the limit is {MAX_IMAGE_PIXELS / 1e6:g} megapixels",
        field="file",
    )


def _image(image: Image.Image, work: Path) -> Media:
    fmt = image.format or ""
    content_type, extension = _IMAGES[fmt]
    try:
        image.load()
        upright = ImageOps.exif_transpose(image)
    except (OSError, SyntaxError, ValueError) as exc:
        raise InvalidInput(f"this {fmt} image is corrupt: {exc}", field="file") from exc
    if fmt == "JPEG" and upright.mode not in ("L", "RGB", "CMYK"):
        upright = upright.convert("RGB")
    if fmt == "WEBP" and upright.mode not in ("RGB", "RGBA"):
        upright = upright.convert("RGBA")
    clean = work / f"clean{extension}"
    # No `exif=` and no text chunks: the copy keeps pixels (and the colour profile) only.
    profile = image.info.get("icc_profile")
    upright.save(clean, fmt, icc_profile=profile, **_SAVE_OPTIONS.get(fmt, {}))
    return Media(
        MediaKind.IMAGE, clean, content_type, extension, _thumbnail(upright, work),
        width=upright.width, height=upright.height, codec=fmt.lower(),
    )  # fmt: skip


def _thumbnail(image: Image.Image, work: Path) -> Path:
    small = image.convert("RGB")
    small.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    path = work / "thumbnail.jpg"
    small.save(path, "JPEG", quality=85)
    return path


def _container_format(source: Path) -> str | None:
    """The FFmpeg demuxer the file's first bytes call for, or None."""
    with source.open("rb") as file:
        head = file.read(SNIFF_BYTES)
    if head[4:8] == b"ftyp":
        return "mov"
    if head.startswith(b"\x1a\x45\xdf\xa3"):
        return "matroska"
    if head.startswith(b"OggS"):
        return "ogg"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "wav"
    if head.startswith(b"ID3") or (len(head) > 1 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0):
        return "mp3"
    return None


def _media(source: Path, container: str, work: Path) -> Media:
    try:
        with av.open(str(source), format=container) as media:
            video = media.streams.video[0] if media.streams.video else None
            audio = media.streams.audio[0] if media.streams.audio else None
            if video is None and audio is None:
                raise UnsupportedMedia("this file holds no video or audio", field="file")
            if video and video.codec_context.width * video.codec_context.height > MAX_IMAGE_PIXELS:
                raise _too_many_pixels()  # before a frame that size is decoded
            stream = video or audio
            assert stream is not None
            codec = stream.codec_context.codec.canonical_name  # `mp3`, not the decoder `mp3float`
            content_type, extension = _media_type(container, source, video is not None, codec)
            first = next(media.decode(stream), None)
            if first is None:
                raise InvalidInput("this file has no frame that decodes", field="file")
            thumbnail = None
            if isinstance(first, av.VideoFrame):
                thumbnail = _thumbnail(first.to_image(), work)  # type: ignore[no-untyped-call]
            duration_s = _duration_s(media)
    except av.FFmpegError as exc:
        raise InvalidInput(f"this file is corrupt: {exc}", field="file") from exc
    return Media(
        MediaKind.CLIP if video is not None else MediaKind.AUDIO, source, content_type,
        extension, thumbnail,
        width=video.codec_context.width if video else None,
        height=video.codec_context.height if video else None,
        duration_s=duration_s, codec=codec,
    )  # fmt: skip


def _media_type(container: str, source: Path, has_video: bool, codec: str) -> tuple[str, str]:
    if container == "mov":
        with source.open("rb") as file:
            brand = file.read(SNIFF_BYTES)[8:12]
        if not has_video:
            return "audio/mp4", ".m4a"
        return ("video/quicktime", ".mov") if brand == b"qt  " else ("video/mp4", ".mp4")
    if container == "matroska":
        if codec not in _WEBM_CODECS:
            raise UnsupportedMedia(f"a Matroska file with {codec} is not WebM", field="file")
        return ("video/webm", ".webm") if has_video else ("audio/webm", ".webm")
    if has_video:
        raise UnsupportedMedia(f"video in {container} is not taken ({ACCEPTED})", field="file")
    return {"ogg": ("audio/ogg", ".ogg"), "wav": ("audio/wav", ".wav"),
            "mp3": ("audio/mpeg", ".mp3")}[container]  # fmt: skip


def _duration_s(media: Any) -> float:
    """The container's duration; if it does not say, the end of its last packet."""
    if media.duration is not None:
        return float(media.duration / av.time_base)
    end = 0.0
    media.seek(0)
    for packet in media.demux():
        if packet.pts is not None and packet.time_base is not None:
            end = max(end, float((packet.pts + (packet.duration or 0)) * packet.time_base))
    return end
