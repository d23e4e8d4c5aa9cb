"""The month's counters (billing.models.PeriodUsage) beside the append-only ledger.

The quota check is one conditional UPDATE of them and the threshold alerts read them, so they
must always equal the ledger's sums; and neither re-sums the ledger.
"""

from __future__ import annotations

from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing import services as billing
from billing.errors import QuotaExceededError
from billing.models import PeriodUsage
from billing.periods import period_of
from billing.selectors import period_totals
from notifications.sources import team_thresholds_check
from tests.billing_support import set_limits, succeed
from videos import services


def _counters(team) -> tuple:
    row = PeriodUsage.objects.get(team=team, period=period_of())
    return (row.videos, row.cents, row.captured_videos, row.captured_cents, row.granted_cents)


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
