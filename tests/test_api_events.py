from __future__ import annotations

import json
import threading
import time
import uuid

import pytest
import requests
from django.db import connection

from integrations.models import ApiToken
from integrations.services import token_revoke
from tests.apiclient import drive_to_success
from videos.models import JobEvent
from videos.sse import job_event_stream


def iter_sse(response):
    """An independent reader of the text/event-stream format (WHATWG "server-sent events")."""
    current: dict = {}
    # Byte by byte: lines as they arrive, not once 512 bytes have piled up (the live server
    # closes the connection at the end rather than chunking, so there is no chunk boundary).
    for line in response.iter_lines(chunk_size=1, decode_unicode=True):
        if line == "":
            if current:
                yield current
            current = {}
        elif line.startswith(":"):
            yield {"comment": line[1:].strip()}
        else:
            name, _, value = line.partition(":")
            current[name] = value[1:] if value.startswith(" ") else value
    if current:
        yield current


def read_sse(response) -> list[dict]:
    return list(iter_sse(response))


def real_events(frames: list[dict]) -> list[dict]:
    return [f for f in frames if "event" in f]


@pytest.fixture
def fast_sse(settings):
    settings.SSE_POLL_SECONDS = 0.05
    settings.SSE_HEARTBEAT_SECONDS = 15
    settings.SSE_MAX_SECONDS = 20


def _stream(live_server, token: str, job_id, headers: dict | None = None):
    return requests.get(
        f"{live_server.url}/api/v1/videos/{job_id}/events",
        headers={"Authorization": f"Bearer {token}", **(headers or {})},
        stream=True,
        timeout=15,
    )


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_streams_a_jobs_events_until_it_ends(
    live_server, api_token, make_job, upstream, fast_sse
):
    job = make_job()
    frames: list[dict] = []
    first_frame = threading.Event()

    def read() -> None:
        with _stream(live_server, api_token, job.id) as response:
            assert response.headers["Content-Type"].startswith("text/event-stream")
            for frame in iter_sse(response):
                frames.append(frame)
                if "event" in frame:
                    first_frame.set()

    reader = threading.Thread(target=read)
    reader.start()
    assert first_frame.wait(timeout=10)
    drive_to_success(job, upstream)  # the job moves on while the client listens
    reader.join(timeout=15)
    assert not reader.is_alive()

    events = real_events(frames)
    kinds = [(e["event"], json.loads(e["data"]).get("status")) for e in events]
    assert kinds == [
        ("status", "queued"),
        ("status", "submitting"),
        ("status", "processing"),
        ("progress", "processing"),
        ("status", "succeeded"),
        ("video", "succeeded"),
        ("done", "succeeded"),
    ]
    ids = [int(e["id"]) for e in events if "id" in e]
    assert ids == list(
        JobEvent.objects.filter(job=job).exclude(kind="callback").values_list("id", flat=True)
    )
    video = json.loads(events[5]["data"])["video"]
    assert video["url"].endswith(f"/api/v1/videos/{job.id}/download")
    assert video["content_type"] == "video/mp4"
    assert "id" not in events[-1]  # `done` is not a timeline event: resuming skips nothing


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_resumes_after_last_event_id(live_server, api_token, make_job, upstream, fast_sse):
    job = make_job()
    drive_to_success(job, upstream)
    ids = list(JobEvent.objects.filter(job=job).values_list("id", flat=True))
    with _stream(live_server, api_token, job.id, {"Last-Event-ID": str(ids[2])}) as response:
        events = real_events(read_sse(response))
    assert [int(e["id"]) for e in events if "id" in e] == ids[3:]
    assert events[-1]["event"] == "done"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_pings_an_idle_stream_and_ends_it_after_the_longest_duration(
    live_server, api_token, make_job, settings
):
    settings.SSE_POLL_SECONDS = 0.05
    settings.SSE_HEARTBEAT_SECONDS = 0.1
    settings.SSE_MAX_SECONDS = 0.6
    job = make_job()  # stays queued: nothing more happens
    started = time.monotonic()
    with _stream(live_server, api_token, job.id) as response:
        frames = read_sse(response)
    assert time.monotonic() - started < 10
    assert {"comment": "ping"} in frames
    events = real_events(frames)
    assert [e["event"] for e in events] == ["status"]  # no `done`: the client reconnects


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_holds_no_database_connection_between_looks(make_job, settings):
    settings.SSE_POLL_SECONDS = 0
    settings.SSE_HEARTBEAT_SECONDS = 0
    job = make_job()
    stream = job_event_stream(job_id=job.id)
    assert next(stream).startswith("retry:")
    assert next(stream).startswith("id: ")
    assert connection.connection is None  # closed right after the look
    assert next(stream) == ": ping\n\n"
    assert connection.connection is None
    stream.close()


def test_it_answers_404_json_for_another_teams_job(outsider_api, make_job):
    job = make_job()
    for path in (f"/videos/{job.id}/events", f"/videos/{uuid.uuid4()}/events"):
        response = outsider_api.get(path)
        assert response.status_code == 404 and response.json()["code"] == "not_found"


def test_it_answers_422_for_a_bad_id_and_ignores_a_bad_last_event_id(api, make_job, settings):
    settings.SSE_POLL_SECONDS = 0
    response = api.get("/videos/nope/events")
    assert response.status_code == 422 and response.json()["field"] == "video_id"
    job = make_job()
    job.status = "canceled"
    from videos.services import job_cancel

    job_cancel(job=job)
    streamed = api.get(f"/videos/{job.id}/events", headers={"Last-Event-ID": "abc"})
    body = b"".join(streamed.streaming_content).decode()
    assert "event: status" in body and "event: done" in body


def test_it_answers_401_without_a_token_or_with_a_revoked_one(api, make_job):
    job = make_job()
    assert api.as_token(None).get(f"/videos/{job.id}/events").status_code == 401
    token_revoke(token=ApiToken.objects.get())
    response = api.get(f"/videos/{job.id}/events")
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"


def test_it_caps_open_streams_per_token_and_per_team(api, make_job, settings, client, teammate):
    from datetime import timedelta

    from django.utils import timezone

    from integrations.services import token_create
    from tests.apiclient import ApiClient
    from videos.models import OpenStream
    from videos.services.streams import stream_open

    settings.SSE_MAX_PER_TOKEN, settings.SSE_MAX_PER_TEAM = 2, 3
    job = make_job()
    token = ApiToken.objects.get()
    for _ in range(2):
        stream_open(token_id=token.pk, team_id=job.team_id, job_id=job.id)
    refused = api.get(f"/videos/{job.id}/events")
    assert refused.status_code == 429 and refused.json()["code"] == "too_many_streams"
    assert "this token" in refused.json()["detail"] and refused["Retry-After"] == "30"
    mate = ApiClient(client, token_create(user=teammate, team=job.team, name="mate")[1])
    mate_token = ApiToken.objects.get(user=teammate)
    stream_open(token_id=mate_token.pk, team_id=job.team_id, job_id=job.id)  # team: 3 of 3
    refused = mate.get(f"/videos/{job.id}/events")
    assert refused.status_code == 429 and "your team" in refused.json()["detail"]
    # A stream whose web worker died stops counting when its lease runs out.
    OpenStream.objects.filter(token_id=token.pk).update(lease_until=timezone.now() - timedelta(1))
    assert api.get(f"/videos/{job.id}/events").status_code == 200
