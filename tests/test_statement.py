"""The monthly statement: a printable page and a CSV that sum to the ledger exactly."""

from __future__ import annotations

import csv
import io
from datetime import date

import pytest
from django.contrib.auth.models import User
from django.db.models import Sum
from django.urls import reverse

from billing import services as billing
from billing.models import LedgerEntry
from billing.statements import statement_for
from tests.billing_support import at, succeed
from videos import services

MARCH = date(2026, 3, 1)


@pytest.fixture
def month(make_job, upstream, team, run_for_life, owner):
    """March 2026: 2 Diving charged (80), 1 Run for Life charged (45), 1 Diving failed
    (40 released), 1 Diving held (40), 300 credit; a Feb 28 job that finished on Mar 1."""
    with at(2026, 2, 28, 23, 50):
        late = make_job()
    with at(2026, 3, 1, 0, 20):
        succeed(late, upstream)
    with at(2026, 3, 3, 10):
        succeed(make_job(), upstream)
        succeed(make_job(), upstream)
        succeed(make_job(template=run_for_life, text_inputs=["Lion"]), upstream)
    with at(2026, 3, 4, 10):
        services.job_fail(make_job().id, code="1026", message="input sensitive")
        make_job()
        billing.credit_grant(team=team, amount_cents=300, memo="launch credit", by=owner)
    return team


def ledger_total(team, period) -> int:
    rows = LedgerEntry.objects.filter(team=team, period=period)
    charged = rows.filter(kind="capture").aggregate(s=Sum("amount_cents"))["s"] or 0
    granted = rows.filter(kind="grant").aggregate(s=Sum("amount_cents"))["s"] or 0
    return charged - granted


def test_it_sums_the_month_exactly_as_the_ledger_does(month):
    statement = statement_for(team=month, period=MARCH)
    assert (statement.charged_videos, statement.charged_cents) == (3, 125)
    assert (statement.released_videos, statement.released_cents) == (1, 40)
    assert (statement.open_videos, statement.open_cents) == (1, 40)
    assert statement.granted_cents == 300
    assert statement.total_cents == 125 - 300 == ledger_total(month, MARCH)
    assert len(statement.entries) == LedgerEntry.objects.filter(team=month, period=MARCH).count()
    assert [line.outcome for line in statement.jobs].count("charged") == 3


def test_it_counts_a_job_in_the_month_that_admitted_it(month):
    february = statement_for(team=month, period=date(2026, 2, 1))
    assert (february.charged_videos, february.charged_cents, february.total_cents) == (1, 40, 40)


def test_it_downloads_a_csv_whose_rows_add_up_to_the_total(owner_client, month):
    response = owner_client.get(reverse("billing:statement_csv", args=[month.pk, "2026-03"]))
    assert response["Content-Type"] == "text/csv"
    assert f"statement-team{month.pk}-2026-03.csv" in response["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    entries, total = rows[:-1], rows[-1]
    assert len(entries) == LedgerEntry.objects.filter(team=month, period=MARCH).count()
    assert sum(int(r["effect_cents"]) for r in entries) == int(total["effect_cents"]) == -175
    assert sum(int(r["amount_cents"]) for r in entries if r["kind"] == "capture") == 125
    assert {r["kind"] for r in entries} == {"reserve", "capture", "release", "grant"}


def test_it_prints_the_statement(owner_client, month):
    response = owner_client.get(reverse("billing:statement", args=[month.pk, "2026-03"]))
    page = response.content.decode()
    assert response.status_code == 200
    assert "Statement \u2014 March 2026" in page and "1 Mar \u2013 31 Mar 2026" in page
    assert '<td class="num" id="charged-total">$1.25</td>' in page
    assert '<td class="num" id="statement-total">\u2212$1.75</td>' in page
    assert "Credit: launch credit" in page
    # The Print button is wired by static/js/actions.js (no inline script under the CSP).
    assert '<button type="button" data-print>Print</button>' in page
    assert '<script src="/static/js/actions.js" defer></script>' in page


def test_it_shows_a_teammate_and_hides_from_an_outsider(client, month, teammate, outsider):
    page = reverse("billing:statement", args=[month.pk, "2026-03"])
    download = reverse("billing:statement_csv", args=[month.pk, "2026-03"])
    client.force_login(teammate)
    assert client.get(page).status_code == 200
    client.force_login(outsider)
    assert client.get(page).status_code == 404
    assert client.get(download).status_code == 404


def test_it_lets_staff_read_any_teams_statement(client, month):
    staff = User.objects.create_user("ops", "ops@example.com", "pw-ops-123", is_staff=True)
    client.force_login(staff)
    assert client.get(reverse("billing:statement", args=[month.pk, "2026-03"])).status_code == 200
    assert client.get(reverse("billing:statement", args=[999, "2026-03"])).status_code == 404


@pytest.mark.parametrize("period", ["2026-13", "march", "2026-3x", "26-03"])
def test_it_answers_404_for_a_month_that_is_not_one(owner_client, team, period):
    assert owner_client.get(reverse("billing:statement", args=[team.pk, period])).status_code == 404


def test_it_shows_an_empty_month(owner_client, team):
    response = owner_client.get(reverse("billing:statement", args=[team.pk, "2020-01"]))
    assert "No videos this month." in response.content.decode()
    assert response.context["statement"].total_cents == 0
