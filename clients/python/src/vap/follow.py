"""Following jobs to their end through their event streams.

A stream ends when its job does (`event: done`), or after the server's time limit, when it
is opened again with `Last-Event-ID` (nothing is missed). Where a stream cannot be had (the
token's open streams are capped: 429) the job is polled instead, every few seconds.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable

from vap.api import TERMINAL, Api, ApiError, ConnectionFailed, Event

POLL_SECONDS = 2.0
# Below the server's per-token cap (SSE_MAX_PER_TOKEN, 10), leaving room for other clients.
STREAMS_AT_ONCE = 4
RECONNECTS = 5


def wait_job(
    api: Api,
    video_id: str,
    *,
    on_event: Callable[[Event], None] = lambda event: None,
    sleep: Callable[[float], None] = time.sleep,
) -> dict:
    """Blocks until the job is finished; returns the job as GET /videos/{id} last showed it."""
    last_id: str | None = None
    broken = 0
    while True:
        heard = False
        try:
            for event in api.video_events(video_id, last_event_id=last_id):
                heard = True
                last_id = event.id or last_id
                on_event(event)
                if event.event == "done":
                    break
            broken = 0
        except ApiError as exc:
            if exc.status != 429:
                raise
            return _poll(api, video_id, on_event=on_event, sleep=sleep)
        except ConnectionFailed:
            broken += 1
            if broken > RECONNECTS:
                raise
            sleep(min(2.0**broken, 30.0))
        job = api.video_get(video_id)
        if job["status"] in TERMINAL:
            return job
        if not heard:
            sleep(POLL_SECONDS)  # a stream cut at once (a proxy?): no tight loop


def _poll(api: Api, video_id: str, *, on_event: Callable[[Event], None], sleep) -> dict:
    while True:
        job = api.video_get(video_id)
        on_event(Event("progress", {"progress": job["progress"], "status": job["status"]}))
        if job["status"] in TERMINAL:
            return job
        sleep(POLL_SECONDS)


def wait_jobs(
    api: Api,
    video_ids: list[str],
    *,
    on_event: Callable[[str, Event], None] = lambda video_id, event: None,
    on_finished: Callable[[dict], None] = lambda job: None,
    streams: int = STREAMS_AT_ONCE,
) -> list[dict]:
    """Follows many jobs, a few streams at a time (a job that is already finished replays its
    timeline and ends at once); `on_finished` runs for each as it ends, in its thread.

    The followers are daemon threads: on Ctrl-C (or an error) the command ends at once
    instead of waiting for every open stream's next event."""
    todo: queue.Queue[str] = queue.Queue()
    for video_id in video_ids:
        todo.put(video_id)
    finished: dict[str, dict] = {}
    failures: list[BaseException] = []
    stop = threading.Event()

    def follower() -> None:
        while not stop.is_set():
            try:
                video_id = todo.get_nowait()
            except queue.Empty:
                return
            try:

                def seen(event: Event, video_id: str = video_id) -> None:
                    on_event(video_id, event)

                job = wait_job(api, video_id, on_event=seen)
                on_finished(job)
                finished[video_id] = job
            except BaseException as exc:  # handed to the main thread, which raises it
                failures.append(exc)
                stop.set()
                return

    threads = [
        threading.Thread(target=follower, name=f"vap-follow-{n}", daemon=True)
        for n in range(max(1, min(streams, len(video_ids))))
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        while thread.is_alive():
            thread.join(timeout=0.5)  # a timeout, so Ctrl-C reaches this thread
    if failures:
        raise failures[0]
    return [finished[video_id] for video_id in video_ids]
