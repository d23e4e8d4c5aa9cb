"""Jobs through useapi.net, step by step against the sandbox (no cluster): uploads kept on the
inputs, lost creates found again instead of paid twice, cancel while running, pushes."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from accounts.models import ProviderKey
from billing.models import LedgerEntry
from tests.conftest import DIVING
from videos import services
from videos.models import Attachment, AttachmentKind, EventKind, Job, JobStatus, VideoTemplate
from videos.providers import base, provider_for
from videos.services.pool import AMBIGUOUS


@pytest.fixture
def useapi_diving(db):
    return VideoTemplate.objects.create(
        provider="useapi",
        region="global",
        template_id=DIVING,
        name="Diving",
        media_inputs=1,
        price_cents=50,
    )


@pytest.fixture
def make_useapi_job(owner, team, useapi_diving, png, django_capture_on_commit_callbacks, enqueued):
    def make(secret: str = "user:7-jobs-gen1") -> Job:
        key = services.key_store(user=owner, label=secret, secret=secret, provider="useapi")
        with django_capture_on_commit_callbacks(execute=True):
            job = services.job_create(
                team=team,
                user=owner,
                template=useapi_diving,
                text_inputs=[],
                media_inputs=[services.MediaInput(upload=SimpleUploadedFile("me.png", png))],
                key_id=key.pk,
            )
        enqueued.clear()
        return job

    return make


def submit(job: Job) -> Job:
    Job.objects.filter(pk=job.pk, status=JobStatus.QUEUED).update(next_attempt_at=timezone.now())
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    return job


def test_it_uploads_the_image_once_and_keeps_the_reference(make_useapi_job, sandbox):
    job = submit(make_useapi_job())
    assert job.status == JobStatus.PROCESSING
    (video,) = sandbox.useapi_videos()
    assert job.upstream_task_id == video["videoId"]
    assert job.upstream_data["video_id"] == video["videoId"]
    (upload,) = job.attachments.filter(kind=AttachmentKind.INPUT)
    assert upload.upstream_ref["fileID"].startswith("user:7-minimax:")
    assert upload.upstream_ref["ossPath"]


def test_it_keeps_the_upload_when_the_create_fails_and_reuses_it(
    make_useapi_job, sandbox, monkeypatch
):
    job = submit(make_useapi_job("user:7-jobs-flaky502"))
    assert job.status == JobStatus.QUEUED and job.submit_attempts == 1
    ref = job.attachments.get(kind=AttachmentKind.INPUT).upstream_ref
    assert ref["fileID"]
    uploads = []
    from videos.providers import useapi

    original = useapi._Client.call

    def counting(self, method, path, **kwargs):
        if path == "files/":
            uploads.append(path)
        return original(self, method, path, **kwargs)

    monkeypatch.setattr(useapi._Client, "call", counting)
    job = submit(job)
    assert job.status == JobStatus.PROCESSING and uploads == []
    assert job.attachments.get(kind=AttachmentKind.INPUT).upstream_ref == ref


def uploaded_with(job: Job) -> str:
    return job.attachments.get(kind=AttachmentKind.INPUT).upstream_ref["fileID"]


def test_it_uploads_again_when_the_job_moves_to_another_key(
    owner, team, useapi_diving, png, sandbox, django_capture_on_commit_callbacks
):
    """Found by the chaos run: a fileID belongs to the token that uploaded it (upstream FACTS),
    so a job that fails over to another key must not send the first key's upload."""
    limited = services.key_store(
        user=owner, label="A", secret="user:7-pool-err429", provider="useapi"
    )
    services.key_store(user=owner, label="B", secret="user:8-pool-fine", provider="useapi")
    ProviderKey.objects.exclude(pk=limited.pk).update(last_used_at=timezone.now())  # A first
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_create(
            team=team,
            user=owner,
            template=useapi_diving,
            text_inputs=[],
            media_inputs=[services.MediaInput(upload=SimpleUploadedFile("me.png", png))],
        )
    job = submit(job)
    assert job.status == JobStatus.QUEUED  # A answered 429 after the upload: nothing made
    assert uploaded_with(job).startswith("user:7-")
    job = submit(job)
    assert job.status == JobStatus.PROCESSING, job.error_message
    assert job.key.label == "B"
    assert uploaded_with(job).startswith("user:8-")


def test_it_finds_the_video_of_a_cut_stream_instead_of_paying_twice(
    make_useapi_job, sandbox, settings
):
    job = submit(make_useapi_job("user:7-jobs-cut-gen2"))
    assert job.status == JobStatus.QUEUED
    assert job.upstream_data[AMBIGUOUS]
    assert job.next_attempt_at >= timezone.now() + timedelta(
        seconds=settings.JOB_AMBIGUOUS_GRACE_SECONDS - 5
    )
    assert "looking for it" in job.events.filter(kind=EventKind.ERROR).last().message
    job = submit(job)
    (video,) = sandbox.useapi_videos()
    assert job.status == JobStatus.PROCESSING and job.upstream_task_id == video["videoId"]
    assert AMBIGUOUS not in job.upstream_data
    assert job.events.filter(message__startswith="Found the task").count() == 1


def test_it_creates_again_when_the_lost_create_made_nothing(make_useapi_job, sandbox):
    job = submit(make_useapi_job("user:7-jobs-novideoid"))
    assert job.status == JobStatus.QUEUED and job.upstream_data[AMBIGUOUS]
    # The same key now streams normally (the switch is in the key: swap the secret's words).
    job = submit(job)
    assert job.status == JobStatus.QUEUED  # novideoid again: still nothing made
    assert sandbox.useapi_videos() == []
    notes = job.events.filter(kind=EventKind.NOTE, message__contains="no task")
    assert notes.count() == 1


def test_it_fails_a_create_that_stays_ambiguous(make_useapi_job, sandbox, settings):
    settings.JOB_SUBMIT_MAX_ATTEMPTS = 1
    job = submit(make_useapi_job("user:7-jobs-novideoid"))
    assert job.status == JobStatus.FAILED and job.error_code == "ambiguous"
    assert [
        e for e in LedgerEntry.objects.filter(job_id=job.id).values_list("kind", flat=True)
    ] == [
        "reserve",
        "release",
    ]


def test_it_cancels_a_running_useapi_job_and_releases_once(
    make_useapi_job, sandbox, django_capture_on_commit_callbacks, enqueued
):
    job = submit(make_useapi_job("user:7-jobs-gen5"))
    assert services.job_cancelable(job)
    with django_capture_on_commit_callbacks(execute=True):
        job = services.job_cancel(job=job)
    assert job.status == JobStatus.CANCELED
    assert enqueued == [("videos.tasks.cancel_upstream", (str(job.id),), {})]
    services.job_cancel_upstream(job_id=job.id)
    (video,) = sandbox.useapi_videos()
    assert video["canceled"] is True
    assert job.events.filter(message__startswith="Canceled at").exists()
    # Whatever the upstream says later, the reservation was released once.
    services.job_poll(job_id=job.id, force=True)
    kinds = list(LedgerEntry.objects.filter(job_id=job.id).values_list("kind", flat=True))
    assert kinds == ["reserve", "release"]


def test_it_does_not_cancel_a_running_minimax_job(make_job, upstream):
    from tests.fakes import ok

    job = make_job()
    upstream.on("/v1/video_template_generation", ok(task_id="T1"))
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING and not services.job_cancelable(job)
    from videos.errors import JobStateError

    with pytest.raises(JobStateError):
        services.job_cancel(job=job)


def test_it_records_what_the_upstream_said_and_showed_while_accepting(
    make_useapi_job, monkeypatch, enqueued, django_capture_on_commit_callbacks
):
    job = make_useapi_job()
    submitted = base.Submitted(
        task_id="user:7-minimax:1-video:5",
        data={"video_id": "user:7-minimax:1-video:5"},
        notes=["Generating image..."],
        artifacts=[base.Artifact(url="https://cdn.test/car.png", kind="image")],
    )
    monkeypatch.setattr(provider_for("useapi"), "submit", lambda credentials, request: submitted)
    with django_capture_on_commit_callbacks(execute=True):
        submit(job)
    assert job.events.filter(kind=EventKind.PROGRESS, message="Generating image...").exists()
    image = Attachment.objects.get(job=job, kind=AttachmentKind.IMAGE)
    assert image.source_url == "https://cdn.test/car.png" and not image.file
    assert ("videos.tasks.fetch_attachment", (str(image.pk),), {}) in enqueued


def test_it_stores_an_image_made_on_the_way_and_tells_the_timeline(
    make_useapi_job, sandbox, django_capture_on_commit_callbacks
):
    job = submit(make_useapi_job("user:7-jobs-gen0.2"))
    import time

    time.sleep(0.4)
    with django_capture_on_commit_callbacks(execute=True):
        services.job_poll(job_id=job.id, force=True)
    poster = Attachment.objects.get(job=job, kind=AttachmentKind.POSTER)
    services.attachment_fetch(attachment_id=poster.pk)
    poster.refresh_from_db()
    assert poster.content_type == "image/png" and poster.bytes > 0
    event = job.events.get(kind=EventKind.IMAGE)
    assert event.data["attachment_id"] == poster.pk


def test_it_takes_a_reply_url_post_as_a_hint(client, make_useapi_job, sandbox, enqueued):
    job = submit(make_useapi_job())
    url = reverse("callback", args=["useapi", job.callback_token])
    body = {"videoId": job.upstream_task_id, "status": 2, "replyRef": str(job.id)}
    response = client.post(url, data=json.dumps(body), content_type="application/json")
    assert response.status_code == 200 and response.json() == {"received": True}
    assert job.events.filter(kind=EventKind.CALLBACK).count() == 1
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING  # a hint, never the outcome


def test_it_answers_404_to_a_push_under_another_providers_path(client, make_useapi_job):
    job = make_useapi_job()
    url = reverse("callback", args=["minimax", job.callback_token])
    response = client.post(url, data="{}", content_type="application/json")
    assert response.status_code == 404
    url = reverse("callback", args=["nosuch", job.callback_token])
    assert client.post(url, data="{}", content_type="application/json").status_code == 404


def test_it_refuses_a_push_too_large_before_reading_it(client, make_useapi_job):
    job = make_useapi_job()
    url = reverse("callback", args=["useapi", job.callback_token])
    response = client.post(url, data="[" * 70000, content_type="application/json")
    assert response.status_code == 400
    assert not job.events.filter(kind=EventKind.CALLBACK).exists()


def test_it_refuses_deeply_nested_push_json_without_a_500(client, make_useapi_job):
    job = make_useapi_job()
    url = reverse("callback", args=["useapi", job.callback_token])
    response = client.post(url, data="[" * 30000 + "]" * 30000, content_type="application/json")
    assert response.status_code == 400


def test_it_offers_cancel_on_the_page_of_a_running_useapi_job(
    owner_client, make_useapi_job, sandbox, django_capture_on_commit_callbacks
):
    job = submit(make_useapi_job("user:7-jobs-gen5"))
    page = owner_client.get(reverse("videos:job_detail", args=[job.id])).content.decode()
    assert 'id="cancel-form">' in page  # shown, not hidden
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("videos:job_cancel", args=[job.id]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    page = owner_client.get(reverse("videos:job_detail", args=[job.id])).content.decode()
    assert 'id="cancel-form" hidden>' in page


def test_it_cancels_a_running_useapi_job_over_the_api(api, make_useapi_job, sandbox, enqueued):
    job = submit(make_useapi_job("user:7-jobs-gen5"))
    response = api.post(f"/videos/{job.id}/cancel")
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    assert api.post(f"/videos/{job.id}/cancel").status_code == 409
