"""Teams: create, switch, invite by email link, change roles, remove; who may do what."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import User
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts import services
from accounts.models import Invitation, Membership, Role, Team
from billing.models import TeamPlan
from tests.billing_support import at


def invite(client, team, email="new@example.com", role=Role.MEMBER):
    return client.post(
        reverse("accounts:team_invite", args=[team.pk]), {"email": email, "role": role}
    )


def link_token(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[1]


def logged_in(user) -> Client:
    """A second browser: `client` and `owner_client` are one and the same object."""
    browser = Client()
    browser.force_login(user)
    return browser


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    # allauth counts sign-ups and sign-ins in the cache: every test starts with none.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"teams-{uuid.uuid4()}",
        }
    }


def verify(user, email: str | None = None) -> None:
    EmailAddress.objects.update_or_create(
        user=user, email=email or user.email, defaults={"verified": True, "primary": True}
    )


@pytest.fixture
def newcomer(db):
    user = User.objects.create_user("newcomer", "new@example.com", "pw-new-123")
    verify(user)
    return user


@pytest.fixture
def invitation(team, owner):
    _, link = services.invitation_create(
        team=team, by=owner, email="New@Example.com", base_url="http://testserver/"
    )
    return link


# --- Teams -----------------------------------------------------------------------------------


def test_it_creates_a_team_on_the_default_plan_and_works_in_it(owner_client, owner):
    response = owner_client.post(reverse("accounts:teams"), {"name": "Studio"})
    team = Team.objects.get(name="Studio")
    assert response.url == reverse("accounts:team_detail", args=[team.pk])
    assert Membership.objects.get(team=team).role == Role.OWNER
    assert TeamPlan.objects.get(team=team).plan.is_default
    assert owner_client.session["team_id"] == team.pk
    assert owner_client.get(reverse("accounts:team")).url.endswith(f"/teams/{team.pk}/")


def test_it_lists_the_users_teams_with_their_roles(owner_client, owner, outsider):
    shared = services.team_create(name="Shared", owner=outsider)
    Membership.objects.create(team=shared, user=owner, role=Role.ADMIN)
    response = owner_client.get(reverse("accounts:teams"))
    roles = {m.team.name: m.get_role_display() for m in response.context["memberships"]}
    assert roles == {"owner's team": "Owner", "Shared": "Admin"}
    assert "outsider&#x27;s team" not in response.content.decode()


def test_it_refuses_a_blank_team_name_naming_the_field(owner):
    with pytest.raises(services.TeamInputError) as caught:
        services.team_create(name="  ", owner=owner)
    assert caught.value.field == "name"
    assert Team.objects.count() == 1  # the personal team only


def test_it_switches_between_the_users_teams(owner_client, owner, outsider):
    shared = services.team_create(name="Shared", owner=owner)
    other = outsider.personal_team
    response = owner_client.post(
        reverse("accounts:team_switch", args=[shared.pk]), {"next": "/jobs/"}
    )
    assert response.url == "/jobs/"
    assert owner_client.session["team_id"] == shared.pk
    page = owner_client.get("/jobs/").content.decode()
    assert "Shared ▾" in page
    # Another user's team: 404, and the session stays as it was.
    assert owner_client.post(reverse("accounts:team_switch", args=[other.pk])).status_code == 404
    assert owner_client.session["team_id"] == shared.pk


def test_it_does_not_follow_an_offsite_next_after_switching(owner_client, team):
    response = owner_client.post(
        reverse("accounts:team_switch", args=[team.pk]), {"next": "https://evil.example/"}
    )
    assert response.url == reverse("videos:job_list")


def test_it_shows_the_team_page_to_members_and_404_to_outsiders(client, team, teammate, outsider):
    client.force_login(teammate)
    page = client.get(reverse("accounts:team_detail", args=[team.pk]))
    assert page.status_code == 200
    assert "Invite someone" not in page.content.decode()  # members do not manage
    client.force_login(outsider)
    assert client.get(reverse("accounts:team_detail", args=[team.pk])).status_code == 404


# --- Who may do what -------------------------------------------------------------------------


def test_it_lets_only_owners_and_admins_invite(
    client, team, teammate, outsider, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        client.force_login(teammate)
        assert invite(client, team).status_code == 403
        client.force_login(outsider)
        assert invite(client, team).status_code == 404
    assert not Invitation.objects.exists()
    assert mail.outbox == []


def test_it_lets_only_owners_and_admins_change_roles(client, team, teammate, outsider, owner):
    mine = Membership.objects.get(team=team, user=owner)
    url = reverse("accounts:member_role", args=[team.pk, mine.pk])
    client.force_login(teammate)
    assert client.post(url, {"role": Role.MEMBER}).status_code == 403
    client.force_login(outsider)
    assert client.post(url, {"role": Role.MEMBER}).status_code == 404
    mine.refresh_from_db()
    assert mine.role == Role.OWNER


def test_it_lets_only_owners_and_admins_change_the_plan(client, team, teammate, outsider):
    from billing.models import Plan

    pro = Plan.objects.create(
        name="Pro", video_limit=500, budget_cents=50_000, max_concurrent=10, is_public=True
    )
    url = reverse("billing:team_plan", args=[team.pk])
    client.force_login(teammate)
    assert client.post(url, {"plan": pro.pk}).status_code == 403
    client.force_login(outsider)
    assert client.post(url, {"plan": pro.pk}).status_code == 404
    assert TeamPlan.objects.get(team=team).plan.is_default


def test_it_lets_owners_pick_a_public_plan_and_caps(owner_client, team):
    from billing.models import Plan

    pro = Plan.objects.create(
        name="Pro", video_limit=500, budget_cents=50_000, max_concurrent=10, is_public=True
    )
    # Not marked public: a plan staff create is not self-service by default.
    secret = Plan.objects.create(
        name="Enterprise", video_limit=9999, budget_cents=10**7, max_concurrent=99
    )
    url = reverse("billing:team_plan", args=[team.pk])
    owner_client.post(url, {"plan": pro.pk, "video_cap": "50", "budget_cap": "12.34"})
    team_plan = TeamPlan.objects.get(team=team)
    assert (team_plan.plan, team_plan.video_limit, team_plan.budget_cents) == (pro, 50, 1234)
    response = owner_client.post(url, {"plan": secret.pk}, follow=True)
    assert "plan:" in response.content.decode()
    assert TeamPlan.objects.get(team=team).plan == pro


def test_it_lets_an_admin_manage_members_but_not_owners(client, team, teammate, owner):
    helper = User.objects.create_user("helper", "helper@example.com", "pw-helper-123")
    Membership.objects.create(team=team, user=helper, role=Role.ADMIN)
    mate = Membership.objects.get(team=team, user=teammate)
    mine = Membership.objects.get(team=team, user=owner)
    client.force_login(helper)
    client.post(reverse("accounts:member_role", args=[team.pk, mate.pk]), {"role": Role.ADMIN})
    mate.refresh_from_db()
    assert mate.role == Role.ADMIN
    url = reverse("accounts:member_role", args=[team.pk, mate.pk])
    assert client.post(url, {"role": Role.OWNER}).status_code == 403
    assert (
        client.post(reverse("accounts:member_remove", args=[team.pk, mine.pk])).status_code == 403
    )
    assert Membership.objects.filter(pk=mine.pk).exists()


# --- Roles and removal -----------------------------------------------------------------------


def test_it_keeps_at_least_one_owner(owner_client, team, owner):
    mine = Membership.objects.get(team=team, user=owner)
    response = owner_client.post(
        reverse("accounts:member_role", args=[team.pk, mine.pk]), {"role": Role.MEMBER}, follow=True
    )
    assert "at least one owner" in response.content.decode()
    response = owner_client.post(
        reverse("accounts:member_remove", args=[team.pk, mine.pk]), follow=True
    )
    assert "at least one owner" in response.content.decode()
    mine.refresh_from_db()
    assert mine.role == Role.OWNER


def test_it_lets_an_owner_hand_over_and_step_down(owner_client, team, owner, teammate):
    mate = Membership.objects.get(team=team, user=teammate)
    mine = Membership.objects.get(team=team, user=owner)
    owner_client.post(reverse("accounts:member_role", args=[team.pk, mate.pk]), {"role": "owner"})
    owner_client.post(reverse("accounts:member_role", args=[team.pk, mine.pk]), {"role": "member"})
    assert dict(Membership.objects.filter(team=team).values_list("user__username", "role")) == {
        "owner": "member",
        "mate": "owner",
    }


def test_it_refuses_an_unknown_role_naming_the_field(team, owner, teammate):
    mate = Membership.objects.get(team=team, user=teammate)
    with pytest.raises(services.TeamInputError) as caught:
        services.membership_change_role(membership=mate, role="emperor", by=owner)
    assert caught.value.field == "role"


def test_it_removes_a_member_and_lets_members_leave(owner_client, team, teammate):
    mate = Membership.objects.get(team=team, user=teammate)
    response = owner_client.post(reverse("accounts:member_remove", args=[team.pk, mate.pk]))
    assert response.url == reverse("accounts:team_detail", args=[team.pk])
    assert not Membership.objects.filter(pk=mate.pk).exists()
    again = Membership.objects.create(team=team, user=teammate, role=Role.MEMBER)
    response = logged_in(teammate).post(reverse("accounts:member_remove", args=[team.pk, again.pk]))
    assert response.url == reverse("accounts:teams")
    assert not Membership.objects.filter(pk=again.pk).exists()


def test_it_hides_a_removed_members_team_jobs(owner_client, team, teammate, make_job):
    job = make_job()
    client = logged_in(teammate)
    assert client.get(reverse("videos:job_detail", args=[job.id])).status_code == 200
    mate = Membership.objects.get(team=team, user=teammate)
    owner_client.post(reverse("accounts:member_remove", args=[team.pk, mate.pk]))
    assert client.get(reverse("videos:job_detail", args=[job.id])).status_code == 404


# --- Invitations -----------------------------------------------------------------------------


def test_it_emails_the_link_and_shows_it_once_to_the_inviter(
    owner_client, team, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = invite(owner_client, team, email="New@Example.com", role=Role.ADMIN)
    (message,) = mail.outbox
    assert message.to == ["new@example.com"]
    link = next(line for line in message.body.splitlines() if "/invitations/" in line)
    assert link.startswith("http://testserver/accounts/invitations/")
    page = owner_client.get(response.url).content.decode()
    assert link in page  # shown to the inviter...
    assert link not in owner_client.get(response.url).content.decode()  # ...once
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role) == ("new@example.com", Role.ADMIN)
    assert link_token(link) not in invitation.token_hash  # only a hash is stored


def test_it_refuses_bad_invitation_input_naming_the_field(team, owner, teammate):
    for email, role, field in [
        ("not-an-email", Role.MEMBER, "email"),
        ("x@example.com", Role.OWNER, "role"),
        ("mate@example.com", Role.MEMBER, "email"),  # already in the team
    ]:
        with pytest.raises(services.TeamInputError) as caught:
            services.invitation_create(
                team=team, by=owner, email=email, role=role, base_url="http://t/"
            )
        assert caught.value.field == field
    assert not Invitation.objects.exists()


def test_it_joins_the_team_with_the_invited_role(client, team, newcomer, invitation):
    client.force_login(newcomer)
    url = reverse("accounts:invitation", args=[link_token(invitation)])
    assert "Join" in client.get(url).content.decode()
    response = client.post(url)
    assert response.url == reverse("accounts:team_detail", args=[team.pk])
    assert Membership.objects.get(team=team, user=newcomer).role == Role.MEMBER
    assert client.session["team_id"] == team.pk
    assert Invitation.objects.get().accepted_by == newcomer


def test_it_works_only_once(client, team, newcomer, invitation):
    client.force_login(newcomer)
    url = reverse("accounts:invitation", args=[link_token(invitation)])
    client.post(url)
    Membership.objects.filter(user=newcomer, team=team).delete()
    response = client.post(url)
    assert response.status_code == 400
    assert "already been used" in response.content.decode()
    assert not Membership.objects.filter(user=newcomer, team=team).exists()


def test_it_expires(client, team, owner, newcomer, settings):
    settings.INVITATION_EXPIRY_DAYS = 7
    with at(2026, 3, 1, 12):
        _, link = services.invitation_create(
            team=team, by=owner, email="new@example.com", base_url="http://testserver/"
        )
    client.force_login(newcomer)
    url = reverse("accounts:invitation", args=[link_token(link)])
    with at(2026, 3, 8, 11, 59):
        assert "Join" in client.get(url).content.decode()
    with at(2026, 3, 8, 12, 0):
        response = client.post(url)
    assert response.status_code == 400 and "expired" in response.content.decode()
    assert not Membership.objects.filter(user=newcomer, team=team).exists()


def test_it_refuses_the_wrong_user(client, team, outsider, invitation):
    client.force_login(outsider)
    url = reverse("accounts:invitation", args=[link_token(invitation)])
    assert "for another address" in client.get(url).content.decode()
    response = client.post(url)
    assert response.status_code == 400
    assert "n••@example.com" in response.content.decode()
    assert not Membership.objects.filter(user=outsider, team=team).exists()
    assert Invitation.objects.get().accepted_at is None  # still usable by the right person


def test_it_refuses_a_matching_address_that_is_not_verified(client, team, invitation):
    # The address typed at sign-up (or into a profile) is not proof of owning it.
    claimer = User.objects.create_user("claimer", "new@example.com", "pw-claim-123")
    EmailAddress.objects.create(user=claimer, email="new@example.com", verified=False)
    client.force_login(claimer)
    url = reverse("accounts:invitation", args=[link_token(invitation)])
    page = client.get(url).content.decode()
    assert "not verified yet" in page and "Join" not in page
    response = client.post(url)
    assert response.status_code == 400
    assert "n••@example.com" in response.content.decode()
    assert "verified" in response.content.decode()
    assert not Membership.objects.filter(user=claimer, team=team).exists()
    assert Invitation.objects.get().accepted_at is None
    # Once the address is confirmed, the same link works.
    verify(claimer, "new@example.com")
    assert client.post(url).status_code == 302
    assert Membership.objects.get(user=claimer, team=team).role == Role.MEMBER


def test_it_refuses_an_account_whose_user_email_matches_without_an_address_record(
    client, team, invitation
):
    # Users made before allauth (or by createsuperuser) have only User.email: not verified.
    legacy = User.objects.create_user("legacy", "new@example.com", "pw-legacy-123")
    client.force_login(legacy)
    url = reverse("accounts:invitation", args=[link_token(invitation)])
    assert "not verified yet" in client.get(url).content.decode()
    assert client.post(url).status_code == 400
    assert not Membership.objects.filter(user=legacy, team=team).exists()


def test_it_accepts_a_verified_address_that_is_not_the_primary_one(client, team, invitation):
    user = User.objects.create_user("second", "main@example.com", "pw-second-123")
    verify(user)
    EmailAddress.objects.create(user=user, email="new@example.com", verified=True)
    client.force_login(user)
    assert client.post(reverse("accounts:invitation", args=[link_token(invitation)])).status_code
    assert Membership.objects.filter(user=user, team=team).exists()


def test_it_refuses_someone_already_in_the_team(client, team, newcomer, invitation):
    Membership.objects.create(team=team, user=newcomer, role=Role.MEMBER)
    client.force_login(newcomer)
    response = client.post(reverse("accounts:invitation", args=[link_token(invitation)]))
    assert response.status_code == 400 and "already a member" in response.content.decode()


def test_it_answers_404_for_an_unknown_link(client, newcomer):
    client.force_login(newcomer)
    assert client.get(reverse("accounts:invitation", args=["nope"])).status_code == 404
    assert client.post(reverse("accounts:invitation", args=["nope"])).status_code == 404


def test_it_sends_a_signed_out_visitor_to_sign_up_verify_and_back(client, team, invitation):
    url = reverse("accounts:invitation", args=[link_token(invitation)])
    page = client.get(url).content.decode()
    assert f"/accounts/signup/?next={url}" in page.replace("%2F", "/")
    response = client.post(
        reverse("account_signup") + f"?next={url}",
        {
            "username": "fresh",
            "email": "new@example.com",
            "password1": "a-long-pass-phrase-9",
            "password2": "a-long-pass-phrase-9",
            "next": url,
        },
    )
    assert response.url == reverse("account_email_verification_sent")
    client.post(url)  # not signed in yet: the page offers sign-in, nothing is joined
    assert not Membership.objects.filter(team=team, user__username="fresh").exists()
    # The confirmation link, followed in the same browser, signs in and returns to the link.
    (confirmation,) = [m for m in mail.outbox if "/accounts/confirm-email/" in m.body]
    link = next(w for w in re.split(r"\s+", confirmation.body) if "/accounts/confirm-email/" in w)
    response = client.post(link)
    assert response.url == url
    assert "Join" in client.get(url).content.decode()
    client.post(url)
    assert Membership.objects.filter(team=team, user__username="fresh").exists()


def test_it_sends_a_signed_out_member_to_sign_in_and_back(client, team, newcomer, invitation):
    url = reverse("accounts:invitation", args=[link_token(invitation)])
    page = client.get(url).content.decode()
    assert f"/accounts/login/?next={url}" in page.replace("%2F", "/")
    response = client.post(
        reverse("account_login"),
        {"login": "new@example.com", "password": "pw-new-123", "next": url},
    )
    assert response.url == url
    client.post(url)
    assert Membership.objects.filter(team=team, user=newcomer).exists()


def test_it_replaces_an_open_invitation_and_can_be_withdrawn(owner_client, team, owner, newcomer):
    _, first = services.invitation_create(
        team=team, by=owner, email="new@example.com", base_url="http://t/"
    )
    _, second = services.invitation_create(
        team=team, by=owner, email="new@example.com", base_url="http://t/"
    )
    client = logged_in(newcomer)
    response = client.post(reverse("accounts:invitation", args=[link_token(first)]))
    assert "withdrawn" in response.content.decode()
    latest = Invitation.objects.get(revoked_at__isnull=True)
    owner_client.post(reverse("accounts:invitation_revoke", args=[team.pk, latest.pk]))
    response = client.post(reverse("accounts:invitation", args=[link_token(second)]))
    assert "withdrawn" in response.content.decode()
    assert not Membership.objects.filter(user=newcomer, team=team).exists()


def test_it_lists_open_invitations_to_managers_with_their_expiry(owner_client, team, owner):
    services.invitation_create(team=team, by=owner, email="a@example.com", base_url="http://t/")
    Invitation.objects.update(expires_at=timezone.now() - timedelta(minutes=1))
    page = owner_client.get(reverse("accounts:team_detail", args=[team.pk])).content.decode()
    assert "a@example.com" in page and "expired" in page
