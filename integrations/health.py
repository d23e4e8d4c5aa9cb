"""Endpoint health: an endpoint every attempt to which failed for 5 days is disabled.

Standard Webhooks / Svix behaviour (https://docs.svix.com/retries#disabling-failing-endpoints):
"if all attempts to a specific endpoint fail for a period of 5 days, the endpoint will be
disabled". Precisely, here: `WebhookEndpoint.failing_since` is the time of the first failed
attempt after the last successful one; a failed attempt made when that is 5 days old or more
disables the endpoint (no success in between, or failing_since would have been cleared).
Checked at each failed attempt: one conditional UPDATE and a read by primary key, nothing
scanned. A disabled endpoint is sent nothing (its deliveries are recorded as skipped), its
team's owners get one email (sent by the worker), and an owner or admin enables it again by
hand on the Integrations page.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import transaction
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from accounts.services import require_manager
from integrations.errors import EndpointNotDisabledError
from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from videos.queue import async_task

logger = logging.getLogger(__name__)

DISABLE_AFTER = timedelta(days=5)


def endpoint_for(*, team_id: int, url: str) -> WebhookEndpoint:
    """The team's endpoint for this URL, made on first use (a race is settled by the unique
    constraint: get_or_create reads the other one's row)."""
    endpoint, _created = WebhookEndpoint.objects.get_or_create(team_id=team_id, url=url)
    return endpoint


def endpoint_record_attempt(*, endpoint_id: int, ok: bool, at: datetime, outcome: str) -> bool:
    """Count one attempt towards the endpoint's health; True if this failure disabled it."""
    if ok:
        WebhookEndpoint.objects.filter(pk=endpoint_id).update(
            failing_since=None, last_success_at=at
        )
        return False
    WebhookEndpoint.objects.filter(pk=endpoint_id, failing_since__isnull=True).update(
        failing_since=at
    )
    endpoint = WebhookEndpoint.objects.filter(pk=endpoint_id).first()
    if endpoint is None or endpoint.is_disabled or endpoint.failing_since is None:
        return False  # gone, disabled already, or a success came in meanwhile
    if at - endpoint.failing_since < DISABLE_AFTER:
        return False
    since = endpoint.failing_since.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    reason = f"every attempt failed for {DISABLE_AFTER.days} days (since {since}); last: {outcome}"
    return endpoint_disable(endpoint=endpoint, reason=reason)


def endpoint_disable(*, endpoint: WebhookEndpoint, reason: str) -> bool:
    """Disable the endpoint, skip its pending deliveries, and have the owners told (once)."""
    now = timezone.now()
    with transaction.atomic():
        disabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, disabled_at__isnull=True).update(
            disabled_at=now, disabled_reason=reason[:300], disabled_notified_at=None
        )
        if not disabled:
            return False  # another worker's failure disabled it first: one email, not two
        # What would still be tried is skipped now rather than at its next attempt (up to
        # 10 h away), so the log says at once that nothing more goes out.
        WebhookDelivery.objects.filter(
            endpoint_id=endpoint.pk, status=DeliveryStatus.PENDING
        ).update(status=DeliveryStatus.SKIPPED, finished_at=now, next_attempt_at=None)
        endpoint_id = endpoint.pk
        transaction.on_commit(
            lambda: async_task("integrations.tasks.endpoint_disabled_notify", endpoint_id)
        )
    logger.warning(
        "webhook endpoint %s (%s) of team %s disabled: %s",
        endpoint.pk,
        _host(endpoint),
        endpoint.team_id,
        reason,
    )
    return True


def endpoint_enable(*, endpoint: WebhookEndpoint, by) -> WebhookEndpoint:
    """An owner or admin enables a disabled endpoint: new deliveries go out again, and its
    health starts afresh (a failure now starts a new 5 days)."""
    require_manager(team=endpoint.team, user=by)
    enabled = WebhookEndpoint.objects.filter(pk=endpoint.pk, disabled_at__isnull=False).update(
        disabled_at=None, disabled_reason="", failing_since=None, disabled_notified_at=None
    )
    if not enabled:
        raise EndpointNotDisabledError("this endpoint is not disabled")
    endpoint.refresh_from_db()
    logger.info(
        "webhook endpoint %s (%s) of team %s enabled by user %s",
        endpoint.pk,
        _host(endpoint),
        endpoint.team_id,
        by.pk,
    )
    return endpoint


def endpoint_disabled_notify(*, endpoint_id: int) -> int:
    """Email the team's owners that the endpoint was disabled; the number of addresses.

    At most once per disabling: the row is marked in the same transaction that sends, so a
    second run (the sweeper's backstop, a task delivered twice) finds it marked and sends
    nothing, and a failed send rolls the mark back for the sweeper to try again.
    """
    with transaction.atomic():
        claimed = WebhookEndpoint.objects.filter(
            pk=endpoint_id, disabled_at__isnull=False, disabled_notified_at__isnull=True
        ).update(disabled_notified_at=timezone.now())
        if not claimed:
            return 0
        endpoint = WebhookEndpoint.objects.select_related("team").get(pk=endpoint_id)
        owners = list(
            get_user_model()
            .objects.filter(
                memberships__team_id=endpoint.team_id,
                memberships__role=Role.OWNER,
                is_active=True,
            )
            .exclude(email="")
            .values_list("email", flat=True)
        )
        if not owners:
            return 0
        page = reverse("integrations:index")
        context = {
            "team": endpoint.team,
            "endpoint": endpoint,
            "link": f"{settings.PUBLIC_BASE_URL}{page}" if settings.PUBLIC_BASE_URL else "",
            "days": DISABLE_AFTER.days,
        }
        send_mail(
            f"Webhooks to {_host(endpoint)} were turned off for {endpoint.team.name}",
            render_to_string("integrations/email/endpoint_disabled.txt", context),
            None,
            owners,
        )
    return len(owners)


def endpoint_notices_sweep() -> int:
    """Backstop for notices lost between a commit and the broker (the partial index
    endpoint_unnotified_idx makes this a look at a handful of rows)."""
    pending = WebhookEndpoint.objects.filter(
        disabled_at__isnull=False, disabled_notified_at__isnull=True
    ).values_list("pk", flat=True)
    count = 0
    for endpoint_id in pending:
        async_task("integrations.tasks.endpoint_disabled_notify", endpoint_id)
        count += 1
    return count


def _host(endpoint: WebhookEndpoint) -> str:
    # Logs and subjects name the host only: the URL's query may hold the receiver's token.
    return urlsplit(endpoint.url).hostname or "?"
