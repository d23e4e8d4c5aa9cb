"""A share link in a real browser, signed out, on a phone's width: the video plays."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from tests.apiclient import drive_to_success
from videos.services import share_create

pytestmark = [
    pytest.mark.browser,
    # As tests/test_browser.py: the live server needs committed rows; the flush must not lose
    # the rows the migrations seeded for the tests after this one.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]

# A real, playable MP4 (the sandbox upstream's); the fake upstream's bytes are a bare header.
SAMPLE = Path(__file__).resolve().parent.parent / "sandbox" / "assets" / "sample.mp4"


def test_it_plays_a_shared_video_for_an_anonymous_phone(
    page, live_server, make_job, upstream, owner, django_capture_on_commit_callbacks
):
    job = make_job()
    with django_capture_on_commit_callbacks(execute=True):
        drive_to_success(job, upstream)
    job.refresh_from_db()
    result = job.result
    result.file.save("video.mp4", ContentFile(SAMPLE.read_bytes()), save=True)
    _share, raw = share_create(job=job, by=owner, expires_in_s=None)

    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(f"{live_server.url}/s/{raw}/")
    expect(page.get_by_role("heading", name="Diving")).to_be_visible()
    video = page.locator("#video")
    expect(video).to_be_visible()
    duration = video.evaluate(
        """v => new Promise(resolve => {
            if (v.readyState >= 1) { resolve(v.duration); return; }
            v.addEventListener('loadedmetadata', () => resolve(v.duration));
            v.addEventListener('error', () => resolve(-1));
        })"""
    )
    assert duration > 0
    # Fits the phone: nothing wider than the viewport, the player within it.
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    box = video.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
