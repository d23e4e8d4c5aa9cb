from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import socket
import threading
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import pytest
from django.db import connection, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Role
from integrations import services, webhooks
from integrations.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from tests.apiclient import drive_to_success
from videos import services as video_services
from videos.models import Job, JobEvent


def standard_webhooks_verify(secret: str, headers: dict, body: bytes, *, now: float) -> bool:
    """An independent check of https://www.standardwebhooks.com/ signatures (spec section
    "Verifying webhook authenticity"): HMAC-SHA256 over "{id}.{timestamp}.{body}", keyed with
    the base64-decoded secret after "whsec_", any of the space-separated "v1," signatures."""
    msg_id, timestamp = headers["webhook-id"], headers["webhook-timestamp"]
    if abs(now - int(timestamp)) > 5 * 60:
        return False
    key = base64.b64decode(secret[len("whsec_") :])
    signed = msg_id.encode() + b"." + timestamp.encode() + b"." + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest())
    for candidate in headers["webhook-signature"].split(" "):
        version, _, signature = candidate.partition(",")
        if version == "v1" and hmac.compare_digest(signature.encode(), expected):
            return True
    return False


class Receiver:
    """A client's webhook endpoint on 127.0.0.1, answering from a script."""

    def __init__(self):
        self.requests: list[dict] = []
        self.answers: list[tuple[int, dict]] = []
        self.body = b"ok"
        self.url = ""

    def answer(self) -> tuple[int, dict]:
        if not self.answers:
            return 200, {}
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


@pytest.fixture
def receiver(settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the receiver lives on 127.0.0.1
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            rec.requests.append(
                {
                    "method": self.command,
                    "path": self.path,
                    "headers": {k.lower(): v for k, v in self.headers.items()},
                    "body": body,
                }
            )
            status, headers = rec.answer()
            self.send_response(status)
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(rec.body)))
            self.end_headers()
            self.wfile.write(rec.body)

        do_GET = do_POST

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    rec.url = f"http://127.0.0.1:{server.server_port}/hooks/video?tenant=7"
    yield rec
    server.shutdown()
    server.server_close()


@pytest.fixture
def sent(monkeypatch):
    """Delivery tasks that would be enqueued (ids), instead of a broker."""
    calls: list[str] = []
    monkeypatch.setattr(
        "integrations.webhooks.async_task", lambda func, delivery_id: calls.append(delivery_id)
    )
    return calls


class Clock:
    def __init__(self):
        self.now = timezone.now()

    def advance(self, delta: timedelta) -> None:
        self.now += delta


@pytest.fixture
def clock(monkeypatch):
    """Fake time for everything that asks django.utils.timezone.now()."""
    fake = Clock()
    monkeypatch.setattr(timezone, "now", lambda: fake.now)
    return fake


def _deliver(ids) -> list[WebhookAttempt | None]:
    return [webhooks.delivery_attempt(delivery_id=i) for i in ids]


def _secret(team) -> str:
    return services.webhook_secret_reveal(secret=services.webhook_secret_get(team=team))


# --- What is sent ------------------------------------------------------------------------


def test_it_signs_each_event_so_an_independent_verifier_accepts_it(
    make_job, upstream, receiver, sent, team, django_capture_on_commit_callbacks
):
    job = make_job(callback_url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        drive_to_success(job, upstream)
    assert len(sent) == 2
    attempts = _deliver(sent)
    assert all(a.ok for a in attempts)

    secret = _secret(team)
    assert [r["path"] for r in receiver.requests] == ["/hooks/video?tenant=7"] * 2
    payloads = []
    for request in receiver.requests:
        headers = request["headers"]
        assert headers["content-type"] == "application/json"
        assert standard_webhooks_verify(
            secret, headers, request["body"], now=timezone.now().timestamp()
        )
        assert not standard_webhooks_verify(
            secret, headers, request["body"] + b" ", now=timezone.now().timestamp()
        )
        payloads.append(json.loads(request["body"]))
    assert [p["type"] for p in payloads] == ["video.processing", "video.succeeded"]
    done = payloads[1]["data"]
    assert (done["id"], done["status"], done["progress"]) == (str(job.id), "succeeded", 100)
    assert done["video"]["url"].endswith(f"/api/v1/videos/{job.id}/download")
    ids = {r["headers"]["webhook-id"] for r in receiver.requests}
    assert ids == {d.webhook_id for d in WebhookDelivery.objects.all()}
    assert WebhookDelivery.objects.filter(status=DeliveryStatus.SUCCEEDED).count() == 2
    assert secret not in str(payloads) and secret[6:] not in str(receiver.requests)


def test_it_sends_video_failed_with_the_error(
    make_job, receiver, sent, django_capture_on_commit_callbacks
):
    job = make_job(callback_url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        video_services.job_fail(job.id, code="1026", message="input sensitive")
    _deliver(sent)
    (request,) = receiver.requests
    payload = json.loads(request["body"])
    assert payload["type"] == "video.failed"
    assert payload["data"]["error"] == {"code": "1026", "message": "input sensitive"}


def test_it_sends_nothing_without_a_callback_url_or_for_a_cancel(
    make_job, receiver, sent, django_capture_on_commit_callbacks
):
    plain = make_job()
    hooked = make_job(callback_url=receiver.url)
    with django_capture_on_commit_callbacks(execute=True):
        video_services.job_fail(plain.id, code="x", message="x")
        video_services.job_cancel(job=hooked)
    assert sent == [] and not WebhookDelivery.objects.exists()


def test_it_queues_the_delivery_with_the_change_and_sends_after_the_commit(
    make_job, receiver, sent, django_capture_on_commit_callbacks
):
    job = make_job(callback_url=receiver.url)
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        video_services.job_fail(job.id, code="x", message="x")
    assert WebhookDelivery.objects.count() == 1 and sent == []  # not before the commit
    for callback in callbacks:
        callback()
    assert sent == [str(WebhookDelivery.objects.get().id)]


def test_it_queues_nothing_when_the_change_rolls_back(make_job, receiver, sent):
    job = make_job(callback_url=receiver.url)
    with pytest.raises(RuntimeError), transaction.atomic():
        video_services.job_fail(job.id, code="x", message="x")
        raise RuntimeError("the worker died")
    assert not WebhookDelivery.objects.exists()
    job.refresh_from_db()
    assert job.status == "queued"


def test_it_queues_one_delivery_per_event_however_often_it_is_signalled(make_job, receiver, sent):
    job = make_job(callback_url=receiver.url)
    Job.objects.filter(pk=job.pk).update(status="processing", upstream_task_id="1")
    first = webhooks.delivery_create(job_id=job.id, status="processing")
    again = webhooks.delivery_create(job_id=job.id, status="processing")
    assert first is not None and again is None
    assert WebhookDelivery.objects.count() == 1


def test_it_never_stops_a_job_when_queueing_a_webhook_breaks(make_job, receiver, monkeypatch):
    def broken(**kwargs):
        raise ValueError("bug")

    monkeypatch.setattr("integrations.receivers.delivery_create", broken)
    job = make_job(callback_url=receiver.url)
    assert video_services.job_fail(job.id, code="x", message="x")
    job.refresh_from_db()
    assert job.status == "failed"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_lets_the_job_finish_when_queueing_a_webhook_hits_a_database_error(
    make_job, monkeypatch
):
    # Committed for real (transaction=True): on PostgreSQL a failed statement aborts the
    # whole transaction unless the webhook's part ran in a savepoint of its own.
    def broken(*, job_id, status):
        JobEvent.objects.create(job_id=job_id, kind="note", message="half-queued webhook")
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")

    monkeypatch.setattr("integrations.receivers.delivery_create", broken)
    job = make_job(callback_url="https://hooks.example.com/video")
    assert video_services.job_fail(job.id, code="x", message="x")
    job.refresh_from_db()
    assert job.status == "failed" and job.finished_at is not None
    assert job.events.filter(status="failed").exists()
    # The webhook's half-done writes went back with its savepoint, and only those.
    assert not JobEvent.objects.filter(message="half-queued webhook").exists()


# --- Retries -----------------------------------------------------------------------------


def _failed_delivery(make_job, receiver, sent, capture) -> WebhookDelivery:
    job = make_job(callback_url=receiver.url)
    with capture(execute=True):
        video_services.job_fail(job.id, code="x", message="x")
    return WebhookDelivery.objects.get()


def test_it_retries_on_a_schedule_of_more_than_24_hours_then_gives_up(
    make_job, receiver, sent, clock, django_capture_on_commit_callbacks
):
    receiver.answers = [(500, {})]
    delivery = _failed_delivery(make_job, receiver, sent, django_capture_on_commit_callbacks)
    started = clock.now
    waits = []
    for number in range(1, 9):
        attempt = webhooks.delivery_attempt(delivery_id=delivery.id)
        assert attempt.number == number and attempt.status_code == 500
        delivery.refresh_from_db()
        if delivery.status == DeliveryStatus.FAILED:
            break
        wait = delivery.next_attempt_at - clock.now
        waits.append(wait)
        # Not before it is due: neither a duplicate task nor the sweeper sends it early.
        clock.advance(wait - timedelta(seconds=1))
        assert webhooks.delivery_attempt(delivery_id=delivery.id) is None
        sent.clear()
        assert webhooks.deliveries_sweep() == 0 and sent == []
        clock.advance(timedelta(seconds=1))
        assert webhooks.deliveries_sweep() == 1 and sent == [str(delivery.id)]
    assert delivery.status == DeliveryStatus.FAILED and delivery.attempts == 8
    assert waits == webhooks.RETRY_DELAYS
    assert all(a < b for a, b in itertools.pairwise(waits[:-1]))  # growing
    assert clock.now - started >= timedelta(hours=24)
    assert len(receiver.requests) == 8
    # Every retry is the same message: same id, same bytes.
    assert len({r["headers"]["webhook-id"] for r in receiver.requests}) == 1
    assert len({r["body"] for r in receiver.requests}) == 1
    assert list(delivery.attempt_log.values_list("number", "status_code")) == [
        (n, 500) for n in range(1, 9)
    ]


def test_it_stops_retrying_once_delivered(
    make_job, receiver, sent, clock, django_capture_on_commit_callbacks
):
    receiver.answers = [(503, {}), (204, {})]
    delivery = _failed_delivery(make_job, receiver, sent, django_capture_on_commit_callbacks)
    webhooks.delivery_attempt(delivery_id=delivery.id)
    clock.advance(timedelta(seconds=5))
    attempt = webhooks.delivery_attempt(delivery_id=delivery.id)
    delivery.refresh_from_db()
    assert attempt.status_code == 204 and attempt.latency_ms >= 0
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.finished_at == clock.now
    clock.advance(timedelta(days=2))
    assert webhooks.deliveries_sweep() == 0


def test_it_treats_a_redirect_as_a_failed_attempt_and_never_follows_it(
    make_job, receiver, sent, django_capture_on_commit_callbacks
):
    receiver.answers = [(302, {"Location": "/elsewhere"})]
    delivery = _failed_delivery(make_job, receiver, sent, django_capture_on_commit_callbacks)
    attempt = webhooks.delivery_attempt(delivery_id=delivery.id)
    assert attempt.status_code == 302 and not attempt.ok and "redirect" in attempt.error
    assert [r["path"] for r in receiver.requests] == ["/hooks/video?tenant=7"]
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at is not None


def test_it_refuses_a_private_address_at_delivery_time(
    make_job, receiver, sent, settings, django_capture_on_commit_callbacks
):
    delivery = _failed_delivery(make_job, receiver, sent, django_capture_on_commit_callbacks)
    settings.WEBHOOK_ALLOW_PRIVATE = False
    attempt = webhooks.delivery_attempt(delivery_id=delivery.id)
    assert attempt.status_code is None and attempt.error.startswith("refused")
    assert receiver.requests == []


def _rebinding_dns(monkeypatch, host: str, answers: list[str]) -> list[str]:
    """socket.getaddrinfo with a zero-TTL `host`: each lookup gets the next answer."""
    real = socket.getaddrinfo
    given: list[str] = []

    def getaddrinfo(name, port, *args, **kwargs):
        if name != host:
            return real(name, port, *args, **kwargs)
        address = answers[min(len(given), len(answers) - 1)]
        given.append(address)
        return [(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)
    return given


def test_it_connects_only_to_the_address_it_checked(
    make_job, receiver, sent, settings, monkeypatch, django_capture_on_commit_callbacks
):
    port = urlsplit(receiver.url).port
    job = make_job(callback_url=f"http://rebind.example.test:{port}/hooks/video")
    with django_capture_on_commit_callbacks(execute=True):
        video_services.job_fail(job.id, code="x", message="x")
    settings.WEBHOOK_ALLOW_PRIVATE = False
    # DNS rebinding: a public address for the check, then the receiver on 127.0.0.1.
    given = _rebinding_dns(monkeypatch, "rebind.example.test", ["93.184.215.14", "127.0.0.1"])
    attempt = webhooks.delivery_attempt(delivery_id=WebhookDelivery.objects.get().id)
    assert given == ["93.184.215.14", "127.0.0.1"]
    assert receiver.requests == []  # nothing reached 127.0.0.1
    assert attempt.status_code is None and not attempt.ok
    assert attempt.error.startswith("refused") and "private" in attempt.error
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING and delivery.last_error == attempt.error


def test_it_sends_to_the_checked_address_under_the_host_name(
    make_job, receiver, sent, settings, monkeypatch, django_capture_on_commit_callbacks
):
    port = urlsplit(receiver.url).port
    job = make_job(callback_url=f"http://hooks.example.test:{port}/hooks/video")
    with django_capture_on_commit_callbacks(execute=True):
        video_services.job_fail(job.id, code="x", message="x")
    settings.WEBHOOK_ALLOW_PRIVATE = False
    # Pretend the receiver's address is public: the check passes, the connection is made to
    # exactly the address that was checked, and the request still names the host.
    monkeypatch.setattr("portal.netguard._is_public", lambda address: True)
    given = _rebinding_dns(monkeypatch, "hooks.example.test", ["127.0.0.1"])
    attempt = webhooks.delivery_attempt(delivery_id=WebhookDelivery.objects.get().id)
    assert attempt.ok and len(given) == 2  # the check, then the one lookup the connect uses
    (request,) = receiver.requests
    assert request["headers"]["host"] == f"hooks.example.test:{port}"


def test_it_records_an_endpoint_that_does_not_answer(
    make_job, sent, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    job = make_job(callback_url=f"http://127.0.0.1:{port}/hook?token=sekrit")
    with django_capture_on_commit_callbacks(execute=True):
        video_services.job_fail(job.id, code="x", message="x")
    attempt = webhooks.delivery_attempt(delivery_id=WebhookDelivery.objects.get().id)
    assert attempt.status_code is None and attempt.error == "could not connect"
    assert "sekrit" not in attempt.error


def test_it_uses_explicit_timeouts_and_no_redirects(monkeypatch, settings):
    from integrations import http

    seen = {}

    mounted = {}

    class Session:
        trust_env = True

        def mount(self, prefix, adapter):
            mounted[prefix] = adapter

        def post(self, url, **kwargs):
            seen.update(kwargs)
            raise http.requests.Timeout("slow")

        def close(self):
            pass

    from portal import safe_http

    monkeypatch.setattr(safe_http.requests, "Session", Session)
    result = http.post("https://hooks.example.com/", body=b"{}", headers={})
    assert seen["timeout"] == settings.WEBHOOK_TIMEOUT and seen["allow_redirects"] is False
    assert (result.status_code, result.error) == (None, "timed out")
    assert all(
        isinstance(mounted[p], safe_http.CheckedAddressAdapter) for p in ("http://", "https://")
    )


# --- The signing secret ------------------------------------------------------------------


def test_it_signs_with_both_secrets_for_a_day_after_a_rotation(
    make_job, receiver, sent, team, clock, django_capture_on_commit_callbacks
):
    old = _secret(team)
    services.webhook_secret_rotate(team=team)
    new = _secret(team)
    assert new != old and new.startswith("whsec_")
    delivery = _failed_delivery(make_job, receiver, sent, django_capture_on_commit_callbacks)
    webhooks.delivery_attempt(delivery_id=delivery.id)
    request = receiver.requests[-1]
    now = clock.now.timestamp()
    assert len(request["headers"]["webhook-signature"].split(" ")) == 2
    for secret in (new, old):
        assert standard_webhooks_verify(secret, request["headers"], request["body"], now=now)
    clock.advance(timedelta(hours=25))
    assert len(services.webhook_signing_keys(team=team)) == 1


def test_it_keeps_the_secret_encrypted_at_rest(team):
    row = services.webhook_secret_get(team=team)
    assert _secret(team)[6:] not in row.secret_encrypted and row.last4 == _secret(team)[-4:]


# --- Portal pages ------------------------------------------------------------------------


def test_it_never_shows_a_saved_secret_only_its_last_4(owner_client, client, teammate, team):
    secret = _secret(team)
    for page in (
        owner_client.get(reverse("integrations:index")).content.decode(),
        _as_member(client, teammate, team).get(reverse("integrations:index")).content.decode(),
    ):
        assert secret not in page and secret[6:] not in page
        assert f"whsec_…{secret[-4:]}" in page
    assert client.post(reverse("integrations:secret_rotate")).status_code == 403
    assert _secret(team) == secret


def test_it_shows_the_signing_secret_once_right_after_a_rotation(owner_client, team):
    # Made by the signer, never shown to anyone: rotating is how the team gets one.
    unseen = _secret(team)
    index = reverse("integrations:index")
    assert unseen not in owner_client.get(index).content.decode()
    response = owner_client.post(reverse("integrations:secret_rotate"))
    new = _secret(team)
    assert response.status_code == 200 and new != unseen
    assert response.content.decode().count(new) == 1
    assert "no-store" in response["Cache-Control"]
    again = owner_client.get(index).content.decode()
    assert new not in again and new[6:] not in again and f"whsec_…{new[-4:]}" in again


def _as_member(client, user, team):
    from accounts.selectors import SESSION_TEAM_KEY

    client.force_login(user)
    session = client.session
    session[SESSION_TEAM_KEY] = team.pk
    session.save()
    return client


def test_it_rotates_the_secret_from_the_portal(owner_client, team):
    before = _secret(team)
    owner_client.post(reverse("integrations:secret_rotate"))
    assert _secret(team) != before


def test_it_shows_the_teams_delivery_log_with_each_attempt(
    owner_client, client, outsider, make_job, receiver, sent, django_capture_on_commit_callbacks
):
    receiver.answers = [(500, {})]
    delivery = _failed_delivery(make_job, receiver, sent, django_capture_on_commit_callbacks)
    webhooks.delivery_attempt(delivery_id=delivery.id)
    page = owner_client.get(reverse("integrations:deliveries")).content.decode()
    assert "video.failed" in page and "HTTP 500" in page and "ms" in page
    assert list(owner_client.get(reverse("integrations:deliveries") + "?status=succeeded")
                .context["page"].object_list) == []  # fmt: skip
    client.force_login(outsider)
    assert list(client.get(reverse("integrations:deliveries")).context["page"].object_list) == []


def test_it_never_keeps_or_shows_what_the_receiver_answered(
    owner_client, make_job, receiver, sent, django_capture_on_commit_callbacks
):
    # The URL is the caller's choice: an answer shown back would be a way to read pages the
    # portal can reach and they cannot.
    marker = "internal-admin-page-7c1f"
    receiver.answers = [(500, {})]
    receiver.body = f"<html>{marker}</html>".encode()
    delivery = _failed_delivery(make_job, receiver, sent, django_capture_on_commit_callbacks)
    attempt = webhooks.delivery_attempt(delivery_id=delivery.id)
    assert attempt.status_code == 500 and attempt.latency_ms >= 0
    stored = [*WebhookAttempt.objects.values(), *WebhookDelivery.objects.values()]
    assert marker not in str(stored)
    page = owner_client.get(reverse("integrations:deliveries")).content.decode()
    assert "HTTP 500" in page and marker not in page


def test_it_lets_admins_manage_the_secret(client, teammate, team):
    Membership.objects.filter(team=team, user=teammate).update(role=Role.ADMIN)
    from integrations.selectors import can_manage_webhooks

    assert can_manage_webhooks(user=teammate, team=team)


def test_it_re_encrypts_signing_secrets_under_a_new_vault_key(team, settings):
    from cryptography.fernet import Fernet

    secret = _secret(team)
    new_key = Fernet.generate_key().decode()
    settings.VAULT_KEYS = [new_key, *settings.VAULT_KEYS]
    assert services.webhook_secrets_vault_rotate_all() == 1
    settings.VAULT_KEYS = [new_key]  # the old key is gone: the secret still opens
    assert _secret(team) == secret


def test_it_counts_webhook_attempts_by_outcome(
    make_job,
    receiver,
    sent,
    clock,
    django_capture_on_commit_callbacks,
):
    from prometheus_client import REGISTRY

    def sample(outcome: str) -> float:
        return REGISTRY.get_sample_value("vap_webhook_attempts_total", {"outcome": outcome}) or 0

    retrying = sample("retrying")
    delivered = sample("delivered")
    receiver.answers = [(503, {}), (204, {})]
    delivery = _failed_delivery(make_job, receiver, sent, django_capture_on_commit_callbacks)
    webhooks.delivery_attempt(delivery_id=delivery.id)
    clock.advance(timedelta(seconds=5))
    webhooks.delivery_attempt(delivery_id=delivery.id)
    assert sample("retrying") == retrying + 1
    assert sample("delivered") == delivered + 1
