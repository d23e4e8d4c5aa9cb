"""One watcher per web process for all its open event streams (videos.sse, under ASGI).

Instead of every stream asking the database about its job once a second (a thousand streams:
a thousand queries and connections a second), one loop per process asks once per tick which
jobs have new events, in one query over the newest JobEvent ids (the primary key's index),
and wakes only the streams of those jobs; it also renews all their leases in one UPDATE.
A stream then looks at its job only when there is news, or to end after SSE_MAX_SECONDS.

Ids are handed out before commit, so an event can become visible after a higher one: each
tick looks back over the ids of the last LOOKBACK_SECONDS, and a stream is woken only for an
event newer than the last one it sent, so a late commit still wakes it, and once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections import deque
from concurrent.futures import ThreadPoolExecutor

from django.conf import settings
from django.db import connection
from django.db.models import Max

from videos.models import EventKind, JobEvent
from videos.services.streams import streams_renew

logger = logging.getLogger("videos.sse")

# Upstream pushes are hints for the worker, not news for the client (the re-query decides).
HIDDEN_KINDS = [EventKind.CALLBACK]
LOOKBACK_SECONDS = 10.0
RENEW_SECONDS = 20.0


class Subscription:
    """A stream's line to the hub: woken when its job has an event newer than `after_id`."""

    def __init__(self, hub: Hub, job_id: str, after_id: int, stream_id: int | None):
        self.hub, self.job_id, self.after_id, self.stream_id = hub, job_id, after_id, stream_id
        self.news = asyncio.Event()

    async def wait(self, timeout: float) -> bool:
        """True when woken by news, False when the timeout passed first."""
        try:
            await asyncio.wait_for(self.news.wait(), timeout)
        except TimeoutError:
            return False
        self.news.clear()  # before the look that follows: news after this wakes us again
        return True

    def close(self) -> None:
        self.hub.unsubscribe(self)


class Hub:
    def __init__(self) -> None:
        self.subscriptions: dict[str, set[Subscription]] = {}
        self.task: asyncio.Task | None = None
        # One thread of its own: its database connection stays open between ticks.
        self.executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sse-hub")
        self.floor: int | None = None  # event ids above it are looked at again each tick
        self.newest_at: deque[tuple[float, int]] = deque()
        self.renewed = time.monotonic()

    def subscribe(self, job_id, *, after_id: int, stream_id: int | None) -> Subscription:
        subscription = Subscription(self, str(job_id), after_id, stream_id)
        self.subscriptions.setdefault(subscription.job_id, set()).add(subscription)
        if self.task is None or self.task.done():
            self.task = asyncio.get_running_loop().create_task(self._run())
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        subs = self.subscriptions.get(subscription.job_id)
        if subs is not None:
            subs.discard(subscription)
            if not subs:
                del self.subscriptions[subscription.job_id]

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.subscriptions:
                renew = None
                if time.monotonic() - self.renewed >= RENEW_SECONDS:
                    self.renewed = time.monotonic()
                    renew = [
                        s.stream_id
                        for subs in self.subscriptions.values()
                        for s in subs
                        if s.stream_id is not None
                    ]
                try:
                    fresh = self.floor is None
                    newest = await loop.run_in_executor(self.executor, self.tick, renew)
                except Exception:
                    logger.exception("event streams: a look for news failed")
                    await loop.run_in_executor(self.executor, connection.close)
                else:
                    if fresh:
                        # The first tick has no earlier ids to compare with: an event made
                        # between a stream's first look and now would go unnoticed, so every
                        # stream looks once more.
                        for subs in self.subscriptions.values():
                            for subscription in subs:
                                subscription.news.set()
                    self._wake(newest)
                await asyncio.sleep(settings.SSE_POLL_SECONDS)
        finally:
            # Idle: give the connection back until the next stream opens.
            await loop.run_in_executor(self.executor, connection.close)
            self.floor = None
            self.newest_at.clear()

    def tick(self, renew: list[int] | None = None) -> dict[str, int]:
        """In the hub's thread: one query for the jobs with news (their newest event ids),
        and the leases of the open streams renewed in one UPDATE when `renew` is given."""
        now = time.monotonic()
        if self.floor is None:
            self.floor = JobEvent.objects.aggregate(newest=Max("id"))["newest"] or 0
            self.newest_at.append((now, self.floor))
        rows = (
            JobEvent.objects.filter(id__gt=self.floor)
            .exclude(kind__in=HIDDEN_KINDS)
            .values_list("job_id")
            .annotate(newest=Max("id"))
            .order_by()
        )
        newest = {str(job_id): last for job_id, last in rows}
        self.newest_at.append((now, max(newest.values(), default=self.newest_at[-1][1])))
        while len(self.newest_at) > 1 and now - self.newest_at[1][0] >= LOOKBACK_SECONDS:
            self.newest_at.popleft()
        self.floor = self.newest_at[0][1]
        if renew:
            streams_renew(stream_ids=renew)
        return newest

    def _wake(self, newest: dict[str, int]) -> None:
        """On the event loop: wake the streams of jobs with an event they have not sent."""
        for job_id, last in newest.items():
            for subscription in self.subscriptions.get(job_id, ()):
                if last > subscription.after_id:
                    subscription.news.set()


_hubs: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Hub] = weakref.WeakKeyDictionary()


def hub() -> Hub:
    """This event loop's hub (a uvicorn worker has one loop; tests may make several)."""
    loop = asyncio.get_running_loop()
    found = _hubs.get(loop)
    if found is None:
        found = _hubs[loop] = Hub()
    return found
