"""The template library in a real Chromium: a project saved as a template shows on the
Templates page with its preview, an edit of its intro card is version 2, "Use" starts the
create flow with it picked, and it is deleted; axe checks the page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.browser import check_page
from tests.e2e.conftest import Api, sign_in, wait_for

pytestmark = pytest.mark.slow

PREVIEWS_LOADED = (
    "() => [...document.querySelectorAll('.template-thumb img')]"
    ".every((img) => img.complete && img.naturalWidth > 0)"
)


def test_save_edit_use_and_delete_a_template(web_server: str, new_page: Any, api: Api) -> None:
    project = api.project(
        name="Tides",
        settings={
            "aspect": "9:16",
            "resolution": "480p",
            "target_duration_s": 10,
            "captions": {"style": "box", "position": "top"},
            "music": {"enabled": False},
        },
    )
    page = new_page()
    sign_in(page, web_server, api.email)

    # The project page: Save as template, then the confirmation's link.
    page.goto(f"{web_server}/projects/{project['id']}")
    page.get_by_role("button", name="Save as template").click()
    dialog = page.get_by_role("dialog", name="Save as template")
    dialog.get_by_label("Template name").fill("Tide style")
    dialog.get_by_label("Description (optional)").fill("Portrait, captions on top")
    check_page(page, "save-as-template", phone_too=False)
    dialog.get_by_role("button", name="Save template").click()
    dialog.get_by_text("Saved “Tide style” as a template (version 1).").wait_for()
    dialog.get_by_role("link", name="Open templates").click()
    page.wait_for_url(re.compile(r"/templates$"))

    # The Templates page: mine with its preview, and the built-ins.
    page.get_by_role("heading", name="Templates", level=1).wait_for()
    mine = page.get_by_role("list", name="My templates")
    card = mine.locator("li", has_text="Tide style")
    card.get_by_text("Version 1", exact=True).wait_for()
    assert page.get_by_role("list", name="Built-in templates").get_by_role("listitem").count() == 6
    page.wait_for_function(PREVIEWS_LOADED, timeout=60_000)
    assert card.get_by_role("img", name="Preview of Tide style").is_visible()
    check_page(page, "templates")

    # Edit the intro card: saved as version 2.
    card.get_by_role("button", name="Edit Tide style").click()
    assert card.get_by_label("Caption position").input_value() == "top"
    check_page(page, "template-edit")
    card.get_by_label("Intro card text").fill("Tides, explained")
    card.get_by_role("button", name="Save as a new version").click()
    card.get_by_text("Saved as version 2.").wait_for()
    card.get_by_text("Version 2", exact=True).wait_for()
    template_id = card.get_attribute("data-template")
    stored = api.http.get(f"/templates/{template_id}").json()
    assert stored["version"] == 2 and stored["style"]["cards"]["intro"] == "Tides, explained"
    assert stored["style"]["aspect"] == "9:16" and stored["style"]["captions"]["style"] == "box"

    # Duplicate a built-in into mine.
    page.get_by_role("button", name="Duplicate Listicle / Top 5").click()
    mine.locator("li", has_text="Listicle / Top 5 (copy)").wait_for()

    # Use it: the create flow with it picked.
    card.get_by_role("link", name="Use Tide style for a new project").click()
    page.wait_for_url(re.compile(r"/new\?template="))
    gallery = page.get_by_role("radiogroup", name="Template")
    radio = gallery.get_by_role("radio", name="Tide style")
    wait_for(radio.is_checked, timeout_s=20)
    assert page.get_by_role("radio", name="Portrait 9:16").is_checked()
    assert page.get_by_label("Caption position").input_value() == "top"

    # Delete it, after a confirmation.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Templates").click()
    card = page.get_by_role("list", name="My templates").locator("li", has_text="Tide style")
    card.get_by_role("button", name="Delete Tide style").click()
    card.get_by_role("alertdialog", name="Delete Tide style?").get_by_role(
        "button", name="Delete template"
    ).click()
    card.wait_for(state="detached")
    names = [t["name"] for t in api.http.get("/templates").json() if not t["builtin"]]
    assert names == ["Listicle / Top 5 (copy)"]
    assert not page.js_errors
