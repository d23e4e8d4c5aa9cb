"""The upstream -> us callback view: /callbacks/minimax/<token>/ (videos/callbacks.py)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.fakes import ok
from videos import services
from videos.models import AttachmentKind, EventKind, Job, JobEvent, JobStatus

QUERY = "/v1/query/video_template_generation"

TASK_ID = "401047179385389059"


@pytest.fixture
def api_client() -> Client:
    # The upstream has no CSRF token and no session.
    return Client(enforce_csrf_checks=True)


@pytest.fixture
def processing_job(make_job, upstream, enqueued):
    job = make_job()
    upstream.on("/v1/video_template_generation", ok(task_id=TASK_ID))
    services.job_submit(job_id=job.id)
    # A while into its generation: its next scheduled look is a minute away.
    Job.objects.filter(pk=job.pk).update(next_attempt_at=timezone.now() + timedelta(seconds=60))
    job.refresh_from_db()
    assert job.status == JobStatus.PROCESSING
    enqueued.clear()
    return job


def url(job_or_token) -> str:
    token = getattr(job_or_token, "callback_token", job_or_token)
    return reverse("callback", args=["minimax", token])


def post(client: Client, job_or_token, body) -> object:
    data = body if isinstance(body, (str, bytes)) else json.dumps(body)
    return client.post(url(job_or_token), data=data, content_type="application/json")


def push(client, job, status: str, capture, **extra):
    with capture(execute=True):
        return post(client, job, {"task_id": TASK_ID, "status": status, **extra})


def snapshot(job: Job) -> dict:
    job.refresh_from_db()
    return {
        "status": job.status,
        "upstream_status": job.upstream_status,
        "upstream_state": job.upstream_state,
        "upstream_data": job.upstream_data,
        "progress": job.progress,
        "finished_at": job.finished_at,
        "error_code": job.error_code,
        "results": job.attachments.filter(kind=AttachmentKind.RESULT).count(),
    }


def callback_events(job: Job) -> list[JobEvent]:
    return list(JobEvent.objects.filter(job=job, kind=EventKind.CALLBACK))


# --- challenge ------------------------------------------------------------------------------


def test_it_echoes_the_challenge(api_client, processing_job, enqueued):
    response = post(api_client, processing_job, {"challenge": "c-1a2b3c"})
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"challenge": "c-1a2b3c"}
    assert not callback_events(processing_job)
    assert enqueued == []


def test_it_echoes_the_challenge_for_a_queued_job(api_client, make_job):
    job = make_job()
    response = post(api_client, job, {"challenge": "abc"})
    assert response.status_code == 200
    assert response.json() == {"challenge": "abc"}


def test_it_answers_404_for_an_unknown_token(api_client, processing_job):
    response = post(api_client, "not-a-real-token", {"task_id": TASK_ID, "status": "Success"})
    assert response.status_code == 404
    assert not callback_events(processing_job)


def test_it_answers_404_for_a_challenge_to_an_unknown_token(api_client, db):
    response = post(api_client, "not-a-real-token", {"challenge": "c-1"})
    assert response.status_code == 404
    assert b"c-1" not in response.content


# --- pushes -----------------------------------------------------------------------------------


def test_it_records_a_push_and_enqueues_a_forced_requery(
    api_client, processing_job, enqueued, django_capture_on_commit_callbacks
):
    response = push(api_client, processing_job, "processing", django_capture_on_commit_callbacks)
    assert response.status_code == 200
    [event] = callback_events(processing_job)
    assert event.data["upstream_status"] == "processing"
    assert event.data["task_id"] == TASK_ID
    assert "processing" in event.message
    assert enqueued == [("videos.tasks.poll_job", (str(processing_job.id),), {"force": True})]


def test_it_leaves_progress_to_a_look_that_comes_soon_anyway(
    api_client, processing_job, enqueued, django_capture_on_commit_callbacks
):
    # Just submitted: the first look is due in seconds. A progress push adds no task (in a
    # burst of creates every job pushes "processing" at once); "it ended" still asks now.
    soon = timezone.now() + timedelta(seconds=3)
    Job.objects.filter(pk=processing_job.pk).update(next_attempt_at=soon)
    push(api_client, processing_job, "processing", django_capture_on_commit_callbacks)
    assert enqueued == []
    processing_job.refresh_from_db()
    assert processing_job.next_attempt_at == soon and len(callback_events(processing_job)) == 1
    push(api_client, processing_job, "Success", django_capture_on_commit_callbacks)
    assert enqueued == [
        ("videos.tasks.poll_job", (str(processing_job.id),), {"force": True, "ahead": True})
    ]


def test_it_does_not_take_a_forged_success_push_for_the_outcome(
    api_client, processing_job, enqueued, django_capture_on_commit_callbacks
):
    before = snapshot(processing_job)
    response = push(
        api_client,
        processing_job,
        "Success",
        django_capture_on_commit_callbacks,
        video_url="https://evil.example/v.mp4",
        file_id="f-evil",
    )
    assert response.status_code == 200
    after = snapshot(processing_job)
    assert after == before
    assert after["status"] == JobStatus.PROCESSING
    assert after["results"] == 0
    assert "evil" not in str(after["upstream_data"])
    # Only a re-query, never a fetch on the push's word.
    assert [call[0] for call in enqueued] == ["videos.tasks.poll_job"]


def test_it_shrugs_off_repeated_and_out_of_order_pushes(
    api_client, processing_job, enqueued, django_capture_on_commit_callbacks
):
    before = snapshot(processing_job)
    statuses = ["success", "processing", "Success", "Preparing", "failed", "success"]
    for status in statuses:
        response = push(api_client, processing_job, status, django_capture_on_commit_callbacks)
        assert response.status_code == 200
    assert snapshot(processing_job) == before
    assert [e.data["upstream_status"] for e in callback_events(processing_job)] == statuses
    assert {call[0] for call in enqueued} == {"videos.tasks.poll_job"}


def test_it_lets_the_requery_decide_after_a_push(
    api_client, processing_job, upstream, enqueued, django_capture_on_commit_callbacks
):
    # The push says "failed", the upstream (asked with the owner's key) says "Processing".
    push(api_client, processing_job, "failed", django_capture_on_commit_callbacks)
    upstream.on("/v1/query/video_template_generation", ok(task_id=TASK_ID, status="Processing"))
    [(_, args, kwargs)] = enqueued
    assert kwargs == {"force": True, "ahead": True}
    services.job_poll(job_id=args[0], force=True)
    processing_job.refresh_from_db()
    assert processing_job.status == JobStatus.PROCESSING
    assert processing_job.upstream_status == "Processing"
    assert upstream.calls_to("/v1/query/video_template_generation")


@pytest.mark.parametrize("finish", ["fail", "cancel"])
def test_it_enqueues_nothing_for_a_finished_job(
    api_client, make_job, enqueued, django_capture_on_commit_callbacks, finish
):
    job = make_job()
    if finish == "fail":
        services.job_fail(job.id, code="x", message="broken")
    else:
        services.job_cancel(job=job)
    before = snapshot(job)
    enqueued.clear()
    response = push(api_client, job, "Success", django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert enqueued == []
    assert snapshot(job) == before


def test_it_enqueues_nothing_for_a_succeeded_job(
    api_client, processing_job, upstream, enqueued, django_capture_on_commit_callbacks
):
    from tests.fakes import MP4, FakeResponse

    upstream.on(
        "/v1/query/video_template_generation",
        ok(task_id=TASK_ID, status="Success", video_url="https://cdn.example/v.mp4"),
    )
    upstream.on("/v.mp4", FakeResponse(content=MP4, headers={"Content-Type": "video/mp4"}))
    with django_capture_on_commit_callbacks(execute=True):
        services.job_poll(job_id=processing_job.id, force=True)
    services.job_fetch(job_id=processing_job.id)
    before = snapshot(processing_job)
    assert before["status"] == JobStatus.SUCCEEDED
    enqueued.clear()

    for status in ("processing", "failed"):
        push(api_client, processing_job, status, django_capture_on_commit_callbacks)

    assert enqueued == []
    assert snapshot(processing_job) == before


# --- bad requests -----------------------------------------------------------------------------


@pytest.mark.parametrize("body", ["not json", "{", b"\xff\xfe"])
def test_it_answers_400_to_a_body_that_is_not_json(api_client, processing_job, enqueued, body):
    response = post(api_client, processing_job, body)
    assert response.status_code == 400
    assert not callback_events(processing_job)
    assert enqueued == []


@pytest.mark.parametrize("body", ['["challenge"]', '"x"', "42"])
def test_it_answers_400_to_json_that_is_not_an_object(api_client, processing_job, body):
    response = post(api_client, processing_job, body)
    assert response.status_code == 400
    assert not callback_events(processing_job)


def test_it_answers_405_to_get(api_client, processing_job):
    response = api_client.get(url(processing_job))
    assert response.status_code == 405
    assert not callback_events(processing_job)


def test_it_needs_no_csrf_token_and_no_login(
    api_client, processing_job, django_capture_on_commit_callbacks
):
    response = push(api_client, processing_job, "processing", django_capture_on_commit_callbacks)
    assert response.status_code == 200
    assert len(callback_events(processing_job)) == 1


def test_it_coalesces_replayed_pushes_into_one_upstream_query(
    api_client, processing_job, upstream, enqueued, django_capture_on_commit_callbacks
):
    # 100 replayed pushes (a replay attack, or a stuck upstream): one look at the upstream,
    # not one per push, with the owner's key.
    upstream.on(QUERY, ok(task_id=TASK_ID, status="Processing"))
    for _ in range(100):
        with django_capture_on_commit_callbacks(execute=True):
            post(api_client, processing_job, {"task_id": TASK_ID, "status": "processing"})
    polls = [call for call in enqueued if call[0] == "videos.tasks.poll_job"]
    assert polls == [("videos.tasks.poll_job", (str(processing_job.id),), {"force": True})]
    processing_job.refresh_from_db()
    # The hints are not lost: the next look comes within the coalescing window.
    assert processing_job.next_attempt_at <= timezone.now() + timedelta(seconds=6)
    services.job_poll(job_id=processing_job.id, force=True)
    assert len(upstream.calls_to(QUERY)) == 1


def test_it_asks_at_once_when_the_done_push_follows_a_progress_push(
    api_client, processing_job, upstream, enqueued, django_capture_on_commit_callbacks
):
    # A short task pushes "processing" and then "Success" within a second or two: the second
    # push must not wait for the next scheduled look (up to a minute away).
    for status in ("processing", "Success"):
        with django_capture_on_commit_callbacks(execute=True):
            post(api_client, processing_job, {"task_id": TASK_ID, "status": status})
    polls = [call for call in enqueued if call[0] == "videos.tasks.poll_job"]
    # The "it ended" look goes ahead of the queue's waiting work (videos.queue.enqueue).
    assert [kwargs for _func, _args, kwargs in polls] == [
        {"force": True},
        {"force": True, "ahead": True},
    ]
    # Replays of either kind add nothing within the window.
    for _ in range(50):
        for status in ("processing", "Success", "failed"):
            with django_capture_on_commit_callbacks(execute=True):
                post(api_client, processing_job, {"task_id": TASK_ID, "status": status})
    assert len([call for call in enqueued if call[0] == "videos.tasks.poll_job"]) == 2
