"""What an upload is, judged by its bytes: the formats taken, what is refused and why, and
what is stripped from images."""

from __future__ import annotations

import subprocess
from pathlib import Path

import imageio_ffmpeg
import pytest
from PIL import Image

from reelforge.errors import InvalidInput, UnsupportedMedia
from reelforge.platform.media import THUMBNAIL_PX, MediaKind, inspect
from tests.support.media import solid_clip, solid_image, tone


@pytest.mark.parametrize(
    ("name", "kind", "content_type", "codec"),
    [
        ("a.png", MediaKind.IMAGE, "image/png", "png"),
        ("a.jpg", MediaKind.IMAGE, "image/jpeg", "jpeg"),
        ("a.webp", MediaKind.IMAGE, "image/webp", "webp"),
        ("a.mp4", MediaKind.CLIP, "video/mp4", "h264"),
        ("a.mov", MediaKind.CLIP, "video/quicktime", "h264"),
        ("a.webm", MediaKind.CLIP, "video/webm", "vp9"),
        ("a.mp3", MediaKind.AUDIO, "audio/mpeg", "mp3"),
        ("a.wav", MediaKind.AUDIO, "audio/wav", "pcm_s16le"),
        ("a.ogg", MediaKind.AUDIO, "audio/ogg", "vorbis"),
        ("a.m4a", MediaKind.AUDIO, "audio/mp4", "aac"),
    ],
)
def test_each_format_we_take_is_recognised_whatever_its_name(
    tmp_path: Path, name: str, kind: MediaKind, content_type: str, codec: str
) -> None:
    source = tmp_path / name
    if kind is MediaKind.IMAGE:
        solid_image(source, (10, 20, 30))
    elif kind is MediaKind.CLIP:
        solid_clip(source, (10, 20, 30), 1.0)
    else:
        tone(source, 1.0)
    renamed = source.rename(tmp_path / "upload.bin")  # the name says nothing
    media = inspect(renamed, tmp_path)
    assert (media.kind, media.content_type, media.codec) == (kind, content_type, codec)
    if kind is MediaKind.AUDIO:
        assert media.thumbnail is None and media.width is None
        assert media.duration_s == pytest.approx(1.0, abs=0.1)
    else:
        assert media.thumbnail is not None and (media.width, media.height) == (64, 48)
        with Image.open(media.thumbnail) as thumbnail:
            assert max(thumbnail.size) <= THUMBNAIL_PX


def test_images_are_turned_upright_and_lose_exif_gps_and_trailing_bytes(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6  # Orientation: rotate 90° to show
    exif[0x8825] = {2: (48.0, 51.0, 24.0)}  # GPSInfo
    photo = solid_image(tmp_path / "photo.jpg", (200, 200, 200), (80, 40), exif=exif)
    photo.write_bytes(photo.read_bytes() + b"<?php system($_GET['c']); ?>")
    media = inspect(photo, tmp_path)
    assert (media.width, media.height) == (40, 80)
    assert b"<?php" not in media.path.read_bytes()
    with Image.open(media.path) as clean:
        assert clean.size == (40, 80) and not clean.getexif()


@pytest.mark.parametrize(
    "content",
    [
        b"",
        b"\x7fELF\x02\x01\x01" + bytes(100),
        b"MZ\x90\x00" + bytes(100),
        b"%PDF-1.7\n" + bytes(100),
        b"#EXTM3U\n#EXTINF:1,\nfile:///etc/passwd\n",  # HLS would read the files it names
        b"ffconcat version 1.0\nfile /etc/passwd\n",
        b"GIF89a" + bytes(100),  # an image, but not a format we take
    ],
    ids=["empty", "elf", "exe", "pdf", "hls", "concat", "gif"],
)
def test_anything_else_is_unsupported(tmp_path: Path, content: bytes) -> None:
    upload = tmp_path / "upload.png"
    upload.write_bytes(content)
    with pytest.raises(UnsupportedMedia):
        inspect(upload, tmp_path)


def test_matroska_that_is_not_webm_is_unsupported(tmp_path: Path) -> None:
    clip = solid_clip(tmp_path / "a.mp4", (1, 2, 3), 1.0)
    mkv = tmp_path / "a.mkv"
    subprocess.run(
        [imageio_ffmpeg.get_ffmpeg_exe(), "-loglevel", "error", "-i", str(clip), "-c", "copy",
         str(mkv)],
        check=True,
    )  # fmt: skip
    with pytest.raises(UnsupportedMedia, match="not WebM"):
        inspect(mkv, tmp_path)


def test_corrupt_media_and_decompression_bombs_are_invalid(tmp_path: Path) -> None:
    clip = solid_clip(tmp_path / "a.mp4", (1, 2, 3), 1.0)
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(clip.read_bytes()[:64] + bytes(500))
    with pytest.raises(InvalidInput):
        inspect(broken, tmp_path)
    huge = solid_clip(tmp_path / "huge.mp4", (1, 2, 3), 0.1, (8000, 6000))  # 48 megapixels
    with pytest.raises(InvalidInput, match="too many pixels"):
        inspect(huge, tmp_path)
    bomb = tmp_path / "bomb.png"
    Image.new("1", (20_000, 20_000)).save(bomb)
    with pytest.raises(InvalidInput, match="too many pixels"):
        inspect(bomb, tmp_path)
