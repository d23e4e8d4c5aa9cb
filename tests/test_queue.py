"""videos.queue: every enqueue of a process goes through one broker and one connection."""

from __future__ import annotations

import threading

import pytest
from django_q.conf import Conf

from videos import queue


class FakeRedis:
    """Stands in for a redis client: each one would be a new connection to the server."""

    def __init__(self):
        self.pushed: list[tuple[str, str]] = []  # the queue, head first

    def rpush(self, key, value):
        self.pushed.append((key, value))
        return len(self.pushed)

    def lpush(self, key, value):
        self.pushed.insert(0, (key, value))
        return len(self.pushed)


@pytest.fixture
def redis_clients(monkeypatch):
    clients: list[FakeRedis] = []

    def from_url(url, **kwargs):
        clients.append(FakeRedis())
        return clients[-1]

    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", "redis://127.0.0.1:6390/0")
    monkeypatch.setattr("redis.from_url", from_url)
    monkeypatch.setattr(queue, "_broker", None)  # as in a fresh process
    return clients


@pytest.mark.django_db
def test_it_opens_one_connection_for_many_enqueues(
    redis_clients, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(50):
            queue.enqueue("videos.tasks.poll_job", f"job-{n}")
    assert len(redis_clients) == 1
    assert len(redis_clients[0].pushed) == 50


def test_it_shares_the_connection_between_threads(redis_clients):
    threads = [
        threading.Thread(target=lambda: [queue.async_task("videos.tasks.sweep") for _ in range(10)])
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(redis_clients) == 1
    assert len(redis_clients[0].pushed) == 80


def test_it_opens_a_new_connection_in_a_forked_child(redis_clients, monkeypatch):
    queue.async_task("videos.tasks.sweep")
    monkeypatch.setattr("videos.queue.os.getpid", lambda: -1)  # as after gunicorn's fork
    queue.async_task("videos.tasks.sweep")
    queue.async_task("videos.tasks.sweep")
    assert [len(client.pushed) for client in redis_clients] == [1, 2]


@pytest.mark.django_db
def test_it_puts_a_task_ahead_of_the_waiting_ones(
    redis_clients, django_capture_on_commit_callbacks
):
    from django_q.signing import SignedPackage

    with django_capture_on_commit_callbacks(execute=True):
        queue.enqueue("videos.tasks.submit_job", "first")
        queue.enqueue("videos.tasks.submit_job", "second")
        queue.enqueue("videos.tasks.poll_job", "ended", ahead=True, force=True)
    (client,) = redis_clients
    tasks = [SignedPackage.loads(value) for _key, value in client.pushed]
    assert [(t["func"], t["args"]) for t in tasks] == [
        ("videos.tasks.poll_job", ("ended",)),
        ("videos.tasks.submit_job", ("first",)),
        ("videos.tasks.submit_job", ("second",)),
    ]
    assert tasks[0]["kwargs"] == {"force": True}  # `ahead` is ours, not the task's
    assert {key for key, _value in client.pushed} == {queue.shared_broker().list_key}
