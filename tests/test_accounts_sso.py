"""Single sign-on is ready for an operator to turn on by settings alone (docs/deploy.md):
OpenID Connect through allauth.socialaccount, nothing fetched at start, off by default."""

from __future__ import annotations

import json

from django.conf import settings

from tests.support import run_portal

OIDC = {
    "openid_connect": {
        "APPS": [
            {
                "provider_id": "corp",
                "name": "Corporate SSO",
                "client_id": "portal",
                "secret": "oidc-client-secret-5521",
                # .invalid never resolves: a fetch at start would fail the start.
                "settings": {"server_url": "https://sso.corp.invalid/realms/main"},
            }
        ]
    }
}

SCRIPT = """
import django
django.setup()
from django.conf import settings
from django.core.management import call_command
from django.test import Client
from django.urls import reverse

call_command("migrate", verbosity=0)
page = Client().get(reverse("account_login")).content.decode()
print("button:", "Corporate SSO" in page)
print("login url:", reverse("openid_connect_login", kwargs={"provider_id": "corp"}))
print("form-action:", settings.CONTENT_SECURITY_POLICY["DIRECTIVES"]["form-action"])
"""


def test_it_has_no_single_sign_on_by_default():
    assert "allauth.socialaccount" not in settings.INSTALLED_APPS
    assert settings.SOCIALACCOUNT_PROVIDERS == {}


def test_it_turns_on_openid_connect_from_the_environment_alone():
    env = {
        "SSO_PROVIDERS": "openid_connect",
        "SSO_PROVIDERS_JSON": json.dumps(OIDC),
        "DATABASE_URL": "sqlite://:memory:",
    }
    check = run_portal(["manage.py", "check"], **env)
    assert check.returncode == 0, check.stderr
    result = run_portal(["-c", SCRIPT], **env)
    assert result.returncode == 0, result.stderr
    assert "button: True" in result.stdout
    assert "login url: /accounts/oidc/corp/login/" in result.stdout
    # The sign-in form posts here and is redirected to the provider: CSP lets it.
    assert "https://sso.corp.invalid" in result.stdout
    assert "oidc-client-secret-5521" not in result.stdout + result.stderr


def test_it_names_unreadable_provider_settings_in_production():
    result = run_portal(
        ["manage.py", "check"],
        DJANGO_DEBUG="false",
        SSO_PROVIDERS="openid_connect",
        SSO_PROVIDERS_JSON="{not json",
    )
    assert result.returncode != 0
    assert "SSO_PROVIDERS_JSON is not valid JSON" in result.stderr
