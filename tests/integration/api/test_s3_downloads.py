"""Renders published to a real S3 server (SeaweedFS) and downloaded through the API: a
redirect to a signed, expiring URL that honours Range like the local files do."""

from __future__ import annotations

import io
import time
import uuid

import av
import httpx
import pytest

from tests.support.seaweed import S3Endpoint

from .conftest import ClientFactory, new_project, sign_up

pytestmark = pytest.mark.slow


def test_a_render_on_s3_downloads_through_a_signed_url(
    make_client: ClientFactory, seaweed: S3Endpoint
) -> None:
    bucket = f"renders-{uuid.uuid4().hex[:8]}"
    client = make_client(
        workers=1,
        storage="s3",
        s3={
            "bucket": bucket, "endpoint_url": seaweed.url, "region": seaweed.region,
            "access_key_id": seaweed.access_key_id,
            "secret_access_key": seaweed.secret_access_key, "url_ttl_s": 60,
        },
    )  # fmt: skip
    headers = sign_up(client)
    settings = {"resolution": "480p", "target_duration_s": 10, "music": {"enabled": False}}
    project = new_project(client, headers, settings=settings)
    render = client.post(f"/api/v1/projects/{project['id']}/renders", headers=headers).json()
    deadline = time.monotonic() + 180
    while (status := client.get(f"/api/v1/renders/{render['id']}", headers=headers).json())[
        "status"
    ] in ("queued", "running"):
        assert time.monotonic() < deadline
        time.sleep(0.2)
    assert status["status"] == "succeeded", status

    redirect = client.get(status["links"]["video"], headers=headers, follow_redirects=False)
    assert redirect.status_code == 307
    signed = redirect.headers["location"]
    assert signed.startswith(seaweed.url) and "X-Amz-Signature" in signed
    video = httpx.get(signed)  # no API credentials: the signature is the permission
    assert video.status_code == 200 and video.headers["content-type"] == "video/mp4"
    with av.open(io.BytesIO(video.content)) as container:
        assert container.streams.video[0].codec_context.height == 480
    part = httpx.get(signed, headers={"Range": "bytes=0-99"})
    assert part.status_code == 206 and part.content == video.content[:100]
    tampered = signed.replace("X-Amz-Signature=", "X-Amz-Signature=0")
    assert httpx.get(tampered).status_code == 403

    saved = client.get(
        status["links"]["video"] + "&download=true", headers=headers, follow_redirects=False
    )
    attachment = httpx.get(saved.headers["location"])
    assert attachment.headers["content-disposition"].startswith("attachment")
    platform = client.app.state.platform  # type: ignore[attr-defined]
    assert not (platform.settings.data_dir / "renders" / render["id"]).exists()  # no local copy
