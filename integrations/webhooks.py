"""Outgoing webhooks: a job's status change becomes a signed POST to its callback_url.

Delivery is data, not a sleeping worker: a WebhookDelivery row holds the frozen body and
`next_attempt_at`; each attempt is one task run, recorded as a WebhookAttempt; the sweeper
(integrations.tasks.sweep, once a minute) hands out attempts that are due. Signatures follow
the Standard Webhooks scheme (https://www.standardwebhooks.com/): headers `webhook-id`,
`webhook-timestamp`, `webhook-signature: v1,<base64 HMAC-SHA256("{id}.{timestamp}.{body}")>`.

Also here: re-sending a given-up delivery by hand (delivery_replay) and test events
(delivery_create_test). Endpoint health (disabled after 5 days of failures) is
integrations.health.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
from datetime import timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone
from django_q.tasks import async_task

from accounts.models import Team
from accounts.services import require_manager
from accounts.vault import VaultError
from batches.models import Batch
from batches.schemas import BatchOut, batch_payload
from batches.selectors import batch_summary
from integrations import health, http
from integrations.errors import (
    DeliveryNotReplayableError,
    EndpointDisabledError,
    WebhookInputError,
)
from integrations.models import (
    REPLAYABLE_STATUSES,
    DeliveryStatus,
    WebhookAttempt,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
)
from integrations.services import webhook_signing_keys
from portal import netguard
from videos.api.schemas import JobOut, job_payload
from videos.models import Job, JobStatus

logger = logging.getLogger(__name__)

# Wait before attempt 2, 3, ...: the Standard Webhooks reference schedule (Svix), roughly
# exponential, about 27.5 hours in all, then the delivery is given up (8 attempts).
RETRY_DELAYS = [
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),
    timedelta(hours=10),
]
MAX_ATTEMPTS = len(RETRY_DELAYS) + 1  # = models.SCHEDULED_ATTEMPTS, a delivery's default
# While an attempt runs, the row is leased: the sweeper will not hand it out again before
# this passes (longer than connect + read timeouts; a dead worker's attempt is retried after).
ATTEMPT_LEASE = timedelta(minutes=2)

EVENT_FOR_STATUS: dict[str, WebhookEvent] = {
    JobStatus.PROCESSING: WebhookEvent.PROCESSING,
    JobStatus.SUCCEEDED: WebhookEvent.SUCCEEDED,
    JobStatus.FAILED: WebhookEvent.FAILED,
}


def webhook_sign(*, msg_id: str, timestamp: int, body: str, keys: list[bytes]) -> str:
    """The `webhook-signature` header: one `v1,<sig>` per key, space separated."""
    signed = f"{msg_id}.{timestamp}.{body}".encode()
    return " ".join(
        "v1," + base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
        for key in keys
    )


def _body(event_type: str, job: Job) -> str:
    base_url = settings.PUBLIC_BASE_URL
    data = JobOut.model_validate(job_payload(job, base_url=base_url)).model_dump(mode="json")
    return _envelope(event_type, data)


def _envelope(event_type: str, data: dict) -> str:
    payload = {"type": event_type, "timestamp": timezone.now().isoformat(), "data": data}
    return json.dumps(payload, separators=(",", ":"), sort_keys=True)


def _enqueue(delivery: WebhookDelivery) -> None:
    """The next attempt goes to the broker once the transaction commits (the sweeper hands
    it out again if that is lost)."""
    delivery_id = str(delivery.id)
    transaction.on_commit(lambda: async_task("integrations.tasks.deliver", delivery_id))


def _new_delivery(*, endpoint: WebhookEndpoint, **fields) -> WebhookDelivery:
    """A delivery row for the endpoint: pending, or skipped at once if it is disabled."""
    now = timezone.now()
    if endpoint.is_disabled:
        return WebhookDelivery.objects.create(
            endpoint=endpoint,
            status=DeliveryStatus.SKIPPED,
            finished_at=now,
            last_error="not sent: the endpoint is disabled",
            **fields,
        )
    return WebhookDelivery.objects.create(endpoint=endpoint, next_attempt_at=now, **fields)


def delivery_create(*, job_id, status: str) -> WebhookDelivery | None:
    """Queue the event for this status change, if the job has a callback_url.

    Called inside the job's transaction (videos.signals.job_status_changed): the row commits
    with the change, and the first attempt is enqueued only after the commit.
    """
    event_type = EVENT_FOR_STATUS.get(status)
    if event_type is None:
        return None
    job = Job.objects.select_related("template").filter(pk=job_id).first()
    if job is None or not job.callback_url:
        return None
    try:
        with transaction.atomic():  # a savepoint: a duplicate must not poison the job's change
            delivery = _new_delivery(
                endpoint=health.endpoint_for(team_id=job.team_id, url=job.callback_url),
                team_id=job.team_id,
                job=job,
                event_type=event_type,
                url=job.callback_url,
                body=_body(event_type, job),
            )
    except IntegrityError:
        return None  # this event of this job is queued already
    if delivery.status == DeliveryStatus.PENDING:
        _enqueue(delivery)
    return delivery


def delivery_create_batch(*, batch_id) -> WebhookDelivery | None:
    """Queue `batch.completed` for a batch that just finished, if it has a callback_url.

    Called inside the transaction that marks it finished (batches.signals.batch_finished,
    sent once per finish), so the row commits with it; the attempt is enqueued after."""
    batch = Batch.objects.select_related("template").filter(pk=batch_id).first()
    if batch is None or not batch.callback_url:
        return None
    data = BatchOut.model_validate(
        batch_payload(batch, batch_summary(batch), base_url=settings.PUBLIC_BASE_URL)
    ).model_dump(mode="json")
    delivery = _new_delivery(
        endpoint=health.endpoint_for(team_id=batch.team_id, url=batch.callback_url),
        team_id=batch.team_id,
        batch=batch,
        event_type=WebhookEvent.BATCH_COMPLETED,
        url=batch.callback_url,
        body=_envelope(WebhookEvent.BATCH_COMPLETED, data),
    )
    if delivery.status == DeliveryStatus.PENDING:
        _enqueue(delivery)
    return delivery


def delivery_create_test(*, team: Team, by, url: str) -> WebhookDelivery:
    """ "Send test event": a signed `test.ping` to the URL through the normal delivery path
    (same signature, retries, health and log). Owners and admins only: it makes the
    portal POST to an address of their choice."""
    require_manager(team=team, user=by)
    url = (url or "").strip()
    if not url:
        raise WebhookInputError("url", "enter the URL of your webhook endpoint")
    try:
        # The same rule as a job's callback_url (http(s), public, at most 1024 characters).
        netguard.check_url(url)
    except netguard.UnsafeUrlError as exc:
        raise WebhookInputError("url", str(exc)) from None
    endpoint = health.endpoint_for(team_id=team.pk, url=url)
    if endpoint.is_disabled:
        raise EndpointDisabledError(
            "this endpoint is disabled after failing for days; enable it again first"
        )
    data = {
        "message": "A test event from Video Agent Portal: your endpoint can be reached.",
        "team": team.name,
    }
    with transaction.atomic():
        delivery = _new_delivery(
            endpoint=endpoint,
            team=team,
            job=None,
            event_type=WebhookEvent.TEST,
            url=url,
            body=_envelope(WebhookEvent.TEST, data),
        )
        _enqueue(delivery)
    return delivery


def delivery_replay(*, delivery: WebhookDelivery, by) -> WebhookDelivery:
    """Re-send a given-up (or skipped) delivery once, by hand.

    The same message: the same `webhook-id` (the delivery's id) and body, so receivers that
    de-duplicate by id see a retry, with a fresh timestamp and signature, as a new attempt
    row. One UPDATE moves the delivery back to pending, so two clicks at once make one
    replay: the second finds it pending and is refused.
    """
    require_manager(team=delivery.team, user=by)
    endpoint = delivery.endpoint
    if endpoint is not None and endpoint.is_disabled:
        raise EndpointDisabledError(
            "its endpoint is disabled after failing for days; enable it again first"
        )
    now = timezone.now()
    with transaction.atomic():
        claimed = WebhookDelivery.objects.filter(
            pk=delivery.pk, status__in=REPLAYABLE_STATUSES
        ).update(
            status=DeliveryStatus.PENDING,
            finished_at=None,
            next_attempt_at=now,
            # One attempt, as Svix's manual retry: a failed replay is given up again at once.
            max_attempts=F("attempts") + 1,
            replayed_at=now,
        )
        if not claimed:
            delivery.refresh_from_db(fields=["status"])
            state = (
                "it is being sent already"
                if delivery.status == DeliveryStatus.PENDING
                else "it was delivered"
            )
            raise DeliveryNotReplayableError(
                f"only a delivery that was given up or skipped can be re-sent; {state}"
            )
        _enqueue(delivery)
    delivery.refresh_from_db()
    logger.info("webhook %s: re-sent by user %s", delivery.webhook_id, by.pk)
    return delivery


def delivery_attempt(*, delivery_id) -> WebhookAttempt | None:
    """Make the next attempt of a due delivery; safe to run twice (the second does nothing)."""
    now = timezone.now()
    delivery = (
        WebhookDelivery.objects.filter(
            pk=delivery_id, status=DeliveryStatus.PENDING, next_attempt_at__lte=now
        )
        .select_related("team", "endpoint")
        .first()
    )
    if delivery is None:
        return None
    endpoint = _endpoint_of(delivery)
    if endpoint.is_disabled:
        WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SKIPPED, finished_at=now, next_attempt_at=None
        )
        return None
    claimed = WebhookDelivery.objects.filter(
        pk=delivery.pk, status=DeliveryStatus.PENDING, attempts=delivery.attempts
    ).update(attempts=F("attempts") + 1, next_attempt_at=now + ATTEMPT_LEASE)
    if not claimed:
        return None  # another worker took this attempt
    number = delivery.attempts + 1
    result = _send(delivery)
    attempt = WebhookAttempt.objects.create(
        delivery=delivery,
        number=number,
        status_code=result.status_code,
        latency_ms=result.latency_ms,
        error=result.error[:300],
    )
    _record_outcome(delivery, attempt)
    if not result.ours:
        # After the delivery's own outcome: a disabling also skips this delivery if it was
        # to be retried.
        health.endpoint_record_attempt(
            endpoint_id=endpoint.pk,
            ok=attempt.ok,
            at=attempt.attempted_at,
            outcome=f"HTTP {attempt.status_code}" if attempt.status_code else attempt.error,
        )
    return attempt


def _endpoint_of(delivery: WebhookDelivery) -> WebhookEndpoint:
    if delivery.endpoint is not None:
        return delivery.endpoint
    # A row older than endpoints that migration 0004 did not reach: attach it now.
    endpoint = health.endpoint_for(team_id=delivery.team_id, url=delivery.url)
    WebhookDelivery.objects.filter(pk=delivery.pk).update(endpoint=endpoint)
    return endpoint


def _send(delivery: WebhookDelivery) -> http.PostResult:
    try:
        # Refuses early with a clear reason; the connection checks the addresses it actually
        # connects to again (integrations.http), which is what stops DNS rebinding.
        netguard.check_url(delivery.url)
        keys = webhook_signing_keys(team=delivery.team)
    except netguard.UnsafeUrlError as exc:
        return http.PostResult(status_code=None, latency_ms=0, error=f"refused: {exc}")
    except VaultError:
        return http.PostResult(
            status_code=None,
            latency_ms=0,
            error="the signing secret cannot be decrypted",
            ours=True,
        )
    # A fresh timestamp at every attempt (replays too): receivers refuse old ones.
    timestamp = int(timezone.now().timestamp())
    headers = {
        "webhook-id": delivery.webhook_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": webhook_sign(
            msg_id=delivery.webhook_id, timestamp=timestamp, body=delivery.body, keys=keys
        ),
    }
    result = http.post(delivery.url, body=delivery.body.encode(), headers=headers)
    if result.status_code is not None and 300 <= result.status_code < 400:
        result = http.PostResult(
            status_code=result.status_code,
            latency_ms=result.latency_ms,
            error="redirects are not followed; answer 2xx at the callback URL itself",
        )
    return result


def _record_outcome(delivery: WebhookDelivery, attempt: WebhookAttempt) -> None:
    now = timezone.now()
    pending = WebhookDelivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.PENDING)
    fields = {"last_status_code": attempt.status_code, "last_error": attempt.error}
    host = urlsplit(delivery.url).hostname  # never the whole URL: its query may hold a token
    if attempt.ok:
        pending.update(
            status=DeliveryStatus.SUCCEEDED, finished_at=now, next_attempt_at=None, **fields
        )
        logger.info("webhook %s to %s: delivered", delivery.webhook_id, host)
    elif attempt.number >= delivery.max_attempts:
        pending.update(
            status=DeliveryStatus.FAILED, finished_at=now, next_attempt_at=None, **fields
        )
        logger.warning(
            "webhook %s to %s: gave up after %d attempts", delivery.webhook_id, host, attempt.number
        )
    else:
        delay = RETRY_DELAYS[min(attempt.number, len(RETRY_DELAYS)) - 1]
        pending.update(next_attempt_at=now + delay, **fields)
        logger.info(
            "webhook %s to %s: attempt %d failed (%s)",
            delivery.webhook_id,
            host,
            attempt.number,
            attempt.status_code or attempt.error,
        )


def deliveries_sweep() -> int:
    """Hand out every due attempt (the first one is enqueued at once; this is the backstop)."""
    due = WebhookDelivery.objects.filter(
        status=DeliveryStatus.PENDING, next_attempt_at__lte=timezone.now()
    ).values_list("pk", flat=True)
    count = 0
    for delivery_id in due:
        async_task("integrations.tasks.deliver", str(delivery_id))
        count += 1
    return count
