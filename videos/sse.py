"""A job's timeline as server-sent events, cheap enough to leave open.

The stream is a generator: it asks the database about once a second (SSE_POLL_SECONDS), closes
its connection between looks (an idle stream holds no database connection), pings idle clients
so proxies keep the stream open, ends when the job is finished, and gives up after
SSE_MAX_SECONDS anyway: the client reconnects with `Last-Event-ID` and misses nothing, because
every event carries its JobEvent id.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from videos.api.schemas import event_payload
from videos.models import EventKind, Job, JobEvent, JobStatus

# Upstream pushes are hints for the worker, not news for the client (the re-query decides).
HIDDEN_KINDS = [EventKind.CALLBACK]
BATCH = 100
RETRY_MS = 3000


def _frame(*, event: str, data: dict, event_id: int | None = None) -> str:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


def _look(job_id, after_id: int) -> tuple[str | None, list[JobEvent]]:
    # Status first, then events: a terminal status and its final events commit together, so
    # once the status reads terminal, the events query is sure to see all of them.
    status = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
    events = list(
        JobEvent.objects.filter(job_id=job_id, id__gt=after_id)
        .exclude(kind__in=HIDDEN_KINDS)
        .order_by("id")[:BATCH]
    )
    return status, events


def _release_connection() -> None:
    # Between looks the stream must not hold a connection; inside a transaction (tests that
    # wrap everything in one) closing would break it, and there is nothing to give back.
    if not connection.in_atomic_block:
        connection.close()


def job_event_stream(*, job_id, after_id: int = 0, base_url: str = "") -> Iterator[str]:
    poll = settings.SSE_POLL_SECONDS
    started = last_sent = time.monotonic()
    yield f"retry: {RETRY_MS}\n\n"
    while True:
        try:
            status, events = _look(job_id, after_id)
        finally:
            _release_connection()
        for event in events:
            after_id = event.id
            yield _frame(
                event=event.kind,
                event_id=event.id,
                data=event_payload(event, base_url=base_url),
            )
        now = time.monotonic()
        if events:
            last_sent = now
        if len(events) == BATCH:
            continue  # more waiting: send them before anything else
        if status is None or status in JobStatus.terminal():
            # No id: a reconnect still resumes after the last real event.
            yield _frame(event="done", data={"status": status or "deleted"})
            return
        if now - started >= settings.SSE_MAX_SECONDS:
            return
        if now - last_sent >= settings.SSE_HEARTBEAT_SECONDS:
            yield ": ping\n\n"
            last_sent = now
        time.sleep(poll)
