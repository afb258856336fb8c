"""Sharing in a real Chromium: the owner shares a project with a second user as viewer and
makes a public link; the viewer accepts, sees the project marked as shared and cannot edit
it; a visitor who is not signed in plays the public link until it is revoked."""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.browser import check_page
from tests.e2e.conftest import Api, sign_in, wait_for

pytestmark = pytest.mark.slow


def test_share_with_a_viewer_who_sees_but_cannot_edit_and_a_public_link(
    web_server: str, new_page: Any, api: Api
) -> None:
    project = api.project(name="Shared tides")
    board = {"scenes": [{"narration": "Tides rise twice a day."}, {"narration": "The moon pulls."}]}
    assert api.http.put(f"/projects/{project['id']}/storyboard", json=board).status_code == 200
    api.render(project["id"])
    viewer = Api(web_server)

    # The owner shares the project from the editor: a viewer, then a public link.
    owner_page = new_page()
    sign_in(owner_page, web_server, api.email)
    owner_page.goto(f"{web_server}/projects/{project['id']}")
    owner_page.get_by_role("button", name="Share").click()
    dialog = owner_page.get_by_role("dialog")
    dialog.get_by_label("Invite by email").fill(viewer.email)
    dialog.get_by_label("Role").select_option("viewer")  # no member listed yet
    dialog.get_by_role("button", name="Invite").click()
    dialog.get_by_role("list", name="Members").get_by_text(viewer.email).wait_for()
    dialog.get_by_role("button", name="Create link").click()
    link = dialog.get_by_role("textbox", name="Public link")
    link.wait_for()
    public_url = link.input_value()
    assert "/s/rfs_" in public_url
    check_page(owner_page, "share-dialog", phone_too=False)

    # The viewer accepts on their dashboard; the project shows up marked as shared.
    page = new_page()
    sign_in(page, web_server, viewer.email)
    invitations = page.get_by_role("region", name="Invitations")
    assert "Shared tides" in invitations.inner_text()
    invitations.get_by_role("button", name="Accept").click()
    page.get_by_role("list", name="Projects").get_by_text("Shared · viewer").wait_for()
    check_page(page, "dashboard-shared", phone_too=False)

    # ...opens it read-only: the storyboard shows, nothing in it can be changed.
    page.get_by_role("link", name="Shared tides").click()
    page.get_by_text("Shared with you as a viewer").wait_for()
    narration = page.get_by_label("Narration of scene 1")
    narration.wait_for()
    assert narration.is_disabled()
    assert page.get_by_role("button", name="Save", exact=True).count() == 0
    assert page.get_by_role("button", name="Re-render").count() == 0
    assert page.get_by_role("button", name="Share").count() == 0
    # Viewers may comment, and the feed says who shared it.
    page.get_by_role("textbox", name="Comment").fill("Lovely pacing.")
    page.get_by_role("button", name="Post comment").click()
    page.get_by_role("list", name="Comments").get_by_text("Lovely pacing.").wait_for()
    assert "invited" in page.get_by_role("list", name="Activity").inner_text()
    check_page(page, "editor-viewer", phone_too=False)
    # The API agrees: the viewer sees it and cannot write it.
    assert viewer.http.get(f"/projects/{project['id']}").json()["role"] == "viewer"
    mine = {"scenes": [{"narration": "Mine now."}]}
    assert viewer.http.put(f"/projects/{project['id']}/storyboard", json=mine).status_code == 403

    # A visitor with no account plays the public link...
    visitor = new_page()
    visitor.goto(public_url)
    video = visitor.locator("video")
    video.wait_for()
    wait_for(lambda: visitor.evaluate("document.querySelector('video').readyState >= 1"), 30)
    assert visitor.evaluate("document.querySelector('video').duration") > 1
    check_page(visitor, "shared-player", phone_too=False)

    # ...until the owner revokes it.
    owner_page.get_by_role("list", name="Public links").get_by_role("button", name="Revoke").click()
    owner_page.get_by_role("list", name="Public links").get_by_text("revoked").wait_for()
    visitor.goto(public_url)
    visitor.get_by_role("heading", name="This link does not work").wait_for()
    assert not (page.js_errors or owner_page.js_errors or visitor.js_errors)
