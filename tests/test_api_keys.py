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
