"""Enqueueing background work: always after the transaction that made it necessary commits."""

from __future__ import annotations

from django.db import transaction
from django_q.tasks import async_task


def enqueue(func: str, job_id, **kwargs) -> None:
    # on_commit: a worker must never pick up a job whose row it cannot see yet; a task that
    # gets lost (broker down between commit and send) is found again by the sweeper.
    transaction.on_commit(lambda: async_task(func, str(job_id), **kwargs))
