from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Role, Team
from integrations.models import ApiToken
from integrations.services import token_authenticate, token_create
from tests.apiclient import ApiClient


def test_it_makes_a_token_in_the_portal_shows_it_once_and_keeps_only_a_hash(owner_client, team):
    response = owner_client.post(reverse("integrations:token_create"), {"name": "Shop backend"})
    assert response.status_code == 200
    raw = response.context["new_token"]
    assert raw.startswith("vap_") and raw in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    token = ApiToken.objects.get()
    assert (token.name, token.team, token.prefix) == ("Shop backend", team, raw[:12])
    assert raw not in (token.hashed, token.prefix) and len(token.hashed) == 64
    # Never again: the list shows the prefix only.
    page = owner_client.get(reverse("integrations:index")).content.decode()
    assert raw not in page and f"{token.prefix}…" in page


def test_it_names_the_field_when_the_token_name_is_blank(owner_client):
    response = owner_client.post(reverse("integrations:token_create"), {"name": "  "})
    assert "name" in response.context["form"].errors
    assert not ApiToken.objects.exists()


def test_it_authenticates_a_token_and_records_when_it_was_used(api, api_token):
    token = ApiToken.objects.get()
    assert token.last_used_at is None
    assert api.get("/templates").status_code == 200
    token.refresh_from_db()
    assert timezone.now() - token.last_used_at < timedelta(seconds=5)


def test_it_writes_last_used_at_at_most_once_a_minute(api, api_token):
    api.get("/templates")
    token = ApiToken.objects.get()
    earlier = token.last_used_at - timedelta(seconds=30)
    ApiToken.objects.filter(pk=token.pk).update(last_used_at=earlier)
    api.get("/templates")
    token.refresh_from_db()
    assert token.last_used_at == earlier


def test_it_answers_401_json_without_a_token(client):
    response = ApiClient(client, None).get("/templates")
    assert response.status_code == 401
    assert response.json()["code"] == "unauthorized"
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    ["Bearer vap_unknownunknownunknownunknown", "Bearer nope", "Basic dXNlcjpwdw==", "Bearer "],
)
def test_it_answers_401_json_for_a_bad_or_unknown_token(client, api_token, header):
    response = client.get("/api/v1/templates", headers={"Authorization": header})
    assert response.status_code == 401
    assert response["Content-Type"].startswith("application/json")
    assert set(response.json()) == {"detail", "code"}


def test_it_refuses_a_token_that_differs_after_the_prefix(client, api_token):
    forged = api_token[:12] + "x" * (len(api_token) - 12)
    response = client.get("/api/v1/templates", headers={"Authorization": f"Bearer {forged}"})
    assert response.status_code == 401


def test_it_revokes_a_token_in_the_portal_and_it_stops_working_at_once(
    owner_client, api, api_token
):
    token = ApiToken.objects.get()
    owner_client.post(reverse("integrations:token_revoke", args=[token.pk]))
    token.refresh_from_db()
    assert token.revoked_at is not None
    response = api.get("/templates")
    assert response.status_code == 401
    assert "revoked" in response.json()["detail"]


def test_it_does_not_let_another_user_revoke_a_token(client, outsider, api_token):
    token = ApiToken.objects.get()
    client.force_login(outsider)
    assert client.post(reverse("integrations:token_revoke", args=[token.pk])).status_code == 404
    token.refresh_from_db()
    assert token.revoked_at is None


def test_it_lists_only_the_users_own_tokens(client, outsider, api_token):
    client.force_login(outsider)
    assert list(client.get(reverse("integrations:index")).context["tokens"]) == []


def test_it_stops_a_token_whose_user_left_its_team(client, teammate, team):
    raw = token_create(user=teammate, team=team, name="mate")[1]
    assert ApiClient(client, raw).get("/templates").status_code == 200
    Membership.objects.filter(team=team, user=teammate).delete()
    assert ApiClient(client, raw).get("/templates").status_code == 401


def test_it_stops_a_token_of_a_deactivated_user(client, owner, api):
    owner.is_active = False
    owner.save()
    assert api.get("/templates").status_code == 401


def test_it_refuses_to_make_a_token_for_a_team_the_user_is_not_in(owner, outsider):
    from integrations.services import TokenInputError

    with pytest.raises(TokenInputError) as caught:
        token_create(user=owner, team=outsider.personal_team, name="x")
    assert caught.value.field == "team"


def test_it_makes_a_token_with_the_command_and_prints_it_once(owner, team):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_token", "owner", "--name", "CI", stdout=out, stderr=err)
    raw = out.getvalue().strip()
    token = token_authenticate(raw=raw)
    assert token is not None and (token.name, token.team, token.user) == ("CI", team, owner)
    assert raw not in err.getvalue()


def test_it_makes_a_token_for_another_team_with_the_command(owner):
    shared = Team.objects.create(name="Studio")
    Membership.objects.create(team=shared, user=owner, role=Role.MEMBER)
    out = io.StringIO()
    call_command("create_token", "owner", "--team", "Studio", stdout=out, stderr=io.StringIO())
    assert token_authenticate(raw=out.getvalue().strip()).team == shared


def test_it_names_the_problem_when_the_command_gets_a_bad_user_or_team(owner, outsider):
    with pytest.raises(CommandError, match="no user"):
        call_command("create_token", "nobody", stdout=io.StringIO(), stderr=io.StringIO())
    with pytest.raises(CommandError, match="not a member"):
        call_command(
            "create_token",
            "owner",
            "--team",
            str(outsider.personal_team.pk),
            stdout=io.StringIO(),
            stderr=io.StringIO(),
        )
    assert not ApiToken.objects.exists()


def test_it_keeps_tokens_out_of_log_lines():
    from portal.logging import redact

    raw = "vap_" + "A1b2C3d4" * 5
    assert raw not in redact(f"GET /api/v1/videos Authorization: Bearer {raw}")
    assert raw not in redact(f"token={raw}")


def test_it_keeps_tokens_working_while_the_secret_key_rolls_over(settings, api, api_token):
    token = ApiToken.objects.get()
    old_hash = token.hashed
    settings.SECRET_KEY_FALLBACKS = [settings.SECRET_KEY]
    settings.SECRET_KEY = "a-brand-new-secret-key-for-this-site-0123456789"
    assert api.get("/templates").status_code == 200
    token.refresh_from_db()
    assert token.hashed != old_hash  # re-hashed under the new key on first use
    settings.SECRET_KEY_FALLBACKS = []
    assert api.get("/templates").status_code == 200


def test_it_authenticates_a_request_in_one_query(api_token, django_assert_num_queries):
    from integrations.services import token_authenticate

    assert token_authenticate(raw=api_token) is not None  # last_used_at written now
    with django_assert_num_queries(1):
        token = token_authenticate(raw=api_token)
    # What the endpoints read comes with it.
    with django_assert_num_queries(0):
        assert token is not None and token.user.is_active and token.team.name
