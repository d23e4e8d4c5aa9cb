"""The event streams' hub (videos/sse_hub.py): one look for news for every open stream."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from videos.models import EventKind, OpenStream
from videos.services.transitions import event
from videos.sse_hub import LOOKBACK_SECONDS, Hub, Subscription


@pytest.fixture
def hub():
    made = Hub()
    yield made
    made.executor.shutdown()


def follow(hub: Hub, job, after_id: int = 0, stream_id: int | None = None) -> Subscription:
    subscription = Subscription(hub, str(job.id), after_id, stream_id)
    hub.subscriptions.setdefault(subscription.job_id, set()).add(subscription)
    return subscription


def test_it_wakes_only_the_streams_of_jobs_with_news(hub, make_job):
    mine, other = make_job(), make_job()
    followers = [follow(hub, mine) for _ in range(3)]
    bystander = follow(hub, other)
    hub.tick()  # the first tick only learns where the ids are
    news = event(mine.id, EventKind.NOTE, "news")
    hub._wake(hub.tick())
    assert all(f.news.is_set() for f in followers)
    assert not bystander.news.is_set()
    assert news.id > 0


def test_it_looks_for_every_stream_in_one_query(hub, make_job):
    jobs = [make_job() for _ in range(5)]
    for job in jobs:
        for _ in range(20):
            follow(hub, job)
    hub.tick()
    for job in jobs:
        event(job.id, EventKind.NOTE, "news")
    with CaptureQueriesContext(connection) as queries:
        newest = hub.tick()
    assert len(queries.captured_queries) == 1
    assert set(newest) == {str(job.id) for job in jobs}


def test_it_wakes_a_stream_once_for_an_event_it_has_sent(hub, make_job):
    job = make_job()
    subscription = follow(hub, job)
    hub.tick()
    news = event(job.id, EventKind.NOTE, "news")
    hub._wake(hub.tick())
    assert subscription.news.is_set()
    subscription.news.clear()
    subscription.after_id = news.id  # the stream sent it
    hub._wake(hub.tick())  # still inside the look-back window: seen again, but not news
    assert not subscription.news.is_set()


def test_it_still_sees_an_event_committed_after_a_newer_one(hub, make_job, monkeypatch):
    job = make_job()
    subscription = follow(hub, job)
    hub.tick()
    late = event(job.id, EventKind.NOTE, "made first, committed late")
    event(job.id, EventKind.NOTE, "made second")
    # As if the first were invisible at this tick: the hub moved on past it.
    hub.newest_at.append((hub.newest_at[-1][0], late.id + 1))
    subscription.after_id = late.id - 1
    hub._wake(hub.tick())
    assert subscription.news.is_set()  # the look-back covers it
    assert LOOKBACK_SECONDS >= 5


def test_it_ignores_upstream_pushes(hub, make_job):
    job = make_job()
    subscription = follow(hub, job)
    hub.tick()
    event(job.id, EventKind.CALLBACK, "MiniMax pushed: processing")
    hub._wake(hub.tick())
    assert not subscription.news.is_set()


def test_it_renews_every_stream_lease_in_one_update(hub, make_job, team):
    job = make_job()
    soon = timezone.now() + timedelta(seconds=5)
    streams = [
        OpenStream.objects.create(token_id=1, team=team, job=job, lease_until=soon)
        for _ in range(3)
    ]
    hub.tick()
    with CaptureQueriesContext(connection) as queries:
        hub.tick(renew=[s.pk for s in streams])
    assert len(queries.captured_queries) == 2  # the news, the leases
    assert all(s.lease_until > soon for s in OpenStream.objects.all())
