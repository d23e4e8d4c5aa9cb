"""The vault pages (/accounts/keys/): add, list (masked), delete, and secrets never shown."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from accounts import vault
from accounts.models import KeyStatus, ProviderKey
from tests.conftest import SECRET
from videos import services as video_services
from videos.models import JobStatus
from videos.services import key_store

KEYS = reverse("videos:keys")
NEW_SECRET = "sk-api-brand-new-secret-4321"


def key_data(**overrides) -> dict:
    data = {"label": "Work", "provider": "minimax", "region": "global", "secret": NEW_SECRET}
    data.update(overrides)
    return data


def delete_url(key: ProviderKey) -> str:
    return reverse("videos:key_delete", args=[key.pk])


def page_text(response) -> str:
    return response.content.decode()


# --- adding -------------------------------------------------------------------------------------


def test_it_offers_every_provider_in_the_key_form(owner_client):
    page = page_text(owner_client.get(KEYS))
    assert 'value="minimax"' in page and 'value="useapi"' in page
    assert "useapi.net (MiniMax proxy)" in page


def test_it_stores_a_useapi_token_with_its_options(owner_client, owner, enqueued):
    token = "user:77-page-token_abcd"
    data = key_data(provider="useapi", region="", secret=token, account="acct7", max_jobs="2")
    response = owner_client.post(KEYS, data)
    assert response.status_code == 302
    key = ProviderKey.objects.get(user=owner)
    assert (key.provider, key.region, key.account, key.max_jobs) == ("useapi", "global", "acct7", 2)
    page = page_text(owner_client.get(KEYS))
    assert token not in page and "useapi.net (MiniMax proxy)" in page and "acct7" in page


def test_it_shows_a_useapi_shape_error_next_to_the_secret(owner_client, owner):
    response = owner_client.post(KEYS, key_data(provider="useapi", region="", secret=NEW_SECRET))
    assert response.status_code == 200
    assert "user:&lt;number&gt;-&lt;string&gt;" in page_text(response)
    assert NEW_SECRET not in page_text(response)
    assert not ProviderKey.objects.exists()


def test_it_stores_a_key_encrypted_with_its_last4(owner_client, owner):
    response = owner_client.post(KEYS, key_data())
    assert response.status_code == 302
    assert response["Location"] == KEYS
    key = ProviderKey.objects.get(user=owner)
    key.refresh_from_db()
    assert key.label == "Work"
    assert key.provider == "minimax" and key.region == "global"
    assert key.status == KeyStatus.ACTIVE
    assert key.last4 == "4321"
    assert NEW_SECRET not in key.secret_encrypted
    assert vault.decrypt(key.secret_encrypted) == NEW_SECRET


def test_it_stores_a_china_key(owner_client, owner):
    owner_client.post(KEYS, key_data(region="cn"))
    assert ProviderKey.objects.get(user=owner).region == "cn"


def test_it_trims_the_secret_before_storing_it(owner_client, owner):
    owner_client.post(KEYS, key_data(secret=f"  {NEW_SECRET}\n"))
    key = ProviderKey.objects.get(user=owner)
    assert vault.decrypt(key.secret_encrypted) == NEW_SECRET
    assert key.last4 == "4321"


def test_it_lists_keys_only_in_masked_form(owner_client, owner):
    response = owner_client.post(KEYS, key_data(), follow=True)
    body = page_text(response)
    assert response.status_code == 200
    assert "<strong>Work</strong>" in body
    assert "••••4321" in body
    assert "…4321" in body  # the flash message
    assert NEW_SECRET not in body
    assert NEW_SECRET[:-4] not in body
    key = ProviderKey.objects.get(user=owner)
    assert key.secret_encrypted not in body


@pytest.mark.parametrize(
    ("overrides", "field"),
    [
        ({"label": ""}, "label"),
        ({"label": "   "}, "label"),
        ({"label": "x" * 101}, "label"),
        ({"secret": "sk-1234"}, "secret"),
        ({"secret": ""}, "secret"),
        ({"secret": "sk-api-with space-12345678"}, "secret"),
        ({"secret": "sk-api-with\ttab-12345678"}, "secret"),
        ({"region": "mars"}, "region"),
        ({"provider": "openai"}, "provider"),
    ],
)
def test_it_names_the_bad_field_and_stores_nothing(owner_client, owner, overrides, field):
    data = key_data(**overrides)
    response = owner_client.post(KEYS, data)
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert field in errors
    assert errors[field][0] in page_text(response).replace("&#x27;", "'")
    assert not ProviderKey.objects.filter(user=owner).exists()
    if data["secret"].strip():
        assert data["secret"].strip() not in page_text(response)


def test_it_refuses_a_duplicate_label_and_keeps_the_first_key(owner_client, owner, key):
    response = owner_client.post(KEYS, key_data(label="Main"))
    assert response.status_code == 200
    errors = response.context["form"].errors
    assert "label" in errors
    assert "already have a key with this label" in errors["label"][0]
    assert "already have a key with this label" in page_text(response)
    [stored] = ProviderKey.objects.filter(user=owner)
    assert stored.pk == key.pk
    assert vault.decrypt(stored.secret_encrypted) == SECRET
    assert NEW_SECRET not in page_text(response)


def test_it_lets_two_users_use_the_same_label(client, outsider, key):
    client.force_login(outsider)
    client.post(KEYS, key_data(label="Main"))
    assert ProviderKey.objects.filter(label="Main").count() == 2


@pytest.mark.parametrize(
    "overrides",
    [{"label": ""}, {"label": "Main"}, {"region": "mars"}, {"label": "x" * 101}],
)
def test_it_never_echoes_the_secret_after_a_form_error(owner_client, key, overrides):
    response = owner_client.post(KEYS, key_data(**overrides))
    assert response.status_code == 200
    assert response.context["form"].errors
    body = page_text(response)
    assert NEW_SECRET not in body
    assert SECRET not in body
    assert 'name="secret"' in body
    assert 'value="sk-' not in body


# --- deleting -------------------------------------------------------------------------------


def test_it_deletes_an_own_key(owner_client, key):
    response = owner_client.post(delete_url(key), follow=True)
    assert response.status_code == 200
    assert not ProviderKey.objects.filter(pk=key.pk).exists()
    assert "deleted" in page_text(response)


def test_it_refuses_to_delete_a_key_an_unfinished_job_uses(owner_client, key, make_job):
    job = make_job()
    response = owner_client.post(delete_url(key), follow=True)
    assert response.status_code == 200
    assert "unfinished job" in page_text(response)
    key.refresh_from_db()  # still there
    job.refresh_from_db()
    assert job.key_id == key.pk
    assert job.status == JobStatus.QUEUED


def test_it_deletes_a_key_whose_jobs_are_finished(owner_client, key, make_job):
    job = make_job()
    video_services.job_cancel(job=job)
    owner_client.post(delete_url(key))
    assert not ProviderKey.objects.filter(pk=key.pk).exists()
    job.refresh_from_db()
    assert job.status == JobStatus.CANCELED
    assert job.key_id is None


def test_it_answers_404_to_deleting_another_users_key(client, outsider, key):
    client.force_login(outsider)
    response = client.post(delete_url(key))
    assert response.status_code == 404
    key.refresh_from_db()  # still there


def test_it_answers_404_to_a_teammate_deleting_the_owners_key(client, teammate, key):
    # Vault keys belong to one user, not to the team.
    client.force_login(teammate)
    assert client.post(delete_url(key)).status_code == 404
    assert ProviderKey.objects.filter(pk=key.pk).exists()


def test_it_does_not_list_another_users_keys(client, outsider, key):
    client.force_login(outsider)
    response = client.get(KEYS)
    body = page_text(response)
    assert response.context["own_rows"] == [] and response.context["shared_rows"] == []
    assert "<strong>Main</strong>" not in body
    assert "5678" not in body
    assert delete_url(key) not in body


def test_it_refuses_get_on_delete(owner_client, key):
    assert owner_client.get(delete_url(key)).status_code == 405
    assert ProviderKey.objects.filter(pk=key.pk).exists()


def test_it_answers_404_to_deleting_a_missing_key(owner_client, key):
    assert owner_client.post(reverse("videos:key_delete", args=[key.pk + 999])).status_code == 404


# --- the secret is never shown again ------------------------------------------------------------


def test_it_never_shows_the_secret_on_the_keys_page(owner_client, key):
    body = page_text(owner_client.get(KEYS))
    assert "••••5678" in body
    assert SECRET not in body
    assert SECRET[:-4] not in body


def test_it_never_shows_the_secret_of_a_rejected_key(owner_client, key):
    ProviderKey.objects.filter(pk=key.pk).update(
        status=KeyStatus.INVALID, status_reason="The upstream says the API key is invalid."
    )
    body = page_text(owner_client.get(KEYS))
    assert "Invalid" in body
    assert SECRET not in body


@pytest.fixture
def admin_client_(client, db):
    admin = User.objects.create_superuser("admin", "admin@example.com", "pw-admin-123")
    client.force_login(admin)
    return client


def test_it_never_shows_the_secret_in_the_admin(admin_client_, key):
    pages = [
        reverse("admin:accounts_providerkey_changelist"),
        reverse("admin:accounts_providerkey_change", args=[key.pk]),
        reverse("admin:accounts_providerkey_changelist") + "?q=Main",
        reverse("admin:accounts_providerkey_history", args=[key.pk]),
    ]
    key.refresh_from_db()
    for path in pages:
        response = admin_client_.get(path)
        assert response.status_code == 200, path
        body = page_text(response)
        assert SECRET not in body, path
        assert key.secret_encrypted not in body, path
    change = page_text(admin_client_.get(pages[1]))
    assert "••••5678" in change
    assert 'name="secret_encrypted"' not in change
    assert "••••5678" in page_text(admin_client_.get(pages[0]))


def test_it_keeps_the_secret_when_the_admin_saves_a_key(admin_client_, key):
    before = ProviderKey.objects.get(pk=key.pk).secret_encrypted
    response = admin_client_.post(
        reverse("admin:accounts_providerkey_change", args=[key.pk]),
        {"label": "Renamed", "status": "active", "status_reason": ""},
    )
    assert response.status_code == 302
    key.refresh_from_db()
    assert key.label == "Renamed"
    assert key.secret_encrypted == before
    assert vault.decrypt(key.secret_encrypted) == SECRET


def test_it_offers_no_admin_add_page_for_keys(admin_client_):
    response = admin_client_.get(reverse("admin:accounts_providerkey_add"))
    assert response.status_code == 403


def test_it_shows_the_masked_form_in_str(key):
    assert SECRET not in str(key)
    assert SECRET not in repr(key)
    assert str(key) == "Main (…5678)"


def test_it_does_not_store_a_key_through_the_service_with_bad_input(owner):
    from videos.errors import KeyInputError

    with pytest.raises(KeyInputError) as excinfo:
        key_store(user=owner, label="Main", secret="sk-api with space")
    assert excinfo.value.field == "secret"
    assert "sk-api with space" not in str(excinfo.value)
    assert not ProviderKey.objects.exists()
