"""Browser-test support: Debian's Chromium (installed with apt when missing, never
downloaded from elsewhere) driven by Playwright for Python; axe-core checks; screenshots."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from tests.support.debian import debian_binary

ROOT = Path(__file__).resolve().parents[2]
AXE = Path(__file__).parent / "vendor" / "axe.min.js"
SCREENSHOTS = Path(
    os.environ.get("REELFORGE_TEST_SCREENSHOTS") or Path(tempfile.gettempdir()) / "reelforge-shots"
)
"""Where the tests write a screenshot of every page: `make screenshots` points this at
docs/screenshots (the set the README shows); a plain `make test` leaves the committed set alone."""
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 800}


def chromium_path() -> str:
    """The `chromium` on PATH; installs Debian's package first when there is none (taking turns
    with the other test processes' apt installs: apt allows one at a time)."""
    return debian_binary("chromium")


def launch_args() -> list[str]:
    """Running as root (CI, containers) needs --no-sandbox."""
    return ["--no-sandbox"] if os.geteuid() == 0 else []


def axe_violations(page: Page) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations on the page as it is now."""
    page.add_script_tag(content=AXE.read_text(encoding="utf-8"))
    result: dict[str, Any] = page.evaluate(
        "async () => await axe.run(document, {resultTypes: ['violations']})"
    )
    return [
        {"id": v["id"], "impact": v["impact"], "nodes": [n["target"] for n in v["nodes"]][:5]}
        for v in result["violations"]
        if v["impact"] in ("serious", "critical")
    ]


def check_page(page: Page, name: str, *, phone_too: bool = True) -> None:
    """axe finds nothing serious in light and dark; screenshots of both (and a phone's)."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    size = page.viewport_size or DESKTOP
    device = "phone" if size["width"] < 600 else "desktop"
    sizes = [(device, size)] + ([("phone", PHONE)] if phone_too and device != "phone" else [])
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        violations = axe_violations(page)
        assert not violations, f"{name} ({scheme}): {json.dumps(violations, indent=1)}"
        for label, viewport in sizes:
            page.set_viewport_size(viewport)
            page.evaluate("window.scrollTo(0, 0)")
            overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
            assert overflow <= 0, f"{name} scrolls sideways by {overflow} px at {label} width"
            page.screenshot(path=SCREENSHOTS / f"{name}-{scheme}-{label}.png")
        page.set_viewport_size(size)
    page.emulate_media(color_scheme="light")
