"""Enqueueing background work: always after the transaction that made it necessary commits."""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_q.tasks import async_task


def enqueue(func: str, subject: Any, **kwargs: Any) -> None:
    """Run `func(str(subject), **kwargs)` in a worker once the current transaction commits.

    `subject` is what the task acts on (a job id, an attachment id...): task arguments are
    ids, never secrets. on_commit: a worker must never pick up a row it cannot see yet; a task
    lost between the commit and the broker is found again by the sweeper.
    """
    transaction.on_commit(lambda: async_task(func, str(subject), **kwargs))
