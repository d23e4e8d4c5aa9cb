"""The audit log: one row per security-relevant act (accounts.models.AuditEvent).

Every app records through `record`, called by the service where the act happens, inside its
transaction: if the act rolls back, so does its row, and a row that cannot be written fails
the act rather than leaving it unrecorded. accounts is the bottom layer, so any app may call
this without an import cycle.
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.conf import settings
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import AuditAction, AuditEvent, Team

TARGET_MAX = 200


def record(
    action: str,
    *,
    actor,
    team: Team | None,
    target: str,
    ip: str | None = None,
    data: dict | None = None,
) -> AuditEvent:
    """Append one row. `target` and `data` name the object; never pass a secret in them."""
    if action not in AuditAction.values:
        raise ValueError(f"unknown audit action {action!r}")
    if actor is not None and not getattr(actor, "is_authenticated", False):
        actor = None  # AnonymousUser: an anonymous act
    label = actor.get_username() if actor is not None else ""
    # No savepoint of its own: the row lives and dies with the caller's transaction, and a
    # failure to write it propagates, failing the act rather than leaving it unrecorded.
    return AuditEvent.objects.create(
        action=action,
        actor=actor,
        actor_label=label[:150],
        team=team,
        ip=_clean_ip(ip),
        target=target[:TARGET_MAX],
        data=data or {},
    )


def client_ip(request) -> str | None:
    """The client's address: REMOTE_ADDR, or behind N trusted proxies the Nth X-Forwarded-For
    entry from the right (the one our balancer added; anything left of it the client wrote).

    The same setting (TRUSTED_PROXY_COUNT) and rule as allauth's rate limits use, so the log
    and the throttle name the same address.
    """
    if request is None:
        return None
    proxies = getattr(settings, "ALLAUTH_TRUSTED_PROXY_COUNT", 0) or 0
    forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "")
    if proxies > 0 and forwarded:
        hops = [hop.strip() for hop in forwarded.split(",")]
        if len(hops) >= proxies:
            ip = _clean_ip(hops[-proxies])
            if ip:
                return ip
    return _clean_ip(request.META.get("REMOTE_ADDR"))


def _clean_ip(value: str | None) -> str | None:
    if not value:
        return None
    value = value.strip()
    if value.startswith("[") and "]" in value:  # "[::1]:443"
        value = value[1 : value.index("]")]
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        return None


# --- Reads: the team's log (page, CSV, API) -------------------------------------------------


@dataclass(frozen=True)
class AuditFilter:
    """What the team's log shows: one action, one actor (their username then), a date range
    in the portal's time zone (both days included)."""

    action: str = ""
    actor: str = ""
    since: date | None = None
    until: date | None = None


def _day_start(day: date) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


def audit_events(
    *, team: Team, filters: AuditFilter | None = None, after: tuple[datetime, int] | None = None
) -> QuerySet[AuditEvent]:
    """The team's rows, newest first; `after`: the (at, id) of the last row already shown.

    Keyset order on (at, id), served by the (team, -at, -id) index: no COUNT, no OFFSET.
    """
    f = filters or AuditFilter()
    rows = AuditEvent.objects.filter(team=team).order_by("-at", "-id")
    if f.action:
        rows = rows.filter(action=f.action)
    if f.actor:
        rows = rows.filter(actor_label__iexact=f.actor)
    if f.since:
        rows = rows.filter(at__gte=_day_start(f.since))
    if f.until:
        rows = rows.filter(at__lt=_day_start(f.until + timedelta(days=1)))
    if after is not None:
        at, pk = after
        rows = rows.filter(Q(at__lt=at) | Q(at=at, id__lt=pk))
    return rows


CSV_HEADER = ["id", "at", "actor", "ip", "action", "target", "data"]


def csv_cell(value: object) -> object:
    """A cell a spreadsheet will not run: text starting like a formula gets a leading quote
    (OWASP "CSV injection"); targets carry labels and names people typed."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


def audit_csv_rows(rows: QuerySet[AuditEvent]) -> Iterator[list]:
    yield CSV_HEADER
    for event in rows.iterator(chunk_size=1000):
        yield [
            event.pk,
            event.at.isoformat(),
            csv_cell(event.actor_label),
            event.ip or "",
            event.action,
            csv_cell(event.target),
            csv_cell(json.dumps(event.data, sort_keys=True, ensure_ascii=False)),
        ]
