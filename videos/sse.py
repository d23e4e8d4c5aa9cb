"""A job's timeline as server-sent events, cheap enough to leave open by the thousand.

The stream is an async generator (the API serves it under ASGI): between its looks at the
database it only awaits its wake-up from the process's hub (videos.sse_hub, which asks once
per SSE_POLL_SECONDS which jobs have news, for all streams in one query), so an idle stream
holds no thread, no database connection and costs no query. Each look runs in a worker
thread and closes its connection again. It pings idle clients so proxies keep the stream
open, ends when the job is finished, and gives up after SSE_MAX_SECONDS anyway: the client
reconnects with `Last-Event-ID` and misses nothing, because every event carries its JobEvent
id. Under WSGI (development, tests) each stream looks every SSE_POLL_SECONDS instead.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import AsyncIterator, Generator, Iterator

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection

from videos import sse_hub
from videos.api.schemas import event_payload
from videos.models import Job, JobEvent, JobStatus
from videos.services.streams import stream_close, stream_renew

HIDDEN_KINDS = sse_hub.HIDDEN_KINDS
BATCH = 100
RETRY_MS = 3000
RENEW_SECONDS = 20


def _frame(*, event: str, data: dict, event_id: int | None = None) -> str:
    lines = []
    if event_id is not None:
        lines.append(f"id: {event_id}")
    lines.append(f"event: {event}")
    lines.append("data: " + json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":")))
    return "\n".join(lines) + "\n\n"


def _look(job_id, after_id: int, base_url: str) -> tuple[str | None, list[tuple[int, str, dict]]]:
    """The job's status and its new events, as frames' parts; the connection is let go."""
    try:
        # Status first, then events: a terminal status and its final events commit together,
        # so once the status reads terminal, the events query is sure to see all of them.
        status = Job.objects.filter(pk=job_id).values_list("status", flat=True).first()
        events = [
            (e.id, e.kind, event_payload(e, base_url=base_url))
            for e in JobEvent.objects.filter(job_id=job_id, id__gt=after_id)
            .exclude(kind__in=HIDDEN_KINDS)
            .order_by("id")[:BATCH]
        ]
        return status, events
    finally:
        # Between looks the stream holds no connection; inside a transaction (tests that wrap
        # everything in one) closing would break it, and there is nothing to give back.
        if not connection.in_atomic_block:
            connection.close()


def _forget(stream_id: int | None) -> None:
    try:
        if stream_id is not None:
            stream_close(stream_id=stream_id)
    finally:
        if not connection.in_atomic_block:
            connection.close()


def _renew(stream_id: int) -> None:
    try:
        stream_renew(stream_id=stream_id)
    finally:
        if not connection.in_atomic_block:
            connection.close()


STOP = object()


class _Seen:
    """The last event id a stream has sent (the hub wakes it only for newer ones)."""

    after_id = 0


def _steps(
    *,
    job_id,
    after_id: int,
    base_url: str,
    stream_id: int | None,
    renew: bool = True,
    seen: _Seen | None = None,
) -> Generator[str | None, bool | None, None]:
    """The stream's frames, and None where the server should wait before the next look: one
    loop for both servers (the waiting is theirs to do). The server answers a None with
    whether there may be news (None: assume so, look); without news the stream only pings,
    renews and checks its deadline."""
    started = last_sent = last_renewed = time.monotonic()
    seen = seen or _Seen()
    seen.after_id = after_id
    news: bool | None = True
    try:
        yield f"retry: {RETRY_MS}\n\n"
        while True:
            if news is not False:
                status, events = _look(job_id, after_id, base_url)
                for event_id, kind, data in events:
                    after_id = seen.after_id = event_id
                    yield _frame(event=kind, event_id=event_id, data=data)
                if events:
                    last_sent = time.monotonic()
                if len(events) == BATCH:
                    continue  # more waiting: send them before anything else
                if status is None or status in JobStatus.terminal():
                    # No id: a reconnect still resumes after the last real event.
                    yield _frame(event="done", data={"status": status or "deleted"})
                    return
            now = time.monotonic()
            if now - started >= settings.SSE_MAX_SECONDS:
                return
            if now - last_sent >= settings.SSE_HEARTBEAT_SECONDS:
                yield ": ping\n\n"
                last_sent = now
            if renew and stream_id is not None and now - last_renewed >= RENEW_SECONDS:
                _renew(stream_id)
                last_renewed = now
            news = yield None
    finally:
        # The client went away, the job ended, or the stream timed out: it stops counting.
        _forget(stream_id)


def job_event_stream(
    *, job_id, after_id: int = 0, base_url: str = "", stream_id: int | None = None
) -> Iterator[str]:
    """For a WSGI server (development, tests): waits hold the request's thread, and each
    stream looks at its job every SSE_POLL_SECONDS."""
    steps = _steps(job_id=job_id, after_id=after_id, base_url=base_url, stream_id=stream_id)
    try:
        for step in steps:
            if step is None:
                time.sleep(settings.SSE_POLL_SECONDS)
            else:
                yield step
    finally:
        steps.close()


async def job_event_stream_async(
    *, job_id, after_id: int = 0, base_url: str = "", stream_id: int | None = None
) -> AsyncIterator[str]:
    """For an ASGI server: the process's hub (videos.sse_hub) watches for news for every
    open stream in one query per tick and renews their leases; a stream looks at its job
    (in a pool thread) only when woken, so an idle one costs no thread, no connection and
    no query."""
    seen = _Seen()
    steps = _steps(
        job_id=job_id,
        after_id=after_id,
        base_url=base_url,
        stream_id=stream_id,
        renew=False,
        seen=seen,
    )
    # A client that goes away cancels this coroutine, possibly while a look runs in its
    # thread (which finishes regardless): the close waits for that look instead of racing it.
    turn = threading.Lock()

    def step(news: bool | None):
        with turn:
            try:
                return steps.send(news)
            except StopIteration:
                return STOP

    def close():
        with turn:
            steps.close()

    # Subscribed before the first look: news from then on wakes the stream.
    subscription = sse_hub.hub().subscribe(job_id, after_id=after_id, stream_id=stream_id)
    try:
        news: bool | None = None
        started = time.monotonic()
        while (taken := await sync_to_async(step, thread_sensitive=False)(news)) is not STOP:
            news = None
            if taken is None:
                subscription.after_id = seen.after_id
                left = settings.SSE_MAX_SECONDS - (time.monotonic() - started)
                timeout = max(0.0, min(settings.SSE_HEARTBEAT_SECONDS, left))
                news = await subscription.wait(timeout)
            else:
                yield taken
    finally:
        subscription.close()
        await sync_to_async(close, thread_sensitive=False)()
