"""/healthz (liveness, no database) and /readyz (database, broker, storage)."""

from __future__ import annotations

import socket

import pytest
from django.conf import settings as django_settings

from portal import health


def closed_port() -> int:
    # Bound, never listened on, then released: a connection there is refused at once.
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def uses_s3() -> bool:
    return bool(django_settings.S3_BUCKET)


def test_it_answers_healthz_without_touching_the_database(client):
    # No `db` fixture: pytest-django fails any query, so this also proves "no DB".
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response["Cache-Control"] == "no-store"


def test_it_answers_probes_for_any_host_and_over_plain_http(client, settings):
    # The balancer probes the instance's own address, over http, before TLS termination.
    settings.SECURE_SSL_REDIRECT = True
    response = client.get("/healthz", HTTP_HOST="10.1.2.3:8000")
    assert response.status_code == 200
    assert client.get("/accounts/login/").status_code == 301  # everything else is redirected


@pytest.mark.django_db
def test_it_is_ready_when_database_broker_and_storage_answer(client):
    response = client.get("/readyz", HTTP_HOST="10.1.2.3")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ok",
        "failed": [],
        "checks": {"database": "ok", "broker": "ok", "storage": "ok"},
    }


@pytest.mark.django_db
def test_it_answers_503_naming_the_broker_when_redis_is_down(client, settings):
    port = closed_port()
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "redis": f"redis://:hunter2@127.0.0.1:{port}/0"}
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["broker"]
    assert body["checks"]["database"] == "ok" and body["checks"]["storage"] == "ok"
    assert body["checks"]["broker"].startswith("unavailable (")
    # Where and with what it connects stays in the (redacted) log, not in the answer.
    assert str(port) not in response.content.decode()
    assert "hunter2" not in response.content.decode()


@pytest.mark.django_db
def test_it_answers_503_naming_the_storage_when_it_is_unusable(client, settings, tmp_path):
    if uses_s3():
        options = settings.STORAGES["default"]["OPTIONS"]
        settings.STORAGES = {
            **settings.STORAGES,
            "default": {
                **settings.STORAGES["default"],
                "OPTIONS": {**options, "bucket_name": "portal-no-such-bucket"},
            },
        }
    else:
        blocker = tmp_path / "a-file"
        blocker.write_text("not a folder")
        settings.MEDIA_ROOT = blocker / "media"
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["storage"]


@pytest.mark.django_db
def test_it_answers_503_naming_the_database_when_it_fails(client, monkeypatch):
    def unreachable() -> None:
        raise ConnectionRefusedError("connection to 10.0.0.9:5432 refused")

    monkeypatch.setitem(health.CHECKS, "database", unreachable)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]
    assert response.json()["checks"]["database"] == "unavailable (ConnectionRefusedError)"
    assert "10.0.0.9" not in response.content.decode()


@pytest.mark.django_db
def test_it_names_every_failed_dependency(client, monkeypatch):
    def down() -> None:
        raise OSError("down")

    for name in ("database", "broker", "storage"):
        monkeypatch.setitem(health.CHECKS, name, down)
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["database", "broker", "storage"]
