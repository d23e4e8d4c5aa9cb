"""Posters: every finished video's frame for its team, a template's cover, else the team's own
latest video of it, else a placeholder; the preview loop; staff uploads in the admin."""

from __future__ import annotations

import io
import re

import av
import pytest
from django.core.files.base import ContentFile
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from PIL import Image

from tests.apiclient import drive_to_success
from tests.conftest import make_image
from tests.fakes import MP4
from videos.models import AttachmentKind, VideoTemplate


def body(response) -> bytes:
    if response.status_code == 302:  # S3: a signed link to the object
        import requests

        return requests.get(response["Location"], timeout=10).content
    return b"".join(response.streaming_content)


@pytest.fixture
def finished(make_job, upstream, django_capture_on_commit_callbacks):
    job = make_job()
    with django_capture_on_commit_callbacks(execute=True):
        drive_to_success(job, upstream)
    job.refresh_from_db()
    return job


def img_tags(page: str) -> list[str]:
    return re.findall(r"<img [^>]*>", page)


# --- A job's poster ---------------------------------------------------------------------------


def test_it_serves_the_frame_to_the_jobs_team(finished, owner_client, client, teammate):
    url = reverse("videos:job_poster", args=[finished.id])
    response = owner_client.get(url)
    assert response.status_code in (200, 302)
    with Image.open(io.BytesIO(body(response))) as image:
        assert (image.format, image.size) == ("WEBP", (320, 240))
    client.force_login(teammate)
    assert client.get(url).status_code in (200, 302)


def test_it_answers_404_to_an_outsider_for_the_poster(finished, client, outsider):
    client.force_login(outsider)
    response = client.get(reverse("videos:job_poster", args=[finished.id]))
    assert response.status_code == 404 and "X-Amz" not in response.get("Location", "")


def test_it_answers_404_for_a_job_without_a_poster_yet(make_job, owner_client):
    job = make_job()
    assert owner_client.get(reverse("videos:job_poster", args=[job.id])).status_code == 404


def test_it_shows_the_poster_in_the_job_list_with_its_size(finished, make_job, owner_client):
    waiting = make_job(reference="still-waiting")
    page = owner_client.get(reverse("videos:job_list")).content.decode()
    poster = reverse("videos:job_poster", args=[finished.id])
    [tag] = [t for t in img_tags(page) if poster in t]
    assert 'width="320"' in tag and 'height="240"' in tag and 'loading="lazy"' in tag
    assert 'alt="Diving"' in tag
    # The job still waiting has the placeholder, named for a screen reader.
    assert reverse("videos:job_poster", args=[waiting.id]) not in page
    assert 'aria-label="Diving: no poster yet"' in page


def test_it_gives_the_player_its_poster_on_the_job_page(finished, owner_client):
    page = owner_client.get(reverse("videos:job_detail", args=[finished.id])).content.decode()
    poster = reverse("videos:job_poster", args=[finished.id])
    assert re.search(rf'<video id="video"[^>]* poster="{poster}"[^>]* width="320"', page)
    status = owner_client.get(reverse("videos:job_status", args=[finished.id])).json()
    assert status["video"]["poster_url"] == poster
    # The "video stored" event carries it too, for a page that was open while it came.
    frame = finished.attachments.get(kind=AttachmentKind.FRAME)
    [stored] = [e for e in status["events"] if e["kind"] == "video"]
    assert stored["video"]["poster_url"] == reverse("videos:job_file", args=[finished.id, frame.pk])


def test_it_puts_the_poster_in_the_api_answer(finished, api):
    data = api.get(f"/videos/{finished.id}").json()
    video = data["video"]
    assert (video["width"], video["height"]) == (320, 240)
    frame = finished.attachments.get(kind=AttachmentKind.FRAME)
    assert video["poster_url"].endswith(f"/api/v1/videos/{finished.id}/files/{frame.pk}")
    fetched = api.get(video["poster_url"].split("/api/v1", 1)[1])
    assert fetched.status_code == 200 and fetched["Content-Type"] == "image/webp"


def test_it_keeps_the_poster_out_of_another_teams_api(finished, outsider_api):
    frame = finished.attachments.get(kind=AttachmentKind.FRAME)
    assert outsider_api.get(f"/videos/{finished.id}/files/{frame.pk}").status_code == 404


# --- A template's poster and preview ----------------------------------------------------------


def card(page: str, template: VideoTemplate) -> str:
    match = re.search(
        rf'<article class="card tile" data-template="{template.template_id}" '
        rf'data-provider="{template.provider}"[^>]*>(.*?)</article>',
        page,
        re.S,
    )
    assert match, template.name
    return match.group(1)


def test_it_shows_a_placeholder_for_a_template_nobody_has_used(diving, owner_client):
    page = owner_client.get(reverse("videos:gallery")).content.decode()
    tile = card(page, diving)
    assert "poster-placeholder" in tile and 'aria-label="Diving: no preview"' in tile
    url = reverse("videos:template_poster", args=[diving.pk])
    assert owner_client.get(url).status_code == 404


def test_it_shows_the_teams_latest_video_poster_for_a_template_without_cover(
    finished, diving, owner_client, client, outsider
):
    page = owner_client.get(reverse("videos:gallery")).content.decode()
    url = reverse("videos:template_poster", args=[diving.pk])
    [tag] = img_tags(card(page, diving))
    assert url in tag and 'width="320"' in tag and 'alt="Diving"' in tag
    with Image.open(io.BytesIO(body(owner_client.get(url)))) as image:
        assert image.format == "WEBP"
    # Another team sees its own (none): the placeholder, and no file behind the URL.
    client.force_login(outsider)
    assert "poster-placeholder" in card(
        client.get(reverse("videos:gallery")).content.decode(), diving
    )
    assert client.get(url).status_code == 404


def test_it_prefers_the_templates_cover_and_plays_its_preview_loop(finished, diving, owner_client):
    from videos.services.posters import template_cover_store, template_preview_store

    template_cover_store(diving, io.BytesIO(make_image(1280, 720)))
    template_preview_store(diving, io.BytesIO(MP4))
    page = owner_client.get(reverse("videos:gallery")).content.decode()
    tile = card(page, diving)
    preview = reverse("videos:template_asset", args=[diving.pk, "preview"])
    poster = reverse("videos:template_poster", args=[diving.pk])
    video = re.search(r"<video [^>]*>", tile).group(0)
    for attribute in (f'src="{preview}"', f'poster="{poster}"', "muted", "loop", "data-preview"):
        assert attribute in video
    # Played by static/js/previews.js while on screen; nothing loads before.
    assert 'preload="none"' in video and "autoplay" not in video
    assert 'width="640" height="360"' in video  # the cover, kept at most 640 px wide
    with Image.open(io.BytesIO(body(owner_client.get(poster)))) as image:
        assert (image.format, image.size) == ("WEBP", (640, 360))


# --- Staff uploads in the admin ---------------------------------------------------------------


@pytest.fixture
def staff_client(client, db):
    from django.contrib.auth import get_user_model

    staff = get_user_model().objects.create_superuser("staffer", "staff@example.com", "pw")
    client.force_login(staff)
    return client


def admin_form(template: VideoTemplate, **files) -> dict:
    data = {
        "provider": template.provider,
        "region": template.region,
        "template_id": template.template_id,
        "name": template.name,
        "description": template.description,
        "media_inputs": template.media_inputs,
        "media_label": template.media_label,
        "text_inputs": template.text_inputs,
        "text_label": template.text_label,
        "text_placeholder": template.text_placeholder,
        "price_cents": template.price_cents,
        "is_active": "on",
        "inputs_known": "on",
        "position": template.position,
    }
    return {**data, **files}


def test_it_keeps_a_staff_uploaded_poster_and_preview_as_the_pages_show_them(staff_client, diving):
    url = reverse("admin:videos_videotemplate_change", args=[diving.pk])
    response = staff_client.post(
        url,
        admin_form(
            diving,
            cover=SimpleUploadedFile("c.jpg", make_image(1000, 500, "JPEG"), "image/jpeg"),
            preview=SimpleUploadedFile("p.mp4", MP4, "video/mp4"),
        ),
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    diving.refresh_from_db()
    assert (diving.cover_width, diving.cover_height) == (640, 320)
    with diving.cover.open("rb") as fh, Image.open(fh) as image:
        assert image.format == "WEBP"
    with diving.preview.open("rb") as fh, av.open(fh) as clip:
        assert [s.type for s in clip.streams] == ["video"]
    assert "640 x 320 px" in staff_client.get(url).content.decode()  # the change form says


def test_it_refuses_an_upload_that_does_not_decode_and_says_which(staff_client, diving):
    diving.cover.save("old.png", ContentFile(make_image()), save=True)
    old = diving.cover.name
    url = reverse("admin:videos_videotemplate_change", args=[diving.pk])
    response = staff_client.post(
        url,
        admin_form(
            diving,
            cover=SimpleUploadedFile("c.png", b"<svg onload=alert(1)>", "image/png"),
            preview=SimpleUploadedFile("p.mp4", b"not a video" * 50, "video/mp4"),
        ),
    )
    assert response.status_code == 200
    page = response.content.decode()
    assert "Not usable as a poster" in page and "Not usable as a preview" in page
    diving.refresh_from_db()
    assert diving.cover.name == old and not diving.preview


# --- What was stored before -------------------------------------------------------------------


def test_it_backfills_posters_covers_and_loops_once(make_job, diving, run_for_life):
    from django.core.management import call_command

    from videos.models import Attachment

    job = make_job()
    # A video stored before frames were cut: no poster, no size, no codec.
    old = Attachment(job=job, kind=AttachmentKind.RESULT, content_type="video/mp4", bytes=len(MP4))
    old.file.save("video.mp4", ContentFile(MP4), save=True)
    broken = Attachment(job=make_job(), kind=AttachmentKind.RESULT, content_type="video/mp4")
    broken.file.save("video.mp4", ContentFile(b"no video" * 100), save=True)
    # A template's cover and clip as they were kept before: the PNG and the whole clip.
    diving.cover.save("cover.png", ContentFile(make_image(1200, 600)), save=True)
    run_for_life.preview.save("preview.mp4", ContentFile(clip_with_sound()), save=True)
    out = io.StringIO()
    call_command("backfill_posters", stdout=out)
    assert "1 cover(s), 1 preview(s), 1 video poster(s) made; 1 file(s) do not decode" in (
        out.getvalue()
    )
    old.refresh_from_db()
    assert (old.poster.kind, old.width, old.height, old.codec) == ("frame", 320, 240, "h264")
    diving.refresh_from_db()
    assert (diving.cover_width, diving.cover_height) == (640, 320)
    run_for_life.refresh_from_db()
    with run_for_life.preview.open("rb") as fh, av.open(fh) as clip:
        assert not clip.streams.audio
    again = io.StringIO()
    call_command("backfill_posters", stdout=again)
    assert "0 cover(s), 0 preview(s), 0 video poster(s) made" in again.getvalue()


def clip_with_sound() -> bytes:
    from tests.test_media import encode

    return encode("libx264", "mp4", size=(640, 360), frames=30, audio=True)
