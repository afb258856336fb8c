"""The create flow's template gallery in a real Chromium: previews load, picking a template
fills the settings, and the project is made from it (and records which version)."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.browser import check_page
from tests.e2e.conftest import Api, sign_in
from tests.e2e.test_web import PROMPT

pytestmark = pytest.mark.slow


def test_pick_a_template_in_the_gallery_and_submit(
    web_server: str, new_page: Any, api: Api
) -> None:
    page = new_page()
    sign_in(page, web_server, api.email)
    page.get_by_role("link", name="New project").first.click()
    gallery = page.get_by_role("radiogroup", name="Template")
    gallery.get_by_role("radio").nth(6).wait_for()  # "No template" and the six built-ins
    images = gallery.locator("img")
    page.wait_for_function(
        "() => [...document.querySelectorAll('.template-grid img')]"
        ".every((img) => img.complete && img.naturalWidth > 0)",
        timeout=60_000,
    )
    assert images.count() >= 6
    page.get_by_label("Project name").fill("Top five bees")
    page.get_by_label("Prompt").fill(PROMPT)
    gallery.get_by_text("Listicle / Top 5").click()
    assert gallery.get_by_role("radio", name="Listicle / Top 5").is_checked()
    assert page.get_by_role("radio", name="Portrait 9:16").is_checked()
    assert page.get_by_label("Caption style").input_value() == "box"
    assert page.get_by_label("Visual style").input_value() == "warm"
    page.get_by_label("Resolution").select_option("480p")  # after the template: still mine
    check_page(page, "create-template")
    page.get_by_role("button", name="Generate video").click()
    page.wait_for_url(re.compile(r"/renders/"))

    project = api.http.get("/projects").json()["items"][0]
    assert project["name"] == "Top five bees"
    assert (project["template_id"], project["template_version"]) == ("listicle", 1)
    settings = project["settings"]
    assert settings["aspect"] == "9:16" and settings["resolution"] == "480p"
    assert settings["cards"]["intro"] == "Top 5"
    assert settings["template"] == {"id": "listicle", "name": "Listicle / Top 5", "version": 1}
