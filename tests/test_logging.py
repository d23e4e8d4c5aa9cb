"""Logs: JSON lines in production, ids of the job and the trace, and never a secret."""

from __future__ import annotations

import io
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from portal.logging import (
    JsonFormatter,
    RedactSecretsFilter,
    job_id_var,
    log_context,
    trace_id_var,
)
from tests.support import run_portal

BASE_DIR = Path(__file__).resolve().parent.parent
CALLBACK_TOKEN = "cbT0k3nSecretValue1234567890abc"
SHARE_TOKEN = "shR3T0kenSecretValue987654321xyz"


def json_lines(text: str) -> list[dict]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@contextmanager
def console_as_json() -> Iterator[io.StringIO]:
    """The settings' own root handler (with its redaction filter), writing JSON to a buffer."""
    handler = next(h for h in logging.getLogger().handlers if h.get_name() == "console")
    buffer = io.StringIO()
    old_stream, old_formatter = handler.setStream(buffer), handler.formatter
    handler.setFormatter(JsonFormatter())
    try:
        yield buffer
    finally:
        handler.setStream(old_stream)
        handler.setFormatter(old_formatter)


def emit(logger: str, msg: str, *args, exc_info=None, **extra) -> dict:
    record = logging.getLogger(logger).makeRecord(
        logger, logging.WARNING, __file__, 1, msg, args, exc_info, extra=extra or None
    )
    assert RedactSecretsFilter().filter(record)
    return json.loads(JsonFormatter().format(record))


def test_it_writes_time_level_logger_message_and_the_ids_given_as_extra():
    line = emit("videos.services", "job %s -> %s", "j-1", "succeeded", job_id="j-1", trace_id="t-9")
    assert set(line) == {"time", "level", "logger", "message", "job_id", "trace_id"}
    assert line["time"].endswith("Z") and "T" in line["time"]
    assert (line["level"], line["logger"]) == ("WARNING", "videos.services")
    assert line["message"] == "job j-1 -> succeeded"
    assert (line["job_id"], line["trace_id"]) == ("j-1", "t-9")


def test_it_takes_the_ids_from_the_log_context_and_leaves_them_out_otherwise():
    with log_context(job_id="job-42", trace_id="trace-7"):
        inside = emit("videos", "working")
    outside = emit("videos", "idle")
    assert (inside["job_id"], inside["trace_id"]) == ("job-42", "trace-7")
    assert "job_id" not in outside and "trace_id" not in outside


def test_it_redacts_secrets_in_messages_arguments_and_tracebacks():
    vault_key = Fernet.generate_key().decode()
    secrets = {
        "sk-api-UpstreamKey1234": "upstream key",
        "vap_PersonalToken12345678": "portal token",
        "hunter2pw": "database password",
        "AbCdSignature123": "S3 signature",
        vault_key: "vault key",
        CALLBACK_TOKEN: "callback token",
        SHARE_TOKEN: "share link token",
    }
    try:
        raise RuntimeError(f"upstream said no to Bearer {'sk-api-UpstreamKey1234'}")
    except RuntimeError:
        line = emit(
            "videos.providers.minimax",
            "calling %s with %s; db %s; link %s; keys %s; push to %s; shared as %s",
            "https://api.minimax.io/v1/x",
            "vap_PersonalToken12345678",
            "postgres://portal:hunter2pw@db.internal:5432/portal",
            "https://bucket.s3.amazonaws.com/v.mp4?X-Amz-Signature=AbCdSignature123&X-Amz-Expires=300",
            vault_key,
            f"https://portal.example.com/callbacks/minimax/{CALLBACK_TOKEN}/",
            f"https://portal.example.com/s/{SHARE_TOKEN}/video",
            exc_info=sys.exc_info(),
        )
    text = json.dumps(line)
    for secret, what in secrets.items():
        assert secret not in text, what
    assert "/callbacks/minimax/[redacted]/" in line["message"]
    assert "/s/[redacted]/video" in line["message"]
    assert "postgres://portal:[redacted]@db.internal" in line["message"]
    assert "RuntimeError" in line["exc"] and "Bearer [redacted]" in line["exc"]


@pytest.mark.django_db
def test_it_logs_a_request_line_with_the_callback_token_redacted(client, settings):
    settings.LOG_REQUESTS = True
    with console_as_json() as buffer:
        response = client.post(
            f"/callbacks/minimax/{CALLBACK_TOKEN}/",
            data="{}",
            content_type="application/json",
            HTTP_X_REQUEST_ID="req-0123456789",
        )
    assert response["X-Request-ID"] == "req-0123456789"
    output = buffer.getvalue()
    assert CALLBACK_TOKEN not in output
    lines = json_lines(output)
    request_line = next(line for line in lines if line["logger"] == "portal.request")
    assert request_line["path"] == "/callbacks/minimax/[redacted]/"
    assert request_line["message"].startswith("POST /callbacks/minimax/[redacted]/ ")
    assert request_line["status"] == response.status_code
    assert request_line["trace_id"] == "req-0123456789"
    # Django's own line for the refused request, if it wrote one, is redacted the same way.
    for line in lines:
        assert line["trace_id"] == "req-0123456789"


def test_it_redacts_runserver_request_lines_through_the_same_handler():
    logger = logging.getLogger("django.server")
    assert logger.handlers == [] and logger.propagate  # not Django's unredacted default
    with console_as_json() as buffer:
        # What runserver's request handler logs for every request.
        logger.info('"%s" %s %s', f"POST /callbacks/minimax/{CALLBACK_TOKEN}/ HTTP/1.1", 200, 2)
    (line,) = json_lines(buffer.getvalue())
    assert line["logger"] == "django.server"
    assert line["message"] == '"POST /callbacks/minimax/[redacted]/ HTTP/1.1" 200 2'


@pytest.mark.django_db
def test_it_stamps_task_lines_with_the_job_and_the_enqueuing_requests_trace(
    monkeypatch, sync_queue
):
    from django_q.tasks import async_task

    seen: list[tuple] = []
    monkeypatch.setattr(
        "videos.services.job_poll",
        lambda *, job_id, force=False: seen.append((job_id_var.get(), trace_id_var.get())),
    )
    with log_context(trace_id="request-trace-1"):
        async_task("videos.tasks.poll_job", "3f0c7f5e-job")
        assert trace_id_var.get() == "request-trace-1"  # put back after the inline task
    assert seen == [("3f0c7f5e-job", "request-trace-1")]
    assert job_id_var.get() is None


def run_logging(env: dict[str, str]):
    code = (
        "import django, logging; django.setup(); "
        "logging.getLogger('videos.services').warning("
        "'job %s uses %s', 'j-9', 'sk-api-LeakMe1234', extra={'job_id': 'j-9'})"
    )
    result = run_portal(["-c", code], VAULT_KEYS=Fernet.generate_key().decode(), **env)
    assert result.returncode == 0, result.stderr
    return result


@pytest.mark.parametrize(
    "env",
    [
        {"LOG_FORMAT": "json"},
        {
            "DJANGO_DEBUG": "false",
            "DJANGO_SECRET_KEY": "k" * 20 + "prod-secret-key-0123456789xyz",
            "EMAIL_URL": "smtp://mail.example.com:587/?tls=true",
        },
    ],
    ids=["LOG_FORMAT=json", "DJANGO_DEBUG=false"],
)
def test_it_chooses_json_lines_in_production_or_when_asked(env):
    result = run_logging(env)
    line = next(line for line in json_lines(result.stderr) if line["logger"] == "videos.services")
    assert line["message"] == "job j-9 uses sk-[redacted]"
    assert line["job_id"] == "j-9" and line["level"] == "WARNING"
    assert "LeakMe1234" not in result.stderr


def test_it_keeps_plain_lines_in_development():
    result = run_logging({})
    assert "WARNING videos.services job j-9 uses sk-[redacted]" in result.stderr
    assert "LeakMe1234" not in result.stderr


def test_it_gives_the_upstream_trace_id_its_own_field(upstream, caplog):
    import json as _json
    import logging as _logging

    from portal.logging import JsonFormatter
    from tests.fakes import ok
    from videos.providers.base import Credentials
    from videos.providers.minimax import provider

    upstream.on("/v1/query/video_template_generation", ok(task_id="T", status="Processing"))
    with caplog.at_level(_logging.INFO, logger="videos.providers.minimax"):
        provider.status(Credentials(secret="sk-x-1234"), "T", {})
    line = _json.loads(JsonFormatter().format(caplog.records[-1]))
    assert line["upstream_trace_id"] == "trace-123"
