"""Sign-in throttling (allauth's rate limits, ACCOUNT_RATE_LIMITS): a burst of wrong passwords
for one account, or from one address, is cut off, and then even the right password is refused."""

from __future__ import annotations

import uuid

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth import SESSION_KEY
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse

LOGIN = reverse("account_login")
REFUSED = "Too many failed login attempts. Try again later."


@pytest.fixture(autouse=True)
def _fresh_rate_limits(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"throttle-{uuid.uuid4()}",
        }
    }


def verified_user(name: str) -> User:
    user = User.objects.create_user(name, f"{name}@example.com", f"pw-{name}-123")
    EmailAddress.objects.create(user=user, email=user.email, primary=True, verified=True)
    return user


def from_address(ip: str) -> Client:
    return Client(REMOTE_ADDR=ip)


def sign_in(client: Client, login: str, password: str):
    return client.post(LOGIN, {"login": login, "password": password})


def signed_in(client: Client) -> bool:
    return SESSION_KEY in client.session


def test_it_refuses_an_account_after_a_handful_of_wrong_passwords_even_the_right_one(db):
    verified_user("olga")
    attacker = from_address("203.0.113.7")
    # Five wrong passwords per account in 5 minutes ("5/5m/key"), whether the account is
    # named by username or by email: both count for the same account.
    for login in ("olga", "olga@example.com", "OLGA", "olga", "Olga@Example.com"):
        response = sign_in(attacker, login, "guess-wrong")
        assert "not correct" in response.content.decode()
    for _ in range(3):
        response = sign_in(attacker, "olga@example.com", "guess-wrong")
        assert REFUSED in response.content.decode()
    # Now even the right password, and from another address, is refused for a while.
    olga = from_address("198.51.100.20")
    response = sign_in(olga, "olga", "pw-olga-123")
    assert response.status_code == 200 and REFUSED in response.content.decode()
    assert not signed_in(olga)


def test_it_refuses_an_address_that_tries_many_accounts(db):
    for name in ("ana", "ben", "cid"):
        verified_user(name)
    attacker = from_address("203.0.113.9")
    # Ten failures a minute per client address ("10/m/ip"), spread over accounts.
    for n in range(10):
        response = sign_in(attacker, ("ana", "ben", "cid")[n % 3], "guess-wrong")
        assert "not correct" in response.content.decode()
    response = sign_in(attacker, "ben", "pw-ben-123")
    assert REFUSED in response.content.decode()
    assert not signed_in(attacker)
    # Others, from their own addresses, still sign in.
    ben = from_address("198.51.100.30")
    sign_in(ben, "ben", "pw-ben-123")
    assert signed_in(ben)


def test_it_does_not_count_successful_sign_ins_as_failures(db):
    verified_user("dora")
    for _ in range(8):
        client = from_address("198.51.100.40")
        sign_in(client, "dora", "pw-dora-123")
        assert signed_in(client)


def test_it_counts_the_address_behind_the_load_balancer(db, settings):
    # With one trusted proxy, the client is the last X-Forwarded-For entry (docs/deploy.md).
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    verified_user("emil")
    verified_user("fay")
    attacker = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="203.0.113.50")
    for n in range(10):  # guessing names: each its own key, one address
        sign_in(attacker, f"guess-{n}", "guess-wrong")
    assert REFUSED in sign_in(attacker, "emil", "pw-emil-123").content.decode()
    # Another client through the same balancer is not caught by the attacker's count.
    fay = Client(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.60")
    sign_in(fay, "fay", "pw-fay-123")
    assert signed_in(fay)


def test_it_answers_429_in_the_portals_frame_past_the_sign_in_rate_of_an_address(db):
    client = from_address("203.0.113.77")
    for n in range(30):  # "30/m/ip": sign-in attempts of any kind
        assert sign_in(client, f"someone-{n}", "pw").status_code == 200
    response = sign_in(client, "someone", "pw")
    assert response.status_code == 429
    assert "Too many attempts" in response.content.decode()
    assert "Video Agent Portal" in response.content.decode()
