"""The usage page: this month's figures against hand-computed numbers, and the daily chart."""

from __future__ import annotations

from datetime import date

import pytest
from django.urls import reverse

from billing import services as billing
from billing.selectors import team_usage, usage_daily
from tests.billing_support import at, set_limits, succeed
from videos import services


@pytest.fixture
def march(make_job, upstream, team, owner, run_for_life, outsider, key):
    """A team's March 2026, by hand:

    Mar 2  Diving 40c succeeded            -> charged 40
    Mar 2  Diving 40c succeeded            -> charged 40
    Mar 5  Run for Life 45c failed         -> released 45
    Mar 9  Diving 40c canceled             -> released 40
    Mar 9  Diving 40c still queued         -> held 40
    Mar 10 credit granted 100c
    plus a February job (not this month) and another team's job (not this team).
    """
    set_limits(team, videos=10, budget_cents=1000, concurrent=5)
    with at(2026, 2, 27, 9):
        succeed(make_job(), upstream)
    with at(2026, 3, 2, 9):
        succeed(make_job(), upstream)
        succeed(make_job(), upstream)
    with at(2026, 3, 5, 9):
        failed = make_job(template=run_for_life, text_inputs=["Lion"])
        services.job_fail(failed.id, code="upstream_failed", message="MiniMax could not.")
    with at(2026, 3, 9, 9):
        services.job_cancel(job=make_job())
        make_job()
    with at(2026, 3, 10, 9):
        billing.credit_grant(team=team, amount_cents=100, memo="goodwill")
    return team


def test_it_computes_the_months_figures_from_the_ledger(march):
    with at(2026, 3, 20, 12):
        usage = team_usage(team=march)
    assert (usage.videos_used, usage.videos_reserved, usage.video_limit) == (2, 1, 10)
    assert (usage.spent_cents, usage.reserved_cents) == (80, 40)
    assert (usage.released_videos, usage.released_cents) == (2, 85)
    assert (usage.granted_cents, usage.budget_cents) == (100, 1100)
    assert (usage.videos_remaining, usage.budget_remaining_cents) == (7, 980)
    assert (usage.running, usage.max_concurrent) == (1, 5)
    assert usage.period_start.isoformat() == "2026-03-01T00:00:00+00:00"
    assert usage.period_end.isoformat() == "2026-04-01T00:00:00+00:00"


def test_it_places_each_job_on_the_day_it_was_submitted(march):
    days = {d.day: d for d in usage_daily(team=march, period=date(2026, 3, 1))}
    assert len(days) == 31
    assert (days[date(2026, 3, 2)].charged, days[date(2026, 3, 2)].charged_cents) == (2, 80)
    assert days[date(2026, 3, 5)].released == 1
    assert (days[date(2026, 3, 9)].released, days[date(2026, 3, 9)].in_progress) == (1, 1)
    assert sum(d.charged + d.released + d.in_progress for d in days.values()) == 5


def test_it_shows_usage_remaining_quota_and_the_chart(owner_client, march):
    with at(2026, 3, 20, 12):
        response = owner_client.get(reverse("billing:usage"))
    page = response.content.decode()
    assert response.status_code == 200
    assert response.context["usage"].videos_used == 2
    assert '<strong id="videos-remaining">7</strong> of 10 left' in page
    assert '<strong id="budget-remaining">$9.80</strong> of $11.00 left' in page
    assert "$1.00 credit" in page
    assert "limits reset on 1 April 2026" in page
    assert '<svg class="chart"' in page and "Videos per day in March 2026" in page
    assert "Mar 2: 2 charged" in page  # a bar's tooltip
    assert reverse("billing:statement", args=[march.pk, "2026-03"]) in page
    assert reverse("billing:statement", args=[march.pk, "2026-02"]) in page


def test_it_shows_a_teammate_the_same_team_and_an_outsider_their_own(
    client, march, teammate, outsider
):
    client.force_login(teammate)
    client.post(reverse("accounts:team_switch", args=[march.pk]))  # their own team is default
    with at(2026, 3, 20, 12):
        assert client.get(reverse("billing:usage")).context["usage"].videos_used == 2
    client.force_login(outsider)
    with at(2026, 3, 20, 12):
        response = client.get(reverse("billing:usage"))
    assert response.context["team"] == outsider.personal_team
    assert response.context["usage"].videos_used == 0


def test_it_warns_a_suspended_team(owner_client, team):
    billing.team_suspend(team=team, reason="unpaid")
    assert "This team is suspended" in owner_client.get(reverse("billing:usage")).content.decode()


def test_it_asks_a_visitor_to_sign_in(client, db):
    response = client.get(reverse("billing:usage"))
    assert response.status_code == 302 and "/accounts/login/" in response.url
