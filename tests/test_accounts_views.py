"""Sign up, sign in, sign out, password change, and the login wall in front of every page."""

from __future__ import annotations

import pytest
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.core.management import call_command
from django.urls import reverse

from accounts.models import Membership, Role, Team

SIGNUP = reverse("accounts:signup")
LOGIN = reverse("login")
LOGOUT = reverse("logout")
PASSWORD = reverse("accounts:password_change")
GOOD_PASSWORD = "a-Long-and-unusual-pw-42"


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


# --- sign up ----------------------------------------------------------------------------------


def test_it_shows_the_signup_form(client, db):
    response = client.get(SIGNUP)
    assert response.status_code == 200
    body = response.content.decode()
    for name in ("username", "email", "password1", "password2"):
        assert f'name="{name}"' in body


def test_it_signs_up_logs_in_and_makes_a_personal_team(client, db):
    response = client.post(SIGNUP, signup_data())
    assert response.status_code == 302
    assert response["Location"] == reverse("videos:keys")
    user = User.objects.get(username="newbie")
    assert user.email == "newbie@example.com"
    assert user.check_password(GOOD_PASSWORD)
    assert logged_in_user_id(client) == user.pk
    assert_has_personal_team(user)
    # The new team can be used at once: its pages answer.
    assert client.get(reverse("videos:job_list")).status_code == 200


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"password2": "something-else-99"}, "password2"),
        ({"email": "not-an-email"}, "email"),
        ({"email": ""}, "email"),
        ({"username": ""}, "username"),
        ({"username": "bad name!"}, "username"),
        ({"password1": "123", "password2": "123"}, "password2"),
        ({"password1": "password", "password2": "password"}, "password2"),
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


def test_it_refuses_a_taken_username(client, owner):
    response = client.post(SIGNUP, signup_data(username="owner"))
    assert response.status_code == 200
    assert "username" in response.context["form"].errors
    assert User.objects.count() == 1
    assert Team.objects.count() == 1


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


def test_it_signs_in(client, owner):
    response = client.post(LOGIN, {"username": "owner", "password": "pw-owner-123"})
    assert response.status_code == 302
    assert response["Location"] == reverse("videos:gallery")
    assert logged_in_user_id(client) == owner.pk


def test_it_signs_in_and_goes_back_where_it_was_sent_from(client, owner):
    target = reverse("videos:keys")
    response = client.post(LOGIN, {"username": "owner", "password": "pw-owner-123", "next": target})
    assert response.status_code == 302
    assert response["Location"] == target


def test_it_refuses_a_wrong_password(client, owner):
    response = client.post(LOGIN, {"username": "owner", "password": "wrong-password"})
    assert response.status_code == 200
    assert response.context["form"].errors
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
    assert response.status_code == 405
    assert logged_in_user_id(owner_client) is not None


# --- password change ------------------------------------------------------------------------


def test_it_changes_the_password(owner_client, owner, client):
    response = owner_client.post(
        PASSWORD,
        {
            "old_password": "pw-owner-123",
            "new_password1": GOOD_PASSWORD,
            "new_password2": GOOD_PASSWORD,
        },
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("accounts:password_change_done")
    owner.refresh_from_db()
    assert owner.check_password(GOOD_PASSWORD)
    assert not owner.check_password("pw-owner-123")
    # Still signed in on this browser.
    assert owner_client.get(reverse("accounts:password_change_done")).status_code == 200
    # The old password stops working, the new one works.
    owner_client.post(LOGOUT)
    assert not owner_client.login(username="owner", password="pw-owner-123")
    assert owner_client.login(username="owner", password=GOOD_PASSWORD)


def test_it_refuses_a_password_change_with_the_wrong_old_password(owner_client, owner):
    response = owner_client.post(
        PASSWORD,
        {
            "old_password": "not-my-password",
            "new_password1": GOOD_PASSWORD,
            "new_password2": GOOD_PASSWORD,
        },
    )
    assert response.status_code == 200
    assert "old_password" in response.context["form"].errors
    owner.refresh_from_db()
    assert owner.check_password("pw-owner-123")


def test_it_refuses_a_password_change_that_does_not_match(owner_client, owner):
    response = owner_client.post(
        PASSWORD,
        {
            "old_password": "pw-owner-123",
            "new_password1": GOOD_PASSWORD,
            "new_password2": GOOD_PASSWORD + "x",
        },
    )
    assert response.status_code == 200
    assert "new_password2" in response.context["form"].errors
    owner.refresh_from_db()
    assert owner.check_password("pw-owner-123")


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
        ("get", reverse("accounts:password_change_done")),
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
