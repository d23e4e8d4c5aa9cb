"""Webhook replay, test events and endpoint health (integrations.webhooks, .health)."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connection
from django.urls import reverse

from accounts.models import Membership, Role
from integrations import health, services, tasks, webhooks
from integrations.models import DeliveryStatus, WebhookAttempt, WebhookDelivery, WebhookEndpoint
from tests import test_webhooks
from tests.test_webhooks import _as_member, _secret, standard_webhooks_verify
from videos import services as video_services

# The local receiver, the captured delivery tasks and the fake clock of the webhook tests.
receiver = test_webhooks.receiver
sent = test_webhooks.sent
clock = test_webhooks.clock


@pytest.fixture
def notices(monkeypatch):
    """Endpoint-disabled notices that would be enqueued (endpoint ids), instead of a broker."""
    calls: list[int] = []
    monkeypatch.setattr(
        "integrations.health.async_task", lambda func, endpoint_id: calls.append(endpoint_id)
    )
    return calls


@pytest.fixture
def admin(db, team):
    from django.contrib.auth.models import User

    user = User.objects.create_user("admin", "admin@example.com", "pw-admin-123")
    Membership.objects.create(team=team, user=user, role=Role.ADMIN)
    return user


def _run(ids: list[str]) -> list[WebhookAttempt | None]:
    attempts = [webhooks.delivery_attempt(delivery_id=i) for i in ids]
    ids.clear()
    return attempts


def _given_up(make_job, receiver, sent, clock, capture) -> WebhookDelivery:
    """A video.failed delivery that failed all 8 attempts of its schedule."""
    receiver.answers = [(500, {})]
    job = make_job(callback_url=receiver.url)
    with capture(execute=True):
        video_services.job_fail(job.id, code="x", message="x")
    delivery = WebhookDelivery.objects.get()
    for delay in [*webhooks.RETRY_DELAYS, timedelta(0)]:
        webhooks.delivery_attempt(delivery_id=delivery.id)
        clock.advance(delay)
    sent.clear()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 8
    return delivery


def _token(user, team) -> str:
    return services.token_create(user=user, team=team, name="t")[1]


def _api_post(client, path: str, token: str | None):
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return client.post(
        f"/api/v1{path}", data="{}", content_type="application/json", headers=headers
    )


# --- Replay ------------------------------------------------------------------------------


def test_it_replays_a_given_up_delivery_as_a_new_attempt_with_the_same_webhook_id(
    owner_client, team, make_job, receiver, sent, clock, django_capture_on_commit_callbacks
):
    delivery = _given_up(make_job, receiver, sent, clock, django_capture_on_commit_callbacks)
    first = receiver.requests[0]["headers"]
    clock.advance(timedelta(hours=3))
    receiver.answers = [(204, {})]
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("integrations:delivery_retry", args=[delivery.pk]))
    assert response.status_code == 302
    assert sent == [str(delivery.id)]  # through the normal task, after the commit
    (attempt,) = _run(sent)
    assert attempt.number == 9 and attempt.ok
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.replayed_at is not None
    assert delivery.attempt_log.count() == 9
    replayed = receiver.requests[-1]
    headers = replayed["headers"]
    assert headers["webhook-id"] == first["webhook-id"] == delivery.webhook_id
    assert int(headers["webhook-timestamp"]) > int(first["webhook-timestamp"])  # fresh
    assert headers["webhook-signature"] != first["webhook-signature"]
    assert standard_webhooks_verify(
        _secret(team), headers, replayed["body"], now=clock.now.timestamp()
    )
    assert replayed["body"] == receiver.requests[0]["body"]  # the same message


def test_it_gives_a_failed_replay_up_after_its_one_attempt(
    owner, make_job, receiver, sent, clock, django_capture_on_commit_callbacks
):
    delivery = _given_up(make_job, receiver, sent, clock, django_capture_on_commit_callbacks)
    with django_capture_on_commit_callbacks(execute=True):
        webhooks.delivery_replay(delivery=delivery, by=owner)
    (attempt,) = _run(sent)
    delivery.refresh_from_db()
    assert attempt.number == 9 and attempt.status_code == 500
    assert delivery.status == DeliveryStatus.FAILED and delivery.next_attempt_at is None
    clock.advance(timedelta(days=1))
    assert webhooks.deliveries_sweep() == 0  # no new schedule behind it


def test_it_makes_one_replay_of_two_clicks(
    owner_client, make_job, receiver, sent, clock, django_capture_on_commit_callbacks
):
    delivery = _given_up(make_job, receiver, sent, clock, django_capture_on_commit_callbacks)
    url = reverse("integrations:delivery_retry", args=[delivery.pk])
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(url)
        second = owner_client.post(url, follow=True)
    assert "being sent already" in second.content.decode()
    assert sent == [str(delivery.id)]
    _run([str(delivery.id), str(delivery.id)])  # the task delivered twice: one attempt
    assert delivery.attempt_log.count() == 9


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_makes_one_replay_of_two_clicks_at_the_same_moment(
    owner, make_job, receiver, sent, clock, django_capture_on_commit_callbacks
):
    delivery = _given_up(make_job, receiver, sent, clock, django_capture_on_commit_callbacks)
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def click():
        try:
            barrier.wait()
            webhooks.delivery_replay(
                delivery=WebhookDelivery.objects.select_related("team", "endpoint").get(
                    pk=delivery.pk
                ),
                by=owner,
            )
            outcomes.append("replayed")
        except webhooks.DeliveryNotReplayableError:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=click) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["refused", "replayed"]
    assert sent == [str(delivery.id)]


def test_it_refuses_to_replay_a_delivery_that_is_pending_or_delivered(
    owner, make_job, receiver, sent, django_capture_on_commit_callbacks
):
    from portal.errors import ConflictError

    job = make_job(callback_url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        video_services.job_fail(job.id, code="x", message="x")
    delivery = WebhookDelivery.objects.select_related("team", "endpoint").get()
    with pytest.raises(ConflictError, match="being sent already"):
        webhooks.delivery_replay(delivery=delivery, by=owner)
    _run(sent)
    delivery.refresh_from_db()
    with pytest.raises(ConflictError, match="delivered"):
        webhooks.delivery_replay(delivery=delivery, by=owner)
    assert delivery.attempt_log.count() == 1 and sent == []


def test_it_lets_only_owners_and_admins_replay_from_the_log(
    client, owner, admin, teammate, outsider, team, make_job, receiver, sent, clock,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    delivery = _given_up(make_job, receiver, sent, clock, django_capture_on_commit_callbacks)
    url = reverse("integrations:delivery_retry", args=[delivery.pk])
    log = reverse("integrations:deliveries")
    page = _as_member(client, teammate, team).get(log).content.decode()
    assert "Re-send" not in page
    assert client.post(url).status_code == 403
    client.force_login(outsider)
    assert client.post(url).status_code == 404
    page = _as_member(client, owner, team).get(log).content.decode()
    # A confirmation by data attribute (actions.js): the CSP allows no inline script.
    assert "Re-send" in page and "data-confirm=" in page and "onsubmit" not in page
    assert 'src="/static/js/actions.js"' in page
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and sent == []
    with django_capture_on_commit_callbacks(execute=True):
        assert _as_member(client, admin, team).post(url).status_code == 302
    assert sent == [str(delivery.id)]


# --- The JSON API --------------------------------------------------------------------------


def test_it_replays_over_the_api(
    client, owner, team, make_job, receiver, sent, clock, django_capture_on_commit_callbacks
):
    delivery = _given_up(make_job, receiver, sent, clock, django_capture_on_commit_callbacks)
    path = f"/webhooks/deliveries/{delivery.pk}/retry"
    token = _token(owner, team)
    with django_capture_on_commit_callbacks(execute=True):
        response = _api_post(client, path, token)
    assert response.status_code == 202, response.content
    body = response.json()
    assert body["id"] == str(delivery.pk) and body["webhook_id"] == delivery.webhook_id
    assert body["status"] == "pending" and body["attempts"] == 8 and body["replayed_at"]
    assert sent == [str(delivery.id)]
    again = _api_post(client, path, token)
    assert again.status_code == 409 and again.json()["code"] == "not_replayable"
    _run(sent)
    detail = client.get(f"/api/v1/webhooks/deliveries/{delivery.pk}", headers={
        "Authorization": f"Bearer {token}"})  # fmt: skip
    assert detail.status_code == 200 and detail.json()["attempts"] == 9


def test_it_answers_the_api_retry_for_every_caller(
    client, owner, teammate, outsider, team, make_job, receiver, sent, clock,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    delivery = _given_up(make_job, receiver, sent, clock, django_capture_on_commit_callbacks)
    path = f"/webhooks/deliveries/{delivery.pk}/retry"
    unauthorized = _api_post(client, path, None)
    assert unauthorized.status_code == 401 and unauthorized.json()["code"] == "unauthorized"
    outside = _api_post(client, path, _token(outsider, outsider.personal_team))
    assert outside.status_code == 404 and outside.json()["code"] == "not_found"
    member = _api_post(client, path, _token(teammate, team))
    assert member.status_code == 403 and member.json()["code"] == "forbidden"
    bad = _api_post(client, "/webhooks/deliveries/not-a-uuid/retry", _token(owner, team))
    assert bad.status_code == 422 and bad.json()["field"] == "delivery_id"
    missing = _api_post(client, "/webhooks/deliveries/" + "0" * 32 + "/retry", _token(owner, team))
    assert missing.status_code == 404
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.FAILED and sent == []  # nothing changed


# --- Test events ----------------------------------------------------------------------------


def test_it_sends_a_test_event_through_the_normal_delivery_path(
    owner_client, team, receiver, sent, clock, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("integrations:webhook_test"), {"url": receiver.url})
    assert response.status_code == 302 and response["Location"] == reverse(
        "integrations:deliveries"
    )
    delivery = WebhookDelivery.objects.get()
    assert delivery.event_type == "test.ping" and delivery.job is None
    assert sent == [str(delivery.id)]
    (attempt,) = _run(sent)
    assert attempt.ok
    (request,) = receiver.requests
    assert json.loads(request["body"])["type"] == "test.ping"
    assert request["headers"]["webhook-id"] == delivery.webhook_id
    assert standard_webhooks_verify(
        _secret(team), request["headers"], request["body"], now=clock.now.timestamp()
    )
    log = owner_client.get(reverse("integrations:deliveries")).content.decode()
    assert "test.ping" in log and "test event" in log and "Delivered" in log
    # The next time, the form offers the same URL.
    index = owner_client.get(reverse("integrations:index"))
    assert index.context["ping_form"].initial["url"] == receiver.url


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("", "required"),
        ("ftp://example.com/hook", "http:// or https://"),
        ("https://user:pw@example.com/", "user name or password"),
        ("https://" + "a" * 1030 + ".com/", "1024 characters"),
    ],
)
def test_it_refuses_a_bad_test_event_url_and_sends_nothing(owner_client, sent, url, message):
    response = owner_client.post(reverse("integrations:webhook_test"), {"url": url})
    assert response.status_code == 200
    assert message in str(response.context["ping_form"].errors["url"])
    assert not WebhookDelivery.objects.exists() and sent == []


def test_it_refuses_a_private_test_event_address(owner_client, sent, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = False
    response = owner_client.post(
        reverse("integrations:webhook_test"), {"url": "http://127.0.0.1:9/hook"}
    )
    assert "private" in str(response.context["ping_form"].errors["url"])
    assert not WebhookDelivery.objects.exists()


def test_it_lets_only_owners_and_admins_send_test_events(client, teammate, team, receiver, sent):
    page = _as_member(client, teammate, team).get(reverse("integrations:index")).content.decode()
    assert "Send test event" not in page
    response = client.post(reverse("integrations:webhook_test"), {"url": receiver.url})
    assert response.status_code == 403
    assert not WebhookDelivery.objects.exists() and sent == []


# --- Endpoint health ------------------------------------------------------------------------


def _ping(owner, team, url: str, capture) -> WebhookDelivery:
    with capture(execute=True):
        return webhooks.delivery_create_test(team=team, by=owner, url=url)


def _fail_daily(owner, team, receiver, sent, clock, capture, days: int) -> None:
    """A failing attempt at once and then every day for `days` days."""
    receiver.answers = [(503, {})]
    for day in range(days + 1):
        if day:
            clock.advance(timedelta(days=1))
        _ping(owner, team, receiver.url, capture)
        _run(sent)


def test_it_disables_an_endpoint_failing_for_5_days_and_emails_the_owners_once(
    owner_client, owner, teammate, team, make_job, receiver, sent, notices, clock,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    capture = django_capture_on_commit_callbacks
    _fail_daily(owner, team, receiver, sent, clock, capture, days=4)
    endpoint = WebhookEndpoint.objects.get()
    clock.advance(timedelta(hours=23, minutes=59))
    _ping(owner, team, receiver.url, capture)
    _run(sent)
    endpoint.refresh_from_db()
    assert not endpoint.is_disabled and notices == []  # 4 days 23:59 of failures: not yet
    pending = _ping(owner, team, receiver.url, capture)  # waits for its retry
    clock.advance(timedelta(minutes=1))
    _ping(owner, team, receiver.url, capture)
    with capture(execute=True):
        _run(sent[-1:])
    endpoint.refresh_from_db()
    assert endpoint.is_disabled and "every attempt failed for 5 days" in endpoint.disabled_reason
    assert "HTTP 503" in endpoint.disabled_reason
    assert notices == [endpoint.pk]
    pending.refresh_from_db()
    assert pending.status == DeliveryStatus.SKIPPED  # not tried again

    # Nothing is sent to it from now on: a job's events are recorded as skipped, test
    # events refused, and what was queued before the disabling is skipped, not sent.
    before = len(receiver.requests)
    job = make_job(callback_url=receiver.url)
    with capture(execute=True):
        video_services.job_fail(job.id, code="x", message="x")
    assert WebhookDelivery.objects.get(job=job).status == DeliveryStatus.SKIPPED
    response = owner_client.post(reverse("integrations:webhook_test"), {"url": receiver.url})
    assert "enable it again first" in str(response.context["ping_form"].errors)
    _run(sent)
    clock.advance(timedelta(hours=1))
    assert webhooks.deliveries_sweep() == 0
    assert len(receiver.requests) == before
    assert not WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).exists()
    log = owner_client.get(reverse("integrations:deliveries") + "?status=skipped")
    assert {d.pk for d in log.context["page"].object_list} >= {
        pending.pk,
        job.webhook_deliveries.get().pk,
    }

    # The owners are emailed by the worker, once however often the task runs.
    assert mail.outbox == []
    tasks.endpoint_disabled_notify(endpoint.pk)
    tasks.endpoint_disabled_notify(endpoint.pk)
    assert tasks.sweep() == 0  # nothing left for the backstop either
    (email,) = mail.outbox
    assert email.to == [owner.email] and teammate.email not in email.to
    assert "turned off" in email.subject and team.name in email.subject
    assert "every attempt failed for 5 days" in email.body
    assert "tenant=7" not in email.body + email.subject  # the URL's query may hold a token
    page = owner_client.get(reverse("integrations:index")).content.decode()
    assert "disabled" in page and "every attempt failed for 5 days" in page
    assert "Enable again" in page


def test_it_counts_5_days_from_the_first_failure_after_the_last_success(
    owner, team, receiver, sent, notices, clock, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    _fail_daily(owner, team, receiver, sent, clock, capture, days=3)
    receiver.answers = [(200, {})]
    _ping(owner, team, receiver.url, capture)
    _run(sent)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.failing_since is None and endpoint.last_success_at == clock.now
    _fail_daily(owner, team, receiver, sent, clock, capture, days=3)  # day 7: 3 days failing
    endpoint.refresh_from_db()
    assert not endpoint.is_disabled and notices == []
    assert endpoint.failing_since == clock.now - timedelta(days=3)


def test_it_does_not_count_its_own_signing_failures_against_the_endpoint(
    owner, team, receiver, sent, clock, monkeypatch, django_capture_on_commit_callbacks
):
    from accounts.vault import VaultError

    def broken(**kwargs):
        raise VaultError("no key")

    monkeypatch.setattr("integrations.webhooks.webhook_signing_keys", broken)
    _ping(owner, team, receiver.url, django_capture_on_commit_callbacks)
    (attempt,) = _run(sent)
    assert not attempt.ok and "signing secret" in attempt.error
    assert WebhookEndpoint.objects.get().failing_since is None


def test_it_lets_an_owner_or_admin_enable_it_again_and_deliveries_resume(
    client, owner, admin, teammate, outsider, team, receiver, sent, notices, clock,
    django_capture_on_commit_callbacks,
):  # fmt: skip
    capture = django_capture_on_commit_callbacks
    _fail_daily(owner, team, receiver, sent, clock, capture, days=5)
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.is_disabled
    url = reverse("integrations:endpoint_enable", args=[endpoint.pk])

    client.force_login(outsider)
    assert client.post(url).status_code == 404
    member_page = _as_member(client, teammate, team).get(reverse("integrations:index"))
    assert "Enable again" not in member_page.content.decode()
    assert client.post(url).status_code == 403
    endpoint.refresh_from_db()
    assert endpoint.is_disabled
    # A replay waits for the endpoint too.
    last = WebhookDelivery.objects.filter(status=DeliveryStatus.SKIPPED).first()
    assert last is not None
    with pytest.raises(webhooks.EndpointDisabledError):
        webhooks.delivery_replay(delivery=last, by=owner)

    response = _as_member(client, admin, team).post(url, follow=True)
    assert "are on again" in response.content.decode()
    endpoint.refresh_from_db()
    assert not endpoint.is_disabled and endpoint.failing_since is None
    assert endpoint.disabled_reason == "" and endpoint.disabled_notified_at is None
    again = client.post(url, follow=True)
    assert "not disabled" in again.content.decode()

    receiver.answers = [(200, {})]
    before = len(receiver.requests)
    _ping(owner, team, receiver.url, capture)
    last.endpoint.refresh_from_db()
    with capture(execute=True):
        webhooks.delivery_replay(delivery=last, by=owner)  # a skipped one can go now
    attempts = _run(sent)
    assert len(attempts) == 2 and all(a.ok for a in attempts)
    assert len(receiver.requests) == before + 2
    last.refresh_from_db()
    assert last.status == DeliveryStatus.SUCCEEDED


def test_it_notifies_through_the_sweep_when_the_notice_was_lost(
    owner, team, receiver, notices, clock, monkeypatch
):
    endpoint = health.endpoint_for(team_id=team.pk, url=receiver.url)
    assert health.endpoint_disable(endpoint=endpoint, reason="a test") is True
    assert health.endpoint_disable(endpoint=endpoint, reason="again") is False
    notices.clear()  # lost between the commit and the broker
    assert tasks.sweep() == 1 and notices == [endpoint.pk]
    assert health.endpoint_disabled_notify(endpoint_id=endpoint.pk) == 1
    assert tasks.sweep() == 0 and len(mail.outbox) == 1


def test_it_attaches_existing_deliveries_to_endpoints_in_the_migration(
    make_job, receiver, sent, django_capture_on_commit_callbacks
):
    import importlib

    from django.apps import apps

    migration = importlib.import_module("integrations.migrations.0004_webhook_health")
    job = make_job(callback_url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        video_services.job_fail(job.id, code="x", message="x")
    delivery = WebhookDelivery.objects.get()
    endpoint = delivery.endpoint
    WebhookDelivery.objects.update(endpoint=None)
    WebhookEndpoint.objects.all().delete()
    migration.attach_endpoints(apps, None)
    delivery.refresh_from_db()
    assert delivery.endpoint is not None and delivery.endpoint.url == endpoint.url
    assert delivery.endpoint.team_id == delivery.team_id


def test_it_keeps_the_default_attempt_budget_in_step_with_the_schedule():
    from integrations.models import SCHEDULED_ATTEMPTS

    assert webhooks.MAX_ATTEMPTS == SCHEDULED_ATTEMPTS
    assert WebhookDelivery._meta.get_field("max_attempts").default == SCHEDULED_ATTEMPTS


# --- In a browser --------------------------------------------------------------------------


@pytest.mark.browser
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_asks_before_re_sending_in_a_browser_at_phone_width(page, live_server, owner, sent):
    from allauth.account.models import EmailAddress
    from django.utils import timezone

    from tests.test_browser import sign_in

    EmailAddress.objects.create(user=owner, email=owner.email, primary=True, verified=True)
    team = owner.personal_team
    endpoint = health.endpoint_for(team_id=team.pk, url="https://hooks.example.com/video")
    delivery = WebhookDelivery.objects.create(
        team=team,
        endpoint=endpoint,
        event_type="test.ping",
        url=endpoint.url,
        body="{}",
        status=DeliveryStatus.FAILED,
        attempts=8,
        finished_at=timezone.now(),
    )
    page.set_viewport_size({"width": 390, "height": 844})
    sign_in(page, live_server.url, "owner", "pw-owner-123")
    page.goto(f"{live_server.url}{reverse('integrations:deliveries')}")
    button = page.locator(f"tr[data-delivery='{delivery.pk}']").get_by_role(
        "button", name="Re-send"
    )
    asked: list[str] = []

    def answer(dialog, accept: bool):
        asked.append(dialog.message)
        dialog.accept() if accept else dialog.dismiss()

    page.once("dialog", lambda dialog: answer(dialog, False))
    button.click()
    page.wait_for_timeout(300)
    delivery.refresh_from_db()
    assert asked and "webhook-id" in asked[0] and delivery.status == DeliveryStatus.FAILED
    page.once("dialog", lambda dialog: answer(dialog, True))
    button.click()
    page.get_by_text("a new attempt, with the same webhook-id").wait_for()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and sent == [str(delivery.id)]
    # Nothing of these pages sticks out sideways at phone width (wide tables scroll in their
    # own box; the top bar is the base template's).
    sticking_out = """[...document.querySelectorAll('main *')]
        .filter(e => !e.closest('.table-wrap'))
        .filter(e => e.getBoundingClientRect().right > window.innerWidth + 1)
        .map(e => e.outerHTML.slice(0, 80))"""
    assert page.evaluate(sticking_out) == []
    page.goto(f"{live_server.url}{reverse('integrations:index')}")
    page.get_by_role("button", name="Send test event").wait_for()
    assert page.evaluate(sticking_out) == []
