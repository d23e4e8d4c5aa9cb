"""Share links: a public page for a finished video, made and revoked by its team (job page and
API), its token stored hashed, nothing of the team on it, 404 once revoked or expired."""

from __future__ import annotations

import hashlib
import re
from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import AuditEvent
from tests.apiclient import drive_to_success
from tests.fakes import MP4
from tests.security.world import MARK_A, MARK_B, build_world, png_bytes
from videos.models import Attachment, AttachmentKind, Share
from videos.services import (
    ShareInputError,
    ShareStateError,
    share_create,
    share_for_token,
    share_revoke,
)
from videos.services.shares import SHARE_MAX_SECONDS, SHARE_MIN_SECONDS

DAY = 86400


@pytest.fixture
def finished(make_job, upstream, django_capture_on_commit_callbacks):
    """A succeeded Diving job of the owner's team, its video stored."""
    job = make_job(reference="order-7")
    with django_capture_on_commit_callbacks(execute=True):
        drive_to_success(job, upstream)
    job.refresh_from_db()
    assert job.status == "succeeded" and job.result.file
    return job


@pytest.fixture
def shared(finished, owner):
    share, raw = share_create(job=finished, by=owner, expires_in_s=None)
    return share, raw


def page_of(raw: str) -> str:
    return reverse("videos:share", kwargs={"token": raw})


def video_of(raw: str) -> str:
    return reverse("videos:share_video", kwargs={"token": raw})


def body_of(response) -> bytes:
    return b"".join(response.streaming_content) if response.streaming else response.content


def fetch(client, path: str):
    """The answer and the file's bytes: streamed (local files) or from the signed S3 link."""
    response = client.get(path)
    if response.status_code == 302 and django_settings.S3_BUCKET:
        return response, requests.get(response["Location"], timeout=10).content
    return response, body_of(response)


def later(monkeypatch, seconds: int) -> None:
    """Fake time: every `timezone.now()` from here on is `seconds` later."""
    moved = timezone.now() + timedelta(seconds=seconds)
    monkeypatch.setattr("django.utils.timezone.now", lambda: moved)


def add_poster(job) -> Attachment:
    poster = Attachment(job=job, kind=AttachmentKind.POSTER, content_type="image/png")
    poster.file.save("poster.png", ContentFile(png_bytes(320, 180)), save=True)
    return poster


# --- The service --------------------------------------------------------------------------


def test_it_stores_only_the_tokens_hash(finished, owner):
    share, raw = share_create(job=finished, by=owner, expires_in_s=7 * DAY)
    share.refresh_from_db()
    assert len(raw) >= 43  # 256 random bits
    assert share.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    assert share.prefix == raw[:6]
    stored = " ".join(
        str(value) for value in Share.objects.filter(pk=share.pk).values().get().values()
    )
    assert raw not in stored
    assert share_for_token(raw) == share
    assert share_for_token(raw[:-1] + ("A" if raw[-1] != "A" else "B")) is None


def test_it_takes_expiries_from_a_day_to_ten_years_or_never(finished, owner):
    for seconds in (SHARE_MIN_SECONDS, SHARE_MAX_SECONDS, None):
        share, _raw = share_create(job=finished, by=owner, expires_in_s=seconds)
        if seconds is None:
            assert share.expires_at is None
        else:
            expected = timezone.now() + timedelta(seconds=seconds)
            assert abs((share.expires_at - expected).total_seconds()) < 60
    for bad in (0, -1, SHARE_MIN_SECONDS - 1, SHARE_MAX_SECONDS + 1, True, "86400", 1.5):
        with pytest.raises(ShareInputError) as caught:
            share_create(job=finished, by=owner, expires_in_s=bad)
        assert caught.value.field == "expires_in_s"
    assert Share.objects.count() == 3


def test_it_shares_only_a_finished_video(make_job, owner):
    job = make_job()
    with pytest.raises(ShareStateError) as caught:
        share_create(job=job, by=owner, expires_in_s=None)
    assert caught.value.code == "not_shareable" and "queued" in str(caught.value)
    assert not Share.objects.exists()


def test_it_revokes_once_and_records_each_act_once(shared, owner, team):
    share, raw = shared
    first = share_revoke(share=share, by=owner).revoked_at
    assert first is not None
    again = share_revoke(share=share, by=owner)
    assert again.revoked_at == first  # idempotent: the first revocation stands
    assert share_for_token(raw) is None
    events = AuditEvent.objects.filter(team=team, action__startswith="share.")
    assert sorted(events.values_list("action", flat=True)) == ["share.created", "share.revoked"]
    for event in events:
        assert raw not in event.target and share.prefix in event.target


# --- The public page -------------------------------------------------------------------------


def test_it_plays_the_video_for_anyone_with_the_link(client, shared, finished):
    share, raw = shared
    response = client.get(page_of(raw))
    assert response.status_code == 200
    html = response.content.decode()
    assert "<h1>Diving</h1>" in html
    assert f'src="{video_of(raw)}"' in html
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Robots-Tag"].startswith("noindex")
    assert "Set-Cookie" not in response  # no session for a visitor
    video, content = fetch(client, video_of(raw))
    assert video.status_code in (200, 302)  # 302: the signed S3 link
    assert content == MP4
    assert video["Referrer-Policy"] == "no-referrer"
    share.refresh_from_db()
    assert share.views == 1  # the page, not its video


def test_it_offers_previews_to_chat_apps(client, shared, finished, settings):
    settings.PUBLIC_BASE_URL = "https://portal.example"
    _share, raw = shared
    html = client.get(page_of(raw)).content.decode()
    meta = dict(re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)"', html))
    assert meta["og:type"] == "video.other"
    assert meta["og:title"] == "Diving"
    assert meta["og:video"] == f"https://portal.example{video_of(raw)}"
    assert meta["og:video:type"] == "video/mp4"
    assert (meta["og:video:width"], meta["og:video:height"]) == ("320", "240")
    # Every stored video has the frame cut from it as its poster: a large image card.
    poster_url = "https://portal.example" + reverse("videos:share_poster", kwargs={"token": raw})
    assert meta["og:image"] == poster_url and meta["twitter:card"] == "summary_large_image"
    frame = finished.attachments.get(kind="frame")
    served, content = fetch(client, reverse("videos:share_poster", kwargs={"token": raw}))
    assert served.status_code in (200, 302) and content == frame.file.open("rb").read()
    # A video kept without one (stored before frames were cut): the upstream's poster, or none.
    frame.delete()
    html = client.get(page_of(raw)).content.decode()
    meta = dict(re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)"', html))
    assert "og:image" not in meta and meta["twitter:card"] == "summary"
    poster = add_poster(finished)
    html = client.get(page_of(raw)).content.decode()
    meta = dict(re.findall(r'<meta (?:property|name)="([^"]+)" content="([^"]*)"', html))
    assert meta["og:image"] == poster_url and meta["twitter:image"] == poster_url
    assert meta["twitter:card"] == "summary_large_image"
    served, content = fetch(client, reverse("videos:share_poster", kwargs={"token": raw}))
    assert served.status_code in (200, 302) and content == poster.file.open("rb").read()


def test_it_counts_every_view_of_the_page(client, shared):
    share, raw = shared
    for _ in range(3):
        assert client.get(page_of(raw)).status_code == 200
    assert client.head(page_of(raw)).status_code == 200  # a link checker: not a view
    share.refresh_from_db()
    assert share.views == 3


def test_it_answers_404_for_expired_revoked_and_unknown_links(client, finished, owner, monkeypatch):
    expiring, expiring_raw = share_create(job=finished, by=owner, expires_in_s=DAY)
    revoked, revoked_raw = share_create(job=finished, by=owner, expires_in_s=None)
    share_revoke(share=revoked, by=owner)
    assert client.get(page_of(expiring_raw)).status_code == 200
    later(monkeypatch, DAY + 1)
    answers = set()
    for raw in (expiring_raw, revoked_raw, "no-such-token-0123456789", "x" * 500):
        for path in (page_of(raw), video_of(raw)):
            response = client.get(path)
            assert response.status_code == 404, path
            answers.add(response.content)
    assert len(answers) == 1  # unknown, revoked and expired look alike
    expiring.refresh_from_db()
    revoked.refresh_from_db()
    assert expiring.views == 1 and revoked.views == 0


def test_it_shows_nothing_of_the_team(
    client, diving, upstream, django_capture_on_commit_callbacks, enqueued
):
    # The security suite's world: every name, label, reference, address of team A's and B's
    # objects carries `mark-a-`/`mark-b-`, so one search of a body finds any leak.
    world = build_world(
        template=diving, upstream=upstream, capture=django_capture_on_commit_callbacks
    )
    job = world.a.job
    raw = world.a.share_token
    for who in (None, world.a.owner, world.b.owner):
        if who is not None:
            client.force_login(who)
        for path in (page_of(raw), video_of(raw)):
            response, content = fetch(client, path)
            assert response.status_code in (200, 302)
            # On S3 the signed link names the stored object (jobs/<team>/<job id>/...) as the
            # job page's does; an id opens nothing without a membership. Marks count there too.
            location = response.get("Location", "").lower()
            assert MARK_A not in location and MARK_B not in location
            head = "\n".join(f"{k}: {v}" for k, v in response.items() if k != "Location")
            text = (head + content.decode("utf-8", errors="replace")).lower()
            assert MARK_A not in text and MARK_B not in text, path
            assert str(job.id) not in text and job.id.hex not in text
            assert job.team.name.lower() not in text
            assert diving.price_display not in text and "price" not in text
            assert job.upstream_task_id.lower() not in text
            assert "team" not in text  # not even the viewer's own teams
            assert "sign out" not in text


def test_it_serves_the_video_through_a_signed_url_on_s3(client, shared):
    if not django_settings.S3_BUCKET:
        pytest.skip("needs S3 (S3_BUCKET; moto's server in `make test-services`)")
    _share, raw = shared
    response = client.get(video_of(raw))
    assert response.status_code == 302
    assert response["Cache-Control"] == "private, no-store"
    assert "X-Amz-Signature" in parse_qs(urlsplit(response["Location"]).query)


# --- The job page ----------------------------------------------------------------------------


def test_it_lets_a_teammate_make_a_link_shown_once(client, teammate, finished):
    client.force_login(teammate)
    detail = reverse("videos:job_detail", args=[finished.id])
    response = client.post(
        reverse("videos:job_share_create", args=[finished.id]), {"expires": "30d"}
    )
    assert response.status_code == 302 and response["Location"] == detail + "#share"
    share = Share.objects.get()
    assert share.created_by == teammate
    assert abs((share.expires_at - timezone.now() - timedelta(days=30)).total_seconds()) < 60
    html = client.get(detail).content.decode()
    link = re.search(r'value="(http://testserver/s/[^"]+/)" data-select-on-click', html).group(1)
    assert (
        hashlib.sha256(link.rstrip("/").rsplit("/", 1)[-1].encode()).hexdigest() == share.token_hash
    )
    assert f"{share.prefix}…" in html
    again = client.get(detail).content.decode()
    assert link not in again and f"{share.prefix}…" in again  # the link once; the row stays
    assert client.get(link).status_code == 200


def test_it_refuses_a_bad_expiry_on_the_job_page(owner_client, finished):
    response = owner_client.post(
        reverse("videos:job_share_create", args=[finished.id]), {"expires": "5y"}, follow=True
    )
    assert response.status_code == 200
    assert "Expires after: choose 1 day, 7 days, 30 days or never." in response.content.decode()
    assert not Share.objects.exists()


def test_it_revokes_from_the_job_page(owner_client, shared, finished):
    share, raw = shared
    html = owner_client.get(reverse("videos:job_detail", args=[finished.id])).content.decode()
    revoke = reverse("videos:job_share_revoke", args=[finished.id, share.pk])
    assert f'action="{revoke}"' in html and "<summary>Revoke</summary>" in html
    response = owner_client.post(revoke)
    assert response.status_code == 302
    share.refresh_from_db()
    assert share.revoked_at is not None
    assert owner_client.get(page_of(raw)).status_code == 404
    html = owner_client.get(reverse("videos:job_detail", args=[finished.id])).content.decode()
    assert "revoked" in html and f'action="{revoke}"' not in html


def test_it_offers_no_share_for_an_unfinished_job(owner_client, make_job):
    job = make_job()
    html = owner_client.get(reverse("videos:job_detail", args=[job.id])).content.decode()
    assert 'id="share"' not in html
    response = owner_client.post(
        reverse("videos:job_share_create", args=[job.id]), {"expires": "7d"}, follow=True
    )
    assert "only a finished video can be shared" in response.content.decode()
    assert not Share.objects.exists()


def test_it_hides_the_share_actions_from_outsiders(client, outsider, shared, finished):
    share, _raw = shared
    client.force_login(outsider)
    create = client.post(reverse("videos:job_share_create", args=[finished.id]), {"expires": "7d"})
    revoke = client.post(reverse("videos:job_share_revoke", args=[finished.id, share.pk]))
    assert create.status_code == 404 and revoke.status_code == 404
    assert Share.objects.count() == 1
    share.refresh_from_db()
    assert share.revoked_at is None


# --- The JSON API ----------------------------------------------------------------------------


def test_it_makes_lists_and_revokes_links_over_the_api(api, finished, settings):
    settings.PUBLIC_BASE_URL = "https://portal.example"
    made = api.post(f"/videos/{finished.id}/shares", {"expires_in_s": 7 * DAY})
    assert made.status_code == 201, made.content
    body = made.json()
    assert set(body) >= {"id", "url", "expires_at", "views", "created_at"}
    assert body["url"].startswith("https://portal.example/s/") and body["views"] == 0
    share = Share.objects.get(pk=body["id"])
    raw = body["url"].rstrip("/").rsplit("/", 1)[-1]
    made_event = AuditEvent.objects.get(action="share.created")
    assert made_event.ip == "127.0.0.1" and raw not in made_event.target
    assert share.token_hash == hashlib.sha256(raw.encode()).hexdigest()
    never = api.post(f"/videos/{finished.id}/shares", {"expires_in_s": None}).json()
    assert never["expires_at"] is None

    listed = api.get(f"/videos/{finished.id}/shares")
    assert listed.status_code == 200
    items = listed.json()["items"]
    assert [item["id"] for item in items] == [never["id"], body["id"]]
    assert all(item["url"] is None for item in items)
    assert items[1]["prefix"] == raw[:6] and raw not in listed.content.decode()

    assert api.delete(f"/shares/{body['id']}").status_code == 204
    assert api.delete(f"/shares/{body['id']}").status_code == 204  # again: nothing changes
    share.refresh_from_db()
    assert share.revoked_at is not None
    revoked = next(
        i for i in api.get(f"/videos/{finished.id}/shares").json()["items"] if i["id"] == share.pk
    )
    assert revoked["active"] is False and revoked["revoked_at"] is not None


def test_it_builds_the_url_from_the_request_without_a_public_base_url(api, finished):
    body = api.post(f"/videos/{finished.id}/shares", {}).json()
    assert body["url"].startswith("http://testserver/s/") and body["expires_at"] is None


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"expires_in_s": 3600}, "expires_in_s"),
        ({"expires_in_s": SHARE_MAX_SECONDS + 1}, "expires_in_s"),
        ({"expires_in_s": -DAY}, "expires_in_s"),
        ({"expires_in_s": "86400"}, "expires_in_s"),
        ({"expires_in_s": True}, "expires_in_s"),
        ({"expires_in_s": 86400.5}, "expires_in_s"),
        ({"expires": DAY}, "expires"),
    ],
)
def test_it_refuses_a_bad_expiry_over_the_api(api, finished, payload, field):
    response = api.post(f"/videos/{finished.id}/shares", payload)
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field
    assert field in response.json()["detail"]
    assert not Share.objects.exists()


def test_it_refuses_to_share_an_unfinished_video_over_the_api(api, make_job):
    job = make_job()
    response = api.post(f"/videos/{job.id}/shares", {})
    assert response.status_code == 409
    assert response.json()["code"] == "not_shareable"
    assert "queued" in response.json()["detail"]
    assert not Share.objects.exists()


def test_it_answers_404_to_another_teams_token(api, outsider_api, finished):
    share_id = api.post(f"/videos/{finished.id}/shares", {}).json()["id"]
    for response, missing in (
        (
            outsider_api.post(f"/videos/{finished.id}/shares", {}),
            api.post(f"/videos/{'0' * 8}-0000-0000-0000-{'0' * 12}/shares", {}),
        ),
        (
            outsider_api.get(f"/videos/{finished.id}/shares"),
            api.get(f"/videos/{'0' * 8}-0000-0000-0000-{'0' * 12}/shares"),
        ),
        (outsider_api.delete(f"/shares/{share_id}"), api.delete("/shares/999999")),
    ):
        assert response.status_code == 404
        assert response.json() == missing.json()  # the same answer as for nothing at all
    assert Share.objects.count() == 1
    assert Share.objects.get().revoked_at is None
