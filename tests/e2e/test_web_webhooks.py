"""The Webhooks page in a real Chromium: a private-address URL refused on its field, an
endpoint registered with its secret shown once, its delivery log (a failed first attempt,
then a redelivery by hand that succeeds), pausing it, a new secret, and deleting it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from reelforge.security.webhooks import verify_webhook
from tests.e2e.browser import SCREENSHOTS, check_page
from tests.e2e.conftest import Api, serve, sign_in
from tests.support.stubs.base import StubResponse, StubServer

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def hooks_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """`reelforge serve` whose operator allows private webhook URLs (the receiver listens on
    127.0.0.1), with retries an hour apart: a failed delivery waits for the user."""
    yield from serve(
        tmp_path_factory.mktemp("web-hooks"),
        REELFORGE_WEBHOOKS__ALLOW_PRIVATE="true",
        REELFORGE_WEBHOOKS__BASE_DELAY_S="3600",
        REELFORGE_WEBHOOKS__POLL_S="0.2",
    )


@pytest.fixture
def receiver() -> Iterator[StubServer]:
    with StubServer({("POST", r"/hook"): lambda request, match: StubResponse(200)}) as stub:
        yield stub


def open_webhooks(page: Any, base: str, email: str) -> None:
    sign_in(page, base, email)
    page.get_by_role("link", name="Webhooks").click()
    page.get_by_role("heading", name="Webhooks", exact=True).wait_for()


def test_a_private_address_is_refused_on_the_url_field(
    web_server: str, new_page: Any, api: Api
) -> None:
    """The default operator setting: loopback, link-local and private URLs are refused (422)."""
    page = new_page()
    open_webhooks(page, web_server, api.email)
    url = page.get_by_label("Endpoint URL")
    url.fill("http://127.0.0.1:9/hook")
    page.get_by_role("button", name="Add endpoint").click()
    error = page.locator("#hook-url-error")
    error.wait_for()
    assert "private, loopback or link-local" in error.inner_text()
    assert url.get_attribute("aria-invalid") == "true"
    assert "hook-url-error" in (url.get_attribute("aria-describedby") or "")
    assert page.locator(".banner.bad").count() == 0  # on the field, not a page banner
    assert page.get_by_text("No endpoint yet.").is_visible()
    assert api.http.get("/webhooks").json() == []


def test_register_read_the_delivery_log_redeliver_and_delete(
    hooks_server: str,
    new_page: Any,
    receiver: StubServer,
) -> None:
    api = Api(hooks_server)
    page = new_page()
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=hooks_server)
    open_webhooks(page, hooks_server, api.email)
    hook_url = receiver.url + "/hook"
    page.get_by_label("Endpoint URL").fill(hook_url)
    page.get_by_label("A render was canceled").check()
    page.get_by_role("button", name="Add endpoint").click()

    secret_box = page.get_by_role("textbox", name="Signing secret")
    secret_box.wait_for()
    secret = secret_box.input_value()
    assert secret.startswith("whsec_")
    page.get_by_role("button", name="Copy", exact=True).click()
    page.get_by_role("button", name="Copied").wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret
    endpoints = page.get_by_role("list", name="Endpoints")
    assert hook_url in endpoints.inner_text()
    page.get_by_role("button", name="I have saved it").click()
    assert secret_box.count() == 0  # shown once: gone for good
    assert "secret" not in api.http.get("/webhooks").json()[0]

    receiver.fail_next("/hook", StubResponse(500, body=b"receiver down"))
    project = api.project()
    render = api.http.post(f"/projects/{project['id']}/renders").json()
    assert api.http.post(f"/renders/{render['id']}/cancel").status_code in (200, 202)

    page.get_by_role("button", name="Delivery log").click()
    log = page.get_by_role("table", name=f"Deliveries to {hook_url}")
    row = log.locator("tbody tr").first
    row.locator("td.response", has_text="500").wait_for()
    assert "render.canceled" in row.inner_text()
    assert row.locator("td").nth(2).inner_text().startswith("Pending, next try")
    first = receiver.matching("POST", "/hook")[0]
    verify_webhook(secret, first.headers, first.body)  # the secret the page showed signs it

    row.get_by_role("button", name="Redeliver").click()
    page.get_by_role("status").filter(has_text="being sent again").wait_for()
    row.locator("td", has_text=re.compile(r"^Delivered$")).wait_for()
    assert row.locator("td.response").inner_text() == "200"
    row.locator("summary", has_text="2").click()
    attempts = row.locator("ol.attempts li")
    assert [attempts.nth(i).inner_text().split(": ")[1][:3] for i in range(2)] == ["500", "200"]
    assert receiver.count("POST", "/hook") == 2
    again = receiver.matching("POST", "/hook")[1]
    assert again.headers["webhook-id"] == first.headers["webhook-id"]
    verify_webhook(secret, again.headers, again.body)
    check_page(page, "webhooks")
    endpoints.screenshot(path=SCREENSHOTS / "webhooks-log-light-desktop.png")  # for the README

    page.get_by_role("button", name=f"Pause {hook_url}").click()
    endpoints.get_by_text("paused: nothing is sent").wait_for()
    assert api.http.get("/webhooks").json()[0]["enabled"] is False
    page.get_by_role("button", name=f"New secret for {hook_url}").click()
    page.get_by_text("The previous secret no longer signs anything.").wait_for()
    rotated = page.get_by_role("textbox", name="Signing secret").input_value()
    assert rotated.startswith("whsec_") and rotated != secret

    page.get_by_role("button", name=f"Delete {hook_url}").click()
    page.get_by_role("button", name="Delete this endpoint").click()
    page.get_by_text("No endpoint yet.").wait_for()
    assert api.http.get("/webhooks").json() == []
