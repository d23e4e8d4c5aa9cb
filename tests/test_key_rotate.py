"""Replacing a key's secret (after rotating it at the upstream): the owner's act, by page and
API; label, limits and sharing stay; refused while an unfinished job needs the key; audited."""

from __future__ import annotations

from django.urls import reverse

from accounts.models import AuditEvent, KeyStatus, ProviderKey
from integrations.services import token_create
from tests.conftest import SECRET
from videos import services
from videos.models import Job, JobStatus

NEW = "sk-rotated-secret-9876"


def test_it_replaces_the_secret_and_keeps_the_rest(
    api, owner, team, key, enqueued, django_capture_on_commit_callbacks
):
    services.key_update(key=key, by=owner, team=team, shared=True, max_concurrent=3)
    ProviderKey.objects.filter(pk=key.pk).update(status=KeyStatus.INVALID, status_reason="rejected")
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(f"/keys/{key.pk}/rotate", {"secret": NEW})
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["last4"], body["status"], body["shared"], body["max_concurrent"]) == (
        "9876",
        "active",
        True,
        3,
    )
    assert NEW not in response.content.decode()
    key.refresh_from_db()
    from accounts import vault

    assert vault.decrypt(key.secret_encrypted) == NEW and SECRET not in key.secret_encrypted
    assert ("videos.tasks.check_key", (str(key.pk),), {}) in enqueued  # checked again at once
    (row,) = AuditEvent.objects.filter(action="key.rotated")
    assert row.actor == owner and "9876" in row.target and NEW not in str(row.data)


def test_it_refuses_a_bad_secret_and_changes_nothing(api, key):
    before = ProviderKey.objects.get(pk=key.pk).secret_encrypted
    for body, field in [({"secret": "sk-with space-1"}, "secret"), ({"secret": ""}, "secret"),
                        ({"secret": NEW, "label": "x"}, "label"), ({}, "secret")]:  # fmt: skip
        response = api.post(f"/keys/{key.pk}/rotate", body)
        assert response.status_code == 422, (body, response.content)
        assert response.json()["field"] == field
    assert ProviderKey.objects.get(pk=key.pk).secret_encrypted == before
    assert not AuditEvent.objects.filter(action="key.rotated").exists()


def test_it_refuses_while_an_unfinished_job_needs_the_key(api, key, make_job):
    job = make_job()
    Job.objects.filter(pk=job.pk).update(status=JobStatus.PROCESSING)
    response = api.post(f"/keys/{key.pk}/rotate", {"secret": NEW})
    assert response.status_code == 409 and "unfinished" in response.json()["detail"]
    assert ProviderKey.objects.get(pk=key.pk).last4 != "9876"


def test_it_lets_only_the_owner_replace_it(client, api, key, owner, team, teammate, outsider_api):
    services.key_update(key=key, by=owner, team=team, shared=True)
    mate = api.as_token(token_create(user=teammate, team=team, name="mate")[1])
    assert mate.post(f"/keys/{key.pk}/rotate", {"secret": NEW}).status_code == 403
    assert outsider_api.post(f"/keys/{key.pk}/rotate", {"secret": NEW}).status_code == 404
    client.force_login(teammate)
    assert (
        client.post(reverse("videos:key_rotate", args=[key.pk]), {"secret": NEW}).status_code == 404
    )
    assert ProviderKey.objects.get(pk=key.pk).last4 != "9876"


def test_it_replaces_the_secret_from_the_keys_page(owner_client, key, enqueued):
    page = owner_client.get(reverse("videos:keys")).content.decode()
    assert reverse("videos:key_rotate", args=[key.pk]) in page and 'type="password"' in page
    response = owner_client.post(
        reverse("videos:key_rotate", args=[key.pk]), {"secret": NEW}, follow=True
    )
    assert "has its new secret (…9876)" in response.content.decode()
    assert NEW not in response.content.decode()
    bad = owner_client.post(
        reverse("videos:key_rotate", args=[key.pk]), {"secret": "a b"}, follow=True
    )
    assert "secret" in bad.content.decode() and ProviderKey.objects.get(pk=key.pk).last4 == "9876"
