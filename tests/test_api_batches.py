"""POST/GET /api/v1/batches, .../cancel, .../archive: all-or-nothing, idempotent, tenant-safe."""

from __future__ import annotations

import csv
import io
import uuid
import zipfile

import pytest

from batches.models import Batch, BatchItem
from billing.models import EntryKind, LedgerEntry
from tests.apiclient import data_url, drive_to_success
from tests.conftest import DIVING, RUN_FOR_LIFE, make_image
from videos.models import Job, JobStatus


@pytest.fixture(autouse=True)
def _public_dns(monkeypatch):
    monkeypatch.setattr(
        "portal.netguard.resolve",
        lambda host, port: {"hooks.example.com": ["93.184.215.14"]}.get(host, []),
    )


def items(n: int, png: bytes) -> list[dict]:
    return [{"media_inputs": [{"value": data_url(png)}], "reference": f"sku-{i}"} for i in range(n)]


@pytest.fixture
def body(png):
    return {"template_id": DIVING, "items": items(3, png)}


def test_it_creates_one_ordinary_job_per_item(
    api, body, team, key, enqueued, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/batches", body)
    assert response.status_code == 201, response.json()
    data = response.json()
    batch = Batch.objects.get(pk=data["id"])
    assert batch.team == team
    assert data["status"] == "queued" and data["counts"]["total"] == 3
    assert data["counts"]["queued"] == 3
    jobs = list(Job.objects.filter(pk__in=data["job_ids"]))
    assert len(jobs) == 3 and all(j.status == JobStatus.QUEUED for j in jobs)
    assert [j["reference"] for j in data["jobs"]] == ["sku-0", "sku-1", "sku-2"]
    assert [j["row"] for j in data["jobs"]] == [1, 2, 3]
    # Each job has its own reservation and timeline, and its submit was enqueued.
    assert (
        LedgerEntry.objects.filter(job_id__in=data["job_ids"], kind=EntryKind.RESERVE).count() == 3
    )
    assert all(j.events.exists() for j in jobs)
    assert sorted(
        str(args[0]) for func, args, kw in enqueued if func == "videos.tasks.submit_job"
    ) == sorted(str(j.id) for j in jobs)


def test_it_lists_every_bad_item_by_index_and_field_and_creates_nothing(api, key, png):
    good = {"media_inputs": [{"value": data_url(png)}]}
    body = {
        "template_id": DIVING,
        "items": [
            good,
            {"media_inputs": []},
            good,
            {"media_inputs": [{"value": data_url(make_image(200, 200))}]},
            {"media_inputs": [{"value": "ftp://x/y.png"}]},
            {"media_inputs": [{"value": data_url(png)}], "reference": "r" * 201},
        ],
    }
    response = api.post("/batches", body)
    assert response.status_code == 422
    data = response.json()
    assert data["code"] == "invalid"
    found = {(e["index"], e["field"]) for e in data["errors"]}
    assert found == {
        (1, "items[1].media_inputs"),
        (3, "items[3].media_inputs[0]"),
        (4, "items[4].media_inputs[0]"),
        (5, "items[5].reference"),
    }
    assert "300" in next(e["message"] for e in data["errors"] if e["index"] == 3)
    assert not Batch.objects.exists() and not Job.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_it_refuses_a_batch_larger_than_the_remaining_quota_whole(api, team, key, png, settings):
    from billing.services import team_plan_assign

    team_plan = team_plan_assign(team=team)
    team_plan.video_cap = 2
    team_plan.save()
    response = api.post("/batches", {"template_id": DIVING, "items": items(3, png)})
    assert response.status_code == 402
    data = response.json()
    assert data["limit"] == "videos"
    assert "3 videos" in data["detail"] and "only 2 left" in data["detail"]
    assert not Batch.objects.exists() and not Job.objects.exists()
    assert not LedgerEntry.objects.exists()


def test_it_refuses_a_batch_over_the_budget_with_the_numbers(api, team, key, png):
    from billing.services import team_plan_assign

    team_plan = team_plan_assign(team=team)
    team_plan.budget_cap_cents = 100  # Diving is $0.40: three are $1.20
    team_plan.save()
    response = api.post("/batches", {"template_id": DIVING, "items": items(3, png)})
    assert response.status_code == 402
    assert response.json()["limit"] == "budget"
    assert "$1.20" in response.json()["detail"] and "$1.00" in response.json()["detail"]
    assert not Job.objects.exists()


def test_it_runs_more_jobs_than_the_plans_jobs_at_once(api, team, key, png, enqueued):
    from billing.services import team_plan_assign

    team_plan = team_plan_assign(team=team)
    team_plan.plan.max_concurrent = 2
    team_plan.plan.save()
    response = api.post("/batches", {"template_id": DIVING, "items": items(4, png)})
    assert response.status_code == 201, response.json()
    assert Job.objects.filter(status=JobStatus.QUEUED).count() == 4
    # The batch's jobs wait for keys; single submits still get the plan's jobs at once.
    single = {"template_id": DIVING, "media_inputs": [{"value": data_url(png)}]}
    assert api.post("/videos", single).status_code == 201
    assert api.post("/videos", single).status_code == 201
    third = api.post("/videos", single)
    assert third.status_code == 402 and third.json()["limit"] == "concurrency"


def test_it_refuses_more_items_than_the_setting(api, key, png, settings):
    settings.BATCH_MAX_ITEMS = 2
    response = api.post("/batches", {"template_id": DIVING, "items": items(3, png)})
    assert response.status_code == 422
    assert response.json()["field"] == "items" and "at most 2" in response.json()["detail"]
    assert not Job.objects.exists()


def test_it_names_the_text_input_of_each_item(api, owner, png):
    from videos.services import key_store

    key_store(user=owner, label="Main", secret="sk-test-owner-secret-5678")
    body = {
        "template_id": RUN_FOR_LIFE,
        "items": [
            {"media_inputs": [{"value": data_url(png)}], "text_inputs": [{"value": "Lion"}]},
            {"media_inputs": [{"value": data_url(png)}], "text_inputs": [{"value": " "}]},
            {"media_inputs": [{"value": data_url(png)}]},
        ],
    }
    response = api.post("/batches", body)
    assert response.status_code == 422
    assert {(e["index"], e["field"]) for e in response.json()["errors"]} == {
        (1, "items[1].text_inputs[0]"),
        (2, "items[2].text_inputs"),
    }


@pytest.mark.parametrize(
    "change, field",
    [
        ({"items": []}, "items"),
        ({"template_id": "999"}, "template_id"),
        ({"key_id": 999_999}, "key_id"),
        ({"callback_url": "http://127.0.0.1/hook"}, "callback_url"),
        ({"colour": "red"}, "colour"),
        ({"items": [{"media": []}]}, "items[0].media"),
    ],
)
def test_it_refuses_bad_input_by_field(api, body, key, change, field):
    response = api.post("/batches", {**body, **change})
    assert response.status_code == 422, response.json()
    assert response.json()["field"] == field
    assert not Batch.objects.exists() and not Job.objects.exists()


def test_it_answers_a_replay_with_the_first_batch(api, body, key, enqueued):
    headers = {"Idempotency-Key": "batch-1"}
    first = api.post("/batches", body, headers=headers)
    again = api.post("/batches", body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert first.json()["job_ids"] == again.json()["job_ids"]
    assert Batch.objects.count() == 1 and Job.objects.count() == 3
    assert LedgerEntry.objects.filter(kind=EntryKind.RESERVE).count() == 3
    other = api.post("/batches", {**body, "name": "other"}, headers=headers)
    assert other.status_code == 409 and other.json()["code"] == "idempotency_conflict"


def test_it_lists_the_teams_batches_newest_first_with_a_cursor(api, body, key, enqueued):
    ids = [api.post("/batches", body).json()["id"] for _ in range(3)]
    page = api.get("/batches", limit=2).json()
    assert [b["id"] for b in page["items"]] == ids[::-1][:2]
    assert page["items"][0]["counts"]["total"] == 3
    rest = api.get("/batches", limit=2, cursor=page["next_cursor"]).json()
    assert [b["id"] for b in rest["items"]] == [ids[0]] and rest["next_cursor"] is None


@pytest.mark.parametrize(
    "params", [{"limit": 0}, {"limit": 101}, {"cursor": "nonsense"}, {"status": "queued"}]
)
def test_it_refuses_bad_list_queries(api, params):
    assert api.get("/batches", **params).status_code == 422


def test_it_counts_and_costs_from_its_jobs(
    api, body, key, enqueued, upstream, django_capture_on_commit_callbacks
):
    data = api.post("/batches", body).json()
    first = Job.objects.get(pk=data["job_ids"][0])
    with django_capture_on_commit_callbacks(execute=True):
        drive_to_success(first, upstream)
    detail = api.get(f"/batches/{data['id']}").json()
    assert detail["status"] == "running"
    assert detail["counts"]["succeeded"] == 1 and detail["counts"]["queued"] == 2
    assert detail["cost_cents"] == 40 and detail["held_cents"] == 80
    assert detail["progress"] == 33


def test_it_cancels_the_rest_and_finishes_once(
    api, body, key, enqueued, upstream, django_capture_on_commit_callbacks
):
    data = api.post("/batches", body).json()
    with django_capture_on_commit_callbacks(execute=True):
        drive_to_success(Job.objects.get(pk=data["job_ids"][0]), upstream)
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/batches/{data['id']}/cancel")
    assert response.status_code == 200
    out = response.json()
    assert out["counts"]["canceled"] == 2 and out["counts"]["succeeded"] == 1
    assert out["status"] == "partial" and out["canceled_at"]
    batch = Batch.objects.get(pk=data["id"])
    assert batch.finished_at is not None
    released = LedgerEntry.objects.filter(job_id__in=data["job_ids"], kind=EntryKind.RELEASE)
    assert released.count() == 2
    again = api.post(f"/batches/{data['id']}/cancel")
    assert again.status_code == 409


def test_it_streams_an_archive_with_the_videos_and_a_manifest(
    api, body, key, enqueued, upstream, django_capture_on_commit_callbacks
):
    from tests.fakes import MP4

    data = api.post("/batches", body).json()
    with django_capture_on_commit_callbacks(execute=True):
        drive_to_success(Job.objects.get(pk=data["job_ids"][1]), upstream)
    response = api.get(f"/batches/{data['id']}/archive")
    assert response.status_code == 200 and response["Content-Type"] == "application/zip"
    assert response.streaming
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.namelist() == ["0002-sku-1.mp4", "manifest.csv"]
    assert all(i.compress_type == zipfile.ZIP_STORED for i in archive.infolist())
    assert archive.read("0002-sku-1.mp4") == MP4
    rows = list(csv.DictReader(io.StringIO(archive.read("manifest.csv").decode())))
    assert [(r["row"], r["job_id"], r["status"], r["video_file"]) for r in rows] == [
        ("1", data["job_ids"][0], "queued", ""),
        ("2", data["job_ids"][1], "succeeded", "0002-sku-1.mp4"),
        ("3", data["job_ids"][2], "queued", ""),
    ]


def test_it_hides_another_teams_batch_on_every_route(api, outsider_api, body, key, enqueued):
    batch_id = api.post("/batches", body).json()["id"]
    assert outsider_api.get(f"/batches/{batch_id}").status_code == 404
    assert outsider_api.post(f"/batches/{batch_id}/cancel").status_code == 404
    assert outsider_api.post(f"/batches/{batch_id}/retry").status_code == 404
    assert outsider_api.get(f"/batches/{batch_id}/archive").status_code == 404
    assert outsider_api.get("/batches").json()["items"] == []
    # Nothing moved for the owner.
    assert BatchItem.objects.filter(batch_id=batch_id, job__status="queued").count() == 3


@pytest.mark.parametrize("path", ["/batches/{}", "/batches/{}/archive"])
def test_it_answers_404_for_unknown_and_422_for_malformed_ids(api, path):
    assert api.get(path.format(uuid.uuid4())).status_code == 404
    assert api.get(path.format("not-a-uuid")).status_code == 422


def test_it_needs_a_token(client):
    assert client.get("/api/v1/batches").status_code == 401
    assert client.post("/api/v1/batches", "{}", content_type="application/json").status_code == 401


def test_it_streams_the_archive_a_chunk_at_a_time_in_either_server(api, body, key, enqueued):
    import os

    from asgiref.sync import async_to_sync
    from django.core.files.base import ContentFile

    from batches.services.archive import CHUNK, archive_stream, archive_stream_async
    from videos.models import Attachment, AttachmentKind

    data = api.post("/batches", body).json()
    batch = Batch.objects.get(pk=data["id"])
    big = os.urandom(3 * CHUNK + 123)  # a "video" several chunks long
    result = Attachment(
        job_id=data["job_ids"][0], kind=AttachmentKind.RESULT, content_type="video/mp4"
    )
    result.file.save("v.mp4", ContentFile(big), save=True)

    chunks = list(archive_stream(batch))
    # Never the whole video at once: each piece is at most one storage read plus headers.
    assert len(chunks) > 3 and max(len(c) for c in chunks) <= CHUNK + 1024
    archive = zipfile.ZipFile(io.BytesIO(b"".join(chunks)))
    assert archive.read("0001-sku-0.mp4") == big

    async def collect():
        return [chunk async for chunk in archive_stream_async(batch)]

    again = zipfile.ZipFile(io.BytesIO(b"".join(async_to_sync(collect)())))
    assert again.namelist() == archive.namelist() and again.read("0001-sku-0.mp4") == big


def test_it_sends_one_signed_batch_completed_event_when_it_ends(
    api, body, key, enqueued, upstream, django_capture_on_commit_callbacks, monkeypatch
):
    import json

    from integrations.models import WebhookDelivery

    tasks: list = []
    monkeypatch.setattr(
        "integrations.webhooks.async_task", lambda func, *args: tasks.append((func, args))
    )
    data = api.post(
        "/batches", {**body, "callback_url": "https://hooks.example.com/batches"}
    ).json()
    with django_capture_on_commit_callbacks(execute=True):
        drive_to_success(Job.objects.get(pk=data["job_ids"][0]), upstream)
    assert not WebhookDelivery.objects.exists()  # per-job events go to no one
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"/batches/{data['id']}/cancel")
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.event_type == "batch.completed" and delivery.batch_id == uuid.UUID(data["id"])
    assert delivery.url == "https://hooks.example.com/batches"
    event = json.loads(delivery.body)
    assert event["type"] == "batch.completed" and event["data"]["id"] == data["id"]
    assert event["data"]["counts"] == {
        "total": 3,
        "queued": 0,
        "submitting": 0,
        "processing": 0,
        "succeeded": 1,
        "failed": 0,
        "canceled": 2,
    }
    assert event["data"]["status"] == "partial"
    assert tasks == [("integrations.tasks.deliver", (str(delivery.id),))]
    # Ending again changes nothing: the batch finished once.
    from batches.services import batch_finish_if_done

    assert batch_finish_if_done(batch_id=data["id"]) is False
    assert WebhookDelivery.objects.count() == 1


def test_it_lists_each_malformed_item_with_its_index_too(api, key, png):
    body = {
        "template_id": DIVING,
        "items": [
            {"media_inputs": [{"value": data_url(png)}]},
            {"text_inputs": [{"value": "x" * 501}], "media_inputs": [{"value": data_url(png)}]},
            {"media_inputs": [{"value": data_url(png)}], "colour": "red"},
        ],
    }
    response = api.post("/batches", body)
    assert response.status_code == 422
    found = {(e.get("index"), e["field"]) for e in response.json()["errors"]}
    assert found == {(1, "items[1].text_inputs[0].value"), (2, "items[2].colour")}
    assert not Job.objects.exists()


def test_it_retries_the_failed_rows_with_new_jobs(
    api, body, key, enqueued, django_capture_on_commit_callbacks
):
    from videos.services import job_fail

    data = api.post("/batches", body).json()
    assert api.post(f"/batches/{data['id']}/retry").status_code == 409  # nothing failed yet
    with django_capture_on_commit_callbacks(execute=True):
        job_fail(data["job_ids"][2], code="upstream_failed", message="no")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/batches/{data['id']}/retry")
    assert response.status_code == 200
    out = response.json()
    assert out["job_ids"][:2] == data["job_ids"][:2] and out["job_ids"][2] != data["job_ids"][2]
    assert out["jobs"][2]["attempt"] == 2 and out["jobs"][2]["status"] == "queued"
    counts = out["counts"]
    assert (counts["total"], counts["queued"], counts["failed"]) == (3, 3, 0)
    assert LedgerEntry.objects.filter(job_id=out["job_ids"][2], kind=EntryKind.RESERVE).exists()
