"""A batch in a real browser: a CSV with a bad row refused with its line, fixed, created, and
the batch page following its jobs live to the end; at phone width and on a laptop."""

from __future__ import annotations

import os
import re

import pytest
from allauth.account.models import EmailAddress
from playwright.sync_api import expect

from tests.batch_support import csv_bytes, product_rows, zip_bytes
from tests.support import qcluster
from tests.test_browser import sign_in
from videos.services import key_store

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

SHOTS = os.environ.get("BATCH_SCREENSHOTS", "")


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")


def shot(page, name: str) -> None:
    if SHOTS:
        page.screenshot(path=f"{SHOTS}/{name}.png", full_page=True)


@pytest.mark.parametrize("width", [390, 1280])
def test_it_makes_a_batch_from_a_csv_and_follows_it_live(
    page, live_server, sandbox, settings, owner, diving, tmp_path, width
):
    page.set_viewport_size({"width": width, "height": 900})
    settings.PUBLIC_BASE_URL = live_server.url
    key_store(user=owner, label="Sandbox", secret="sk-browser-batch-gen0.5")
    EmailAddress.objects.create(user=owner, email=owner.email, primary=True, verified=True)
    rows, files = product_rows(3)
    rows[1]["image"] = "nope.png"
    (tmp_path / "rows.csv").write_bytes(csv_bytes(rows, ["image", "reference"]))
    (tmp_path / "photos.zip").write_bytes(zip_bytes(files))

    sign_in(page, live_server.url, "owner", "pw-owner-123")
    page.goto(f"{live_server.url}/templates/{diving.pk}/new/")
    page.get_by_role("link", name="New batch").click()
    page.get_by_label("CSV, one row per video").set_input_files(str(tmp_path / "rows.csv"))
    page.get_by_label("ZIP of images").set_input_files(str(tmp_path / "photos.zip"))
    page.get_by_role("button", name="Check the rows").click()
    errors = page.locator("#row-errors")
    expect(errors).to_contain_text("1 problem found; nothing was created")
    expect(errors.locator("tbody tr")).to_have_text(re.compile(r"3\s*image\s*no file named"))
    assert no_sideways_scroll(page)
    shot(page, f"batch-errors-{width}")

    rows[1]["image"] = "p001.png"
    (tmp_path / "rows.csv").write_bytes(csv_bytes(rows, ["image", "reference"]))
    page.get_by_label("CSV, one row per video").set_input_files(str(tmp_path / "rows.csv"))
    page.get_by_label("ZIP of images").set_input_files(str(tmp_path / "photos.zip"))
    page.get_by_role("button", name="Check the rows").click()
    expect(page.locator("#admission")).to_contain_text("3 videos \u00d7 $0.40 = $1.20")
    shot(page, f"batch-confirm-{width}")
    page.get_by_role("button", name="Create 3 videos for $1.20").click()
    expect(page).to_have_url(re.compile(r"/batches/[0-9a-f-]{36}/$"))
    live = page.locator("#batch-live")
    expect(live).to_contain_text("0 of 3 finished")
    expect(page.locator(".batch-cell")).to_have_count(3)

    with qcluster(JOB_POLL_FIRST_SECONDS="1"):
        expect(live).to_contain_text("3 of 3 finished", timeout=90_000)
    expect(live).to_contain_text("3 made")
    expect(page.get_by_role("link", name="Download all (ZIP)")).to_be_visible()
    expect(page.get_by_role("button", name="Cancel the rest")).to_have_count(0)
    assert no_sideways_scroll(page)
    shot(page, f"batch-done-{width}")
