"""The admin as a product surface: teams with usage columns, plan/limit fieldsets, actions
that call billing services, a read-only ledger."""

from __future__ import annotations

import pytest
from django.contrib.admin.helpers import ACTION_CHECKBOX_NAME
from django.contrib.auth.models import User
from django.db import connection
from django.test.utils import CaptureQueriesContext

from accounts.services import invitation_create
from billing.errors import TeamSuspendedError
from billing.models import LedgerEntry, Plan, TeamPlan
from tests.billing_support import succeed

TEAMS = "/admin/accounts/team/"


def act(client, action: str, teams, **data):
    return client.post(
        TEAMS, {"action": action, ACTION_CHECKBOX_NAME: [t.pk for t in teams], **data}
    )


def test_it_lists_teams_with_this_months_usage(admin_client, team, make_job, upstream, teammate):
    succeed(make_job(), upstream)
    make_job()
    response = admin_client.get(TEAMS)
    row = next(t for t in response.context["cl"].result_list if t.pk == team.pk)
    assert (row.videos_month, row.spent_month, row.reserved_month) == (1, 40, 40)
    assert (row.running_now, row.member_count, row.billing.plan.name) == (1, 2, "Starter")
    page = response.content.decode()
    assert "Videos this month" in page and "$0.40" in page


def test_it_lists_2_or_10_teams_in_the_same_number_of_queries(admin_client, db):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert admin_client.get(TEAMS).status_code == 200
        return len(queries)

    for i in range(2):
        User.objects.create_user(f"u{i}", f"u{i}@example.com", "pw-123456789")
    few = count()
    for i in range(2, 10):
        User.objects.create_user(f"u{i}", f"u{i}@example.com", "pw-123456789")
    assert count() == few


def test_it_shows_plan_limits_and_usage_on_the_team_page(admin_client, team, make_job):
    make_job()
    page = admin_client.get(f"{TEAMS}{team.pk}/change/").content.decode()
    for heading in ("Usage", "Plan", "Limits"):
        assert f">{heading}<" in page
    assert "0 made + 1 in progress of 100 videos" in page
    assert "/statements/" in page


def test_it_does_not_add_teams_without_an_owner(admin_client, db):
    assert admin_client.get(f"{TEAMS}add/").status_code == 403


def test_it_grants_credit_through_a_form(admin_client, team, outsider, admin_user):
    other = outsider.personal_team
    form = act(admin_client, "grant_credit", [team, other])
    assert form.status_code == 200 and "Credit ($)" in form.content.decode()
    done = act(admin_client, "grant_credit", [team, other], apply="1", amount="12.50", memo="oops")
    assert done.status_code == 302
    grants = LedgerEntry.objects.filter(kind="grant")
    assert sorted(grants.values_list("team_id", "amount_cents")) == [
        (team.pk, 1250),
        (other.pk, 1250),
    ]
    assert {g.created_by for g in grants} == {admin_user}


def test_it_refuses_a_bad_credit_and_changes_nothing(admin_client, team):
    response = act(admin_client, "grant_credit", [team], apply="1", amount="-3", memo="")
    assert response.status_code == 200 and "errorlist" in response.content.decode()
    assert not LedgerEntry.objects.exists()


def test_it_suspends_and_resumes_teams(admin_client, team, make_job):
    act(admin_client, "suspend_teams", [team], apply="1", reason="chargeback")
    team_plan = TeamPlan.objects.get(team=team)
    assert team_plan.is_suspended and team_plan.suspended_reason == "chargeback"
    with pytest.raises(TeamSuspendedError):
        make_job()
    assert admin_client.get(f"{TEAMS}?suspended=yes").context["cl"].result_count == 1
    act(admin_client, "resume_teams", [team])
    assert not TeamPlan.objects.get(team=team).is_suspended
    make_job()


def test_it_moves_teams_to_another_plan(admin_client, team):
    pro = Plan.objects.create(name="Pro", video_limit=500, budget_cents=50_000, max_concurrent=10)
    act(admin_client, "change_plan", [team], apply="1", plan=pro.pk)
    assert TeamPlan.objects.get(team=team).plan == pro
    assert (
        admin_client.get(f"{TEAMS}?billing__plan__id__exact={pro.pk}").context["cl"].result_count
        == 1
    )


def test_it_lists_plans_with_their_teams_and_changes_the_default(admin_client, team):
    pro = Plan.objects.create(name="Pro", video_limit=500, budget_cents=50_000, max_concurrent=10)
    response = admin_client.get("/admin/billing/plan/")
    starter = next(p for p in response.context["cl"].result_list if p.is_default)
    assert starter._teams >= 1 and "$500.00" in response.content.decode()
    admin_client.post(
        "/admin/billing/plan/", {"action": "make_default", ACTION_CHECKBOX_NAME: [pro.pk]}
    )
    assert Plan.objects.get(is_default=True) == pro
    page = admin_client.get("/admin/billing/plan/add/").content.decode()
    assert ">Limits<" in page and ">Plan<" in page


def test_it_keeps_the_ledger_read_only(admin_client, make_job):
    job = make_job()
    entry = LedgerEntry.objects.get(job=job)
    assert admin_client.get("/admin/billing/ledgerentry/add/").status_code == 403
    assert admin_client.post(f"/admin/billing/ledgerentry/{entry.pk}/delete/").status_code == 403
    page = admin_client.get(f"/admin/billing/ledgerentry/{entry.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    listing = admin_client.get("/admin/billing/ledgerentry/", {"q": str(job.id)})
    assert listing.context["cl"].result_count == 1
    assert admin_client.get("/admin/billing/ledgerentry/", {"q": "not-a-uuid"}).status_code == 200


def test_it_filters_and_withdraws_invitations(admin_client, team, owner):
    invitation, _ = invitation_create(
        team=team, by=owner, email="x@example.com", base_url="http://t/"
    )
    assert (
        admin_client.get("/admin/accounts/invitation/?state=pending").context["cl"].result_count
        == 1
    )
    admin_client.post(
        "/admin/accounts/invitation/",
        {"action": "withdraw", ACTION_CHECKBOX_NAME: [invitation.pk]},
    )
    invitation.refresh_from_db()
    assert invitation.revoked_at is not None
    assert (
        admin_client.get("/admin/accounts/invitation/?state=revoked").context["cl"].result_count
        == 1
    )
