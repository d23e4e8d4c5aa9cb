"""Two-factor authentication (allauth.mfa, TOTP): enrolment, sign-in with a code, and teams
whose owners require it of their members."""

from __future__ import annotations

import time
import uuid

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

from accounts import services
from accounts.models import Membership, Role

LOGIN = reverse("account_login")


@pytest.fixture(autouse=True)
def _mfa_test_settings(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"mfa-{uuid.uuid4()}",
        }
    }
    # One 30 s step either way, so a code computed just before a step ends still counts.
    settings.MFA_TOTP_TOLERANCE = 1


def totp_code(secret: str) -> str:
    """The code an authenticator app shows now, computed with allauth's own functions."""
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


def verify(user: User) -> User:
    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return user


def with_totp(user: User) -> str:
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret


def signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def sign_in(client: Client, login: str, password: str):
    return client.post(LOGIN, {"login": login, "password": password})


# --- enrolment and sign-in ------------------------------------------------------------------


def test_it_enrols_an_authenticator_app_from_the_user_menu(client, owner):
    verify(owner)
    sign_in(client, "owner", "pw-owner-123")
    menu = client.get(reverse("videos:gallery")).content.decode()
    assert reverse("mfa_index") in menu
    assert reverse("mfa_activate_totp") in client.get(reverse("mfa_index")).content.decode()
    # Changing how one signs in asks for the password again first.
    response = client.get(reverse("mfa_activate_totp"))
    assert response["Location"].startswith(reverse("account_reauthenticate"))
    response = client.post(response["Location"], {"password": "pw-owner-123"})
    assert response.status_code == 302
    page = client.get(reverse("mfa_activate_totp"))
    assert page.status_code == 200
    assert 'src="data:image/svg+xml;base64,' in page.content.decode()  # the QR code
    secret = page.context["form"].secret
    wrong = client.post(reverse("mfa_activate_totp"), {"code": "000000"})
    assert wrong.status_code == 200 and wrong.context["form"].errors
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    assert Authenticator.objects.filter(user=owner, type=Authenticator.Type.TOTP).exists()
    # Recovery codes come with it, shown next.
    assert response["Location"] == reverse("mfa_view_recovery_codes")
    assert Authenticator.objects.filter(user=owner, type="recovery_codes").exists()


def test_it_asks_for_the_code_at_sign_in(client, owner):
    secret = with_totp(verify(owner))
    response = sign_in(client, "owner", "pw-owner-123")
    assert response.status_code == 302 and response["Location"] == reverse("mfa_authenticate")
    assert not signed_in(client)  # the password alone does not sign in
    wrong = client.post(reverse("mfa_authenticate"), {"code": "123456"})
    assert wrong.status_code == 200 and not signed_in(client)
    response = client.post(reverse("mfa_authenticate"), {"code": totp_code(secret)})
    assert response.status_code == 302 and response["Location"] == reverse("videos:gallery")
    assert signed_in(client)


def test_it_does_not_accept_a_code_twice(client, owner):
    secret = with_totp(verify(owner))
    code = totp_code(secret)
    sign_in(client, "owner", "pw-owner-123")
    client.post(reverse("mfa_authenticate"), {"code": code})
    assert signed_in(client)
    other = Client()
    sign_in(other, "owner", "pw-owner-123")
    other.post(reverse("mfa_authenticate"), {"code": code})
    assert not signed_in(other)


# --- teams that require two-factor ------------------------------------------------------------


@pytest.fixture
def strict_team(team, owner, teammate):
    services.team_require_mfa(team=team, by=owner, required=True)
    return team


def working_in(user: User, team) -> Client:
    client = Client()
    client.force_login(user)
    session = client.session
    session["team_id"] = team.pk
    session.save()
    return client


def test_it_sends_a_member_without_two_factor_to_set_it_up(strict_team, teammate):
    client = working_in(teammate, strict_team)
    for name, args in [
        ("videos:gallery", []),
        ("videos:job_list", []),
        ("videos:keys", []),
        ("billing:usage", []),
        ("accounts:team_detail", [strict_team.pk]),
        ("integrations:index", []),
    ]:
        response = client.get(reverse(name, args=args))
        assert response.status_code == 302, name
        assert response["Location"] == reverse("mfa_activate_totp"), name
    page = client.get(reverse("mfa_index"))
    assert page.status_code == 200
    assert "requires two-factor authentication" in page.content.decode()


def test_it_lets_a_member_without_two_factor_reach_the_account_pages_and_sign_out(
    strict_team, teammate
):
    client = working_in(teammate, strict_team)
    for name in ("mfa_index", "account_email", "account_change_password", "account_logout"):
        assert client.get(reverse(name)).status_code == 200, name
    assert client.get("/static/css/portal.css").status_code == 200
    response = client.post(reverse("account_logout"))
    assert response.status_code == 302 and response["Location"] == LOGIN
    assert not signed_in(client)


def test_it_lets_a_member_with_two_factor_through(strict_team, teammate):
    with_totp(teammate)
    client = working_in(teammate, strict_team)
    assert client.get(reverse("videos:gallery")).status_code == 200
    assert client.get(reverse("accounts:team_detail", args=[strict_team.pk])).status_code == 200


def test_it_applies_only_while_working_in_that_team(strict_team, teammate):
    client = working_in(teammate, teammate.personal_team)
    assert client.get(reverse("videos:gallery")).status_code == 200
    # Switching to the strict team is allowed; working in it then asks for two-factor.
    response = client.post(reverse("accounts:team_switch", args=[strict_team.pk]))
    assert response.status_code == 302
    assert client.get(reverse("videos:gallery"))["Location"] == reverse("mfa_activate_totp")


def test_it_leaves_the_json_api_to_its_tokens(strict_team, teammate):
    from integrations.services import token_create

    token = token_create(user=teammate, team=strict_team, name="CI")[1]
    response = Client().get("/api/v1/templates", HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 200
    # A signed-in browser session is not sent to the setup page from the API either.
    client = working_in(teammate, strict_team)
    assert client.get("/api/v1/templates").status_code != 302


def test_it_lets_only_owners_require_two_factor(client, team, owner, teammate, outsider):
    helper = User.objects.create_user("helper", "helper@example.com", "pw-helper-123")
    Membership.objects.create(team=team, user=helper, role=Role.ADMIN)
    url = reverse("accounts:team_mfa", args=[team.pk])
    for user, status in [(helper, 403), (teammate, 403), (outsider, 404)]:
        client.force_login(user)
        assert client.post(url, {"require_mfa": "on"}).status_code == status, user
    team.refresh_from_db()
    assert not team.require_mfa
    for user in (helper, teammate):
        with pytest.raises(services.TeamPermissionError):
            services.team_require_mfa(team=team, by=user, required=True)

    client.force_login(owner)
    page = client.get(reverse("accounts:team_detail", args=[team.pk])).content.decode()
    assert 'name="require_mfa"' in page
    response = client.post(url, {"require_mfa": "on"})
    assert response.status_code == 302
    team.refresh_from_db()
    assert team.require_mfa
    with_totp(owner)  # the owner now needs it too, to see the team page
    client.post(url, {})
    team.refresh_from_db()
    assert not team.require_mfa


def test_it_shows_the_requirement_to_members_without_the_form(strict_team, teammate):
    with_totp(teammate)
    page = working_in(teammate, strict_team).get(
        reverse("accounts:team_detail", args=[strict_team.pk])
    )
    body = page.content.decode()
    assert "requires two-factor authentication" in body
    assert 'name="require_mfa"' not in body
