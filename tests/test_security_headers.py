"""Security headers: a Content-Security-Policy without inline scripts, Referrer-Policy,
X-Frame-Options; and pages that keep working under them (no inline script, admin, API docs)."""

from __future__ import annotations

import re

import pytest
from allauth.account.models import EmailAddress
from django.contrib.auth.models import User
from django.urls import reverse


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    directives = {}
    for part in header.split(";"):
        name, *values = part.split()
        directives[name] = values
    return directives


def test_it_sends_a_policy_that_allows_no_inline_script(owner_client):
    response = owner_client.get(reverse("videos:gallery"))
    csp = policy(response)
    assert csp["script-src"] == ["'self'"]
    assert csp["default-src"] == ["'self'"]
    assert csp["style-src"] == ["'self'"]
    assert csp["object-src"] == ["'none'"]
    assert csp["frame-ancestors"] == ["'none'"]
    assert csp["base-uri"] == ["'self'"]
    assert "'unsafe-eval'" not in response["Content-Security-Policy"]
    assert "'unsafe-inline'" not in " ".join(csp["script-src"] + csp["default-src"])


def test_it_sends_the_other_headers(client, db):
    response = client.get(reverse("account_login"))
    assert response.status_code == 200
    assert response["Referrer-Policy"] == "same-origin"
    assert response["X-Frame-Options"] == "DENY"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert "Content-Security-Policy" in response


def test_it_allows_the_bucket_for_videos_and_images_when_s3_is_used():
    # The policy is made at start from the environment; see it as production would.
    from tests.support import run_portal

    code = (
        "import django; django.setup(); from django.conf import settings; "
        "d = settings.CONTENT_SECURITY_POLICY['DIRECTIVES']; print(d['media-src'], d['img-src'])"
    )
    result = run_portal(
        ["-c", code], S3_BUCKET="videos", S3_ENDPOINT_URL="https://minio.internal:9000/x"
    )
    assert result.returncode == 0, result.stderr
    assert "'https://minio.internal:9000'" in result.stdout
    assert run_portal(["-c", code], S3_BUCKET="videos").stdout.count("*.amazonaws.com") == 2


# --- the pages keep working ----------------------------------------------------------------

INLINE_HANDLER = re.compile(r"<[^>]+\son[a-z]+\s*=", re.IGNORECASE)
SCRIPT_TAG = re.compile(r"<script\b([^>]*)>", re.IGNORECASE)


def inline_scripts(html: str) -> list[str]:
    """Script tags that would run inline code: no src, and not a JSON data block."""
    return [
        attrs
        for attrs in SCRIPT_TAG.findall(html)
        if "src=" not in attrs and 'type="application/json"' not in attrs
    ]


@pytest.fixture
def pages(owner_client, make_job, team):
    job = make_job()
    return {
        "gallery": reverse("videos:gallery"),
        "job": reverse("videos:job_detail", args=[job.id]),
        "jobs": reverse("videos:job_list"),
        "keys": reverse("videos:keys"),
        "team": reverse("accounts:team_detail", args=[team.pk]),
        "teams": reverse("accounts:teams"),
        "usage": reverse("billing:usage"),
        "integrations": reverse("integrations:index"),
        "two-factor": reverse("mfa_index"),
        "password": reverse("account_change_password"),
    }


def test_it_renders_the_main_pages_without_inline_script(owner_client, pages):
    for name, url in pages.items():
        response = owner_client.get(url)
        assert response.status_code == 200, name
        html = response.content.decode()
        assert inline_scripts(html) == [], name
        assert INLINE_HANDLER.findall(html) == [], name
        assert "javascript:" not in html, name


def test_it_shows_the_invite_link_without_an_inline_handler(owner_client, team):
    owner_client.post(
        reverse("accounts:team_invite", args=[team.pk]),
        {"email": "x@example.com", "role": "member"},
    )
    html = owner_client.get(reverse("accounts:team_detail", args=[team.pk])).content.decode()
    assert "data-select-on-click" in html and "js/actions.js" in html
    assert INLINE_HANDLER.findall(html) == []


def test_it_renders_the_signed_out_pages_without_inline_script(client, db):
    for name in ("account_login", "account_signup", "account_reset_password"):
        html = client.get(reverse(name)).content.decode()
        assert inline_scripts(html) == [] and INLINE_HANDLER.findall(html) == [], name


def test_it_keeps_the_admin_working(client, db):
    staff = User.objects.create_superuser("root", "root@example.com", "pw-root-123")
    EmailAddress.objects.create(user=staff, email=staff.email, primary=True, verified=True)
    # The admin signs in through the portal's throttled sign-in, then comes back.
    response = client.get("/admin/login/?next=/admin/")
    assert response.status_code == 302
    assert response["Location"] == reverse("account_login") + "?next=%2Fadmin%2F"
    response = client.post(
        reverse("account_login"), {"login": "root", "password": "pw-root-123", "next": "/admin/"}
    )
    assert response["Location"] == "/admin/"
    page = client.get("/admin/")
    assert page.status_code == 200
    assert inline_scripts(page.content.decode()) == []
    for path in (
        "/admin/accounts/team/",
        "/admin/auth/user/",
        f"/admin/auth/user/{staff.pk}/change/",
    ):
        page = client.get(path)
        assert page.status_code == 200, path
        assert inline_scripts(page.content.decode()) == [], path


def test_it_refuses_the_admin_to_a_signed_in_non_staff_user(owner_client):
    assert owner_client.get("/admin/login/").status_code == 403
    assert owner_client.get("/admin/").status_code == 302  # to the admin's (guarded) login


def test_it_keeps_the_api_docs_working(client, db):
    response = client.get("/api/v1/docs")
    assert response.status_code == 200
    html = response.content.decode()
    # ninja's Swagger UI comes from our static files, its settings as a JSON block.
    assert inline_scripts(html) == []
    assert "ninja/swagger-ui-bundle.js" in html
    assert policy(response)["script-src"] == ["'self'"]


def test_it_keeps_every_template_free_of_inline_script():
    # Pages the tests above do not render (the statement's Print button was one) would break
    # silently under the policy: read every template's source instead.
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    offenders = []
    for folder in ("templates", "accounts/templates", "videos/templates", "billing/templates"):
        for path in (root / folder).rglob("*.html"):
            source = path.read_text()
            if inline_scripts(source) or INLINE_HANDLER.findall(source) or "javascript:" in source:
                offenders.append(str(path.relative_to(root)))
    assert offenders == []
