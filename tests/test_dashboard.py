"""The staff dashboard: figures against a hand-computed fixture, filters, CSV, query counts."""

from __future__ import annotations

import csv
import io
from datetime import UTC, date, datetime

import pytest
from django.contrib.auth.models import User
from django.db import transaction
from django.urls import reverse

from billing import services as billing
from tests.billing_support import at, succeed
from videos import services
from videos.dashboard import DashboardFilter, dashboard_build, percentile
from videos.models import Job, JobStatus
from videos.services import key_store

URL = "/admin/dashboard/"
RANGE = {"start": "2026-03-01", "end": "2026-03-10"}


@pytest.fixture
def staff_client(client, db):
    staff = User.objects.create_user("ops", "ops@example.com", "pw-ops-123", is_staff=True)
    client.force_login(staff)
    return client


@pytest.fixture
def board(make_job, upstream, team, outsider, run_for_life):
    """By hand (times UTC, durations from submit to finish):

    owner's team     J1 Diving Mar 2 10:00 succeeded +120 s   40
                     J2 Diving Mar 2 11:00 succeeded +300 s   40
                     J3 Run    Mar 3 09:00 succeeded +600 s   45
                     J4 Diving Mar 3 12:00 failed 1026
                     J5 Diving Mar 4 08:00 canceled
    outsider's team  K1 Diving Mar 3 10:00 succeeded +240 s   40
                     K2 Diving Mar 5 failed upstream_failed
                     K3 Diving Mar 5 failed 1026
                     K4 Diving Feb 27 succeeded (before the range)
                     K5 Diving Mar 6 still queued
    """
    other = outsider.personal_team
    other_key = key_store(user=outsider, label="Theirs", secret="sk-test-outsider-9999")
    theirs = {"team": other, "user": outsider, "key_id": other_key.pk}

    def job_succeeding(start, seconds, **kwargs):
        with at(*start):
            job = make_job(**kwargs)
        minute, second = divmod(start[4] * 60 + seconds, 60)
        hour, minute = divmod(minute, 60)
        with at(*start[:3], start[3] + hour, minute, second):
            succeed(job, upstream)

    job_succeeding((2026, 3, 2, 10, 0), 120)
    job_succeeding((2026, 3, 2, 11, 0), 300)
    job_succeeding((2026, 3, 3, 9, 0), 600, template=run_for_life, text_inputs=["Lion"])
    with at(2026, 3, 3, 12):
        services.job_fail(make_job().id, code="1026", message="input sensitive")
    with at(2026, 3, 4, 8):
        services.job_cancel(job=make_job())
    job_succeeding((2026, 3, 3, 10, 0), 240, **theirs)
    with at(2026, 3, 5, 10):
        services.job_fail(make_job(**theirs).id, code="upstream_failed", message="no")
        services.job_fail(make_job(**theirs).id, code="1026", message="input sensitive")
    job_succeeding((2026, 2, 27, 10, 0), 60, **theirs)
    with at(2026, 3, 6, 10):
        make_job(**theirs)
    return team, other


def build(**kwargs):
    return dashboard_build(DashboardFilter(start=date(2026, 3, 1), end=date(2026, 3, 10), **kwargs))


def test_it_counts_jobs_per_day_by_status(board):
    result = build()
    assert result.jobs_total == 9
    assert result.totals_by_status == {"succeeded": 4, "failed": 3, "canceled": 1, "queued": 1}
    assert result.jobs_by_day == {
        date(2026, 3, 2): {"succeeded": 2},
        date(2026, 3, 3): {"succeeded": 2, "failed": 1},
        date(2026, 3, 4): {"canceled": 1},
        date(2026, 3, 5): {"failed": 2},
        date(2026, 3, 6): {"queued": 1},
    }


def test_it_sums_spend_per_team_and_the_ledger(board):
    result = build()
    assert result.spend_by_team == [("owner's team", 125), ("outsider's team", 40)]
    assert result.ledger_totals == {
        "reserve": (9, 365),
        "capture": (4, 165),
        "release": (4, 160),
    }


def test_it_computes_failure_rates_by_error_code(board):
    result = build()
    assert result.failure_rate == 3 / 8
    assert result.failure_rates() == [("1026", 2, 0.25), ("upstream_failed", 1, 0.125)]


def test_it_ranks_templates_and_times_to_finish(board):
    result = build()
    assert [
        (t["template__name"], t["n"], t["succeeded"], t["failed"]) for t in result.top_templates
    ] == [
        ("Diving", 8, 3, 3),
        ("Run for Life", 1, 1, 0),
    ]
    assert (result.p50_seconds, result.p95_seconds) == (240, 600)


def test_it_filters_by_team_and_range(board):
    team, _ = board
    result = build(team_id=team.pk)
    assert result.jobs_total == 5
    assert result.spend_by_team == [("owner's team", 125)]
    assert result.failure_rate == 1 / 5
    narrow = dashboard_build(DashboardFilter(start=date(2026, 3, 5), end=date(2026, 3, 5)))
    assert narrow.totals_by_status == {"failed": 2}


def test_it_takes_the_nearest_rank_percentile():
    assert percentile([], 0.5) is None
    assert percentile([5.0], 0.95) == 5.0
    values = [float(v) for v in range(1, 101)]
    assert (percentile(values, 0.5), percentile(values, 0.95)) == (50.0, 95.0)


def test_it_renders_figures_and_charts_for_staff(staff_client, board):
    response = staff_client.get(URL, RANGE)
    page = response.content.decode()
    assert response.status_code == 200
    assert '<div class="n" id="kpi-jobs">9</div>' in page
    assert '<div class="n" id="kpi-failure-rate">37.5%</div>' in page
    assert '<div class="n" id="kpi-charged">$1.65</div>' in page
    assert '<div class="n" id="kpi-p50">4m 00s</div>' in page
    assert '<div class="n" id="kpi-p95">10m 00s</div>' in page
    assert page.count('<svg class="chart"') == 4
    assert "owner&#x27;s team: $1.25" in page  # a bar's tooltip, escaped


def test_it_keeps_a_built_board_for_a_minute_per_filter(
    staff_client, board, settings, make_job, django_assert_num_queries
):
    from django.core.cache import cache

    from videos.dashboard import dashboard_cache_key, dashboard_cached

    settings.DASHBOARD_CACHE_SECONDS = 60
    whole, mine = (
        DashboardFilter(start=date(2026, 3, 1), end=date(2026, 3, 10), team_id=team_id)
        for team_id in (None, board[0].pk)
    )
    cache.delete_many([dashboard_cache_key(whole), dashboard_cache_key(mine)])
    first = dashboard_cached(whole)
    with at(2026, 3, 4, 9):
        make_job()  # a job after the board was built...
    with django_assert_num_queries(0):
        again = dashboard_cached(whole)
    assert again.jobs_total == first.jobs_total == 9  # ...shows once the minute is over
    assert again.built_at == first.built_at
    assert dashboard_cached(mine).jobs_total == 6  # another filter: a board of its own
    cache.delete(dashboard_cache_key(whole))  # as when the minute is over
    assert dashboard_cached(whole).jobs_total == 10
    page = staff_client.get(URL, RANGE).content.decode()
    assert "rebuilt at most every 60 s" in page and "figures as of" in page


def test_it_builds_every_time_without_a_cache_lifetime(board, settings, make_job):
    from videos.dashboard import dashboard_cached

    settings.DASHBOARD_CACHE_SECONDS = 0
    f = DashboardFilter(start=date(2026, 3, 1), end=date(2026, 3, 10))
    assert dashboard_cached(f).jobs_total == 9
    with at(2026, 3, 4, 9):
        make_job()
    assert dashboard_cached(f).jobs_total == 10


def test_it_defaults_to_the_last_30_days(staff_client, db):
    with at(2026, 3, 10, 12):
        response = staff_client.get(URL)
    f = response.context["board"].filter
    assert (f.start, f.end) == (date(2026, 2, 9), date(2026, 3, 10))


def test_it_finds_the_team_to_filter_by_by_name_or_id(staff_client, board):
    team, _other = board
    for given in (team.name.upper(), str(team.pk), f"  {team.name} "):
        response = staff_client.get(URL, {**RANGE, "team": given})
        assert response.context["board"].filter.team_id == team.pk, given
        assert response.context["board"].jobs_total == 5
    page = staff_client.get(URL, RANGE).content.decode()
    assert "<option" not in page  # no list of every team on the page


@pytest.mark.parametrize(
    ("given", "error"),
    [
        ("Nobody's team", "no team has the name “Nobody&#x27;s team”"),
        ("987654321", "no team has the id “987654321”"),
        ("9" * 40, "no team has the name"),  # beyond any id: read as a name, never a 500
        ("²", "no team has the name “²”"),  # a digit to str.isdigit, not to int()
        ("twins", "several teams are named “twins”: give the team&#x27;s id"),
    ],
)
def test_it_explains_a_team_it_cannot_find(staff_client, db, given, error):
    from accounts.models import Team

    Team.objects.create(name="Twins")
    Team.objects.create(name="twins")
    response = staff_client.get(URL, {**RANGE, "team": given})
    assert response.status_code == 200 and "board" not in response.context
    assert error in response.content.decode()


def test_it_explains_a_bad_filter(staff_client, db):
    response = staff_client.get(URL, {"start": "2026-03-10", "end": "2026-03-01"})
    assert "the start must be on or before the end" in response.content.decode()
    assert "board" not in response.context
    csv_response = staff_client.get(reverse("dashboard:jobs_csv"), {"start": "nonsense"})
    assert csv_response.status_code == 400


def test_it_is_for_staff_only(client, owner):
    assert client.get(URL).status_code == 302
    client.force_login(owner)
    response = client.get(URL)
    assert response.status_code == 302 and "/admin/login/" in response.url
    assert client.get(reverse("dashboard:ledger_csv")).status_code == 302


def test_it_exports_the_ledger_as_csv(staff_client, board):
    team, _ = board
    response = staff_client.get(reverse("dashboard:ledger_csv"), {**RANGE, "team": team.pk})
    assert 'filename="ledger-2026-03-01-2026-03-10.csv"' in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert {r["team"] for r in rows} == {"owner's team"}
    assert sum(int(r["effect_cents"]) for r in rows) == 125
    assert sorted(r["kind"] for r in rows).count("reserve") == 5


def test_it_exports_jobs_as_csv(staff_client, board):
    response = staff_client.get(reverse("dashboard:jobs_csv"), RANGE)
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert len(rows) == 9
    assert sorted(int(r["seconds_to_finish"]) for r in rows if r["status"] == "succeeded") == [
        120,
        240,
        300,
        600,
    ]
    assert {r["error_code"] for r in rows if r["status"] == "failed"} == {"1026", "upstream_failed"}


def test_it_neutralises_formulas_in_exported_names(staff_client, team, make_job):
    type(team).objects.filter(pk=team.pk).update(name="=HYPERLINK(evil)")
    make_job()
    response = staff_client.get(reverse("dashboard:jobs_csv"))
    (row,) = csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode()))
    assert row["team"] == "'=HYPERLINK(evil)"


def _teams_with_jobs(n: int, diving) -> None:
    """n teams, each with a charged job and a failed one on 2026-03-03."""
    for i in range(n):
        user = User.objects.create_user(f"user{i}", f"user{i}@example.com", "pw-123456789")
        for status in (JobStatus.SUCCEEDED, JobStatus.FAILED):
            when = datetime(2026, 3, 3, 10, i, tzinfo=UTC)
            with at(2026, 3, 3, 10, i), transaction.atomic():
                job = Job.objects.create(
                    team=user.personal_team, created_by=user, template=diving, cost_cents=40
                )
                billing.ledger_reserve(
                    team_id=job.team_id, job_id=job.pk, cost_cents=40, jobs_in_flight=lambda: 1
                )
                Job.objects.filter(pk=job.pk).update(
                    status=status, finished_at=when, error_code="x"
                )
                settle = (
                    billing.ledger_capture
                    if status == JobStatus.SUCCEEDED
                    else billing.ledger_release
                )
                settle(job_id=job.pk)


@pytest.mark.parametrize("teams", [2, 10])
def test_it_costs_the_same_queries_for_2_or_10_teams(
    staff_client, diving, teams, django_assert_num_queries
):
    _teams_with_jobs(teams, diving)
    # session, user, the current team (accounts.middleware: does it require two-factor?),
    # 2 x the admin's permission check, four aggregates (the jobs grouped once, spend, the
    # ledger by kind, the time-to-finish percentiles); nothing per team (the team filter is
    # a box, not a list of every team).
    with django_assert_num_queries(9):
        response = staff_client.get(URL, RANGE)
    assert response.context["board"].jobs_total == 2 * teams
    assert len(response.context["board"].spend_by_team) == teams
