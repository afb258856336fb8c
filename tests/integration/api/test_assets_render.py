"""Uploaded assets in a real render, stored on a real S3 server (SeaweedFS): an image and a
clip as scene visuals, a song as the music bed and a logo as the watermark each show up
in the video (frame colours, the song's pitch in the audio); a refused upload leaves the
bucket empty; an asset deleted after submit fails the render with an input error."""

from __future__ import annotations

import io
import time
import uuid
from pathlib import Path
from typing import Any

import av
import boto3
import httpx
import numpy as np
import pytest
from fastapi.testclient import TestClient

from tests.support.media import solid_clip, solid_image, tone
from tests.support.seaweed import S3Endpoint

from .conftest import ClientFactory, new_project, sign_up
from .test_assets import _bomb_png, _corrupt_png, upload, uploaded

pytestmark = pytest.mark.slow

RED, BLUE, GREEN = (230, 20, 20), (20, 20, 230), (20, 230, 20)
SONG_HZ = 2500
SCENE_S = 5.0


def s3_client(make_client: ClientFactory, seaweed: S3Endpoint, bucket: str) -> TestClient:
    return make_client(
        workers=1,
        storage="s3",
        s3={
            "bucket": bucket, "endpoint_url": seaweed.url, "region": seaweed.region,
            "access_key_id": seaweed.access_key_id,
            "secret_access_key": seaweed.secret_access_key, "url_ttl_s": 60,
        },
    )  # fmt: skip


def bucket_keys(seaweed: S3Endpoint, bucket: str) -> list[str]:
    s3 = boto3.client(
        "s3", endpoint_url=seaweed.url, region_name=seaweed.region,
        aws_access_key_id=seaweed.access_key_id,
        aws_secret_access_key=seaweed.secret_access_key,
    )  # fmt: skip
    try:
        listed = s3.list_objects_v2(Bucket=bucket)
    except s3.exceptions.NoSuchBucket:
        return []
    return [item["Key"] for item in listed.get("Contents", [])]


def finished(client: TestClient, headers: dict[str, str], render_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 240
    while True:
        status: dict[str, Any] = client.get(f"/api/v1/renders/{render_id}", headers=headers).json()
        if status["status"] not in ("queued", "running"):
            return status
        assert time.monotonic() < deadline, status
        time.sleep(0.3)


def frame_at(video: bytes, t: float) -> np.ndarray[Any, Any]:
    with av.open(io.BytesIO(video)) as container:
        stream = container.streams.video[0]
        for frame in container.decode(stream):
            if frame.time is not None and frame.time >= t:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"no frame at {t} s")


def close(pixel: np.ndarray[Any, Any], color: tuple[int, int, int]) -> bool:
    return bool(np.all(np.abs(pixel.astype(int) - np.array(color)) < 45))


def tone_share(video: bytes, hz: int) -> float:
    """The share of the audio's energy within 20 Hz of `hz`."""
    with av.open(io.BytesIO(video)) as container:
        samples = np.concatenate(
            [f.to_ndarray().mean(axis=0) for f in container.decode(container.streams.audio[0])]
        )
        rate = container.streams.audio[0].rate
    power = np.abs(np.fft.rfft(samples)) ** 2
    freqs = np.fft.rfftfreq(len(samples), 1 / rate)
    return float(power[np.abs(freqs - hz) < 20].sum() / power.sum())


def test_an_image_a_clip_a_song_and_a_logo_show_up_in_the_render(
    make_client: ClientFactory, seaweed: S3Endpoint, tmp_path: Path
) -> None:
    bucket = f"assets-{uuid.uuid4().hex[:8]}"
    client = s3_client(make_client, seaweed, bucket)
    headers = sign_up(client)
    image = uploaded(client, headers, solid_image(tmp_path / "red.png", RED, (320, 180)))
    clip = uploaded(client, headers, solid_clip(tmp_path / "blue.mp4", BLUE, 2.0, (320, 180)))
    song = uploaded(client, headers, tone(tmp_path / "song.mp3", 4.0, SONG_HZ))
    logo = uploaded(client, headers, solid_image(tmp_path / "logo.png", GREEN, (64, 32)))
    assert all(key.startswith("assets/") for key in bucket_keys(seaweed, bucket))

    storyboard = {
        "settings": {
            "resolution": "480p", "target_duration_s": 10, "captions": {"enabled": False},
            "music": {"asset_id": song["id"], "volume": 1.0},
            "watermark": {"asset_id": logo["id"], "position": "top-left", "size": 0.2,
                          "opacity": 1.0},
        },
        "scenes": [
            {"narration": "A red picture.", "duration_s": SCENE_S, "transition": "cut",
             "visual": {"kind": "file", "asset_id": image["id"]}},
            {"narration": "A blue clip.", "duration_s": SCENE_S, "transition": "cut",
             "visual": {"kind": "file", "asset_id": clip["id"]}},
        ],
    }  # fmt: skip
    project = new_project(client, headers)
    saved = client.put(
        f"/api/v1/projects/{project['id']}/storyboard", json=storyboard, headers=headers
    )
    assert saved.status_code == 200, saved.text
    render = client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers).json()
    status = finished(client, headers, render["id"])
    assert status["status"] == "succeeded", status
    assert status["duration_s"] == pytest.approx(2 * SCENE_S, abs=0.5)

    link = client.get(status["links"]["video"], headers=headers, follow_redirects=False)
    video = httpx.get(link.headers["location"]).content
    with av.open(io.BytesIO(video)) as container:
        assert container.streams.audio, "the video has no audio"
        height = container.streams.video[0].codec_context.height
    assert height == 480
    first, second = frame_at(video, SCENE_S / 2), frame_at(video, SCENE_S * 1.5)
    assert close(first[300, 600], RED), first[300, 600]
    assert close(second[300, 600], BLUE), second[300, 600]
    # The logo: 20% of 854 px wide, 3% of 480 px in from the top-left corner.
    assert close(first[14 + 10, 14 + 80], GREEN), first[24, 94]
    assert close(second[14 + 10, 14 + 80], GREEN)
    assert not close(first[300, 600], GREEN)
    assert tone_share(video, SONG_HZ) > 0.05  # the song is in the mix

    # Deleting the song now leaves the finished render as it was.
    deleted = client.delete(f"/api/v1/assets/{song['id']}?force=true", headers=headers)
    assert deleted.status_code == 204
    again = client.get(status["links"]["video"], headers=headers, follow_redirects=False)
    assert httpx.get(again.headers["location"]).content == video
    assert not any(song["id"] in key for key in bucket_keys(seaweed, bucket))


def _windows_executable(path: Path) -> Path:
    path.write_bytes(b"MZ\x90\x00" + bytes(500))
    return path


@pytest.mark.parametrize(
    ("make", "status"),
    [(_windows_executable, 415), (_corrupt_png, 422), (_bomb_png, 422)],
    ids=["renamed-executable", "corrupt-image", "bomb-png"],
)
def test_refused_uploads_leave_the_bucket_empty(
    make_client: ClientFactory, seaweed: S3Endpoint, tmp_path: Path, make: Any, status: int
) -> None:
    bucket = f"assets-{uuid.uuid4().hex[:8]}"
    client = s3_client(make_client, seaweed, bucket)
    headers = sign_up(client)
    uploaded(client, headers, solid_image(tmp_path / "kept.png", GREEN))  # the bucket exists
    kept = bucket_keys(seaweed, bucket)
    response = upload(client, headers, make(tmp_path / "upload.png"), content_type="image/png")
    assert response.status_code == status
    assert response.headers["content-type"] == "application/problem+json"
    assert bucket_keys(seaweed, bucket) == kept


def test_a_render_whose_asset_was_deleted_after_submit_fails_as_an_input_error(
    make_client: ClientFactory, seaweed: S3Endpoint, tmp_path: Path
) -> None:
    bucket = f"assets-{uuid.uuid4().hex[:8]}"
    client = s3_client(make_client, seaweed, bucket)
    headers = sign_up(client)
    song = uploaded(client, headers, tone(tmp_path / "song.wav", 2.0))
    project = new_project(
        client, headers,
        settings={"resolution": "480p", "target_duration_s": 10,
                  "music": {"asset_id": song["id"]}},
    )  # fmt: skip
    # Delete the blob behind the API's back, as a delete racing the worker would.
    for key in bucket_keys(seaweed, bucket):
        boto3.client(
            "s3", endpoint_url=seaweed.url, region_name=seaweed.region,
            aws_access_key_id=seaweed.access_key_id,
            aws_secret_access_key=seaweed.secret_access_key,
        ).delete_object(Bucket=bucket, Key=key)  # fmt: skip
    render = client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers).json()
    status = finished(client, headers, render["id"])
    assert status["status"] == "failed"
    assert status["error"]["error_class"] == "validation"
    assert song["id"] in status["error"]["message"]
