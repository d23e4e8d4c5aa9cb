"""Secret hygiene after a full run: no vault secret, raw API token, invitation token or
webhook signing secret appears anywhere it was not shown on purpose (once).

One run goes through the whole product against the sandbox upstream, through its real views:
two vault keys (MiniMax through the portal's form, useapi.net through the API), an access
token, a webhook secret rotation, an invitation, one video per provider to the end with a
client webhook and an upstream push, then every page and endpoint a user reads. Captured
along the way: every response (body and headers), every log record (at DEBUG, raw and as the
product's JSON and plain formatters write it), every webhook the client received, every task
package handed to django-q (what the broker stores) and the Task rows, the whole database
(`dumpdata`, with sessions and pickled task fields decoded), the OpenAPI document, every admin
changelist, add, change, history and delete page of every registered model as a superuser,
and the dashboard with its CSVs.

Encrypted-at-rest columns hold ciphertext of the secret (checked by decrypting it), tokens
are stored as HMACs and invitations as hashes (checked by hashing the raw values).
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import logging
import logging.config
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.contrib import admin
from django.contrib.auth.models import User
from django.core import mail
from django.core.management import call_command
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.views.debug import ExceptionReporter
from django.views.decorators.debug import sensitive_variables

from portal.logging import logging_config
from tests.apiclient import data_url
from tests.conftest import DIVING
from tests.security.world import png_bytes


class RawRecords(logging.Handler):
    """Every record as it was logged, before a filter or formatter rewrites it."""

    def __init__(self):
        super().__init__(level=logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self.texts: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)
        self.texts.append(str(record.msg))
        self.texts.append(record.getMessage())
        self.texts.append(repr(record.args))
        if record.exc_info:
            self.texts.append(logging.Formatter().formatException(record.exc_info))


@dataclass
class Run:
    """What one run showed: (where, what, the one credential it shows on purpose or "")."""

    seen: list[tuple[str, str, str]] = field(default_factory=list)

    def add(self, where: str, text: str, *, shows: str = "") -> None:
        self.seen.append((where, text, shows))


def response_text(response) -> str:
    # A stream is read to the end, which closes it (files, event streams).
    content = b"".join(response.streaming_content) if response.streaming else response.content
    head = "\n".join(f"{name}: {value}" for name, value in response.items())
    cookies = "\n".join(str(morsel) for morsel in response.cookies.values())
    return f"{response.status_code}\n{head}\n{cookies}\n\n" + content.decode(
        "utf-8", errors="replace"
    )


class Recorder:
    """A test client whose every answer is kept in the run."""

    def __init__(self, run: Run, client: Client, capture, *, token: str = ""):
        self.run, self.client, self.capture, self.token = run, client, capture, token

    def call(self, method: str, path: str, *, shows: str = "", failing: bool = False, **kwargs):
        """`shows`: the credential this answer exists to show, once (a new token...)."""
        if self.token and path.startswith("/api/"):
            kwargs.setdefault("headers", {})["Authorization"] = f"Bearer {self.token}"
        # Tasks enqueued on commit run now (django-q in sync mode): the worker's part of the
        # run happens inside it, its logs and Task rows included.
        with self.capture(execute=True):
            response = getattr(self.client, method)(path, **kwargs)
        text = response_text(response)
        where = f"{method.upper()} {path} -> {response.status_code}"
        self.run.add(where, text, shows=shows)
        if failing:
            assert response.status_code == 500, f"{where}\n{text[:3000]}"
        else:
            assert response.status_code < 500, f"{where}\n{text[:3000]}"
        return response, text


class Receiver:
    """The client's webhook endpoint on 127.0.0.1: keeps what it was sent."""

    def __init__(self):
        self.requests: list[str] = []
        run = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                run.requests.append(f"{self.path}\n{self.headers}\n{body.decode(errors='replace')}")
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def product_logging(settings):
    """The product's own logging config at DEBUG, writing JSON lines and plain lines into
    buffers, with a raw handler first to see every record before redaction."""
    json_out, plain_out = io.StringIO(), io.StringIO()
    config = logging_config(json_lines=True, level="DEBUG")
    config["handlers"]["console"]["stream"] = json_out
    config["handlers"]["plain"] = {
        "class": "logging.StreamHandler",
        "formatter": "plain",
        "filters": ["redact"],
        "stream": plain_out,
    }
    config["root"]["handlers"] = ["console", "plain"]
    logging.config.dictConfig(config)
    raw = RawRecords()
    logging.getLogger().handlers.insert(0, raw)
    try:
        yield raw, json_out, plain_out
    finally:
        logging.getLogger().removeHandler(raw)
        logging.config.dictConfig(settings.LOGGING)


@pytest.fixture
def task_packages(monkeypatch):
    """Every task package django-q signs for its broker (what OrmQ/Redis would store),
    decoded; the run's tasks run at once (sync), as a worker would run them."""
    from django_q.conf import Conf
    from django_q.signing import SignedPackage

    monkeypatch.setattr(Conf, "SYNC", True)
    packages: list[tuple[str, object]] = []
    original = SignedPackage.dumps

    def dumps(obj, *args, **kwargs):
        signed = original(obj, *args, **kwargs)
        packages.append((signed, SignedPackage.loads(signed)))
        return signed

    monkeypatch.setattr(SignedPackage, "dumps", staticmethod(dumps))
    return packages


def wait_until(predicate, *, what: str, timeout: float = 15.0) -> None:
    # The sandbox makes videos in real time (a fraction of a second with `gen0.3`).
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def finish(job_id, capture) -> None:
    """Poll the job (forced: its next look would be seconds away) until the fetch ran."""
    from videos import services
    from videos.models import Job

    def done() -> bool:
        with capture(execute=True):
            services.job_poll(job_id=job_id, force=True)
        return Job.objects.get(pk=job_id).is_terminal

    wait_until(done, what=f"job {job_id} to finish")


def exception_reports(run: Run, raw: RawRecords) -> None:
    """What Django renders for an error (the DEBUG page, AdminEmailHandler, error trackers
    that use its reporter): for every logged exception, its text and HTML report."""
    # Errors only: django.template logs every failed variable lookup at DEBUG with exc_info,
    # rendering the reports among them (a snapshot: rendering logs more of those).
    for record in list(raw.records):
        if record.levelno < logging.ERROR or not record.exc_info:
            continue
        request = getattr(record, "request", None)
        reporter = ExceptionReporter(request, *record.exc_info, is_email=True)
        run.add(f"exception report (text) of {record.name}", reporter.get_traceback_text())
        run.add(f"exception report (html) of {record.name}", reporter.get_traceback_html())


def database_dump(run: Run) -> None:
    from django.contrib.sessions.models import Session
    from django_q.models import OrmQ, Task

    out = io.StringIO()
    call_command("dumpdata", "--natural-foreign", stdout=out)
    run.add("dumpdata", out.getvalue())
    # Encoded columns, decoded: what a reader of a backup could decode as easily.
    for session in Session.objects.all():
        run.add(f"session {session.pk}", repr(session.get_decoded()))
    for task in Task.objects.all():
        run.add(f"task row {task.name}", repr((task.func, task.args, task.kwargs, task.result)))
    for queued in OrmQ.objects.all():
        run.add(f"ormq row {queued.pk}", repr(queued.task()))


def admin_sweep(run: Run, superuser: User) -> int:
    """Every registered model's changelist (and a search), add, change, history and delete
    pages, as a superuser; then the dashboard and its CSVs. Returns the pages read."""
    client = Client(raise_request_exception=False)
    client.force_login(superuser)
    pages = 0

    def read(path: str) -> None:
        nonlocal pages
        response = client.get(path)
        text = response_text(response)
        run.add(f"admin GET {path} -> {response.status_code}", text)
        assert response.status_code < 500, f"admin {path}\n{text[:3000]}"
        pages += 1

    for model, _model_admin in admin.site._registry.items():
        info = (model._meta.app_label, model._meta.model_name)
        read(reverse("admin:{}_{}_changelist".format(*info)))
        read(reverse("admin:{}_{}_changelist".format(*info)) + "?q=a")
        with contextlib.suppress(NoReverseMatch):  # models whose admin cannot add
            read(reverse("admin:{}_{}_add".format(*info)))
        for obj in model._default_manager.all()[:20]:
            for view in ("change", "history", "delete"):
                read(reverse(f"admin:{info[0]}_{info[1]}_{view}", args=[obj.pk]))
    for name in ("dashboard:index", "dashboard:ledger_csv", "dashboard:jobs_csv"):
        read(reverse(name))
    return pages


@pytest.mark.django_db
def test_it_never_shows_a_secret_after_a_full_run(
    sandbox,
    settings,
    diving,
    product_logging,
    task_packages,
    django_capture_on_commit_callbacks,
):
    from accounts import vault
    from accounts.models import Invitation, ProviderKey
    from integrations.models import ApiToken, WebhookDelivery
    from integrations.services import _token_hash
    from videos.models import Job, JobStatus, VideoTemplate

    raw_logs, json_out, plain_out = product_logging
    capture = django_capture_on_commit_callbacks
    settings.WEBHOOK_ALLOW_PRIVATE = True  # the client's receiver lives on 127.0.0.1
    settings.SSE_POLL_SECONDS = 0.05
    # Unique per run, in words the sandbox reads as "a video in 0.3 s, no tricks".
    nonce = secrets.token_hex(8)
    minimax_secret = f"sk-{nonce}a-hygiene-gen0.3"
    useapi_secret = f"user:4242-{nonce}b-hygiene-gen0.3"
    VideoTemplate.objects.create(
        provider="useapi",
        region="global",
        template_id=DIVING,
        name="Diving (useapi)",
        media_inputs=1,
        price_cents=50,
    )
    run = Run()
    owner = User.objects.create_user("hygiene", "hygiene@example.com", "pw-hygiene-123")
    team = owner.personal_team
    superuser = User.objects.create_superuser("root", "root@example.com", "pw-root-123")
    web = Client(raise_request_exception=False)
    web.force_login(owner)
    portal = Recorder(run, web, capture)

    # 1. A vault key through the portal's form, then the key page.
    portal.call(
        "post",
        reverse("videos:keys"),
        data={"label": "Main", "provider": "minimax", "secret": minimax_secret},
        follow=True,
    )
    minimax_key = ProviderKey.objects.get(user=owner, label="Main")

    # 2. An access token (shown once, in this answer only).
    _response, text = portal.call(
        "post", reverse("integrations:token_create"), data={"name": "CI"}, shows="the raw API token"
    )
    (api_token,) = set(re.findall(r"vap_[A-Za-z0-9_\-]{20,}", text))
    api = Recorder(run, Client(raise_request_exception=False), capture, token=api_token)

    # 3. The webhook signing secret, rotated (shown once).
    _response, text = portal.call(
        "post", reverse("integrations:secret_rotate"), shows="the webhook signing secret"
    )
    (whsec,) = set(re.findall(r"whsec_[A-Za-z0-9+/=]{20,}", text))

    # 4. An invitation: the team page shows its link once, the email carries it.
    portal.call(
        "post",
        reverse("accounts:team_invite", args=[team.pk]),
        data={"email": "friend@example.com", "role": "member"},
    )
    _response, text = portal.call(
        "get", reverse("accounts:team_detail", args=[team.pk]), shows="the invitation token"
    )
    (invitation_token,) = set(re.findall(r"/accounts/invitations/([A-Za-z0-9_\-]{20,})/", text))
    (email,) = mail.outbox
    assert invitation_token in email.body  # where it belongs
    portal.call("get", reverse("accounts:team_detail", args=[team.pk]))  # shown once only

    # 5. A useapi.net key through the API.
    api.call(
        "post",
        "/api/v1/keys",
        data=json.dumps({"provider": "useapi", "label": "Proxy", "secret": useapi_secret}),
        content_type="application/json",
    )
    useapi_key = ProviderKey.objects.get(user=owner, label="Proxy")

    # 6. One video per provider, each with a client webhook, to the end.
    with Receiver() as receiver:
        job_ids = []
        for key, idempotency in ((minimax_key, "hygiene-1"), (useapi_key, "hygiene-2")):
            response, text = api.call(
                "post",
                "/api/v1/videos",
                data=json.dumps(
                    {
                        "template_id": DIVING,
                        "media_inputs": [{"value": data_url(png_bytes())}],
                        "key_id": key.pk,
                        "callback_url": receiver.url,
                        "reference": "hygiene",
                    }
                ),
                content_type="application/json",
                headers={"Idempotency-Key": idempotency},
            )
            assert response.status_code == 201, text
            job_ids.append(response.json()["id"])
        minimax_job = Job.objects.get(pk=job_ids[0])
        # An upstream push through the real callback view (the worker re-queries).
        api.call(
            "post",
            reverse("callback", args=["minimax", minimax_job.callback_token]),
            data=json.dumps({"task_id": minimax_job.upstream_task_id, "status": "processing"}),
            content_type="application/json",
        )
        for job_id in job_ids:
            finish(job_id, capture)
        for job in Job.objects.filter(pk__in=job_ids):
            assert job.status == JobStatus.SUCCEEDED, (job.provider, job.error_message)
        wait_until(
            lambda: not WebhookDelivery.objects.filter(status="pending").exists(),
            what="the webhooks",
        )
    assert len(receiver.requests) >= 4  # processing and succeeded, per job
    for number, request in enumerate(receiver.requests):
        run.add(f"webhook {number} received by the client", request)

    # 7. Everything a user reads afterwards.
    for job_id in job_ids:
        job = Job.objects.get(pk=job_id)
        inputs = job.attachments.filter(kind="input")
        for path in (
            f"/api/v1/videos/{job_id}",
            f"/api/v1/videos/{job_id}/events",
            f"/api/v1/videos/{job_id}/download",
            *(f"/api/v1/videos/{job_id}/files/{a.pk}" for a in inputs),
        ):
            api.call("get", path)
        for name in ("job_detail", "job_status", "job_video"):
            portal.call("get", reverse(f"videos:{name}", args=[job_id]))
    for path in ("/api/v1/videos", "/api/v1/keys", "/api/v1/templates", "/api/v1/usage"):
        api.call("get", path)
    period = Job.objects.first().created_at.strftime("%Y-%m")
    for path in (
        reverse("videos:gallery"),
        reverse("videos:job_list"),
        reverse("videos:keys"),
        reverse("videos:job_new", args=[diving.pk]),
        reverse("integrations:index"),
        reverse("integrations:deliveries"),
        reverse("accounts:teams"),
        reverse("billing:usage"),
        reverse("billing:statement", args=[team.pk, period]),
        reverse("billing:statement_csv", args=[team.pk, period]),
    ):
        portal.call("get", path)
    api.call("get", "/api/v1/openapi.json")
    api.call("get", "/api/v1/docs")

    # 8. Reports of whatever error was logged along the way (the reports of errors while a
    # secret is in flight: test_it_keeps_secrets_out_of_exception_reports).
    logged_before_reports = list(raw_logs.texts)
    written_before_reports = (json_out.getvalue(), plain_out.getvalue())
    exception_reports(run, raw_logs)

    # 9. The database, the task packages, the admin, and the logs.
    database_dump(run)
    for signed, package in task_packages:
        run.add("task package (signed)", signed)
        run.add("task package (decoded)", repr(package))
    assert task_packages, "the run enqueued tasks"
    pages = admin_sweep(run, superuser)
    assert pages > 60
    run.add("log (JSON lines)", written_before_reports[0])
    run.add("log (plain lines)", written_before_reports[1])
    for number, text in enumerate(logged_before_reports):
        run.add(f"log record {number} as logged", text)

    assert all(written_before_reports) and logged_before_reports

    # --- The secrets went where they belong, and nowhere else ----------------------------
    assert vault.decrypt(minimax_key.secret_encrypted) == minimax_secret
    assert vault.decrypt(useapi_key.secret_encrypted) == useapi_secret
    stored_token = ApiToken.objects.get(user=owner, name="CI")
    assert stored_token.hashed == _token_hash(api_token)
    assert Invitation.objects.filter(
        token_hash=hashlib.sha256(invitation_token.encode()).hexdigest()
    ).exists()
    needles = {
        "the MiniMax vault secret": minimax_secret,
        "the useapi.net vault secret": useapi_secret,
        "the raw API token": api_token,
        "the invitation token": invitation_token,
        "the webhook signing secret": whsec,
    }
    shown = [(where, text, name) for where, text, name in run.seen if name]
    assert len(shown) == 3
    for where, text, name in shown:
        assert needles[name] in text, where  # shown once, in the answer that made it
    leaks = sorted(
        {
            f"{name} in {where}"
            for where, text, shows in run.seen
            for name, needle in needles.items()
            if needle in text and name != shows
        }
    )
    assert len(run.seen) > 150
    assert not leaks, f"{len(leaks)} leak(s):\n" + "\n".join(leaks)


def test_it_keeps_secrets_out_of_exception_reports(
    owner, product_logging, django_capture_on_commit_callbacks, monkeypatch
):
    """A failure deep inside key_store, while the secret is in the request and in the frames:
    what Django's reporter renders of it (the DEBUG page, AdminEmailHandler, error trackers
    built on it) must not show the secret, nor must the log."""
    from accounts import vault

    raw_logs, json_out, plain_out = product_logging
    nonce = secrets.token_hex(8)
    web_secret = f"sk-{nonce}c-reported"
    api_secret = f"user:4343-{nonce}d-reported"

    @sensitive_variables()  # it stands in for vault.encrypt, which is marked the same way
    def vault_down(value: str) -> str:
        raise RuntimeError("the vault is down")

    monkeypatch.setattr(vault, "encrypt", vault_down)
    run = Run()
    web = Client(raise_request_exception=False)
    web.force_login(owner)
    portal = Recorder(run, web, django_capture_on_commit_callbacks)
    from integrations.services import token_create

    token = token_create(user=owner, team=owner.personal_team, name="CI")[1]
    api = Recorder(
        run, Client(raise_request_exception=False), django_capture_on_commit_callbacks, token=token
    )
    portal.call(
        "post",
        reverse("videos:keys"),
        data={"label": "Broken", "provider": "minimax", "secret": web_secret},
        failing=True,
    )
    api.call(
        "post",
        "/api/v1/keys",
        data=json.dumps({"provider": "useapi", "label": "Broken", "secret": api_secret}),
        content_type="application/json",
        failing=True,
    )
    run.add("log (JSON lines)", json_out.getvalue())
    run.add("log (plain lines)", plain_out.getvalue())
    for number, text in enumerate(raw_logs.texts):
        run.add(f"log record {number} as logged", text)
    exception_reports(run, raw_logs)
    reports = [where for where, _text, _shows in run.seen if where.startswith("exception report")]
    assert len(reports) == 4  # text and HTML, of the page's error and of the API's
    leaks = sorted(
        {
            f"{name} in {where}"
            for where, text, _shows in run.seen
            for name, needle in (("the form's secret", web_secret), ("the API's", api_secret))
            if needle in text
        }
    )
    assert not leaks, f"{len(leaks)} leak(s):\n" + "\n".join(leaks)
