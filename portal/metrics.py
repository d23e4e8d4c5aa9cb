"""`/metrics` for Prometheus: the site's state, read at scrape time, plus this host's
instruments (portal/instruments.py).

State is read from the database and the broker when Prometheus asks (a few indexed queries
over unfinished jobs and pending deliveries, never a scan of finished ones), so every web host
answers the same truth and no counter can drift from the rows. Protected by a bearer token
(METRICS_TOKEN): without it configured, or with a wrong one, the answer is the same 404 as
for a URL that does not exist. Answered before host validation (portal/health.py), like the
probes, because Prometheus scrapes each instance by its address.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterator
from datetime import timedelta

from django.conf import settings
from django.db.models import Count, Min
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from portal import instruments
from videos.models import Job, JobStatus
from videos.queue import shared_broker

logger = logging.getLogger(__name__)

# A due job this late was missed by the dispatcher (down, or the workers are behind).
LATE = timedelta(seconds=60)


class SiteState(Collector):
    """Gauges computed from the database and the broker at each scrape."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        now = timezone.now()
        in_flight = JobStatus.in_flight()
        jobs = GaugeMetricFamily(
            "vap_jobs", "Unfinished jobs by provider and state.", labels=["provider", "state"]
        )
        rows = (
            Job.objects.filter(status__in=in_flight)
            .values_list("provider", "status")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for provider, status, n in rows:
            jobs.add_metric([provider, status], n)
        yield jobs

        due = Job.objects.filter(
            status__in=[JobStatus.QUEUED, JobStatus.PROCESSING], next_attempt_at__lte=now
        )
        oldest = due.aggregate(at=Min("next_attempt_at"))["at"]
        yield GaugeMetricFamily(
            "vap_jobs_due_oldest_seconds",
            "How late the most overdue submit or poll is (0: none is due).",
            value=(now - oldest).total_seconds() if oldest else 0.0,
        )
        yield GaugeMetricFamily(
            "vap_jobs_late",
            f"Jobs whose next action is more than {LATE.seconds} s overdue.",
            value=due.filter(next_attempt_at__lte=now - LATE).count(),
        )
        stuck_before = now - timedelta(seconds=settings.JOB_SUBMITTING_STUCK_SECONDS)
        yield GaugeMetricFamily(
            "vap_jobs_stuck_submitting",
            "Jobs in submitting longer than JOB_SUBMITTING_STUCK_SECONDS (a worker died).",
            value=Job.objects.filter(
                status=JobStatus.SUBMITTING, submitting_since__lt=stuck_before
            ).count(),
        )

        depth, age = _queue_depth_and_age()
        yield GaugeMetricFamily("vap_queue_depth", "Tasks waiting in the broker.", value=depth)
        yield GaugeMetricFamily(
            "vap_queue_oldest_seconds",
            "Age of the oldest task waiting in the broker (0: none waits).",
            value=age,
        )

        pending = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING)
        yield GaugeMetricFamily(
            "vap_webhook_deliveries_pending",
            "Webhook deliveries not yet delivered or given up.",
            value=pending.count(),
        )
        yield GaugeMetricFamily(
            "vap_webhook_endpoints_failing",
            "Webhook endpoints whose last attempts failed (not yet disabled).",
            value=WebhookEndpoint.objects.filter(
                failing_since__isnull=False, disabled_at__isnull=True
            ).count(),
        )
        yield GaugeMetricFamily(
            "vap_webhook_endpoints_disabled",
            "Webhook endpoints disabled after failing for days.",
            value=WebhookEndpoint.objects.filter(disabled_at__isnull=False).count(),
        )


def _queue_depth_and_age() -> tuple[int, float]:
    """The broker's queue length and the age of its oldest waiting task."""
    from django_q.signing import SignedPackage

    broker = shared_broker()
    depth = int(broker.queue_size() or 0)
    if not depth:
        return 0, 0.0
    try:
        package = _oldest_package(broker)
        started = SignedPackage.loads(package)["started"] if package else None
    except Exception as exc:  # a package signed by another site's key: depth is still true
        logger.warning("metrics: the oldest task could not be read: %s", type(exc).__name__)
        return depth, 0.0
    return depth, max(0.0, (timezone.now() - started).total_seconds()) if started else 0.0


def _oldest_package(broker) -> str | bytes | None:
    connection = broker.connection
    if hasattr(connection, "lindex"):  # Redis: a list, oldest first
        return connection.lindex(broker.list_key, 0)
    from django_q.models import OrmQ

    oldest = (
        OrmQ.objects.filter(key=broker.list_key, lock__lte=timezone.now()).order_by("id").first()
    )
    return oldest.payload if oldest else None


def metrics(request: HttpRequest) -> HttpResponse:
    token = settings.METRICS_TOKEN
    given = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not token or not hmac.compare_digest(given.encode(), token.encode()):
        raise Http404("no such page")
    registry = CollectorRegistry()
    registry.register(SiteState())
    body = generate_latest(registry) + generate_latest(instruments.scrape_registry())
    response = HttpResponse(body, content_type=CONTENT_TYPE_LATEST)
    response["Cache-Control"] = "no-store"
    return response
