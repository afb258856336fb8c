"""The Batch page in a real Chromium: upload a CSV, see every row checked by line before
anything is queued, queue the valid rows, and follow them on the batch's page."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.e2e.browser import check_page
from tests.e2e.conftest import Api, sign_in

pytestmark = pytest.mark.slow

ROWS = (
    "title,prompt,resolution,duration\n"
    "Tides,Tides rise twice a day.,480p,10\n"
    "Nothing,,480p,10\n"
    "Bees,Bees dance to point at flowers.,480p,10\n"
    "Sharp,Owls turn their heads.,8k,10\n"
)


def test_upload_a_csv_preview_the_rows_then_queue_the_valid_ones(
    web_server: str, new_page: Any, api: Api
) -> None:
    page = new_page()
    sign_in(page, web_server, api.email)
    page.get_by_role("link", name="Batches").click()
    page.get_by_role("heading", name="Batches", exact=True).wait_for()
    page.get_by_label("Batch CSV").set_input_files(
        files=[{"name": "facts.csv", "mimeType": "text/csv", "buffer": ROWS.encode()}]
    )
    page.get_by_role("status").filter(has_text="2 valid rows, 2 bad").wait_for()
    bad = page.get_by_role("table", name="Bad rows")
    assert bad.locator("tr[data-line='3']").inner_text().startswith("3")
    assert "prompt or a script" in bad.locator("tr[data-line='3']").inner_text()
    assert "resolution" in bad.locator("tr[data-line='5']").inner_text()
    assert api.http.get("/renders").json()["total"] == 0  # a preview queues nothing
    check_page(page, "batch-check")

    page.get_by_role("button", name="Queue the 2 valid rows (skip 2)").click()
    page.wait_for_url(re.compile(r"/batches/[0-9a-f-]+$"))
    rows = page.get_by_role("table", name="Rows")
    rows.locator("tr[data-line='2']").wait_for()
    assert rows.locator("tr[data-line='5']").inner_text().count("Skipped") == 1
    page.get_by_role("status").filter(has_text="of 2 done").wait_for()
    check_page(page, "batch-view")
    batch = api.http.get("/batches").json()["items"][0]
    assert (batch["name"], batch["total"]) == ("facts", 2)
    page.get_by_role("button", name="Cancel the rest").click()  # no need to render them
    page.get_by_role("status").filter(has_text="2 of 2 done").wait_for()
