"""The portal in a real browser: sign up, add a key, make a video and watch it finish, play
and download it; refusals, the custom 404, the dashboard's charts; every main page on a phone,
with an accessibility check (axe-core, vendored in tests/assets) and screenshots.

Screenshots go to $SCREENSHOT_DIR when it is set (the best are kept in docs/screenshots/),
else to the test's temporary folder.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import User
from django.core import mail
from django.core.files.base import ContentFile
from playwright.sync_api import expect

from tests.apiclient import drive_to_success
from tests.conftest import DIVING, make_image
from tests.support import qcluster
from tests.test_e2e_useapi import create_job as create_useapi_job
from tests.test_e2e_useapi import useapi_catalogue  # noqa: F401  (a fixture)
from videos.models import Job, JobStatus

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


ASSETS = Path(__file__).resolve().parent / "assets"
SAMPLE = Path(__file__).resolve().parent.parent / "sandbox" / "assets" / "sample.mp4"
PHONE = {"width": 390, "height": 844}
SMALL_PHONE = {"width": 360, "height": 740}
LAPTOP = {"width": 1280, "height": 800}


@pytest.fixture
def shots(tmp_path) -> Path:
    folder = Path(os.environ.get("SCREENSHOT_DIR") or tmp_path / "screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def sign_in(page, base_url: str, username: str, password: str) -> None:
    user = User.objects.get(username=username)
    EmailAddress.objects.get_or_create(
        user=user, email=user.email, defaults={"primary": True, "verified": True}
    )
    page.goto(f"{base_url}/accounts/login/")
    page.get_by_label("Login").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    expect(page).not_to_have_url(re.compile(r"/accounts/login/"))


def page_width(page) -> int:
    return page.evaluate("document.documentElement.scrollWidth")


def serious_violations(page) -> list[str]:
    """axe-core's serious and critical WCAG 2 A/AA findings on the page, one line each.

    Evaluated through the DevTools protocol, which the page's Content-Security-Policy does
    not govern (the portal allows no inline script, rightly)."""
    if not page.evaluate("() => !!window.axe"):
        page.evaluate("source => { (0, eval)(source); }", (ASSETS / "axe.min.js").read_text())
    found = page.evaluate(
        """() => axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}})
            .then(r => r.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => v.id + ': '
                    + v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', ')))"""
    )
    return list(found)


def video_duration(video) -> float:
    return video.evaluate(
        """v => new Promise(resolve => {
            if (v.readyState >= 1) { resolve(v.duration); return; }
            v.addEventListener('loadedmetadata', () => resolve(v.duration));
            v.addEventListener('error', () => resolve(-1));
        })"""
    )


def test_it_signs_up_adds_a_key_and_makes_a_video_it_plays_and_downloads(
    page, context, live_server, sandbox, settings, diving, photo, shots
):
    settings.PUBLIC_BASE_URL = live_server.url
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

    # Without a key the gallery says one is needed.
    page.goto(f"{live_server.url}/")
    expect(page.locator("#key-hint")).to_contain_text("You need an API key first")
    page.set_viewport_size(PHONE)
    page.screenshot(path=shots / "gallery-new-user-phone.png")
    page.set_viewport_size(LAPTOP)
    page.locator("#key-hint").get_by_role("link", name="Add an API key").click()

    # A sandbox key (its words: videos take 2 s).
    page.get_by_label("Label").fill("Sandbox")
    page.get_by_label("API key").fill("sk-newcomer-gen2-4242")
    page.get_by_role("button", name="Save key").click()
    expect(page.locator("#keys")).to_contain_text("••••4242")
    expect(page.locator("body")).not_to_contain_text("sk-newcomer-gen2-4242")

    page.get_by_role("link", name="Templates").click()
    expect(page.locator("#key-hint")).to_have_count(0)
    page.locator("article[data-template='392747428568649728']").get_by_role(
        "link", name="Use Diving"
    ).click()
    page.get_by_label("A photo of a person").set_input_files(str(photo))
    # Read and decoded in the browser: a loaded machine may take a few seconds.
    expect(page.locator(".preview figcaption")).to_contain_text("720\u00d7960 px", timeout=15_000)
    page.get_by_role("button", name="Make the video").click()
    expect(page).to_have_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))
    status = page.locator("#status")
    expect(status).to_have_attribute("data-status", "queued")
    # The job list, open in a second tab, updates the running row in place too.
    jobs = context.new_page()
    jobs.goto(f"{live_server.url}/jobs/")
    row = jobs.locator("#jobs tbody tr").first
    expect(row.locator(".pill")).to_have_attribute("data-status", "queued")

    with qcluster():
        # The page updates itself: no reload from here on.
        expect(status).to_have_attribute("data-status", "processing", timeout=30_000)
        expect(status).to_have_attribute("data-status", "succeeded", timeout=60_000)
        expect(row.locator(".pill")).to_have_attribute("data-status", "succeeded", timeout=15_000)
    expect(page.locator("#timeline")).to_contain_text("Video ready")
    video = page.locator("#video")
    expect(video).to_be_visible()
    assert video_duration(video) == pytest.approx(3.0, abs=0.2)
    # The bar is full and the pushes (if any) are folded away, not in the timeline.
    expect(page.locator("#progress")).to_have_attribute("aria-valuenow", "100")
    expect(page.locator("#timeline")).not_to_contain_text("pushed:")

    with page.expect_download() as download:
        page.get_by_role("link", name="Download").click()
    assert download.value.suggested_filename.startswith("diving-")
    assert Path(download.value.path()).stat().st_size == SAMPLE.stat().st_size

    page.get_by_role("link", name="Jobs", exact=True).click()
    row = page.locator("#jobs tbody tr").first
    expect(row.locator(".poster")).to_be_visible()
    expect(row.locator(".pill")).to_have_attribute("data-status", "succeeded")


def test_it_refuses_a_bad_image_next_to_its_field_and_keeps_the_inputs(
    page, browser, live_server, owner, key, run_for_life, tmp_path
):
    small = tmp_path / "small.png"
    small.write_bytes(make_image(200, 150))
    url = f"{live_server.url}/templates/{run_for_life.pk}/new/"
    # In the browser, before any upload.
    sign_in(page, live_server.url, "owner", "pw-owner-123")
    page.goto(url)
    page.get_by_label(run_for_life.text_label).fill("Lion")
    page.get_by_label("Reference (optional)").fill("order-42")
    page.get_by_label(run_for_life.media_label).set_input_files(str(small))
    field = page.locator(".field", has=page.get_by_label(run_for_life.media_label))
    expect(field.get_by_role("alert")).to_contain_text("shorter side is 150 px")
    page.get_by_role("button", name="Make the video").click()
    expect(page).to_have_url(url)
    expect(page.get_by_label(run_for_life.text_label)).to_have_value("Lion")
    assert not Job.objects.exists()
    # A counter with the limit; over the limit is refused with the field's error, not cut.
    page.get_by_label(run_for_life.text_label).fill("L" * 600)
    expect(page.locator(".counter").first).to_contain_text("600 / 500")
    text_field = page.locator(".field", has=page.get_by_label(run_for_life.text_label))
    expect(text_field.get_by_role("alert")).to_contain_text("At most 500 characters")

    # Without script the server refuses the same image, next to its field, inputs kept.
    plain = browser.new_context(java_script_enabled=False)
    other = plain.new_page()
    sign_in(other, live_server.url, "owner", "pw-owner-123")
    other.goto(url)
    other.get_by_label(run_for_life.text_label).fill("Lion")
    other.get_by_label("Reference (optional)").fill("order-42")
    other.get_by_label(run_for_life.media_label).set_input_files(str(small))
    other.get_by_role("button", name="Make the video").click()
    field = other.locator(".field", has=other.get_by_label(run_for_life.media_label))
    expect(field.get_by_role("alert")).to_contain_text("shorter side is 150 px")
    expect(other.get_by_label(run_for_life.text_label)).to_have_value("Lion")
    expect(other.get_by_label("Reference (optional)")).to_have_value("order-42")
    plain.close()
    assert not Job.objects.exists()


def test_it_shows_an_outsider_the_custom_404_for_a_job(
    page, live_server, make_job, outsider, shots
):
    job = make_job()
    sign_in(page, live_server.url, "outsider", "pw-out-123")
    response = page.goto(f"{live_server.url}/jobs/{job.id}/")
    assert response is not None and response.status == 404
    expect(page.get_by_role("heading", name="Not found")).to_be_visible()
    expect(page.get_by_role("link", name="Back to the templates")).to_be_visible()
    assert "Diving" not in page.locator("main").inner_text()
    page.set_viewport_size(PHONE)
    page.screenshot(path=shots / "404-phone.png")
    assert serious_violations(page) == []


def test_it_renders_the_dashboards_charts(page, live_server, portal_world, team, shots):
    team.name = "Northern Lights Creative Studio, Product Videos"
    team.save(update_fields=["name"])
    User.objects.create_superuser("boss", "boss@example.com", "pw-boss-123")
    sign_in(page, live_server.url, "boss", "pw-boss-123")
    page.set_viewport_size(LAPTOP)
    page.goto(f"{live_server.url}/admin/dashboard/")
    charts = page.locator("svg.chart")
    expect(charts.first).to_be_visible()
    assert charts.count() >= 4
    box = charts.first.bounding_box()
    assert box is not None and box["width"] > 300 and box["height"] > 100
    # A long team name is shown whole, inside its chart.
    label = page.locator("svg.chart text", has_text=team.name)
    expect(label).to_be_visible()
    chart = page.locator("svg.chart", has=page.locator("text", has_text=team.name)).bounding_box()
    text = label.bounding_box()
    assert chart and text and text["x"] >= chart["x"]
    assert text["x"] + text["width"] <= chart["x"] + chart["width"]
    # The dashboard's own stylesheet applies (a file: the CSP refuses <style> elements).
    kpis = page.locator(".dash-kpis")
    assert kpis.evaluate("e => getComputedStyle(e).display") == "grid"
    page.screenshot(path=shots / "dashboard-laptop.png", full_page=True)


@pytest.fixture
def portal_world(make_job, upstream, owner, catalogue, django_capture_on_commit_callbacks):
    """A finished job with a real video, a failed one with a 200-character reference, and a
    queued one: what the main pages show."""
    done = make_job(reference="spring-campaign")
    with django_capture_on_commit_callbacks(execute=True):
        drive_to_success(done, upstream)
    done.refresh_from_db()
    done.result.file.save("video.mp4", ContentFile(SAMPLE.read_bytes()), save=True)
    failed = make_job(reference="x" * 200)
    Job.objects.filter(pk=failed.pk).update(
        status=JobStatus.FAILED,
        error_code="1026",
        error_message="input sensitive",
        finished_at=done.finished_at,
    )
    make_job(reference="queued-one")
    return {"done": done, "failed": failed}


def test_it_fits_every_main_page_on_a_phone_and_passes_the_accessibility_check(
    page, live_server, portal_world, diving, shots
):
    problems: list[str] = []
    # Signed out first: the sign-in and sign-up pages.
    page.set_viewport_size(PHONE)
    for name, path in (("login", "/accounts/login/"), ("signup", "/accounts/signup/")):
        page.goto(live_server.url + path)
        if (width := page_width(page)) > PHONE["width"]:
            problems.append(f"{name} at 390 px is {width} px wide")
        page.screenshot(path=shots / f"{name}-phone.png")
        problems += [f"{name}: {v}" for v in serious_violations(page)]
    sign_in(page, live_server.url, "owner", "pw-owner-123")
    done, failed = portal_world["done"], portal_world["failed"]
    pages = {
        "gallery": "/",
        "job-new": f"/templates/{diving.pk}/new/",
        "jobs": "/jobs/",
        "job": f"/jobs/{done.id}/",
        "job-failed": f"/jobs/{failed.id}/",
        "keys": "/accounts/keys/",
        "usage": "/usage/",
        "team": "/accounts/team/",
        "integrations": "/integrations/",
        "notifications": "/notifications/",
    }
    for size_name, size in (("phone", PHONE), ("small-phone", SMALL_PHONE), ("laptop", LAPTOP)):
        page.set_viewport_size(size)
        for name, path in pages.items():
            page.goto(live_server.url + path)
            page.wait_for_load_state("load")
            if (width := page_width(page)) > size["width"]:
                problems.append(f"{name} at {size['width']} px is {width} px wide")
            if size_name != "small-phone":
                # A phone shot is one screen (what a person sees first); a laptop's the page.
                page.screenshot(
                    path=shots / f"{name}-{size_name}.png", full_page=size_name == "laptop"
                )
            if size_name == "laptop":
                problems += [f"{name}: {v}" for v in serious_violations(page)]
    assert not problems, "\n".join(problems)


def test_it_opens_the_menu_on_a_phone_and_plays_the_video(page, live_server, portal_world, shots):
    sign_in(page, live_server.url, "owner", "pw-owner-123")
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/jobs/{portal_world['done'].id}/")
    nav = page.get_by_role("navigation", name="Main")
    expect(nav).to_be_hidden()
    page.get_by_role("button", name="Menu").click()
    expect(nav).to_be_visible()
    expect(nav.get_by_role("link", name="Jobs")).to_have_attribute("aria-current", "page")
    page.screenshot(path=shots / "menu-phone.png")
    page.get_by_role("button", name="Menu").click()
    video = page.locator("#video")
    assert video_duration(video) > 0
    box = video.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    # The skip link is the first stop of the keyboard and leads to the content.
    page.reload()
    page.keyboard.press("Tab")
    expect(page.get_by_role("link", name="Skip to content")).to_be_focused()


def test_it_shows_the_images_the_upstream_makes_on_the_way(
    page,
    live_server,
    sandbox,
    settings,
    owner,
    team,
    useapi_catalogue,  # noqa: F811
):
    """useapi's job shows images as it works (here the poster it reports): they appear on the
    job page as they come, without a reload."""
    settings.PUBLIC_BASE_URL = live_server.url
    diving = useapi_catalogue.get(template_id=DIVING)
    job = create_useapi_job(owner, team, diving, "user:9-browser-gen1")
    sign_in(page, live_server.url, "owner", "pw-owner-123")
    page.goto(f"{live_server.url}/jobs/{job.id}/")
    expect(page.locator("#images-box")).to_be_hidden()
    with qcluster():
        expect(page.locator("#status")).to_have_attribute(
            "data-status", "succeeded", timeout=60_000
        )
        image = page.locator("#images figure img").first
        expect(image).to_be_visible(timeout=30_000)
    assert image.evaluate("img => img.complete && img.naturalWidth > 0")


def test_it_asks_before_deleting_a_key(page, live_server, owner, key):
    sign_in(page, live_server.url, "owner", "pw-owner-123")
    page.goto(f"{live_server.url}/accounts/keys/")
    questions: list[str] = []

    def answer(dialog, accept: bool) -> None:
        questions.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda d: answer(d, False))
    page.locator("#keys").get_by_role("button", name="Delete").click()
    expect(page.locator("#keys")).to_contain_text("Main")
    assert questions == ["Delete the key “Main”? This cannot be undone."]
    page.once("dialog", lambda d: answer(d, True))
    page.locator("#keys").get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text("Key “Main” deleted.")
    assert len(questions) == 2
