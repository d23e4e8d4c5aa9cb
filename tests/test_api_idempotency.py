from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client

from billing.models import EntryKind, LedgerEntry
from integrations.services import token_create
from tests.apiclient import ApiClient, data_url
from tests.conftest import DIVING
from videos.models import Job
from videos.services import key_store


@pytest.fixture
def body(png):
    return {"template_id": DIVING, "media_inputs": [{"value": data_url(png)}], "reference": "r1"}


def _submits(enqueued) -> int:
    return sum(1 for call in enqueued if call[0] == "videos.tasks.submit_job")


def _reserves() -> int:
    return LedgerEntry.objects.filter(kind=EntryKind.RESERVE).count()


def test_it_answers_the_first_job_again_for_the_same_key_and_body(
    api, body, key, enqueued, django_capture_on_commit_callbacks
):
    headers = {"Idempotency-Key": "order-42"}
    with django_capture_on_commit_callbacks(execute=True):
        first = api.post("/videos", body, headers=headers)
        again = api.post("/videos", body, headers=headers)
    assert first.status_code == again.status_code == 201
    assert first.json()["id"] == again.json()["id"]
    assert Job.objects.count() == 1
    assert _submits(enqueued) == 1  # no second upstream task
    assert _reserves() == 1  # no second reservation


def test_it_treats_the_same_content_spelled_differently_as_the_same_body(api, body, key):
    headers = {"Idempotency-Key": "order-43"}
    first = api.post("/videos", body, headers=headers).json()
    # Other key order, defaults written out: the same request.
    respelled = {"reference": "r1", "key_id": None, "text_inputs": [], **body}
    assert api.post("/videos", respelled, headers=headers).json()["id"] == first["id"]
    assert Job.objects.count() == 1


def test_it_answers_409_for_the_same_key_with_another_body(api, body, key):
    headers = {"Idempotency-Key": "order-44"}
    first = api.post("/videos", body, headers=headers)
    response = api.post("/videos", {**body, "reference": "r2"}, headers=headers)
    assert response.status_code == 409
    assert response.json()["code"] == "idempotency_conflict"
    assert (
        list(Job.objects.values_list("id", "reference")) == [(Job.objects.get().id, "r1")]
        and str(Job.objects.get().id) == first.json()["id"]
    )


def test_it_scopes_keys_per_team(api, client, body, key, outsider):
    key_store(user=outsider, label="Theirs", secret="sk-someone-else-9999")
    theirs = ApiClient(
        client, token_create(user=outsider, team=outsider.personal_team, name="o")[1]
    )
    headers = {"Idempotency-Key": "same-key"}
    mine = api.post("/videos", body, headers=headers).json()
    other = theirs.post("/videos", body, headers=headers)
    assert other.status_code == 201 and other.json()["id"] != mine["id"]
    assert Job.objects.count() == 2


def test_it_keeps_keys_for_at_least_24_hours(api, body, key):
    headers = {"Idempotency-Key": "yesterday"}
    first = api.post("/videos", body, headers=headers).json()
    Job.objects.update(created_at=Job.objects.get().created_at - timedelta(hours=25))
    assert api.post("/videos", body, headers=headers).json()["id"] == first["id"]


def test_it_makes_a_new_job_for_each_request_without_a_key(api, body, key):
    api.post("/videos", body)
    api.post("/videos", body)
    assert Job.objects.count() == 2


@pytest.mark.parametrize("value", ["k" * 256, "", "tab\there"])
def test_it_names_the_header_when_the_key_is_too_long_empty_or_not_printable(api, body, key, value):
    response = api.post("/videos", body, headers={"Idempotency-Key": value})
    assert response.status_code == 422
    assert response.json()["field"] == "Idempotency-Key"
    assert not Job.objects.exists()


def test_it_accepts_a_key_of_255_characters(api, body, key):
    response = api.post("/videos", body, headers={"Idempotency-Key": "k" * 255})
    assert response.status_code == 201
    assert Job.objects.get().idempotency_key == "k" * 255


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_makes_one_job_for_20_concurrent_identical_requests(api_token, body, key, enqueued):
    count = 20
    barrier = threading.Barrier(count)
    answers: list = [None] * count

    def send(i: int) -> None:
        try:
            client = ApiClient(Client(), api_token)
            barrier.wait(timeout=30)
            answers[i] = client.post("/videos", body, headers={"Idempotency-Key": "race"})
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert [a.status_code for a in answers] == [201] * count, [a.content for a in answers]
    assert len({a.json()["id"] for a in answers}) == 1
    assert Job.objects.count() == 1
    assert _submits(enqueued) == 1
    assert _reserves() == 1


@pytest.mark.parametrize("change", ["key_invalid", "template_withdrawn", "quota_used_up"])
def test_it_replays_the_first_job_whatever_changed_since(api, body, key, team, diving, change):
    from accounts.models import KeyStatus
    from tests.billing_support import set_limits

    headers = {"Idempotency-Key": f"replay-{change}"}
    first = api.post("/videos", body, headers=headers)
    assert first.status_code == 201
    if change == "key_invalid":
        key.status = KeyStatus.INVALID
        key.save()
    elif change == "template_withdrawn":
        diving.is_active = False
        diving.save()
    else:
        set_limits(team, videos=1)
    assert api.post("/videos", body).status_code in (400, 402, 422)  # a new request is refused
    again = api.post("/videos", body, headers=headers)
    assert again.status_code == 201 and again.json()["id"] == first.json()["id"]
    assert Job.objects.count() == 1 and _reserves() == 1
