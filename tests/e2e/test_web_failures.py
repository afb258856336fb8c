"""The render view when things do not go to plan: waiting in the queue, cancel, retry, and a
failure explained in plain words with the stage it stopped at."""

from __future__ import annotations

import re
import sqlite3
from typing import Any

import pytest

from tests.e2e.browser import check_page
from tests.e2e.conftest import DATA_DIRS, Api, sign_in, wait_for

pytestmark = pytest.mark.slow
LONG = {
    "scenes": [
        {"narration": f"Scene {n} of a long video.", "duration_s": 10.0} for n in range(1, 7)
    ],
    "settings": {"resolution": "720p", "target_duration_s": 60},
}


def test_queue_position_cancel_retry_and_a_failure_in_plain_words(
    web_server: str, new_page: Any, api: Api
) -> None:
    project = api.project(name="Long one")
    assert api.http.put(f"/projects/{project['id']}/storyboard", json=LONG).is_success
    running = api.http.post(f"/projects/{project['id']}/renders").json()
    waiting = api.http.post(f"/projects/{project['id']}/renders").json()  # free plan: 1 at once

    page = new_page()
    sign_in(page, web_server, api.email)
    page.goto(f"{web_server}/renders/{waiting['id']}")
    page.get_by_role("heading", name="Waiting to start").wait_for()
    assert page.get_by_text(re.compile(r"Position in queue: \d")).is_visible()
    check_page(page, "render-queued")
    page.get_by_role("button", name="Cancel render").click()
    page.get_by_role("heading", name="This render was canceled").wait_for()

    # Cancel the running one from its page too; then retry it.
    page.goto(f"{web_server}/renders/{running['id']}")
    page.get_by_role("button", name="Cancel render").click()
    page.get_by_role("heading", name="This render was canceled").wait_for(timeout=60_000)
    page.get_by_role("button", name="Retry").click()
    page.wait_for_url(lambda url: running["id"] not in url and "/renders/" in url)
    retried = page.url.rsplit("/", 1)[1]
    page.get_by_role("button", name="Cancel render").click()  # keep the worker free
    page.get_by_role("heading", name="This render was canceled").wait_for(timeout=60_000)

    # A render that failed at the voice stage (written as the worker records one).
    with sqlite3.connect(DATA_DIRS[web_server] / "reelforge.db") as db:
        db.execute(
            "UPDATE render_jobs SET state = 'failed', error_class = 'provider', "
            "error_stage = 'voice', error_message = 'the voice service timed out' WHERE id = ?",
            (waiting["id"].replace("-", ""),),
        )
        assert db.total_changes == 1
    page.goto(f"{web_server}/renders/{waiting['id']}")
    page.get_by_role("heading", name="This render failed").wait_for()
    text = page.locator(".failure").inner_text()
    assert "kept failing" in text and "the voice service timed out" in text
    assert "recording the voice" in text  # the stage, in words
    check_page(page, "render-failed")
    page.get_by_role("button", name="Retry").click()
    page.wait_for_url(lambda url: waiting["id"] not in url)
    assert retried not in page.url
    again = page.url.rsplit("/", 1)[1]
    assert api.http.get(f"/renders/{again}").json()["status"] in ("queued", "running")
    api.http.post(f"/renders/{again}/cancel")
    wait_for(lambda: api.http.get(f"/renders/{again}").json()["status"] == "canceled")
