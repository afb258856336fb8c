"""The admin webhook: a failed POST is logged without the URL (its path is the secret)."""

from __future__ import annotations

import logging
import socket
from uuid import uuid4

import pytest

from reelforge.jobs.alerts import WebhookAlert
from tests.support.stubs.base import StubResponse, StubServer

TOKEN = "T000/B000/XXXXsecretXXXX"


def test_a_failing_webhook_is_logged_without_its_secret_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def broken(request: object, match: object) -> StubResponse:
        return StubResponse(500, json={"error": "down"})

    with StubServer({("POST", r"/services/.*"): broken}) as stub:
        alert = WebhookAlert(f"{stub.url}/services/{TOKEN}?key=hunter2")
        with caplog.at_level(logging.WARNING, logger="reelforge.jobs.alerts"):
            alert(uuid4(), "disk full", "compose").join(10)
        assert stub.count() == 1
    [record] = caplog.records
    assert "admin webhook http://127.0.0.1:" in record.getMessage()
    assert "500" in record.getMessage()
    assert TOKEN not in caplog.text and "hunter2" not in caplog.text
    assert TOKEN not in repr(alert)


def test_an_unreachable_webhook_is_logged_without_its_secret_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    alert = WebhookAlert(f"http://user:pw@127.0.0.1:{port}/hooks/{TOKEN}")
    with caplog.at_level(logging.WARNING, logger="reelforge.jobs.alerts"):
        alert(uuid4(), "disk full", "compose").join(10)
    assert f"admin webhook http://127.0.0.1:{port}/…" in caplog.text
    assert TOKEN not in caplog.text and "pw@" not in caplog.text
