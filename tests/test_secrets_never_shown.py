"""A vault secret, once saved, is never shown again: not in logs, events, errors or pages."""

from __future__ import annotations

import json
import logging
import secrets

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from accounts.models import KeyStatus
from portal.logging import RedactSecretsFilter, redact
from tests.conftest import SECRET
from tests.fakes import MP4, FakeResponse, code, ok
from videos import services
from videos.models import Job, JobEvent, JobStatus

CREATE = "/v1/video_template_generation"
QUERY = "/v1/query/video_template_generation"
TASK_ID = "401047179385389059"


class RawRecords(logging.Handler):
    """Keeps each record as it was logged, before any handler's filter rewrites it."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.texts.append(record.getMessage())
        self.texts.append(repr(record.args))
        if record.exc_info:
            self.texts.append(logging.Formatter().formatException(record.exc_info))


@pytest.fixture
def logs(caplog):
    """Everything logged at DEBUG and up: as written (caplog) and as logged (raw)."""
    caplog.set_level(logging.DEBUG)
    raw = RawRecords()
    root = logging.getLogger()
    root.handlers.insert(0, raw)  # first: sees every record before a filter changes it
    yield caplog, raw
    root.removeHandler(raw)


@pytest.fixture
def admin_client_(db):
    from django.test import Client

    admin = User.objects.create_superuser("admin", "admin@example.com", "pw-admin-123")
    client = Client()
    client.force_login(admin)
    return client


def job_pages(job: Job) -> list[str]:
    return [
        reverse("videos:job_detail", args=[job.id]),
        reverse("videos:job_status", args=[job.id]),
        reverse("videos:job_list"),
        reverse("videos:keys"),
    ]


def admin_pages(job: Job) -> list[str]:
    return [
        reverse("admin:videos_job_change", args=[job.id]),
        reverse("admin:videos_job_changelist"),
        reverse("admin:videos_job_changelist") + f"?q={job.id}",
        reverse("admin:accounts_providerkey_changelist"),
    ]


def assert_secret_nowhere(job: Job, logs, owner_client, admin_client_, secret: str = SECRET):
    caplog, raw = logs
    # Logs: as written, and as handed to the logging system.
    assert secret not in caplog.text
    for record in caplog.records:
        assert secret not in record.getMessage()
    assert raw.texts
    for text in raw.texts:
        assert secret not in text
    # The job and its timeline.
    job.refresh_from_db()
    for field in Job._meta.fields:
        assert secret not in str(getattr(job, field.attname)), field.name
    events = list(JobEvent.objects.filter(job=job))
    assert events
    for event in events:
        assert secret not in event.message
        assert secret not in json.dumps(event.data)
    # The pages of the job, for its team and for the admin.
    for client, paths in ((owner_client, job_pages(job)), (admin_client_, admin_pages(job))):
        for path in paths:
            response = client.get(path)
            assert response.status_code == 200, path
            body = response.content.decode()
            assert secret not in body, path
            assert job.callback_token not in body, path


def run_to_success(job: Job, upstream, capture, client) -> None:
    upstream.on(CREATE, ok(task_id=TASK_ID))
    upstream.on(
        QUERY,
        ok(task_id=TASK_ID, status="Processing"),
        ok(task_id=TASK_ID, status="Success", video_url="https://cdn.example/v.mp4"),
    )
    upstream.on("/v.mp4", FakeResponse(content=MP4, headers={"Content-Type": "video/mp4"}))
    services.job_submit(job_id=job.id)
    with capture(execute=True):
        services.job_poll(job_id=job.id, force=True)
    # An upstream push in between, through the real view.
    with capture(execute=True):
        response = client.post(
            reverse("callback", args=["minimax", job.callback_token]),
            data=json.dumps({"task_id": TASK_ID, "status": "success"}),
            content_type="application/json",
        )
    assert response.status_code == 200
    with capture(execute=True):
        services.job_poll(job_id=job.id, force=True)
    services.job_fetch(job_id=job.id)


# --- whole jobs ---------------------------------------------------------------------------------


def test_it_never_shows_the_secret_along_a_successful_job(
    make_job, upstream, logs, owner_client, admin_client_, django_capture_on_commit_callbacks
):
    job = make_job()
    run_to_success(job, upstream, django_capture_on_commit_callbacks, admin_client_)
    job.refresh_from_db()
    assert job.status == JobStatus.SUCCEEDED
    # The secret did go where it belongs: the upstream's Authorization header.
    assert upstream.calls_to(CREATE)[0]["headers"]["Authorization"] == f"Bearer {SECRET}"
    assert logs[0].records  # the run was logged
    assert_secret_nowhere(job, logs, owner_client, admin_client_)


def test_it_never_shows_the_secret_when_the_upstream_rejects_the_key(
    make_job, key, upstream, logs, owner_client, admin_client_
):
    job = make_job()
    upstream.on(CREATE, code(1004, "authorization failed"))
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    key.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "1004"
    assert key.status == KeyStatus.INVALID
    assert_secret_nowhere(job, logs, owner_client, admin_client_)


def test_it_never_shows_the_secret_when_a_query_rejects_the_key(
    make_job, upstream, logs, owner_client, admin_client_
):
    job = make_job()
    upstream.on(CREATE, ok(task_id=TASK_ID))
    upstream.on(QUERY, code(2049, "invalid api key"))
    services.job_submit(job_id=job.id)
    services.job_poll(job_id=job.id, force=True)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert job.error_code == "2049"
    assert_secret_nowhere(job, logs, owner_client, admin_client_)


def test_it_never_shows_the_secret_along_transient_errors(
    make_job, upstream, logs, owner_client, admin_client_
):
    import requests

    job = make_job()
    upstream.on(CREATE, code(1000, "unknown error"))
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    Job.objects.filter(pk=job.pk).update(next_attempt_at=job.created_at)
    upstream.answers.clear()
    upstream.on(CREATE, requests.ConnectionError(f"refused, sent Bearer {SECRET}"))
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.QUEUED
    assert job.submit_attempts == 2
    assert_secret_nowhere(job, logs, owner_client, admin_client_)


def test_it_never_shows_the_secret_when_the_upstream_quotes_it_back(
    make_job, upstream, logs, owner_client, admin_client_
):
    job = make_job()
    upstream.on(CREATE, code(1004, f"invalid api key {SECRET}"))
    services.job_submit(job_id=job.id)
    job.refresh_from_db()
    assert job.status == JobStatus.FAILED
    assert SECRET not in job.error_message
    caplog, _ = logs
    assert SECRET not in caplog.text
    for client, paths in ((owner_client, job_pages(job)), (admin_client_, admin_pages(job))):
        for path in paths:
            assert SECRET not in client.get(path).content.decode(), path


def test_it_keeps_the_callback_token_out_of_the_request_log(make_job, logs, client):
    job = make_job()
    caplog, _ = logs
    client.post(
        reverse("callback", args=["minimax", job.callback_token]),
        data="not json",
        content_type="application/json",
    )
    client.post(
        reverse("callback", args=["minimax", "a-guessed-token-1234"]),
        data="{}",
        content_type="application/json",
    )
    assert "/callbacks/minimax/" in caplog.text  # django.request logged both ...
    assert job.callback_token not in caplog.text  # ... without the tokens
    assert "a-guessed-token-1234" not in caplog.text


# --- portal.logging.redact ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "key",
    [
        SECRET,
        "sk-api-Ab12Cd34Ef56Gh78_ij-KL",
        "sk-cp-0123456789abcdefABCDEF",
        "sk-abcd",
    ],
)
def test_it_redacts_upstream_keys(key):
    text = redact(f"calling upstream with key={key}, then again ({key})")
    assert key not in text
    assert key[3:] not in text
    assert text == "calling upstream with key=sk-[redacted], then again (sk-[redacted])"


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Authorization: Bearer abc.DEF-123_xyz", "Authorization: Bearer [redacted]"),
        ("headers={'Authorization': 'Bearer eyJ0eXAi.payload.sig'}", None),
        ("authorization: bearer lower-case-token", "authorization: bearer [redacted]"),
        ("BEARER   spaced-token", "BEARER   [redacted]"),
    ],
)
def test_it_redacts_bearer_values(raw, expected):
    text = redact(raw)
    for secret in ("abc.DEF-123_xyz", "eyJ0eXAi.payload.sig", "lower-case-token", "spaced-token"):
        assert secret not in text
    assert "[redacted]" in text
    if expected is not None:
        assert text == expected


def test_it_redacts_a_bearer_key_entirely():
    text = redact(f"Authorization: Bearer {SECRET}")
    assert SECRET not in text
    assert SECRET[3:] not in text


@pytest.mark.parametrize(
    "path",
    [
        "/callbacks/minimax/{token}/",
        "POST /callbacks/minimax/{token}/ HTTP/1.1",
        "https://portal.example/callbacks/minimax/{token}/?x=1",
        "Not Found: /callbacks/minimax/{token}/",
        "/callbacks/useapi/{token}/",
        "/callbacks/minimax/{token}",
    ],
)
def test_it_redacts_callback_tokens_from_paths(path):
    token = secrets.token_urlsafe(24)  # the shape of Job.callback_token, "-" and "_" included
    text = redact(path.format(token=token))
    assert token not in text
    assert "/callbacks/" in text and "[redacted]" in text


def test_it_redacts_a_real_job_callback_token(make_job):
    job = make_job()
    text = redact(f"Bad Request: /callbacks/minimax/{job.callback_token}/")
    assert text == "Bad Request: /callbacks/minimax/[redacted]/"


def test_it_leaves_harmless_text_alone():
    text = "job 5d1c -> processing trace_id=trace-123 task sk task-id /jobs/abc/ skate"
    assert redact(text) == text


def test_it_redacts_log_records_with_arguments():
    record = logging.LogRecord(
        "videos.providers.minimax",
        logging.INFO,
        __file__,
        1,
        "sending %s to %s",
        (f"Bearer {SECRET}", "/callbacks/minimax/tok-abc_123/"),
        None,
    )
    assert RedactSecretsFilter().filter(record) is True
    message = record.getMessage()
    assert SECRET not in message
    assert "tok-abc_123" not in message
    assert message == "sending Bearer [redacted] to /callbacks/minimax/[redacted]/"


def test_it_leaves_clean_log_records_untouched():
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "job %s done", ("j-1",), None)
    assert RedactSecretsFilter().filter(record) is True
    assert record.msg == "job %s done"
    assert record.args == ("j-1",)


def test_it_redacts_what_the_configured_handlers_write(capsys):
    logging.getLogger("videos.test").warning("key %s in use", SECRET)
    captured = capsys.readouterr()
    assert SECRET not in captured.err + captured.out


def test_it_redacts_webhook_secrets():
    text = redact("signing with whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw now")
    assert text == "signing with whsec_[redacted] now"


def test_it_redacts_invitation_links_but_not_team_ids():
    assert redact("GET /accounts/invitations/Zx9_abcDEF123-ghiJKL456mno789pqrSTU/ 200") == (
        "GET /accounts/invitations/[redacted]/ 200"
    )
    kept = "POST /accounts/teams/4/invitations/12/revoke/ 302"
    assert redact(kept) == kept
