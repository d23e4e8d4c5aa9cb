"""Prometheus instruments: what the processes measure as they work (prometheus-client).

Counters and histograms live in the process that does the work (a gunicorn worker, a
django-q worker). With PROMETHEUS_MULTIPROC_DIR set (docs/deploy.md), prometheus-client keeps
them in files of that folder, one per process, so whichever process answers a scrape adds up
every process of its host: the web's /metrics for the web host, `manage.py worker`'s exporter
(METRICS_PORT) for a worker host. Gauges about the site's state (jobs by state, the queue) are
not kept here: /metrics reads them from the database and the broker at scrape time
(portal/metrics.py), so every host reports the same truth and nothing can drift.
"""

from __future__ import annotations

import os
import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

# Seconds, from a fast local call to a slow upstream create.
_LATENCY = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)

UPSTREAM_SECONDS = Histogram(
    "vap_upstream_request_seconds",
    "Time of one call to an upstream API, by provider.",
    ["provider"],
    buckets=_LATENCY,
)
UPSTREAM_CALLS = Counter(
    "vap_upstream_requests",
    "Calls to an upstream API by provider and outcome: ok, or the error code (MiniMax's "
    "status code, http_<status>, timeout, ...).",
    ["provider", "code"],
)
TASK_SECONDS = Histogram(
    "vap_task_seconds",
    "Run time of a background task, by task.",
    ["task"],
    buckets=_LATENCY,
)
TASK_WAIT_SECONDS = Histogram(
    "vap_task_queue_wait_seconds",
    "Time a task waited in the queue, from its enqueue to its start.",
    ["task"],
    buckets=_LATENCY,
)
TASKS = Counter("vap_tasks", "Background tasks run, by task and outcome.", ["task", "outcome"])
WEBHOOK_DELIVERIES = Counter(
    "vap_webhook_attempts",
    "Webhook delivery attempts by outcome: delivered, retrying, gave_up, skipped.",
    ["outcome"],
)
JOBS_FINISHED = Counter(
    "vap_jobs_finished",
    "Jobs that reached an end state, by provider and state.",
    ["provider", "status"],
)


def scrape_registry() -> CollectorRegistry:
    """Every process's instruments of this host (multi-process mode), else this process's."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)
        return registry
    from prometheus_client import REGISTRY

    return REGISTRY


def _task_name(task: dict[str, Any]) -> str:
    # The dotted path of a function of ours ("videos.tasks.poll_job"): a handful of values.
    func = task.get("func")
    name = func if isinstance(func, str) else getattr(func, "__qualname__", "other")
    return str(name)[:80]


def task_pre_execute(sender: Any, func: Any, task: dict[str, Any], **kwargs: Any) -> None:
    task["_vap_t0"] = time.monotonic()
    started = task.get("started")  # set by async_task when it was enqueued
    if started is not None:
        from django.utils import timezone

        waited = (timezone.now() - started).total_seconds()
        TASK_WAIT_SECONDS.labels(_task_name(task)).observe(max(0.0, waited))


def task_post_execute(sender: Any, func: Any, task: dict[str, Any], **kwargs: Any) -> None:
    t0 = task.pop("_vap_t0", None)
    name = _task_name(task)
    if t0 is not None:
        TASK_SECONDS.labels(name).observe(time.monotonic() - t0)
    TASKS.labels(name, "ok" if task.get("success") else "failed").inc()
