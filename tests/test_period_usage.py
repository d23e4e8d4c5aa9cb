"""The month's counters (billing.models.PeriodUsage) beside the append-only ledger.

The quota check is one conditional UPDATE of them and the threshold alerts read them, so they
must always equal the ledger's sums; and neither re-sums the ledger.
"""

from __future__ import annotations

import importlib
from datetime import UTC, date

import pytest
from django.apps import apps
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.models import Team
from billing import services as billing
from billing.errors import QuotaExceededError
from billing.models import DailyUsage, LedgerEntry, PeriodUsage
from billing.periods import period_of
from billing.selectors import (
    period_counters,
    period_totals,
    team_usage,
    teams_with_usage,
    usage_daily,
)
from notifications.sources import team_thresholds_check
from tests.billing_support import at, set_limits, succeed
from videos import services


def _counters(team) -> tuple:
    row = PeriodUsage.objects.get(team=team, period=period_of())
    return (row.videos, row.cents, row.captured_videos, row.captured_cents, row.granted_cents)


def _ledger_days(team, period) -> dict:
    """usage_daily's figures summed from the ledger rows themselves (the reference)."""
    admitted, outcome = {}, {}
    for entry in LedgerEntry.objects.filter(team=team, period=period, job__isnull=False):
        if entry.kind == "reserve":
            admitted[entry.job_id] = entry.created_at.astimezone(UTC).date()
        else:
            outcome[entry.job_id] = (entry.kind, entry.amount_cents)
    days: dict = {}
    for job_id, day in admitted.items():
        kind, cents = outcome.get(job_id, ("", 0))
        row = days.setdefault(day, [0, 0, 0, 0])  # charged, in progress, released, cents
        row[{"capture": 0, "release": 2}.get(kind, 1)] += 1
        row[3] += cents if kind == "capture" else 0
    return days


def _rollup_days(team, period) -> dict:
    return {
        d.day: [d.charged, d.in_progress, d.released, d.charged_cents]
        for d in usage_daily(team=team, period=period)
        if d.charged or d.in_progress or d.released
    }


def _ledger(team) -> tuple:
    t = period_totals(team_id=team.pk, period=period_of())
    return (t.committed_videos, t.committed_cents, t.captured_videos, t.captured_cents,
            t.granted_cents)  # fmt: skip


def test_it_keeps_the_counters_equal_to_the_ledger(make_job, team, owner, upstream):
    made = [make_job() for _ in range(4)]
    assert _counters(team) == _ledger(team) == (4, 160, 0, 0, 0)
    succeed(made[0], upstream)
    services.job_cancel(job=made[1])
    billing.credit_grant(team=team, amount_cents=500, by=owner)
    assert _counters(team) == _ledger(team) == (3, 120, 1, 40, 500)


def test_it_admits_a_job_without_summing_the_ledger(make_job, team):
    make_job()
    with CaptureQueriesContext(connection) as queries:
        make_job()
    ledger = [q["sql"].upper() for q in queries if "BILLING_LEDGERENTRY" in q["sql"].upper()]
    assert ledger and all(sql.startswith("INSERT") for sql in ledger), ledger
    admits = [q["sql"] for q in queries if q["sql"].startswith('UPDATE "billing_periodusage"')]
    assert len(admits) == 1


def test_it_refuses_in_the_same_words_from_the_counters(make_job, team):
    set_limits(team, videos=3)
    make_job()
    make_job()
    services.job_cancel(job=make_job())
    make_job()
    error = None
    try:
        make_job()
    except QuotaExceededError as exc:
        error = exc
    assert error is not None and error.limit == "videos"
    assert "used its 3 video(s) for this month (0 made, 3 in progress)" in error.message


def test_it_counts_granted_credit_made_before_the_months_first_job(make_job, team, owner):
    set_limits(team, budget_cents=0)
    billing.credit_grant(team=team, amount_cents=40, by=owner)
    make_job()
    assert _counters(team) == _ledger(team) == (1, 40, 0, 0, 40)


def test_it_checks_thresholds_from_the_counters(make_job, team, upstream):
    set_limits(team, videos=1)
    job = succeed(make_job(), upstream)
    with CaptureQueriesContext(connection) as queries:
        assert team_thresholds_check(job_id=job.id) == []  # announced once, at the capture
    sums = [q["sql"] for q in queries if "SUM(" in q["sql"].upper()]
    assert sums == []


@pytest.fixture
def busy_month(make_job, team, owner, upstream):
    """Jobs admitted on three days of March, settled every way, some the next day."""
    with at(2026, 3, 2, 23, 59):
        first = [make_job() for _ in range(3)]
    with at(2026, 3, 3, 0, 5):
        succeed(first[0], upstream)
        services.job_fail(first[1].id, code="x", message="no")
        later = [make_job() for _ in range(2)]
        billing.credit_grant(team=team, amount_cents=70, by=owner)
    with at(2026, 3, 9, 12):
        services.job_cancel(job=later[0])
        succeed(make_job(), upstream)
    return team


MARCH = date(2026, 3, 1)


def test_it_keeps_each_days_counters_equal_to_the_ledger(busy_month):
    assert (
        _rollup_days(busy_month, MARCH)
        == _ledger_days(busy_month, MARCH)
        == {
            date(2026, 3, 2): [1, 1, 1, 40],
            date(2026, 3, 3): [0, 1, 1, 0],
            date(2026, 3, 9): [1, 0, 0, 40],
        }
    )
    totals = period_totals(team_id=busy_month.pk, period=MARCH)
    assert period_counters(team_id=busy_month.pk, period=MARCH) == totals
    # The admin's team list reads the same counters.
    row = teams_with_usage(Team.objects.filter(pk=busy_month.pk), period=MARCH).get()
    assert (row.videos_month, row.spent_month, row.reserved_month, row.granted_month) == (
        totals.captured_videos,
        totals.captured_cents,
        totals.open_cents,
        totals.granted_cents,
    )
    assert row.running_now == totals.open_videos == 2


def test_it_rebuilds_the_counters_from_the_ledger_in_the_migration(busy_month):
    before = (_rollup_days(busy_month, MARCH), period_counters(team_id=busy_month.pk, period=MARCH))
    PeriodUsage.objects.all().delete()
    DailyUsage.objects.all().delete()
    migration = importlib.import_module("billing.migrations.0004_usage_counters")
    migration.backfill(apps, None)
    after = (_rollup_days(busy_month, MARCH), period_counters(team_id=busy_month.pk, period=MARCH))
    assert after == before


def test_it_reads_the_usage_page_in_the_same_queries_for_any_month(
    owner_client, make_job, team, upstream
):
    from django.urls import reverse

    make_job()
    with CaptureQueriesContext(connection) as few:
        assert owner_client.get(reverse("billing:usage")).status_code == 200
    for _ in range(5):
        succeed(make_job(), upstream)
    with CaptureQueriesContext(connection) as more:
        owner_client.get(reverse("billing:usage"))
    assert len(more) == len(few)
    on_ledger = [q["sql"] for q in more if "billing_ledgerentry" in q["sql"]]
    assert on_ledger == []  # the counters, never a scan of the month's rows
    assert team_usage(team=team).videos_used == 5


def test_it_settles_a_job_whose_day_row_is_missing(make_job, team, upstream):
    """A reserve from before the rollup (old code during a deploy) has no day row: its
    capture still succeeds, the day counts the charge, never a negative count."""
    job = make_job()
    DailyUsage.objects.all().delete()
    succeed(job, upstream)
    job.refresh_from_db()
    assert job.status == "succeeded"
    (day,) = DailyUsage.objects.filter(team=team)
    assert (day.in_progress, day.charged, day.charged_cents) == (0, 1, 40)
