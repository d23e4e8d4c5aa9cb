"""The portal's batch pages: new batch from a CSV + ZIP or many images (checked first, all or
nothing, the price and what is left), the batch page (grid, counts, retry, cancel, ZIP)."""

from __future__ import annotations

import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from batches.models import Batch, BatchItem
from billing.models import EntryKind, LedgerEntry
from tests.batch_support import csv_bytes, product_rows, zip_bytes
from tests.conftest import make_image
from videos.models import Job, JobStatus


def upload(name: str, data: bytes, content_type: str = "application/octet-stream"):
    return SimpleUploadedFile(name, data, content_type=content_type)


def check_rows(client, template, rows, files, **extra):
    return client.post(
        reverse("batches:new", args=[template.pk]),
        {
            "rows": upload("rows.csv", csv_bytes(rows, ["image", "reference"]), "text/csv"),
            "images_zip": upload("photos.zip", zip_bytes(files), "application/zip"),
            **extra,
        },
    )


def confirm(client, template, response):
    form = response.context["confirm"]
    return client.post(
        reverse("batches:confirm", args=[template.pk]),
        {"draft": form.initial["draft"], "name": form.initial["name"]},
    )


def test_it_reports_every_bad_row_by_line_and_column_and_creates_nothing(owner_client, key, diving):
    rows, files = product_rows(200)
    rows[9]["image"] = "missing.png"  # line 11
    files["p060.png"] = make_image(200, 200)  # line 62: too small
    rows[149]["reference"] = "x" * 201  # line 151
    response = check_rows(owner_client, diving, rows, files)
    assert response.status_code == 200
    found = {(e.line, e.column) for e in response.context["row_errors"]}
    assert found == {(11, "image"), (62, "image"), (151, "reference")}
    page = response.content.decode()
    assert "3 problems found; nothing was created" in page
    assert "missing.png" in page and "300" in page
    assert "confirm" not in response.context or response.context["confirm"] is None
    assert not Batch.objects.exists() and not Job.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_it_shows_the_price_and_whats_left_then_creates_the_batch(
    owner_client, key, diving, enqueued, django_capture_on_commit_callbacks
):
    rows, files = product_rows(5)
    response = check_rows(owner_client, diving, rows, files, name="Spring shoes")
    admission = response.context["admission"]
    assert (admission.count, admission.total_cents) == (5, 200)
    page = response.content.decode()
    assert "$2.00" in page and "Left this month: 100 videos" in page
    assert not Job.objects.exists()  # checking makes nothing
    with django_capture_on_commit_callbacks(execute=True):
        created = confirm(owner_client, diving, response)
    batch = Batch.objects.get()
    assert created.status_code == 302 and created["Location"] == f"/batches/{batch.id}/"
    assert batch.name == "Spring shoes"
    items = list(BatchItem.objects.filter(batch=batch).select_related("job"))
    assert [i.job.reference for i in items] == [f"sku-{i:03d}" for i in range(5)]
    assert all(i.job.attachments.filter(kind="input").exists() for i in items)
    assert LedgerEntry.objects.filter(kind=EntryKind.RESERVE).count() == 5


def test_it_refuses_a_batch_over_the_remaining_quota_with_the_numbers(
    owner_client, team, key, diving
):
    from billing.services import team_plan_assign

    team_plan = team_plan_assign(team=team)
    team_plan.video_cap = 3
    team_plan.save()
    rows, files = product_rows(4)
    response = check_rows(owner_client, diving, rows, files)
    page = response.content.decode()
    assert "This batch has 4 videos but your team has only 3 left" in page
    assert response.context.get("confirm") is None
    assert not Job.objects.exists()


def test_it_makes_one_video_per_dropped_image(
    owner_client, key, diving, enqueued, django_capture_on_commit_callbacks
):
    images = [upload(f"shoe-{i}.png", make_image(), "image/png") for i in range(3)]
    response = owner_client.post(reverse("batches:new", args=[diving.pk]), {"images": images})
    assert response.context["admission"].count == 3
    with django_capture_on_commit_callbacks(execute=True):
        confirm(owner_client, diving, response)
    assert sorted(Job.objects.values_list("reference", flat=True)) == [
        "shoe-0.png",
        "shoe-1.png",
        "shoe-2.png",
    ]


def test_it_names_missing_and_unknown_columns(owner_client, key, run_for_life):
    response = owner_client.post(
        reverse("batches:new", args=[run_for_life.pk]),
        {"rows": upload("rows.csv", b"image,colour\nhttps://x.example/a.png,red\n", "text/csv")},
    )
    found = {(e.line, e.column, e.message.split(";")[0]) for e in response.context["row_errors"]}
    assert found == {(1, "colour", "unknown column"), (1, "text", "missing column")}


def test_it_takes_text_columns_and_image_urls(
    owner_client, owner, run_for_life, enqueued, django_capture_on_commit_callbacks
):
    from videos.services import key_store

    key_store(user=owner, label="Main", secret="sk-test-owner-secret-5678")
    body = b"text,image,reference\nLion,https://cdn.example/a.png,a\n,https://cdn.example/b.png,b\n"
    response = owner_client.post(
        reverse("batches:new", args=[run_for_life.pk]),
        {"rows": upload("rows.csv", body, "text/csv")},
    )
    assert [(e.line, e.column) for e in response.context["row_errors"]] == [(3, "text")]
    fixed = body.replace(b"\n,https", b"\nTiger,https")
    response = owner_client.post(
        reverse("batches:new", args=[run_for_life.pk]),
        {"rows": upload("rows.csv", fixed, "text/csv")},
    )
    with django_capture_on_commit_callbacks(execute=True):
        confirm(owner_client, run_for_life, response)
    jobs = Job.objects.order_by("reference")
    assert [(j.text_inputs, j.media_urls) for j in jobs] == [
        (["Lion"], ["https://cdn.example/a.png"]),
        (["Tiger"], ["https://cdn.example/b.png"]),
    ]


def test_it_refuses_a_confirm_with_another_teams_draft(owner_client, client, outsider, key, diving):
    rows, files = product_rows(2)
    response = check_rows(owner_client, diving, rows, files)
    draft = response.context["confirm"].initial["draft"]
    client.force_login(outsider)
    other = client.post(reverse("batches:confirm", args=[diving.pk]), {"draft": draft})
    assert "no longer here" in other.content.decode()
    assert not Batch.objects.exists()


@pytest.fixture
def batch(team, owner, key, diving, enqueued, django_capture_on_commit_callbacks):
    from batches.services import ItemSpec, MediaSource, batch_create

    specs = [
        ItemSpec(
            texts=[],
            media=[MediaSource(upload=upload(f"{i}.png", make_image(), "image/png"))],
            reference=f"r{i}",
        )
        for i in range(3)
    ]
    with django_capture_on_commit_callbacks(execute=True):
        return batch_create(team=team, user=owner, template=diving, items=specs)


def test_it_shows_the_grid_counts_and_progress(owner_client, batch):
    response = owner_client.get(reverse("batches:detail", args=[batch.id]))
    page = response.content.decode()
    assert response.status_code == 200
    assert page.count('class="batch-cell status-') == 3
    assert "0 of 3 finished" in page and "Cancel the rest" in page
    status = owner_client.get(reverse("batches:status", args=[batch.id])).json()
    assert status["status"] == "queued" and status["done"] is False
    assert "batch-grid" in status["html"]


def test_it_lets_a_teammate_see_it_and_hides_it_from_outsiders(client, batch, teammate, outsider):
    client.force_login(teammate)
    assert client.get(reverse("batches:detail", args=[batch.id])).status_code == 200
    client.force_login(outsider)
    for name in ("detail", "status", "archive"):
        assert client.get(reverse(f"batches:{name}", args=[batch.id])).status_code == 404
    for name in ("cancel", "retry"):
        assert client.post(reverse(f"batches:{name}", args=[batch.id])).status_code == 404
    assert Job.objects.filter(status=JobStatus.QUEUED).count() == 3  # nothing moved
    assert "r0" not in client.get(reverse("batches:list")).content.decode()


def test_it_retries_failed_rows_with_new_jobs_and_a_correct_ledger(
    owner_client, batch, enqueued, django_capture_on_commit_callbacks
):
    from videos.services import job_fail

    first = BatchItem.objects.get(batch=batch, row=1).job
    with django_capture_on_commit_callbacks(execute=True):
        job_fail(first.id, code="upstream_failed", message="the upstream said no")
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("batches:retry", args=[batch.id]))
    assert response.status_code == 302
    old, new = BatchItem.objects.filter(batch=batch, row=1).order_by("attempt")
    assert old.superseded and not new.superseded and new.attempt == 2
    assert new.job.status == JobStatus.QUEUED and new.job.attachments.filter(kind="input").exists()
    assert new.job.reference == "r0"

    def kinds(job):
        return sorted(LedgerEntry.objects.filter(job_id=job.pk).values_list("kind", flat=True))

    assert kinds(old.job) == [EntryKind.RELEASE, EntryKind.RESERVE]
    assert kinds(new.job) == [EntryKind.RESERVE]
    assert BatchItem.objects.filter(batch=batch, superseded=False).count() == 3
    again = owner_client.post(reverse("batches:retry", args=[batch.id]), follow=True)
    assert "no failed jobs" in again.content.decode()


def test_it_cancels_the_rest_and_tells_its_maker_once(
    owner_client, owner, batch, django_capture_on_commit_callbacks
):
    from notifications.models import Notification

    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("batches:cancel", args=[batch.id]))
    batch.refresh_from_db()
    assert batch.finished_at is not None and batch.canceled_at is not None
    assert Job.objects.filter(status=JobStatus.CANCELED).count() == 3
    assert LedgerEntry.objects.filter(kind=EntryKind.RELEASE).count() == 3
    (note,) = Notification.objects.filter(user=owner, kind="batch_finished")
    assert "0 of 3 video(s) made, 3 canceled" in note.body
    assert note.link == reverse("batches:detail", args=[batch.id])


def test_it_downloads_all_as_one_zip_with_a_manifest(owner_client, batch):
    response = owner_client.get(reverse("batches:archive", args=[batch.id]))
    assert response.streaming and response["Content-Type"] == "application/zip"
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == ["manifest.csv"]  # nothing made yet: the manifest says so
    lines = archive.read("manifest.csv").decode().splitlines()
    assert lines[0] == "row,job_id,status,error,video_file,reference" and len(lines) == 4


def test_it_offers_a_sample_csv_of_the_templates_columns(owner_client, run_for_life):
    response = owner_client.get(reverse("batches:sample_csv", args=[run_for_life.pk]))
    assert response.content.decode().splitlines()[0] == "text,image,reference"
