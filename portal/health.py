"""Probes for the load balancer and the orchestrator.

- `/healthz` (liveness): the process answers. Touches nothing else, so a database outage
  does not make every web process look dead and get restarted.
- `/readyz` (readiness): the database, the task broker and the file storage answer; 503 with
  the names of those that don't. Details go to the log (redacted), not to the response.

Probes come from the balancer with the instance's address as Host and over plain http:
HealthCheckMiddleware answers them before ALLOWED_HOSTS and the https redirect apply.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable

from django.conf import settings
from django.db import connections
from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

# Seconds a readiness check may take: a probe that hangs is worse than one that fails.
CHECK_TIMEOUT = 3


def _no_store(response: HttpResponse) -> HttpResponse:
    response["Cache-Control"] = "no-store"
    return response


def healthz(request: HttpRequest) -> HttpResponse:
    return _no_store(JsonResponse({"status": "ok"}))


def check_database() -> None:
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT 1")


def check_broker() -> None:
    conf = settings.Q_CLUSTER
    if conf.get("redis"):
        import redis

        options = {"socket_connect_timeout": CHECK_TIMEOUT, "socket_timeout": CHECK_TIMEOUT}
        if isinstance(conf["redis"], dict):
            client = redis.Redis(**{**conf["redis"], **options})
        else:
            client = redis.Redis.from_url(str(conf["redis"]), **options)
        try:
            client.ping()
        finally:
            client.close()
    elif conf.get("orm"):
        # The ORM broker is a table: reachable when its database answers and the table exists.
        from django_q.models import OrmQ

        OrmQ.objects.using(conf["orm"]).exists()
    else:
        from django_q.brokers import get_broker

        if get_broker().ping() is False:
            raise ConnectionError("broker ping failed")


def check_storage() -> None:
    from django.core.files.storage import FileSystemStorage, storages

    storage = storages["default"]
    if isinstance(storage, FileSystemStorage):
        # The folder appears on the first upload; it must be creatable and writable.
        os.makedirs(storage.location, exist_ok=True)
        if not os.access(storage.location, os.W_OK):
            raise PermissionError("media folder is not writable")
        return
    bucket_name = getattr(storage, "bucket_name", None)
    if bucket_name:
        storage.connection.meta.client.head_bucket(Bucket=bucket_name)  # type: ignore[attr-defined]
        return
    storage.exists("readyz-probe")


CHECKS: dict[str, Callable[[], None]] = {
    "database": check_database,
    "broker": check_broker,
    "storage": check_storage,
}


def readyz(request: HttpRequest) -> HttpResponse:
    results: dict[str, str] = {}
    for name, check in CHECKS.items():
        try:
            check()
        except Exception as exc:
            # The exception text may name hosts or paths: the log gets it, the caller does not.
            logger.warning("readiness check %s failed: %s: %s", name, type(exc).__name__, exc)
            results[name] = f"unavailable ({type(exc).__name__})"
        else:
            results[name] = "ok"
    failed = [name for name, result in results.items() if result != "ok"]
    body = {"status": "unavailable" if failed else "ok", "failed": failed, "checks": results}
    return _no_store(JsonResponse(body, status=503 if failed else 200))


def _metrics(request: HttpRequest) -> HttpResponse:
    from portal.metrics import metrics  # the site's models: loaded at the first scrape

    return metrics(request)


# /metrics too: Prometheus scrapes each instance by its address (portal/metrics.py).
PROBES = {"/healthz": healthz, "/readyz": readyz, "/metrics": _metrics}


class HealthCheckMiddleware:
    """First in MIDDLEWARE: answers the probes before host validation and https redirects."""

    def __init__(self, get_response: Callable) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        probe = PROBES.get(request.path_info)
        if probe is not None and request.method in ("GET", "HEAD"):
            return probe(request)
        return self.get_response(request)
