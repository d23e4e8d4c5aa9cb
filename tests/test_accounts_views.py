"""Sign up (verified email), sign in (username or email), sign out, passwords (change, reset),
and the login wall in front of every page. Accounts are django-allauth's."""

from __future__ import annotations

import re
import uuid

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Membership, Role, Team

SIGNUP = reverse("account_signup")
LOGIN = reverse("account_login")
LOGOUT = reverse("account_logout")
PASSWORD = reverse("account_change_password")
RESET = reverse("account_reset_password")
GOOD_PASSWORD = "a-Long-and-unusual-pw-42"


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    # allauth counts sign-in attempts in the cache: every test starts with none (and never
    # touches a Redis shared with other runs).
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"accounts-{uuid.uuid4()}",
        }
    }


@pytest.fixture
def verified_owner(owner):
    EmailAddress.objects.create(user=owner, email=owner.email, primary=True, verified=True)
    return owner


def signup_data(**overrides) -> dict:
    data = {
        "username": "newbie",
        "email": "newbie@example.com",
        "password1": GOOD_PASSWORD,
        "password2": GOOD_PASSWORD,
    }
    data.update(overrides)
    return data


def logged_in_user_id(client) -> int | None:
    value = client.session.get(SESSION_KEY)
    return int(value) if value is not None else None


def assert_has_personal_team(user: User) -> Team:
    team = Team.objects.get(personal_for=user)
    membership = Membership.objects.get(team=team, user=user)
    assert membership.role == Role.OWNER
    assert team.memberships.count() == 1
    return team


def link_in(message, path_part: str) -> str:
    return next(word for word in re.split(r"\s+", message.body) if path_part in word)


def confirm(client, message):
    """Follow the link of a verification mail and press its Confirm button."""
    link = link_in(message, "/accounts/confirm-email/")
    page = client.get(link)
    assert page.status_code == 200 and "Confirm" in page.content.decode()
    return client.post(link)


# --- sign up ----------------------------------------------------------------------------------


def test_it_shows_the_signup_form(client, db):
    response = client.get(SIGNUP)
    assert response.status_code == 200
    body = response.content.decode()
    for name in ("username", "email", "password1", "password2"):
        assert f'name="{name}"' in body


def test_it_signs_up_sends_a_verification_mail_and_makes_a_personal_team(client, db):
    response = client.post(SIGNUP, signup_data())
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    user = User.objects.get(username="newbie")
    assert user.email == "newbie@example.com"
    assert user.check_password(GOOD_PASSWORD)
    assert_has_personal_team(user)
    # Not signed in, and the address is not verified, until the link is followed.
    assert logged_in_user_id(client) is None
    assert not EmailAddress.objects.get(user=user).verified
    (message,) = mail.outbox
    assert message.to == ["newbie@example.com"]
    assert "/accounts/confirm-email/" in message.body


def test_it_signs_in_once_the_link_is_followed_and_goes_to_the_keys(client, db):
    client.post(SIGNUP, signup_data())
    response = confirm(client, mail.outbox[0])
    user = User.objects.get(username="newbie")
    assert EmailAddress.objects.get(user=user).verified
    assert response.status_code == 302 and response["Location"] == reverse("videos:keys")
    assert logged_in_user_id(client) == user.pk
    # The new team can be used at once: its pages answer.
    assert client.get(reverse("videos:job_list")).status_code == 200


def test_it_refuses_to_sign_in_before_the_address_is_verified(client, db):
    client.post(SIGNUP, signup_data())
    mail.outbox.clear()
    for login in ("newbie", "newbie@example.com"):
        response = client.post(LOGIN, {"login": login, "password": GOOD_PASSWORD})
        assert response.status_code == 302
        assert response["Location"] == reverse("account_email_verification_sent")
        assert logged_in_user_id(client) is None
    # The link of the sign-up still works; a new one goes out only after a cooldown
    # (ACCOUNT_RATE_LIMITS["confirm_email"]), so sign-in attempts cannot flood the inbox.
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password2": "something-else-99"}, "password2"),
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"username": ""}, "username"),
        ({"username": "bad name!"}, "username"),
        ({"password1": "123", "password2": "123"}, "password1"),
        ({"password1": "password", "password2": "password"}, "password1"),
    ],
)
def test_it_names_the_bad_field_and_creates_nothing(client, db, overrides, field):
    response = client.post(SIGNUP, signup_data(**overrides))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    assert errors[field][0] in response.content.decode().replace("&#x27;", "'")
    assert not User.objects.exists()
    assert not Team.objects.exists()
    assert not Membership.objects.exists()
    assert logged_in_user_id(client) is None
    assert mail.outbox == []


def test_it_refuses_a_taken_username(client, owner):
    response = client.post(SIGNUP, signup_data(username="owner"))
    assert response.status_code == 200
    assert "username" in response.context["form"].errors
    assert User.objects.count() == 1
    assert Team.objects.count() == 1


@pytest.mark.parametrize("email", ["owner@example.com", "Owner@Example.COM"])
def test_it_makes_no_second_account_for_a_taken_email_and_tells_its_owner(
    client, verified_owner, email
):
    response = client.post(SIGNUP, signup_data(email=email))
    # The page is the same as for a new address (no one learns which addresses have
    # accounts: ACCOUNT_PREVENT_ENUMERATION); the mail goes to the address's owner.
    assert response.status_code == 302
    assert response["Location"] == reverse("account_email_verification_sent")
    assert list(User.objects.values_list("username", flat=True)) == ["owner"]
    (message,) = mail.outbox
    assert message.to == ["owner@example.com"]
    assert "already" in message.body and "/accounts/confirm-email/" not in message.body


def test_it_sends_a_signed_in_user_away_from_signup(owner_client):
    response = owner_client.get(SIGNUP)
    assert response.status_code == 302
    assert response["Location"] == reverse("videos:gallery")


# --- users made any other way also get a team -----------------------------------------------


def test_it_gives_a_user_made_with_create_user_a_personal_team(db):
    user = User.objects.create_user("scripted", "s@example.com", "pw-scripted-123")
    assert_has_personal_team(user)


def test_it_gives_a_superuser_made_with_createsuperuser_a_personal_team(db, monkeypatch):
    monkeypatch.setenv("DJANGO_SUPERUSER_PASSWORD", GOOD_PASSWORD)
    call_command(
        "createsuperuser", "--noinput", username="boss", email="boss@example.com", verbosity=0
    )
    user = User.objects.get(username="boss")
    assert user.is_superuser
    assert user.check_password(GOOD_PASSWORD)
    assert_has_personal_team(user)


def test_it_gives_a_user_made_with_create_superuser_a_personal_team(db):
    user = User.objects.create_superuser("root", "root@example.com", GOOD_PASSWORD)
    assert_has_personal_team(user)


def test_it_does_not_make_a_second_team_when_a_user_is_saved_again(owner):
    owner.first_name = "Olga"
    owner.save()
    assert Team.objects.filter(personal_for=owner).count() == 1
    assert Membership.objects.filter(user=owner).count() == 1


# --- sign in / sign out -----------------------------------------------------------------------


@pytest.mark.parametrize("login", ["owner", "owner@example.com", "OWNER@example.com"])
def test_it_signs_in_by_username_or_email(client, verified_owner, login):
    response = client.post(LOGIN, {"login": login, "password": "pw-owner-123"})
    assert response.status_code == 302
    assert response["Location"] == reverse("videos:gallery")
    assert logged_in_user_id(client) == verified_owner.pk


def test_it_signs_in_and_goes_back_where_it_was_sent_from(client, verified_owner):
    target = reverse("videos:keys")
    response = client.post(LOGIN, {"login": "owner", "password": "pw-owner-123", "next": target})
    assert response.status_code == 302
    assert response["Location"] == target


def test_it_does_not_follow_an_offsite_next_after_sign_in(client, verified_owner):
    data = {"login": "owner", "password": "pw-owner-123", "next": "https://evil.example/"}
    response = client.post(LOGIN, data)
    assert response["Location"] == reverse("videos:gallery")


def test_it_refuses_a_wrong_password(client, verified_owner):
    response = client.post(LOGIN, {"login": "owner", "password": "wrong-password"})
    assert response.status_code == 200
    assert response.context["form"].errors
    assert "not correct" in response.content.decode()
    assert logged_in_user_id(client) is None


def test_it_signs_out(owner_client):
    assert logged_in_user_id(owner_client) is not None
    response = owner_client.post(LOGOUT)
    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert logged_in_user_id(owner_client) is None
    assert owner_client.get(reverse("videos:gallery")).status_code == 302


def test_it_does_not_sign_out_on_get(owner_client):
    response = owner_client.get(LOGOUT)
    assert response.status_code == 200  # a page asking to confirm, with a POST form
    assert 'method="post"' in response.content.decode()
    assert logged_in_user_id(owner_client) is not None


# --- password change ------------------------------------------------------------------------


def test_it_changes_the_password(owner_client, verified_owner):
    owner = verified_owner
    response = owner_client.post(
        PASSWORD,
        {"oldpassword": "pw-owner-123", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(GOOD_PASSWORD)
    assert not owner.check_password("pw-owner-123")
    # Still signed in on this browser.
    assert logged_in_user_id(owner_client) == owner.pk
    assert owner_client.get(reverse("videos:gallery")).status_code == 200
    # The old password stops working, the new one works.
    owner_client.post(LOGOUT)
    owner_client.post(LOGIN, {"login": "owner", "password": "pw-owner-123"})
    assert logged_in_user_id(owner_client) is None
    owner_client.post(LOGIN, {"login": "owner", "password": GOOD_PASSWORD})
    assert logged_in_user_id(owner_client) == owner.pk


def test_it_refuses_a_password_change_with_the_wrong_old_password(owner_client, owner):
    response = owner_client.post(
        PASSWORD,
        {"oldpassword": "not-my-password", "password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD},
    )
    assert response.status_code == 200
    assert "oldpassword" in response.context["form"].errors
    owner.refresh_from_db()
    assert owner.check_password("pw-owner-123")


def test_it_refuses_a_password_change_that_does_not_match(owner_client, owner):
    response = owner_client.post(
        PASSWORD,
        {
            "oldpassword": "pw-owner-123",
            "password1": GOOD_PASSWORD,
            "password2": GOOD_PASSWORD + "x",
        },
    )
    assert response.status_code == 200
    assert "password2" in response.context["form"].errors
    owner.refresh_from_db()
    assert owner.check_password("pw-owner-123")


# --- password reset -------------------------------------------------------------------------


def test_it_mails_a_reset_link_that_sets_a_new_password_once(client, verified_owner):
    response = client.post(RESET, {"email": "Owner@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")
    (message,) = mail.outbox
    assert message.to == ["owner@example.com"]
    link = link_in(message, "/accounts/password/reset/key/")
    # The link leads (via a redirect that takes the key out of the address) to the form.
    form_page = client.get(link, follow=True)
    assert form_page.status_code == 200 and 'name="password1"' in form_page.content.decode()
    action = form_page.redirect_chain[-1][0] if form_page.redirect_chain else link
    response = client.post(action, {"password1": GOOD_PASSWORD, "password2": GOOD_PASSWORD})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_from_key_done")
    verified_owner.refresh_from_db()
    assert verified_owner.check_password(GOOD_PASSWORD)
    # The link works once.
    again = client.get(link, follow=True)
    assert "expired or was already used" in again.content.decode()
    client.post(LOGIN, {"login": "owner@example.com", "password": GOOD_PASSWORD})
    assert logged_in_user_id(client) == verified_owner.pk


def test_it_says_the_same_for_an_unknown_address(client, verified_owner):
    response = client.post(RESET, {"email": "nobody@example.com"})
    assert response.status_code == 302
    assert response["Location"] == reverse("account_reset_password_done")
    # No account is named, and none is revealed (the mail says no account has the address).
    assert all("/accounts/password/reset/key/" not in m.body for m in mail.outbox)


# --- the login wall ---------------------------------------------------------------------------


@pytest.fixture
def portal_pages(make_job, key, diving) -> list[tuple[str, str]]:
    job = make_job()
    return [
        ("get", reverse("videos:gallery")),
        ("get", reverse("videos:job_new", args=[diving.pk])),
        ("post", reverse("videos:job_new", args=[diving.pk])),
        ("get", reverse("videos:job_list")),
        ("get", reverse("videos:job_detail", args=[job.id])),
        ("get", reverse("videos:job_status", args=[job.id])),
        ("post", reverse("videos:job_cancel", args=[job.id])),
        ("get", reverse("videos:job_video", args=[job.id])),
        ("get", reverse("videos:keys")),
        ("post", reverse("videos:keys")),
        ("post", reverse("videos:key_delete", args=[key.pk])),
        ("get", PASSWORD),
        ("post", PASSWORD),
        ("get", reverse("mfa_index")),
        ("get", reverse("account_email")),
    ]


def test_it_sends_anonymous_users_to_login_from_every_portal_page(client, portal_pages):
    for method, path in portal_pages:
        response = getattr(client, method)(path)
        assert response.status_code == 302, (method, path)
        assert response["Location"].startswith(f"{LOGIN}?next="), (method, path)


def test_it_changes_nothing_for_anonymous_posts(client, portal_pages, key, enqueued):
    from videos.models import Job, JobStatus

    for method, path in portal_pages:
        if method == "post":
            client.post(path, {"label": "Anon", "secret": "sk-anon-12345678"})
    key.refresh_from_db()  # not deleted
    assert Job.objects.get().status == JobStatus.QUEUED  # not canceled
    assert not key.user.provider_keys.filter(label="Anon").exists()
