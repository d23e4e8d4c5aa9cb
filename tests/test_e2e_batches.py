"""A batch end to end: a 200-row CSV refused for its 3 bad rows (nothing made), fixed, run by a
real qcluster against the sandbox upstream (callbacks to a live server), and downloaded as
one ZIP of 200 playable videos with a manifest that matches the jobs."""

from __future__ import annotations

import csv
import io
import zipfile

import av
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from batches.models import Batch, BatchItem
from billing.models import EntryKind, LedgerEntry
from tests.batch_support import csv_bytes, product_rows, zip_bytes
from tests.conftest import make_image
from tests.support import qcluster, wait_for
from videos.models import Job, JobStatus
from videos.services import key_store

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True, serialized_rollback=True)]

ROWS = 200


def _post_files(client, template, rows, files):
    return client.post(
        reverse("batches:new", args=[template.pk]),
        {
            "name": "Spring catalogue",
            "rows": SimpleUploadedFile(
                "rows.csv", csv_bytes(rows, ["image", "reference"]), "text/csv"
            ),
            "images_zip": SimpleUploadedFile("photos.zip", zip_bytes(files), "application/zip"),
        },
    )


def test_it_runs_a_200_row_batch_from_a_csv_to_one_zip(
    live_server, sandbox, settings, client, owner, team, diving
):
    from billing.services import team_plan_assign

    settings.PUBLIC_BASE_URL = live_server.url
    team_plan = team_plan_assign(team=team)
    team_plan.plan.video_limit = 1000
    team_plan.plan.budget_cents = 100_000
    team_plan.plan.save()
    # Two keys with room for the whole batch at once (100 each, the most a key takes), so no
    # job waits for a slot; quick (half-second) sandbox tasks.
    for n in (1, 2):
        key_store(
            user=owner,
            label=f"batch {n}",
            secret=f"sk-e2e-batch{n}-gen0.5",
            max_concurrent=100,
            rpm=10_000,
        )
    client.force_login(owner)

    rows, files = product_rows(ROWS)
    good_photo = files["p017.png"]
    rows[17]["image"] = "p017-typo.png"  # line 19
    files["p088.png"] = make_image(640, 100)  # line 90: aspect ratio out of range
    rows[160]["reference"] = "r" * 201  # line 162
    refused = _post_files(client, diving, rows, files)
    errors = refused.context["row_errors"]
    assert {(e.line, e.column) for e in errors} == {
        (19, "image"),
        (90, "image"),
        (162, "reference"),
    }
    assert not Batch.objects.exists() and not Job.objects.exists()

    rows[17]["image"] = "p017.png"
    files["p088.png"] = good_photo
    rows[160]["reference"] = "sku-160"
    checked = _post_files(client, diving, rows, files)
    assert checked.context["admission"].total_cents == ROWS * diving.price_cents
    form = checked.context["confirm"]
    created = client.post(
        reverse("batches:confirm", args=[diving.pk]),
        {"draft": form.initial["draft"], "name": form.initial["name"]},
    )
    batch = Batch.objects.get()
    assert created["Location"] == reverse("batches:detail", args=[batch.id])

    def all_ended():
        return not Job.objects.filter(status__in=JobStatus.in_flight()).exists()

    with qcluster(Q_WORKERS="4", JOB_POLL_FIRST_SECONDS="1", JOB_POOL_RECHECK_SECONDS="1"):
        wait_for(all_ended, timeout=420, interval=1, what="the batch's 200 jobs")
        wait_for(
            lambda: Batch.objects.filter(pk=batch.pk, finished_at__isnull=False).exists(),
            timeout=30,
            what="the batch to be marked finished",
        )
    assert Job.objects.filter(status=JobStatus.SUCCEEDED).count() == ROWS
    # Every job was charged once: 200 reserves, 200 captures.
    for kind in (EntryKind.RESERVE, EntryKind.CAPTURE):
        assert LedgerEntry.objects.filter(kind=kind).count() == ROWS

    response = client.get(reverse("batches:archive", args=[batch.id]))
    assert response.status_code == 200 and response.streaming
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    videos = [name for name in archive.namelist() if name.endswith(".mp4")]
    assert len(videos) == ROWS
    for name in videos:
        with av.open(io.BytesIO(archive.read(name))) as container:
            assert container.format.name.startswith("mov,mp4")
            assert container.streams.video and container.duration
    manifest = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    items = {i.row: i.job for i in BatchItem.objects.filter(batch=batch).select_related("job")}
    assert [int(r["row"]) for r in manifest] == list(range(1, ROWS + 1))
    for entry in manifest:
        job = items[int(entry["row"])]
        assert entry["job_id"] == str(job.id) and entry["status"] == "succeeded"
        assert entry["reference"] == job.reference and entry["error"] == ""
        assert entry["video_file"] == f"{int(entry['row']):04d}-{job.reference}.mp4"
    assert sorted(videos) == sorted(r["video_file"] for r in manifest)
