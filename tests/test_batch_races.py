"""Batches under real concurrency (PostgreSQL: `bash scripts/test-services.sh
tests/test_batch_races.py`): duplicates of one request, two batches at the quota's edge, the
last two jobs of a batch ending at once."""

from __future__ import annotations

import threading

import pytest
from django.db import connection
from django.test import Client

from batches.models import Batch, BatchItem
from billing.models import EntryKind, LedgerEntry
from tests.apiclient import ApiClient, data_url
from tests.conftest import DIVING
from videos.models import Job

pytestmark = [
    pytest.mark.postgres,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


def body(png, n: int = 3) -> dict:
    return {
        "template_id": DIVING,
        "items": [
            {"media_inputs": [{"value": data_url(png)}], "reference": f"r{i}"} for i in range(n)
        ],
    }


def at_once(count: int, work) -> list:
    barrier = threading.Barrier(count)
    answers: list = [None] * count

    def run(i: int) -> None:
        try:
            barrier.wait(timeout=30)
            answers[i] = work(i)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def test_it_makes_one_batch_for_concurrent_duplicates_of_one_request(
    api_token, key, diving, png, enqueued
):
    payload = body(png)
    answers = at_once(
        10,
        lambda i: ApiClient(Client(), api_token).post(
            "/batches", payload, headers={"Idempotency-Key": "batch-race"}
        ),
    )
    assert [a.status_code for a in answers] == [201] * 10, [a.content for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert Batch.objects.count() == 1 and Job.objects.count() == 3
    assert LedgerEntry.objects.filter(kind=EntryKind.RESERVE).count() == 3
    assert sum(1 for call in enqueued if call[0] == "videos.tasks.submit_job") == 3


def test_it_admits_only_the_batch_that_fits_when_two_race_for_the_quota(
    api_token, team, key, diving, png, enqueued
):
    from billing.services import team_plan_assign

    team_plan = team_plan_assign(team=team)
    team_plan.video_cap = 5
    team_plan.save()
    answers = at_once(2, lambda i: ApiClient(Client(), api_token).post("/batches", body(png)))
    assert sorted(a.status_code for a in answers) == [201, 402]
    assert Batch.objects.count() == 1 and Job.objects.count() == 3
    assert LedgerEntry.objects.filter(kind=EntryKind.RESERVE).count() == 3


def test_it_finishes_the_batch_once_when_its_last_jobs_end_together(
    team, owner, key, diving, png, enqueued
):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from batches.services import ItemSpec, MediaSource, batch_create
    from notifications.models import Notification
    from videos.services import job_fail

    specs = [
        ItemSpec(texts=[], media=[MediaSource(upload=SimpleUploadedFile(f"{i}.png", png))])
        for i in range(2)
    ]
    batch = batch_create(team=team, user=owner, template=diving, items=specs)
    jobs = list(BatchItem.objects.filter(batch=batch).values_list("job_id", flat=True))
    at_once(2, lambda i: job_fail(jobs[i], code="upstream_failed", message="no"))
    batch.refresh_from_db()
    assert batch.finished_at is not None
    assert Notification.objects.filter(kind="batch_finished").count() == 1
