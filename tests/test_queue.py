"""videos.queue: every enqueue of a process goes through one broker and one connection."""

from __future__ import annotations

import threading

import pytest
from django_q.conf import Conf

from videos import queue


class FakeRedis:
    """Stands in for a redis client: each one would be a new connection to the server."""

    def __init__(self):
        self.pushed: list[tuple[str, str]] = []  # every RPUSH, in order

    def rpush(self, key, value):
        self.pushed.append((key, value))
        return len(self.pushed)

    def blpop(self, keys, timeout):
        """The head of the first of `keys` that holds anything (Redis's BLPOP)."""
        for key in keys:
            for i, (pushed_to, value) in enumerate(self.pushed):
                if pushed_to == key:
                    del self.pushed[i]
                    return key, value
        return None

    def llen(self, key):
        return sum(1 for pushed_to, _ in self.pushed if pushed_to == key)


@pytest.fixture
def redis_clients(monkeypatch):
    clients: list[FakeRedis] = []

    def from_url(url, **kwargs):
        clients.append(FakeRedis())
        return clients[-1]

    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(Conf, "ORM", None)
    monkeypatch.setattr(Conf, "REDIS", "redis://127.0.0.1:6390/0")
    monkeypatch.setattr(Conf, "BROKER_CLASS", "videos.queue.LanedRedis")  # as with REDIS_URL
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
def test_it_hands_out_the_ahead_lane_first_each_lane_in_order(
    redis_clients, django_capture_on_commit_callbacks
):
    from django_q.signing import SignedPackage

    with django_capture_on_commit_callbacks(execute=True):
        queue.enqueue("videos.tasks.submit_job", "first")
        queue.enqueue("videos.tasks.poll_job", "ended-1", ahead=True, force=True)
        queue.enqueue("videos.tasks.submit_job", "second")
        queue.enqueue("videos.tasks.poll_job", "ended-2", ahead=True, force=True)
    broker = queue.shared_broker()
    assert isinstance(broker, queue.LanedRedis)
    assert broker.queue_size() == 4
    handed_out = []
    while taken := broker.dequeue():
        [(_ack, package)] = taken
        handed_out.append(SignedPackage.loads(package))
    # The steps that end a job first, oldest first (not the newest: a burst's early jobs
    # would wait behind its later ones); then the rest, as they came.
    assert [task["args"][0] for task in handed_out] == ["ended-1", "ended-2", "first", "second"]
    assert handed_out[0]["kwargs"] == {"force": True}  # `ahead` is ours, not the task's
    assert len(redis_clients) == 1  # one connection for both lanes


def test_it_takes_ahead_tasks_as_any_other_on_a_broker_without_lanes(db, monkeypatch):
    # The ORM broker (SQLite, the development default): no second lane.
    from django_q.brokers import get_broker

    monkeypatch.setattr(Conf, "BROKER_CLASS", None)
    monkeypatch.setattr(Conf, "REDIS", None)
    monkeypatch.setattr(Conf, "ORM", "default")
    broker = get_broker()
    assert not hasattr(broker, "enqueue_ahead")
    ahead = queue._Ahead(broker)
    ahead.enqueue("package")
    assert broker.queue_size() == 1
