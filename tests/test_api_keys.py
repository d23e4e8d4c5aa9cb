from __future__ import annotations

import pytest

from accounts.models import ProviderKey
from integrations.models import ApiToken
from integrations.services import token_revoke
from tests.conftest import SECRET
from videos.services import key_store

NEW_SECRET = "sk-api-brand-new-secret-4321"


def test_it_stores_a_key_encrypted_and_answers_it_masked(api, owner):
    response = api.post("/keys", {"provider": "minimax", "label": "Prod", "secret": NEW_SECRET})
    assert response.status_code == 201
    body = response.json()
    assert set(body) == {
        "id",
        "provider",
        "region",
        "label",
        "last4",
        "status",
        "account",
        "max_jobs",
        "owned",
        "shared",
        "shared_with",
        "max_concurrent",
        "rpm",
        "in_flight",
        "cooling_until",
        "cooling_reason",
        "errors_24h",
        "last_used_at",
        "last_checked_at",
        "last_check_ok",
        "created_at",
    }
    assert (body["label"], body["last4"], body["status"]) == ("Prod", "4321", "active")
    assert NEW_SECRET not in response.content.decode()
    key = ProviderKey.objects.get(pk=body["id"])
    assert key.user == owner and NEW_SECRET not in key.secret_encrypted


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"provider": "minimax", "label": "Prod", "secret": "short"}, "secret"),
        ({"provider": "minimax", "label": "Prod", "secret": "sk-with space-1234"}, "secret"),
        ({"provider": "minimax", "label": "   ", "secret": NEW_SECRET}, "label"),
        ({"provider": "openai", "label": "Prod", "secret": NEW_SECRET}, "provider"),
        ({"provider": "minimax", "region": "mars", "label": "P", "secret": NEW_SECRET}, "region"),
        ({"provider": "minimax", "label": "Prod"}, "secret"),
        ({"provider": "minimax", "label": "x" * 101, "secret": NEW_SECRET}, "label"),
        ({"provider": "minimax", "label": "a\u0000b", "secret": NEW_SECRET}, "label"),
        ({"label": "Prod", "secret": NEW_SECRET, "secrett": "typo"}, "secrett"),
    ],
)
def test_it_names_the_field_for_bad_input_and_stores_nothing(api, body, field):
    response = api.post("/keys", body)
    assert response.status_code == 422
    error = response.json()
    assert error["code"] == "invalid" and error["field"] == field
    assert field in error["detail"]
    assert NEW_SECRET not in response.content.decode()
    assert not ProviderKey.objects.exists()


def test_it_refuses_a_second_key_with_the_same_label(api, key):
    response = api.post("/keys", {"provider": "minimax", "label": "Main", "secret": NEW_SECRET})
    assert response.status_code == 422 and response.json()["field"] == "label"
    assert ProviderKey.objects.count() == 1


def test_it_answers_400_for_a_body_that_is_not_json(api):
    response = api.client.post(
        "/api/v1/keys",
        data="{not json",
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code == 400 and response.json()["code"] == "bad_request"


def test_it_lists_only_the_callers_keys_masked(api, key, outsider):
    key_store(user=outsider, label="Theirs", secret="sk-someone-else-9999")
    response = api.get("/keys")
    assert response.status_code == 200
    items = response.json()["items"]
    assert [(k["label"], k["last4"]) for k in items] == [("Main", "5678")]
    assert SECRET not in response.content.decode()


def test_it_deletes_a_key(api, key):
    response = api.delete(f"/keys/{key.pk}")
    assert response.status_code == 204
    assert not ProviderKey.objects.exists()


def test_it_answers_404_for_another_users_key_and_keeps_it(outsider_api, key):
    response = outsider_api.delete(f"/keys/{key.pk}")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
    assert ProviderKey.objects.filter(pk=key.pk).exists()


def test_it_answers_422_for_an_id_out_of_range(api):
    response = api.delete(f"/keys/{2**70}")
    assert response.status_code == 422 and response.json()["field"] == "key_id"


def test_it_refuses_to_delete_a_key_an_unfinished_job_needs(api, key, make_job):
    make_job()
    response = api.delete(f"/keys/{key.pk}")
    assert response.status_code == 409 and response.json()["code"] == "key_in_use"
    assert ProviderKey.objects.filter(pk=key.pk).exists()


@pytest.mark.parametrize("call", ["list", "create", "delete"])
def test_it_answers_401_without_a_token_or_with_a_revoked_one(api, key, call):
    def run(client):
        if call == "list":
            return client.get("/keys")
        if call == "create":
            return client.post("/keys", {"label": "X", "secret": NEW_SECRET})
        return client.delete(f"/keys/{key.pk}")

    assert run(api.as_token(None)).status_code == 401
    token_revoke(token=ApiToken.objects.get())
    assert run(api).status_code == 401
    assert list(ProviderKey.objects.values_list("label", flat=True)) == ["Main"]


# --- The key pool: sharing, limits, health ------------------------------------------------------


@pytest.fixture
def teammate_api(client, teammate, team):
    from integrations.services import token_create
    from tests.apiclient import ApiClient

    return ApiClient(client, token_create(user=teammate, team=team, name="mate")[1])


def test_it_shares_a_new_key_with_the_tokens_team_and_lists_it_to_teammates(
    api, teammate_api, outsider_api, team
):
    body = {"label": "Team", "secret": NEW_SECRET, "shared": True, "max_concurrent": 3, "rpm": 9}
    created = api.post("/keys", body).json()
    assert (created["shared"], created["owned"], created["max_concurrent"], created["rpm"]) == (
        True,
        True,
        3,
        9,
    )
    assert ProviderKey.objects.get().shared_with == team
    (listed,) = teammate_api.get("/keys").json()["items"]
    assert (listed["id"], listed["owned"], listed["shared"]) == (created["id"], False, True)
    assert NEW_SECRET not in teammate_api.get("/keys").content.decode()
    assert outsider_api.get("/keys").json()["items"] == []


def test_it_shows_the_pools_defaults_for_a_key_without_limits(api, key, settings):
    (item,) = api.get("/keys").json()["items"]
    assert (item["max_concurrent"], item["rpm"], item["in_flight"]) == (
        settings.MINIMAX_KEY_MAX_CONCURRENT,
        settings.MINIMAX_KEY_RPM,
        0,
    )
    assert item["cooling_until"] is None and item["errors_24h"] == 0


def test_it_changes_a_key_with_patch(api, key):
    response = api.client.patch(
        f"/api/v1/keys/{key.pk}",
        data='{"label": "Renamed", "max_concurrent": 4, "rpm": null, "shared": true}',
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code == 200
    assert (response.json()["label"], response.json()["max_concurrent"]) == ("Renamed", 4)
    key.refresh_from_db()
    assert (key.label, key.max_concurrent, key.rpm, key.shared_with_id) == (
        "Renamed",
        4,
        None,
        key.user.personal_team.pk,
    )


def patch(api, key_id, body: str):
    return api.client.patch(
        f"/api/v1/keys/{key_id}",
        data=body,
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
    )


def test_it_lets_only_owners_change_and_team_admins_unshare(api, teammate_api, key, team, teammate):
    from accounts.models import Membership, Role
    from videos.services import key_update

    key_update(key=key, by=key.user, team=team, shared=True)
    assert patch(teammate_api, key.pk, '{"max_concurrent": 9}').status_code == 403
    assert patch(teammate_api, key.pk, '{"shared": false}').status_code == 403
    assert teammate_api.delete(f"/keys/{key.pk}").status_code == 403
    Membership.objects.filter(user=teammate).update(role=Role.ADMIN)
    assert patch(teammate_api, key.pk, '{"label": "mine now"}').status_code == 403
    response = patch(teammate_api, key.pk, '{"shared": false}')
    assert response.status_code == 200 and response.json()["shared"] is False
    assert ProviderKey.objects.get().label == "Main"
    # Unshared, it is the owner's alone again: the teammate no longer sees it.
    assert patch(teammate_api, key.pk, '{"shared": true}').status_code == 404


def test_it_refuses_bad_limits_by_field(api, key):
    for body, field in (('{"max_concurrent": 0}', "max_concurrent"), ('{"rpm": -1}', "rpm")):
        response = patch(api, key.pk, body)
        assert response.status_code == 422 and response.json()["field"] == field
    assert patch(api, key.pk, '{"owner": 1}').status_code == 422


def test_it_answers_404_to_an_outsider_changing_or_testing_a_key(outsider_api, key):
    assert patch(outsider_api, key.pk, '{"label": "x"}').status_code == 404
    assert outsider_api.post(f"/keys/{key.pk}/test").status_code == 404


def test_it_tests_a_key_with_a_harmless_call(api, owner, sandbox):
    good = key_store(user=owner, label="Good", secret="sk-api-test-good-1111")
    bad = key_store(user=owner, label="Bad", secret="sk-api-test-invalid-2222")
    response = api.post(f"/keys/{good.pk}/test")
    assert response.status_code == 200 and response.json()["ok"] is True
    assert response.json()["key"]["last_check_ok"] is True
    response = api.post(f"/keys/{bad.pk}/test")
    assert response.json()["ok"] is False and response.json()["key"]["status"] == "invalid"
    assert sandbox.tasks() == []


def test_it_says_a_key_is_shared_whichever_team_the_token_is_for(client, owner, team, key):
    from accounts.services import team_create
    from integrations.services import token_create
    from tests.apiclient import ApiClient
    from videos.services import key_update

    studio = team_create(name="Studio", owner=owner)
    key_update(key=key, by=owner, team=studio, shared=True)
    personal = ApiClient(client, token_create(user=owner, team=team, name="personal")[1])
    (listed,) = personal.get("/keys").json()["items"]
    assert listed["shared"] is True
    assert listed["shared_with"] == {"id": studio.pk, "name": "Studio"}


def test_it_lets_only_a_keys_owner_test_it(teammate_api, key, team, sandbox):
    from videos.services import key_update

    key_update(key=key, by=key.user, team=team, shared=True)
    response = teammate_api.post(f"/keys/{key.pk}/test")
    assert response.status_code == 403 and "owner" in response.json()["detail"]
    assert not key.events.exists()
