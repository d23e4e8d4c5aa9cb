"""Enqueueing background work: always after the transaction that made it necessary commits."""

from __future__ import annotations

import os
import threading
from typing import Any

from django.db import transaction
from django_q.brokers import Broker, get_broker
from django_q.brokers.redis_broker import Redis as RedisBroker
from django_q.conf import Conf
from django_q.tasks import async_task as q_async_task

_lock = threading.Lock()
_broker: Broker | None = None
_broker_for: tuple = ()


def shared_broker() -> Broker:
    """This process's one broker (and so one Redis connection pool).

    django-q's `async_task` builds a broker per call, and with it a new Redis client and
    connection: 11 % of a create and half of a callback push. redis-py's pool is thread-safe;
    a forked child (gunicorn workers, qcluster processes) must not share its parent's sockets,
    so the broker is made again when the process id changes.
    """
    global _broker, _broker_for
    # What the broker was made for: this process, and the broker settings (tests switch them).
    made_for = (os.getpid(), Conf.CLUSTER_NAME, str(Conf.REDIS), Conf.ORM, Conf.BROKER_CLASS)
    broker = _broker
    if broker is not None and _broker_for == made_for:
        return broker
    with _lock:
        if _broker is None or _broker_for != made_for:
            _broker, _broker_for = get_broker(), made_for
        return _broker


class LanedRedis(RedisBroker):
    """django-q2's Redis broker with a second list in front of its queue (Q_CLUSTER
    "broker_class" with REDIS_URL): workers take from the ahead lane first (BLPOP on both
    lists, in that order), each lane first in, first out. `enqueue(..., ahead=True)` uses it.
    """

    def __init__(self, list_key: str | None = None) -> None:
        super().__init__(list_key=list_key)
        self.ahead_key = f"{self.list_key}:ahead"

    def enqueue_ahead(self, task: str) -> Any:
        return self.connection.rpush(self.ahead_key, task)

    def dequeue(self) -> list[tuple[None, Any]] | None:
        task = self.connection.blpop([self.ahead_key, self.list_key], 1)
        return [(None, task[1])] if task else None

    def queue_size(self) -> int:
        return int(self.connection.llen(self.list_key)) + int(self.connection.llen(self.ahead_key))

    def delete_queue(self) -> Any:
        return self.connection.delete(self.list_key, self.ahead_key)

    def purge_queue(self) -> Any:
        self.connection.ltrim(self.ahead_key, 1, 0)
        return self.connection.ltrim(self.list_key, 1, 0)


class _Ahead:
    """The shared broker, putting tasks in its ahead lane (LanedRedis). A broker without one
    (the ORM broker: the development default, not a busy site) takes them as any other."""

    def __init__(self, broker: Broker) -> None:
        self._broker = broker
        self.list_key = broker.list_key

    def enqueue(self, task: str) -> Any:
        return getattr(self._broker, "enqueue_ahead", self._broker.enqueue)(task)


def async_task(func: str, *args: Any, ahead: bool = False, **kwargs: Any) -> str:
    """django-q's async_task on the shared broker; the one place tasks reach the broker."""
    broker = shared_broker()
    kwargs.setdefault("broker", _Ahead(broker) if ahead else broker)
    return q_async_task(func, *args, **kwargs)


def enqueue(func: str, subject: Any, *, ahead: bool = False, **kwargs: Any) -> None:
    """Run `func(str(subject), **kwargs)` in a worker once the current transaction commits.

    `subject` is what the task acts on (a job id, an attachment id...): task arguments are
    ids, never secrets. on_commit: a worker must never pick up a row it cannot see yet; a task
    lost between the commit and the broker is found again by the sweeper.

    `ahead`: before the tasks already waiting. For a push's follow-up on a job the upstream
    has (nearly) finished: in a burst of creates it would otherwise wait behind every submit
    in the queue, while it is the step that ends a job (docs/benchmarks.md). Such tasks are
    bounded by the pushes, one look per job per window, so they cannot starve the rest.
    """
    if ahead:
        kwargs["ahead"] = True
    transaction.on_commit(lambda: async_task(func, str(subject), **kwargs))
