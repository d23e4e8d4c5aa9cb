"""Shared fixtures: an owner, a teammate and an outsider; images; a fake and a real upstream."""

from __future__ import annotations

import io
import os

import pytest
from django.contrib.auth.models import User
from PIL import Image

from accounts.models import Membership, Role
from videos.models import VideoTemplate
from videos.services import key_store

os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

SECRET = "sk-test-owner-secret-5678"
DIVING = "392747428568649728"
RUN_FOR_LIFE = "393769180141805569"
ART_FONTS = "394875727173492739"


def make_image(width: int = 640, height: int = 480, fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), (30, 120, 200)).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture(autouse=True)
def _test_settings(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.PUBLIC_BASE_URL = ""
    # Real hashing costs ~0.3 s per user; the tests are about the portal, not PBKDF2.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    # A board kept by an earlier test (same range, other data) must not answer for this one;
    # tests/test_dashboard.py turns the cache on where it is the subject.
    settings.DASHBOARD_CACHE_SECONDS = 0


@pytest.fixture
def owner(db):
    return User.objects.create_user("owner", "owner@example.com", "pw-owner-123")


@pytest.fixture
def team(owner):
    return owner.personal_team


@pytest.fixture
def teammate(db, team):
    user = User.objects.create_user("mate", "mate@example.com", "pw-mate-123")
    Membership.objects.create(team=team, user=user, role=Role.MEMBER)
    return user


@pytest.fixture
def outsider(db):
    return User.objects.create_user("outsider", "out@example.com", "pw-out-123")


@pytest.fixture
def key(owner):
    return key_store(user=owner, label="Main", secret=SECRET)


@pytest.fixture
def catalogue(db):
    """The seeded catalogue (re-seeded: transactional tests flush the migration's rows)."""
    from videos.catalogue import seed_templates

    seed_templates(VideoTemplate)
    return VideoTemplate.objects.all()


@pytest.fixture
def diving(catalogue):
    return catalogue.get(template_id=DIVING)


@pytest.fixture
def run_for_life(catalogue):
    return catalogue.get(template_id=RUN_FOR_LIFE)


@pytest.fixture
def png() -> bytes:
    return make_image()


@pytest.fixture
def owner_client(client, owner):
    client.force_login(owner)
    return client


@pytest.fixture
def sync_queue(monkeypatch):
    """Run enqueued tasks inline, in order, once the transaction commits (no cluster)."""
    from django_q.conf import Conf

    monkeypatch.setattr(Conf, "SYNC", True)


@pytest.fixture
def enqueued(monkeypatch):
    """Record what would be enqueued instead of running it."""
    calls: list[tuple] = []
    monkeypatch.setattr(
        "videos.queue.async_task", lambda func, *args, **kw: calls.append((func, args, kw))
    )
    return calls


@pytest.fixture
def sandbox(settings):
    """The sandbox upstream on a free port, with fast generation."""
    from sandbox.server import SandboxServer

    server = SandboxServer(host="127.0.0.1", port=0, generation_seconds=1.0, heartbeat_seconds=0.2)
    server.start()
    settings.MINIMAX_BASE_URL = server.base_url
    settings.MINIMAX_CN_BASE_URL = server.base_url
    settings.USEAPI_BASE_URL = server.base_url
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args():
    return {
        "executable_path": "/usr/bin/chromium",
        "args": [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--disable-quic",
        ],
    }


@pytest.fixture
def upstream(monkeypatch):
    """A scripted upstream behind the providers' one HTTP door (videos.providers.http)."""
    from tests.fakes import FakeUpstream

    fake = FakeUpstream()
    monkeypatch.setattr("videos.providers.http.new_session", lambda: fake)
    return fake


@pytest.fixture
def make_job(team, owner, key, diving, png, django_capture_on_commit_callbacks, enqueued):
    """A queued Diving job of the owner's team on the owner's key, made through the service."""
    from django.core.files.uploadedfile import SimpleUploadedFile

    from videos.services import MediaInput, job_create

    def make(**overrides):
        kwargs = {
            "team": team,
            "user": owner,
            "template": diving,
            "text_inputs": [],
            "media_inputs": [MediaInput(upload=SimpleUploadedFile("me.png", png))],
            # Pinned to the owner's key, so the step-by-step tests know which key runs it
            # (tests of the pool pass key_id=None).
            "key_id": key.pk,
        }
        kwargs.update(overrides)
        with django_capture_on_commit_callbacks(execute=True):
            return job_create(**kwargs)

    return make


def pytest_collection_modifyitems(config, items):
    """Tests marked `postgres` (races, select_for_update) run in the `make test-services` leg."""
    from django.conf import settings

    if settings.DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
        return
    skip = pytest.mark.skip(
        reason="needs PostgreSQL (select_for_update and real concurrency); "
        "runs in `make test-services`"
    )
    for item in items:
        if "postgres" in item.keywords:
            item.add_marker(skip)


# --- JSON API (integrations) ---------------------------------------------------------------


@pytest.fixture
def api_token(owner, team) -> str:
    """A personal access token of the owner in the owner's team."""
    from integrations.services import token_create

    return token_create(user=owner, team=team, name="Tests")[1]


@pytest.fixture
def api(client, api_token):
    """The JSON API as the owner's token sees it (tests/apiclient.py)."""
    from tests.apiclient import ApiClient

    return ApiClient(client, api_token)


@pytest.fixture
def outsider_api(client, outsider):
    """The JSON API for a user of another team."""
    from integrations.services import token_create
    from tests.apiclient import ApiClient

    return ApiClient(client, token_create(user=outsider, team=outsider.personal_team, name="x")[1])
