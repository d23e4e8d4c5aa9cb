"""The main job in a real browser: sign in, pick Diving, upload a photo, watch it finish."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.core import mail
from playwright.sync_api import expect

from tests.conftest import make_image
from tests.support import qcluster
from videos.services import key_store

pytestmark = [
    pytest.mark.browser,
    pytest.mark.e2e,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "me.webp"
    path.write_bytes(make_image(720, 960, "WEBP"))
    return path


def sign_in(page, base_url: str, username: str, password: str) -> None:
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Login").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()


def test_it_makes_a_video_from_the_gallery(
    page, live_server, sandbox, settings, owner, diving, photo
):
    settings.PUBLIC_BASE_URL = live_server.url
    key_store(user=owner, label="Sandbox", secret="sk-browser-gen2")
    EmailAddress.objects.create(user=owner, email=owner.email, primary=True, verified=True)
    sign_in(page, live_server.url, "owner", "pw-owner-123")
    expect(page.get_by_role("heading", name="Pick a template")).to_be_visible()

    page.locator("article[data-template='392747428568649728']").get_by_role(
        "link", name="Use Diving"
    ).click()
    page.get_by_label("A photo of a person").set_input_files(str(photo))
    page.get_by_role("button", name="Make the video").click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    status = page.locator("#status")
    expect(status).to_have_attribute("data-status", "queued")

    with qcluster():
        # The page updates itself: no reload from here on.
        expect(status).to_have_attribute("data-status", "processing", timeout=30_000)
        expect(status).to_have_attribute("data-status", "succeeded", timeout=60_000)
    expect(page.locator("#timeline")).to_contain_text("Video ready")
    video = page.locator("#video")
    expect(video).to_be_visible()
    duration = video.evaluate(
        """v => new Promise(resolve => {
            if (v.readyState >= 1) { resolve(v.duration); return; }
            v.addEventListener('loadedmetadata', () => resolve(v.duration));
            v.addEventListener('error', () => resolve(-1));
        })"""
    )
    assert duration == pytest.approx(3.0, abs=0.2)


def test_it_signs_up_and_shows_a_clear_error_for_a_bad_photo(page, live_server, diving, tmp_path):
    page.goto(f"{live_server.url}/accounts/signup/")
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Email").fill("new@example.com")
    page.get_by_label("Password", exact=True).fill("a-long-pass-phrase-42")
    page.get_by_label("Password (again)").fill("a-long-pass-phrase-42")
    page.get_by_role("button", name="Sign up").click()
    expect(page.get_by_role("heading", name="Confirm your email address")).to_be_visible()
    # The link in the mail, followed in this browser, confirms the address and signs in.
    (message,) = mail.outbox
    link = next(w for w in message.body.split() if "/accounts/confirm-email/" in w)
    page.goto(link)
    page.get_by_role("button", name="Confirm").click()
    expect(page.get_by_role("heading", name="API keys", exact=True)).to_be_visible()

    page.get_by_label("Label").fill("Main")
    page.get_by_label("API key").fill("sk-newcomer-secret-4242")
    page.get_by_role("button", name="Save key").click()
    expect(page.locator("#keys")).to_contain_text("••••4242")
    expect(page.locator("body")).not_to_contain_text("sk-newcomer-secret-4242")

    small = tmp_path / "small.png"
    small.write_bytes(make_image(200, 150))
    page.goto(f"{live_server.url}/templates/{diving.pk}/new/")
    page.get_by_label("A photo of a person").set_input_files(str(small))
    page.get_by_role("button", name="Make the video").click()
    expect(page.get_by_role("alert")).to_contain_text("shorter side is 150 px")
