"""useapi templates from the upstream's own listing (`sync_templates`), against the sandbox."""

from __future__ import annotations

import io

import av
import pytest
from django.core.management import CommandError, call_command
from PIL import Image

from tests.conftest import ART_FONTS, DIVING, RUN_FOR_LIFE
from videos import media, services
from videos.models import VideoTemplate

PET_PILOT = "500000000000000001"
NEON = "500000000000000002"
MYSTERY = "500000000000000003"


@pytest.fixture
def useapi_key(owner, enqueued):
    return services.key_store(
        user=owner, label="useapi", secret="user:5-catalogue-token", provider="useapi"
    )


@pytest.fixture
def useapi_diving_row(db):
    def make() -> VideoTemplate:
        return VideoTemplate.objects.create(
            provider="useapi", region="global", template_id=DIVING, name="Diving", media_inputs=1,
            price_cents=50,
        )  # fmt: skip

    return make


def synced() -> dict[str, VideoTemplate]:
    return {t.template_id: t for t in VideoTemplate.objects.filter(provider="useapi")}


def test_it_reads_the_listing_into_the_catalogue(sandbox, catalogue, useapi_key, settings):
    settings.USEAPI_DEFAULT_PRICE_CENTS = 55
    counts = services.templates_sync(provider="useapi")
    assert (counts.created, counts.updated, counts.hidden) == (6, 0, 1)
    templates = synced()
    # Inputs stated by the listing's detail.
    run = templates[RUN_FOR_LIFE]
    assert (run.media_inputs, run.text_inputs, run.text_label) == (1, 1, "A wild beast")
    fonts = templates[ART_FONTS]
    assert (fonts.media_inputs, fonts.text_inputs, fonts.price_cents) == (0, 1, 35)  # credits
    # No inputs stated: the official template with the same id, else the same name.
    diving = templates[DIVING]
    official = VideoTemplate.objects.get(provider="minimax", template_id=DIVING)
    assert (diving.media_inputs, diving.text_inputs, diving.media_label) == (
        1,
        0,
        official.media_label,
    )
    assert diving.price_cents == 55  # no credits listed: the staff-set default
    assert (templates[PET_PILOT].media_inputs, templates[PET_PILOT].is_active) == (1, True)
    assert (templates[NEON].media_inputs, templates[NEON].price_cents) == (1, 60)
    # Neither stated nor matched: hidden until staff set its inputs.
    mystery = templates[MYSTERY]
    assert (mystery.inputs_known, mystery.is_active) == (False, False)
    assert all(t.is_active for t in templates.values() if t.template_id != MYSTERY)
    # Covers and clips are stored here, never hot-linked: the cover as a WebP poster of a
    # known size, the clip as a short muted loop.
    with diving.cover.open("rb") as fh, Image.open(fh) as cover:
        assert cover.format == "WEBP"
        assert cover.size == (diving.cover_width, diving.cover_height)
    with diving.preview.open("rb") as fh, av.open(fh) as loop:
        assert [s.type for s in loop.streams] == ["video"]  # no sound
        assert loop.duration / av.time_base <= media.LOOP_SECONDS
        assert loop.streams.video[0].width <= media.LOOP_MAX_WIDTH
    assert set(diving.source_urls) == {"cover", "preview"}


def test_it_keeps_staff_choices_on_the_next_sync(sandbox, catalogue, useapi_key):
    services.templates_sync(provider="useapi")
    VideoTemplate.objects.filter(provider="useapi", template_id=DIVING).update(
        price_cents=99, is_active=False
    )
    VideoTemplate.objects.filter(provider="useapi", template_id=ART_FONTS).update(price_cents=1)
    cover = synced()[DIVING].cover.name
    counts = services.templates_sync(provider="useapi")
    assert (counts.created, counts.updated) == (0, 6)
    templates = synced()
    assert (templates[DIVING].price_cents, templates[DIVING].is_active) == (99, False)
    assert templates[DIVING].cover.name == cover  # not downloaded again
    assert templates[ART_FONTS].price_cents == 35  # the listing states credits: they win


def test_it_shows_a_hidden_template_once_staff_set_its_inputs(sandbox, catalogue, useapi_key, api):
    services.templates_sync(provider="useapi")
    ids = {t["template_id"] for t in api.get("/templates", provider="useapi").json()["items"]}
    assert MYSTERY not in ids and len(ids) == 5
    VideoTemplate.objects.filter(template_id=MYSTERY).update(
        media_inputs=1, inputs_known=True, is_active=True
    )
    services.templates_sync(provider="useapi")
    items = api.get("/templates", provider="useapi").json()["items"]
    assert MYSTERY in {t["template_id"] for t in items}
    assert {t["provider"] for t in items} == {"useapi"}


def test_it_syncs_when_a_key_is_saved_while_the_catalogue_is_empty(
    owner, enqueued, django_capture_on_commit_callbacks, useapi_diving_row
):
    with django_capture_on_commit_callbacks(execute=True):
        first = services.key_store(user=owner, label="a", secret="user:5-a", provider="useapi")
        services.key_store(user=owner, label="c", secret="sk-minimax-key-1234")

    def syncs():
        return [call for call in enqueued if call[0] == "videos.tasks.sync_templates"]

    assert syncs() == [("videos.tasks.sync_templates", ("useapi",), {"key_id": first.pk})]
    useapi_diving_row()  # the listing was read: later keys need not read it again
    with django_capture_on_commit_callbacks(execute=True):
        services.key_store(user=owner, label="b", secret="user:5-b", provider="useapi")
    assert len(syncs()) == 1


def test_it_reads_the_listing_with_the_next_key_when_one_is_rejected(sandbox, owner, enqueued):
    from accounts.models import KeyStatus

    bad = services.key_store(user=owner, label="bad", secret="user:5-invalid", provider="useapi")
    good = services.key_store(user=owner, label="good", secret="user:5-good", provider="useapi")
    counts = services.templates_sync(provider="useapi")
    assert counts.created == 6
    bad.refresh_from_db()
    good.refresh_from_db()
    assert (bad.status, good.status) == (KeyStatus.INVALID, KeyStatus.ACTIVE)


def test_it_syncs_from_the_command(sandbox, catalogue, useapi_key):
    out = io.StringIO()
    call_command("sync_templates", "--provider", "useapi", f"--key={useapi_key.pk}", stdout=out)
    assert "6 new" in out.getvalue() and "1 hidden" in out.getvalue()


def test_it_says_why_when_there_is_no_key(db):
    with pytest.raises(CommandError) as excinfo:
        call_command("sync_templates", "--provider", "useapi")
    assert "no active" in str(excinfo.value)


def test_it_does_nothing_for_a_provider_without_a_listing(db):
    counts = services.templates_sync(provider="minimax")
    assert (counts.created, counts.updated) == (0, 0)


def test_it_tells_the_daily_task_why_it_did_not_sync(db):
    from videos.tasks import sync_templates

    assert sync_templates("useapi").startswith("not synced:")


def test_it_shows_synced_templates_with_their_stored_cover(
    sandbox, catalogue, useapi_key, owner_client, client
):
    from django.urls import reverse

    services.templates_sync(provider="useapi")
    diving = synced()[DIVING]
    page = owner_client.get(reverse("videos:gallery")).content.decode()
    assert "useapi.net (MiniMax proxy)" in page and "MiniMax (official API)" in page
    poster = reverse("videos:template_poster", args=[diving.pk])
    preview_url = reverse("videos:template_asset", args=[diving.pk, "preview"])
    assert poster in page and preview_url in page
    cover = reverse("videos:template_asset", args=[diving.pk, "cover"])
    response = owner_client.get(cover)
    if getattr(diving.cover.storage, "querystring_auth", False):
        # S3: a short-lived signed link to the private bucket, as for videos.
        assert response.status_code == 302 and "Signature" in response["Location"]
    else:
        assert response.status_code == 200
        assert b"".join(response.streaming_content)[8:12] == b"WEBP"
        preview = owner_client.get(preview_url)
        assert b"".join(preview.streaming_content)[4:8] == b"ftyp"
    missing = reverse("videos:template_asset", args=[diving.pk, "secrets"])
    assert owner_client.get(missing).status_code == 404
    hidden = synced()[MYSTERY]
    assert (
        owner_client.get(reverse("videos:template_asset", args=[hidden.pk, "cover"])).status_code
        == 404
    )
    client.logout()
    assert client.get(cover).status_code == 302  # sign in first
