"""A worker process's storage client, made as the process starts rather than in its first task.

django-storages builds its boto3 client (one per thread) on first use, and botocore reads its
endpoint and service data (several MB of JSON) for it: most of a first fetch's time into S3
and most of the memory that fetch seemed to add (docs/benchmarks.md). Paid at spawn instead,
while the worker has nothing to do.
"""

from __future__ import annotations

import logging
from typing import Any

from django.core.files.storage import default_storage

logger = logging.getLogger("portal.warmup")


def storage_client(sender: Any = None, proc_name: str = "", **kwargs: Any) -> None:
    """django-q2's post_spawn, in the new worker process (and the thread its tasks run on)."""
    try:
        # S3Storage's boto3 resource for this thread; local storage has none (nothing to do).
        getattr(default_storage, "connection", None)
    except Exception:
        # Storage unreachable or misconfigured: the first task will say so, with its job.
        logger.warning("could not prepare the storage client in %s", proc_name, exc_info=True)
