"""In a real browser: posters load, the gallery's preview loop plays while on screen, and
stays still for someone who asks for less motion."""

from __future__ import annotations

import io

import pytest
from django.test import Client

from tests.apiclient import drive_to_success
from tests.conftest import make_image
from tests.fakes import MP4

pytestmark = [
    pytest.mark.browser,
    # As tests/test_browser.py: the live server needs committed rows.
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def signed_in(page, live_server, user) -> None:
    client = Client()
    client.force_login(user)
    cookie = client.cookies["sessionid"].value
    page.context.add_cookies([{"name": "sessionid", "value": cookie, "url": live_server.url}])


@pytest.fixture
def gallery_world(make_job, upstream, owner, run_for_life, django_capture_on_commit_callbacks):
    from videos.services.posters import template_cover_store, template_preview_store

    job = make_job(reference="with-a-poster")
    with django_capture_on_commit_callbacks(execute=True):
        drive_to_success(job, upstream)
    template_cover_store(run_for_life, io.BytesIO(make_image(1280, 720)))
    template_preview_store(run_for_life, io.BytesIO(MP4))
    return job


PLAYING = "v => !v.paused && v.currentTime > 0"


def test_it_loads_posters_and_plays_the_preview_loop(page, live_server, owner, gallery_world):
    signed_in(page, live_server, owner)
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto(live_server.url + "/jobs/")
    poster = page.locator("img.poster").first
    poster.scroll_into_view_if_needed()
    page.wait_for_function(
        "() => [...document.images].some(i => i.complete && i.naturalWidth == 320)"
    )
    page.goto(live_server.url + "/")
    clip = page.locator("video[data-preview]")
    clip.scroll_into_view_if_needed()
    page.wait_for_function(f"() => ({PLAYING})(document.querySelector('video[data-preview]'))")


def test_it_keeps_the_preview_still_for_less_motion(page, live_server, owner, gallery_world):
    page.emulate_media(reduced_motion="reduce")
    signed_in(page, live_server, owner)
    page.goto(live_server.url + "/")
    clip = page.locator("video[data-preview]")
    clip.scroll_into_view_if_needed()
    page.wait_for_function("() => document.querySelector('video[data-preview]').poster")
    page.wait_for_timeout(500)  # time it would have needed to start
    assert clip.evaluate("v => v.paused")
