"""Billing periods are calendar months in UTC, whatever the site's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.utils import timezone


def period_of(moment: datetime | None = None) -> date:
    """The first day of the month `moment` (default: now) falls in, in UTC."""
    moment = (moment or timezone.now()).astimezone(UTC)
    return moment.date().replace(day=1)


def period_next(period: date) -> date:
    return date(period.year + period.month // 12, period.month % 12 + 1, 1)


def period_bounds(period: date) -> tuple[datetime, datetime]:
    """[start, end) of the month as aware UTC datetimes."""
    start = datetime(period.year, period.month, 1, tzinfo=UTC)
    nxt = period_next(period)
    return start, datetime(nxt.year, nxt.month, 1, tzinfo=UTC)


def period_parse(text: str) -> date:
    """'2026-03' -> date(2026, 3, 1); ValueError when it is not a YYYY-MM month."""
    year, _, month = text.partition("-")
    # isascii: "²".isdigit() is True, and int("²") raises.
    digits = text.isascii() and len(year) == 4 and year.isdigit() and month.isdigit()
    if not digits or not 1 <= int(month) <= 12:
        raise ValueError(f"not a month (YYYY-MM): {text!r}")
    return date(int(year), int(month), 1)
