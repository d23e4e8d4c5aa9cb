"""Logging: no secret reaches a log line, whatever logged it; JSON lines in production.

Kept free of Django imports at module level: gunicorn's master loads the formatter and the
filter from here (gunicorn.conf.py) before any Django settings exist.

Context: `job_id` and `trace_id` come from `extra=` when a call passes them, else from the
context variables below, which the request middleware (a trace id per request, the job id of
the URL) and the django-q2 signal receivers (the job a task works on, the trace id of the
request that enqueued it) set.
"""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # Django is imported lazily: gunicorn's master loads this module bare
    from django.http import HttpRequest, HttpResponse

_PATTERNS = [
    # Upstream keys (sk-api-..., sk-cp-...) and any bearer credential.
    (re.compile(r"\bsk-[A-Za-z0-9_\-]{4,}"), "sk-[redacted]"),
    (re.compile(r"(Bearer\s+)[^\s'\"]+", re.IGNORECASE), r"\1[redacted]"),
    # Portal personal access tokens.
    (re.compile(r"\bvap_[A-Za-z0-9_\-]{8,}"), "vap_[redacted]"),
    # Team webhook signing secrets.
    (re.compile(r"\bwhsec_[A-Za-z0-9+/=]{8,}"), "whsec_[redacted]"),
    # Per-job callback tokens and signed input-image links are capabilities: keep them out of
    # logged paths (request lines of django.request, django.server, gunicorn, ours).
    (re.compile(r"(/callbacks/[a-z]+/)[^/\s?'\"]+"), r"\1[redacted]"),
    (re.compile(r"(/inputs/)[^/\s?'\"]+"), r"\1[redacted]"),
    # A share link shows its video to anyone who holds it.
    (re.compile(r"(/s/)[^/\s?'\"]+"), r"\1[redacted]"),
    # Invitation links let whoever holds them join a team.
    (re.compile(r"(/accounts/invitations/)[^/\s?'\"]+"), r"\1[redacted]"),
    # Passwords inside connection URLs (postgres://user:pw@host, redis://:pw@host).
    (
        re.compile(r"(\b[a-z][a-z0-9+.\-]*://[^:/@\s'\"]*:)[^@/\s'\"]+@", re.IGNORECASE),
        r"\1[redacted]@",
    ),
    # Signatures and credentials in query strings (S3 presigned URLs, the sandbox's links).
    (
        re.compile(
            r"([?&](?:X-Amz-Signature|X-Amz-Credential|X-Amz-Security-Token|Signature|"
            r"AWSAccessKeyId|sig|token|access_token|api_key|key|secret|password)=)[^&\s'\"]+",
            re.IGNORECASE,
        ),
        r"\1[redacted]",
    ),
    # Fernet keys (VAULT_KEYS entries): 32 bytes of url-safe base64.
    (re.compile(r"(?<![A-Za-z0-9_\-])[A-Za-z0-9_\-]{43}=(?![A-Za-z0-9_\-=])"), "[redacted-key]"),
]


def redact(text: str) -> str:
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# --- Context -----------------------------------------------------------------------------

job_id_var: ContextVar[str | None] = ContextVar("job_id", default=None)
trace_id_var: ContextVar[str | None] = ContextVar("trace_id", default=None)


@contextmanager
def log_context(*, job_id: object = None, trace_id: object = None) -> Iterator[None]:
    """Within the block, every log line carries these ids (None leaves a value as it was)."""
    tokens = []
    if job_id is not None:
        tokens.append((job_id_var, job_id_var.set(str(job_id))))
    if trace_id is not None:
        tokens.append((trace_id_var, trace_id_var.set(str(trace_id))))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


def new_trace_id() -> str:
    return uuid.uuid4().hex


class RedactSecretsFilter(logging.Filter):
    """On the handler: redacts message and traceback, and stamps the context ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatted here, once, so every formatter prints the redacted text (an exception
            # message may quote a URL or a key).
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        for name, var in (("job_id", job_id_var), ("trace_id", trace_id_var)):
            if getattr(record, name, None) is None and var.get() is not None:
                setattr(record, name, var.get())
        # django.request writes its "Not Found: ..." lines after the middleware has returned
        # (and the context was reset); the request it passes along still knows its ids.
        request = getattr(record, "request", None)
        if getattr(record, "trace_id", None) is None and hasattr(request, "trace_id"):
            record.trace_id = getattr(request, "trace_id")  # noqa: B009  (typed as unknown)
        if getattr(record, "job_id", None) is None and getattr(request, "job_id", None):
            record.job_id = getattr(request, "job_id")  # noqa: B009
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message and the ids when present."""

    # Only these `extra=` fields are written: arbitrary record attributes (a request object,
    # a settings dict) have no business in a log line.
    EXTRA_FIELDS = (
        "job_id",
        "trace_id",
        "upstream_trace_id",
        "task_id",
        "method",
        "path",
        "status",
        "duration_ms",
    )

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, tz=UTC)
            .isoformat(timespec="milliseconds")
            .replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": redact(record.getMessage()),
        }
        context = {"job_id": job_id_var.get(), "trace_id": trace_id_var.get()}
        for name in self.EXTRA_FIELDS:
            value = getattr(record, name, None)
            if value is None:
                value = context.get(name)
            if value is not None:
                payload[name] = redact(value) if isinstance(value, str) else _plain(value)
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            payload["exc"] = redact(record.exc_text)
        if record.stack_info:
            payload["stack"] = redact(self.formatStack(record.stack_info))
        return json.dumps(payload, ensure_ascii=False)


def _plain(value: object) -> object:
    if isinstance(value, bool | int | float):
        return value
    return redact(str(value))


def logging_config(*, json_lines: bool, level: str = "INFO") -> dict[str, Any]:
    """The LOGGING dict: one console handler, redacted, plain text or JSON lines."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {"redact": {"()": "portal.logging.RedactSecretsFilter"}},
        "formatters": {
            "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
            "json": {"()": "portal.logging.JsonFormatter"},
        },
        "handlers": {
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json" if json_lines else "plain",
                "filters": ["redact"],
            }
        },
        "root": {"handlers": ["console"], "level": level},
        "loggers": {
            "django.db.backends": {"level": "WARNING"},
            # Django's defaults give these loggers handlers of their own, which would print
            # request lines (callback tokens in the path) unredacted and not as JSON: send
            # them to the root handler instead.
            "django": {"handlers": [], "level": level, "propagate": True},
            "django.server": {"handlers": [], "level": level, "propagate": True},
            # At DEBUG, the template engine logs every failed variable lookup with the repr
            # of the whole context: the page's one-time API token or webhook secret with it.
            "django.template": {"handlers": [], "level": "INFO", "propagate": True},
        },
    }


def gunicorn_logconfig(*, json_lines: bool, level: str = "INFO") -> dict[str, Any]:
    """gunicorn's own loggers (master and worker life cycle) through the same handler."""
    config = logging_config(json_lines=json_lines, level=level)
    config["loggers"] = {
        "gunicorn.error": {"handlers": ["console"], "level": level, "propagate": False},
        # Requests are logged by RequestLogMiddleware (with the trace id); gunicorn's access
        # log stays off.
        "gunicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
    }
    return config


# --- Web requests ------------------------------------------------------------------------

_TRACE_HEADER = re.compile(r"^[A-Za-z0-9._\-]{8,128}$")
request_logger = logging.getLogger("portal.request")


class RequestLogMiddleware:
    """A trace id per request (X-Request-ID from the proxy, or a new one), echoed back.

    When LOG_REQUESTS is on (production), one line per request with method, redacted path,
    status and duration; health probes only at DEBUG so they don't drown the log.
    """

    def __init__(self, get_response: Callable) -> None:
        from django.conf import settings

        self.get_response = get_response
        self.log_requests = getattr(settings, "LOG_REQUESTS", False)

    def __call__(self, request: HttpRequest) -> HttpResponse:
        incoming = request.META.get("HTTP_X_REQUEST_ID", "")
        trace_id = incoming if _TRACE_HEADER.match(incoming) else new_trace_id()
        started = time.monotonic()
        # A WSGI thread serves one request after another in the same context: start clean
        # and put things back afterwards, so no id leaks into the next request's lines.
        job_token = job_id_var.set(None)
        trace_token = trace_id_var.set(trace_id)
        request.trace_id = trace_id  # type: ignore[attr-defined]
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = trace_id
            if self.log_requests:
                self._log(request, response, started)
        finally:
            trace_id_var.reset(trace_token)
            job_id_var.reset(job_token)
        return response

    def process_view(
        self, request: HttpRequest, view_func: Callable, view_args: tuple, view_kwargs: dict
    ) -> None:
        job_id = view_kwargs.get("job_id")
        if job_id is not None:
            request.job_id = str(job_id)  # type: ignore[attr-defined]
            job_id_var.set(str(job_id))  # reset at the end of __call__

    def _log(self, request: HttpRequest, response: HttpResponse, started: float) -> None:
        path = redact(request.path)
        level = logging.DEBUG if path in ("/healthz", "/readyz") else logging.INFO
        request_logger.log(
            level,
            "%s %s %s",
            request.method,
            path,
            response.status_code,
            extra={
                "method": request.method,
                "path": path,
                "status": response.status_code,
                "duration_ms": round((time.monotonic() - started) * 1000, 1),
            },
        )


# --- Background tasks (django-q2 signals, connected by portal.apps) ----------------------


def task_pre_enqueue(sender: object, task: dict, **kwargs: object) -> None:
    """Carry the enqueuing request's trace id to the worker inside the (signed) task."""
    trace_id = trace_id_var.get()
    if trace_id and "trace_id" not in task:
        task["trace_id"] = trace_id


# A worker process runs one task at a time (and a sync task runs inline, nested in the
# caller): a stack puts the caller's ids back afterwards. Tokens stay out of the task dict,
# which is pickled back to the cluster's monitor.
_task_tokens: list[tuple] = []


# The tasks whose first argument is a job id (videos.tasks).
JOB_TASKS = {
    "videos.tasks.submit_job",
    "videos.tasks.poll_job",
    "videos.tasks.adopt_job",
    "videos.tasks.fetch_job",
    "videos.tasks.cancel_upstream",
}


def task_pre_execute(sender: object, func: object, task: dict, **kwargs: object) -> None:
    """Stamp the task's lines with its job (videos.tasks take the job id first) and trace."""
    func_name = task.get("func")
    name = func_name if isinstance(func_name, str) else ""
    job_id = str(task["args"][0]) if name in JOB_TASKS and task.get("args") else None
    trace_id = str(task.get("trace_id") or task.get("id") or "") or None
    _task_tokens.append((job_id_var.set(job_id), trace_id_var.set(trace_id)))


def task_post_execute(sender: object, func: object, task: dict, **kwargs: object) -> None:
    if not _task_tokens:
        return
    job_token, trace_token = _task_tokens.pop()
    try:
        trace_id_var.reset(trace_token)
        job_id_var.reset(job_token)
    except ValueError:  # set in another context (cannot happen in a worker; be safe)
        job_id_var.set(None)
        trace_id_var.set(None)
