"""The web app in a real Chromium, against `reelforge serve` as `make run` starts it: every
journey a person takes, checked the way they see it; axe-core on every page; screenshots
of every page (light and dark, desktop and phone) into docs/screenshots/."""

from __future__ import annotations

import contextlib
import io
import json
import os
import re
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from tests.e2e.browser import check_page
from tests.e2e.conftest import DATA_DIRS, PASSWORD, Api, sign_in, wait_for
from tests.support.media import solid_image

pytestmark = pytest.mark.slow
LAYOUT_SHIFT_OBSERVER = """() => {
  window.layoutShift = 0;
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) if (!e.hadRecentInput) window.layoutShift += e.value;
  }).observe({type: "layout-shift", buffered: false});
}"""
PROGRESS_OBSERVER = """() => {
  window.progressSeen = [];
  const record = (bar) => {
    const value = Number(bar.getAttribute("aria-valuenow") || 0);
    if (window.progressSeen.at(-1) !== value) window.progressSeen.push(value);
  };
  new MutationObserver((changes) => {
    for (const c of changes) {
      const bar = c.target.closest && c.target.closest('[role="progressbar"]');
      if (bar) record(bar);
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true,
                             attributeFilter: ["aria-valuenow"]});
}"""
"""Every value the progress bar shows, recorded by the page itself: a fast render can pass
through its stages between two polls from the test."""
UPLOAD_PROGRESS_OBSERVER = """() => {
  window.uploadProgress = [];
  new MutationObserver((changes) => {
    for (const c of changes) {
      for (const bar of [c.target, ...(c.addedNodes || [])]) {
        if (bar.matches && bar.matches("progress")) window.uploadProgress.push(Number(bar.value));
        for (const inner of bar.querySelectorAll ? bar.querySelectorAll("progress") : []) {
          window.uploadProgress.push(Number(inner.value));
        }
      }
    }
  }).observe(document.body, {subtree: true, childList: true, attributes: true,
                             attributeFilter: ["value"]});
}"""
"""Each value an upload's progress bar shows, recorded by the page (a small upload on
loopback finishes between two polls from the test)."""
PROMPT = (
    "Bees make honey from nectar. They fan it with their wings until it thickens. "
    "A hive can store many kilos before winter. Beekeepers take only what the bees can spare."
)


def render_stages(base: str, api: Api, render_id: str) -> list[str]:
    """The stages in the render's event log, read back over SSE from the first event."""
    stages: list[str] = []
    token = api.http.headers["Authorization"].removeprefix("Bearer ")
    with httpx.stream("GET", f"{base}/api/v1/events", params={"token": token}, timeout=30) as r:
        for line in r.iter_lines():
            if not line.startswith("data: "):
                continue
            event = json.loads(line[6:])
            if event["render_id"] != render_id:
                continue
            if event["type"] == "progress" and event["data"]["stage"] not in stages:
                stages.append(event["data"]["stage"])
            if event["type"] in ("succeeded", "failed", "canceled"):
                return stages
    raise AssertionError("the event stream ended before the render did")


def test_journey_from_sign_up_to_a_playing_video_and_a_downloaded_mp4(
    web_server: str, new_page: Any, tmp_path: Path
) -> None:
    base = web_server
    taken = Api(base)  # an account that already exists
    page = new_page()

    # Given a visitor, when they open the app, they land on sign-in.
    page.goto(base)
    page.wait_for_url(re.compile(r"/signin"))
    check_page(page, "signin")
    page.get_by_role("link", name="Create an account").click()
    page.get_by_label("Email").wait_for()
    check_page(page, "signup")

    # Form errors come from the API's problem+json, next to the field they are about.
    page.get_by_label("Email").fill(taken.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    email_error = page.locator("#email-error")
    email_error.wait_for()
    assert "already exists" in email_error.inner_text()
    assert page.get_by_label("Email").get_attribute("aria-describedby") == "email-error"

    email = f"new-{int(time.time() * 1000)}@example.org"
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("password123")  # 11 characters, but common
    page.get_by_role("button", name="Create account").click()
    page.locator("#password-error").wait_for()
    assert "common" in page.locator("#password-error").inner_text()

    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()

    # The empty dashboard explains the first step.
    page.get_by_role("heading", name="Make your first video").wait_for()
    assert page.get_by_role("heading", name="Plan: free").is_visible()
    check_page(page, "dashboard-empty")

    # A reload keeps the session: the refresh cookie gets a new access token silently.
    page.reload()
    page.get_by_role("heading", name="Your projects").wait_for()

    # Create flow.
    page.get_by_role("link", name="New project").first.click()
    page.get_by_label("Project name").fill("Bees")
    page.get_by_label("Prompt").fill(PROMPT)
    assert f"{len(PROMPT.split())} words" in page.locator("#prompt-hint").inner_text()
    assert "narrated as written" in page.locator("#prompt-hint").inner_text()
    page.get_by_label("Resolution").select_option("480p")
    page.get_by_label("Portrait 9:16").check()
    page.get_by_text("$0 (offline)").wait_for()
    assert page.get_by_text(re.compile(r"about \d+ s")).first.is_visible()
    page.get_by_role("button", name="Play sample").click()
    page.get_by_role("button", name="Play sample").wait_for()  # back from "Playing…"
    check_page(page, "create")

    page.get_by_role("button", name="Generate video").click()
    page.wait_for_url(re.compile(r"/renders/"))
    render_id = page.url.rsplit("/", 1)[1]
    page.evaluate(LAYOUT_SHIFT_OBSERVER)
    page.evaluate(PROGRESS_OBSERVER)

    # Progress advances without a reload; the socket drops mid-render and catches up.
    bar = page.get_by_role("progressbar", name="Render progress")
    seen: list[int] = []
    dropped = False
    shot = False
    shift = 0.0
    deadline = time.monotonic() + 240
    while not page.locator("video").count():
        assert time.monotonic() < deadline, f"no video; progress seen {seen}"
        if bar.count():
            try:
                value = int(bar.get_attribute("aria-valuenow", timeout=1000) or 0)
            except Exception:  # the bar went away: the render finished meanwhile
                continue
            if not seen or value != seen[-1]:
                seen.append(value)
                shift = page.evaluate("window.layoutShift")
            if value > 0 and not dropped:
                dropped = True
                page.evaluate("window.reelforgeLive.drop()")
            if value > 0 and not shot:
                shot = True
                check_page(page, "render-progress", phone_too=False)
        time.sleep(0.1)
    bar_values = page.evaluate("window.progressSeen")
    # It moved from 0 without a reload (how many steps the page shows depends on the speed).
    assert dropped and any(v > 0 for v in bar_values), (bar_values, seen)
    assert bar_values == sorted(bar_values) and seen == sorted(seen), (bar_values, seen)
    assert shift < 0.01, f"progress updates shifted the layout (CLS {shift:.3f})"

    # Nothing was missed across the reconnect: every stage in the log reached the page.
    logged = render_stages(base, Api(base, email), render_id)
    shown = page.eval_on_selector_all("li.stage[data-seen]", "els => els.map(e => e.dataset.stage)")
    # (How many stages log progress depends on the machine's speed: quick ones may not.)
    assert logged and set(logged) <= set(shown), (logged, shown)
    check_page(page, "render-done")

    # The player seeks and plays (Range requests under the hood).
    video = page.locator("video")
    page.evaluate(
        "v => { v.muted = true; v.currentTime = 1; return v.play(); }", video.element_handle()
    )
    wait_for(lambda: page.evaluate("v => v.currentTime", video.element_handle()) > 1.3, 30)

    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download MP4").click()
    saved = tmp_path / "video.mp4"
    download_info.value.save_as(saved)
    with av.open(str(saved)) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        assert container.streams.audio[0].codec_context.name == "aac"
        assert (container.streams.video[0].width, container.streams.video[0].height) == (480, 854)

    # Back on the dashboard: a card with its thumbnail, badge and duration.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    card = page.locator("li.project", has_text="Bees")
    card.wait_for()
    assert card.locator(".status").inner_text() == "Ready"
    wait_for(lambda: page.evaluate("document.querySelector('li.project img')?.naturalWidth") > 0)
    check_page(page, "dashboard")
    page.get_by_label("Search").fill("zebra")
    page.get_by_text("No project matches “zebra”.").wait_for()
    page.get_by_label("Search").fill("bee")
    card.wait_for()
    assert not page.js_errors, page.js_errors


def test_editor_change_rerenders_reusing_unchanged_scenes(
    web_server: str, new_page: Any, api: Api
) -> None:
    project = api.project(name="Tides")
    scenes = [
        {"narration": "Tides rise twice a day."},
        {"narration": "The moon pulls.", "visual": {"kind": "color", "color": "#204060"}},
        {"narration": "The sun helps a little too."},
    ]  # fmt: skip
    assert api.http.put(f"/projects/{project['id']}/storyboard", json={"scenes": scenes}).is_success
    api.render(project["id"])  # the first render fills the cache
    page = new_page()
    sign_in(page, web_server, api.email)
    page.goto(f"{web_server}/projects/{project['id']}")
    page.get_by_role("heading", name="Storyboard").wait_for()
    assert page.locator("li.scene").count() == 3
    check_page(page, "editor")

    # Reorder by keyboard: Space grabs, arrows move, Space drops; Escape puts it back.
    first = page.get_by_label("Narration of scene 1").input_value()
    handle = page.get_by_role("button", name="Reorder scene 1")
    handle.focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowDown")
    page.keyboard.press("Space")
    assert page.get_by_label("Narration of scene 2").input_value() == first
    assert "position 2 of 3" in page.locator("[aria-live=assertive]").inner_text()
    page.get_by_role("button", name="Reorder scene 2").focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowUp")
    page.keyboard.press("Escape")
    assert page.get_by_label("Narration of scene 2").input_value() == first
    page.get_by_role("button", name="Move scene 2 up").click()  # and back, by button
    assert page.get_by_label("Narration of scene 1").input_value() == first
    last = page.get_by_label("Narration of scene 3").input_value()
    page.get_by_role("button", name="Reorder scene 3").drag_to(page.locator("li.scene").nth(0))
    assert page.get_by_label("Narration of scene 1").input_value() == last  # by mouse
    page.get_by_role("button", name="Move scene 1 down").click()
    page.get_by_role("button", name="Move scene 2 down").click()
    assert page.get_by_label("Narration of scene 3").input_value() == last

    # Edit the last scene only, then re-render: the others come from the cache.
    page.get_by_label("Narration of scene 3").fill("The sun helps a little too, twice a month.")
    page.get_by_role("button", name="Re-render").click()
    page.wait_for_url(re.compile(r"/renders/"))
    page.locator("video").wait_for(timeout=240_000)
    reused = page.get_by_test_id("reused").inner_text()
    count, total = (int(n) for n in re.findall(r"\d+", reused))
    assert total == 3 and 1 <= count < 3, reused
    assert page.get_by_test_id("checks").inner_text() == "All 6 passed"
    assert not page.js_errors, page.js_errors


def test_a_stale_editor_save_offers_reload_or_overwrite(
    web_server: str, new_page: Any, api: Api
) -> None:
    project = api.project(name="Moon")
    page = new_page()
    sign_in(page, web_server, api.email)
    page.goto(f"{web_server}/projects/{project['id']}")
    page.get_by_label("Narration of scene 1").fill("My version.")

    # Meanwhile the storyboard is saved elsewhere (another tab, the CLI, a teammate's key).
    url = f"/projects/{project['id']}/storyboard"
    theirs = {"scenes": [{"narration": "Their version."}]}
    assert api.http.put(url, json=theirs).status_code == 200

    page.get_by_role("button", name="Save", exact=True).click()
    prompt = page.get_by_role("alertdialog")
    prompt.wait_for()
    assert "changed elsewhere" in prompt.inner_text()
    check_page(page, "editor-stale")
    prompt.get_by_role("button", name="Reload").click()
    page.wait_for_function(
        "document.querySelector('textarea')?.value === 'Their version.'", timeout=10_000
    )

    page.get_by_label("Narration of scene 1").fill("Mine after all.")
    again = {"scenes": [{"narration": "Their second version."}]}
    assert api.http.put(url, json=again).status_code == 200  # stale again
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_role("alertdialog").get_by_role("button", name="Overwrite").click()
    page.get_by_text("All changes saved.").wait_for()
    assert api.http.get(url).json()["scenes"][0]["narration"] == "Mine after all."


def test_a_second_user_cannot_see_the_first_users_project(
    web_server: str, new_page: Any, api: Api
) -> None:
    project = api.project(name="Private plans")
    render = api.render(project["id"])
    other = Api(web_server)
    page = new_page()
    sign_in(page, web_server, other.email)
    page.get_by_role("heading", name="Make your first video").wait_for()
    assert page.get_by_text("Private plans").count() == 0

    for path in (f"/projects/{project['id']}", f"/renders/{render['id']}"):
        page.goto(f"{web_server}{path}")
        page.get_by_role("heading", name="Not found").wait_for()
        assert page.get_by_text("Private plans").count() == 0
    check_page(page, "not-found")
    assert other.http.get(f"/projects/{project['id']}").status_code == 404
    assert other.http.get(f"/renders/{render['id']}").status_code == 404


def test_an_asset_uploaded_on_the_library_page_is_used_in_a_scene(
    web_server: str, new_page: Any, api: Api, tmp_path: Path
) -> None:
    project = api.project(name="Logo reel")
    board = {"settings": {"resolution": "480p", "target_duration_s": 10,
                          "captions": {"enabled": False}, "music": {"enabled": False}},
             "scenes": [{"narration": "Our brand colour.", "duration_s": 4}]}  # fmt: skip
    assert api.http.put(f"/projects/{project['id']}/storyboard", json=board).is_success
    page = new_page()
    sign_in(page, web_server, api.email)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Library").click()
    page.get_by_role("heading", name="Library").wait_for()
    page.get_by_text("Your library is empty").wait_for()

    # Drag and drop a file onto the page (a DataTransfer, as a real drop makes one).
    red = solid_image(tmp_path / "brand-red.png", (220, 20, 20), (320, 180))
    drop = page.evaluate_handle(
        """(bytes) => {
          const transfer = new DataTransfer();
          const file = new File([new Uint8Array(bytes)], "brand-red.png", {type: "image/png"});
          transfer.items.add(file);
          return transfer;
        }""",
        list(red.read_bytes()),
    )
    page.evaluate(UPLOAD_PROGRESS_OBSERVER)
    page.locator(".dropzone").dispatch_event("drop", {"dataTransfer": drop})
    card = page.locator("li.asset", has_text="brand-red")
    card.wait_for()
    thumbnail = card.locator("img").element_handle()
    page.wait_for_function("img => img.complete && img.naturalWidth > 0", arg=thumbnail)
    assert "image" in card.inner_text() and "320×180" in card.inner_text()
    assert 1 in page.evaluate("window.uploadProgress")  # the bar was shown, and filled
    # A renamed non-image is refused with the API's reason, next to the upload.
    fake = tmp_path / "notes.png"
    fake.write_bytes(b"just some text, not a picture at all")
    page.get_by_label("Upload files").set_input_files(fake)
    assert "not one we take" in page.get_by_role("alert").first.inner_text()
    page.get_by_label("Tags of brand-red").fill("brand, red")
    card.get_by_role("button", name="Save tags").click()
    card.get_by_role("button", name="#brand").wait_for()
    assert "Storage:" in page.locator(".storage").inner_text()
    check_page(page, "library", phone_too=False)

    # The editor's visual picker lists it; the render shows it.
    page.goto(f"{web_server}/projects/{project['id']}")
    page.get_by_label("Visual of scene 1").select_option("file")
    picker = page.get_by_label("Library visual of scene 1")
    assert picker.locator("option", has_text="brand-red").count() == 1
    page.get_by_role("button", name="Save", exact=True).click()
    page.get_by_text("All changes saved.").wait_for()
    saved = api.http.get(f"/projects/{project['id']}/storyboard").json()
    asset_id = saved["scenes"][0]["visual"]["asset_id"]
    assert saved["scenes"][0]["visual"]["kind"] == "file" and asset_id
    page.get_by_role("button", name="Re-render").click()
    page.wait_for_url(re.compile(r"/renders/"))
    page.locator("video").wait_for(timeout=240_000)
    render_id = page.url.rsplit("/", 1)[-1]
    video = api.http.get(f"/renders/{render_id}/video")
    with av.open(io.BytesIO(video.content)) as container:
        middle = next(f for f in container.decode(video=0) if f.time and f.time >= 2.0)
        r, g, b = middle.to_ndarray(format="rgb24")[240, 427]
    assert r > 180 and g < 70 and b < 70, (r, g, b)

    # Deleting it asks first, then says a project uses it, then deletes it anyway.
    page.goto(f"{web_server}/library")
    card = page.locator("li.asset", has_text="brand-red")
    card.get_by_role("button", name="Delete").click()
    card.get_by_role("alertdialog").get_by_role("button", name="Delete").click()
    card.get_by_text("Logo reel").wait_for()
    card.get_by_role("button", name="Delete anyway").click()
    page.get_by_text("Your library is empty").wait_for()
    assert api.http.get(f"/renders/{render_id}/video").content == video.content
    assert not page.js_errors, page.js_errors


def test_an_ended_session_returns_to_sign_in_with_a_message(
    web_server: str, new_page: Any, api: Api
) -> None:
    page = new_page()
    sign_in(page, web_server, api.email)
    # The session is ended from elsewhere (signed out everywhere, or it expired).
    for session in api.http.get("/auth/sessions").json():
        if not session["current"]:
            assert api.http.delete(f"/auth/sessions/{session['id']}").status_code == 204

    # The next request finds out: the user's click, or one the page makes on its own first
    # (live events, invitations), whichever comes first.
    with contextlib.suppress(Exception):  # the page may already have gone to sign in
        page.get_by_role("link", name="New project").first.click(timeout=5000)
    page.wait_for_url(re.compile(r"/signin\?next=%2F"))
    going = urllib.parse.parse_qs(urllib.parse.urlparse(page.url).query)["next"][0]
    assert going in ("/new", "/"), going
    assert "session has ended" in page.get_by_role("status").first.inner_text()
    page.get_by_label("Email").fill(api.email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{web_server}{going}")  # back where they were going
    heading = "New project" if going == "/new" else "Your projects"
    page.get_by_role("heading", name=heading).wait_for()

    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(re.compile(r"/signin"))
    page.goto(f"{web_server}/")
    page.wait_for_url(re.compile(r"/signin"))  # the refresh cookie went with the session


def test_create_flow_and_render_view_on_a_phone(web_server: str, new_page: Any, api: Api) -> None:
    page = new_page(phone=True)
    sign_in(page, web_server, api.email)
    page.get_by_role("link", name="New project").first.click()
    page.get_by_label("Project name").fill("Pocket")
    page.get_by_label("Prompt").fill(PROMPT)
    page.get_by_label("Resolution").select_option("480p")
    check_page(page, "create")
    page.get_by_role("button", name="Generate video").click()
    page.wait_for_url(re.compile(r"/renders/"))
    page.get_by_role("progressbar", name="Render progress").wait_for()
    check_page(page, "render-progress")  # the phone's, beside the desktop's from the journey
    page.locator("video").wait_for(timeout=240_000)
    box = page.locator("video").bounding_box()
    assert box is not None and box["width"] <= 390
    assert page.get_by_role("link", name="Download MP4").is_visible()
    check_page(page, "render-done")
    toast = page.get_by_role("status").filter(has_text="Your video is ready.")
    assert toast.count() == 1


def test_the_api_docs_work_offline(web_server: str, new_page: Any) -> None:
    page = new_page()
    remote: list[str] = []
    page.on(
        "request",
        lambda request: (
            remote.append(request.url) if not request.url.startswith(web_server) else None
        ),
    )
    page.goto(f"{web_server}/api/docs")
    page.get_by_text("/api/v1/projects").first.wait_for()
    assert not remote, remote


def test_the_app_works_the_same_on_postgresql(pg_web_server: str, new_page: Any) -> None:
    base = pg_web_server
    page = new_page()
    page.goto(f"{base}/signup")
    page.get_by_label("Email").fill("pg-user@example.org")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    page.get_by_role("heading", name="Make your first video").wait_for()
    page.get_by_role("link", name="New project").first.click()
    page.get_by_label("Project name").fill("On PostgreSQL")
    page.get_by_label("Prompt").fill("Elephants remember. They walk far to find water.")
    page.get_by_label("Resolution").select_option("480p")
    page.get_by_role("button", name="Generate video").click()
    page.wait_for_url(re.compile(r"/renders/"))
    video = page.locator("video")
    video.wait_for(timeout=240_000)
    page.evaluate("v => { v.muted = true; return v.play(); }", video.element_handle())
    wait_for(lambda: page.evaluate("v => v.currentTime", video.element_handle()) > 0.5, 30)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Projects").click()
    card = page.locator("li.project", has_text="On PostgreSQL")
    card.wait_for()
    assert card.locator(".status").inner_text() == "Ready"
    assert not page.js_errors, page.js_errors


def test_a_user_rates_the_video_and_an_admin_reads_the_analytics(
    web_server: str, new_page: Any, api: Api
) -> None:
    project = api.project(name="Rated")
    render = api.render(project["id"])
    page = new_page()
    sign_in(page, web_server, api.email)
    assert page.get_by_role("link", name="Analytics").count() == 0  # not an admin
    page.goto(f"{web_server}/renders/{render['id']}")
    page.get_by_label("4 of 5 stars").check()
    page.get_by_label("Comment (optional)").fill("Clear voice")
    page.get_by_role("button", name="Rate").click()
    page.get_by_text("Thanks: you rated it 4 of 5.").wait_for()
    assert api.http.get(f"/renders/{render['id']}/rating").json()["stars"] == 4
    page.goto(f"{web_server}/admin/analytics")
    page.get_by_role("heading", name="Not found").wait_for()  # the route is for admins

    admin_email = f"admin-{time.monotonic_ns()}@example.org"
    created = subprocess.run(
        [sys.executable, "-m", "reelforge", "user", "create", admin_email, "--admin",
         "--password", PASSWORD],
        env={**os.environ, "REELFORGE_DATA_DIR": str(DATA_DIRS[web_server])},
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr
    admin = new_page()
    sign_in(admin, web_server, admin_email)
    admin.get_by_role("navigation", name="Main").get_by_role("link", name="Analytics").click()
    table = admin.get_by_role("table", name="Success metrics")
    table.wait_for()
    satisfaction = table.locator('tr[data-metric="satisfaction"]')
    assert satisfaction.locator("td").first.inner_text() == "4.00 / 5"
    success = table.locator('tr[data-metric="render_success_rate"]')
    assert success.locator("td").nth(1).inner_text() == "> 80.0%"
    assert success.locator(".verdict").inner_text() in ("Met", "Missed")
    admin.get_by_role("img", name="Ratings").wait_for()
    admin.get_by_label("7 days").check()
    table.wait_for()
    check_page(admin, "analytics")
    assert not page.js_errors and not admin.js_errors, page.js_errors + admin.js_errors
