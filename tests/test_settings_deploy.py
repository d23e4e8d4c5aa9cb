"""Production settings: check --deploy is clean, missing settings are named at once, mail
really goes out, and the published demo login cannot exist."""

from __future__ import annotations

import json
import runpy
import secrets
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from portal.settings import parse_email_url
from tests import support
from tests.support import run_portal

BASE_DIR = Path(__file__).resolve().parent.parent


def production_env(**overrides: str) -> dict[str, str]:
    return {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "VAULT_KEYS": f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}",
        "DJANGO_ALLOWED_HOSTS": "portal.example.com",
        "EMAIL_URL": "smtp://portal:mail-pass-9137@smtp.example.com:587/?tls=true",
        # An empty database of its own (not the development db.sqlite3, which may hold the
        # demo user): the checks that read the database find nothing to object to.
        "DATABASE_URL": "sqlite://:memory:",
        **overrides,
    }


def test_it_passes_check_deploy_with_production_settings():
    env = production_env()
    result = run_portal(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout
    output = result.stdout + result.stderr
    assert env["DJANGO_SECRET_KEY"] not in output
    assert env["VAULT_KEYS"].split(",")[0] not in output
    assert "mail-pass-9137" not in output


def test_it_names_every_missing_setting_in_one_message():
    result = run_portal(["manage.py", "check"], DJANGO_DEBUG="false")
    assert result.returncode != 0
    messages = [line for line in result.stderr.splitlines() if "ImproperlyConfigured:" in line]
    assert len(messages) == 1, result.stderr
    assert "DJANGO_SECRET_KEY is not set" in messages[0]
    assert "VAULT_KEYS is not set" in messages[0]
    assert "EMAIL_URL is not set" in messages[0]
    assert "docs/deploy.md" in messages[0]


@pytest.mark.parametrize("backend", ["console", "locmem", "dummy", "filebased"])
def test_it_refuses_a_mail_backend_that_delivers_nothing(backend):
    env = production_env(EMAIL_BACKEND=f"django.core.mail.backends.{backend}.EmailBackend")
    result = run_portal(["manage.py", "check"], **env)
    assert result.returncode != 0
    assert f"EMAIL_BACKEND is Django's {backend} backend, which delivers no mail" in result.stderr


def test_it_names_an_unusable_email_url_without_echoing_it():
    env = production_env(EMAIL_URL="smtp://portal:hush-7781@smtp.example.com:port/", VAULT_KEYS="")
    result = run_portal(["manage.py", "check"], **env)
    assert result.returncode != 0
    (message,) = [line for line in result.stderr.splitlines() if "ImproperlyConfigured:" in line]
    assert "EMAIL_URL is not a usable smtp://" in message and "VAULT_KEYS is not set" in message
    assert "hush-7781" not in result.stderr


def test_it_lets_another_backend_bring_its_own_settings():
    # django-anymail's backends (docs/deploy.md) need no EMAIL_URL; its settings come from
    # ANYMAIL_* variables.
    env = production_env(EMAIL_URL="", EMAIL_BACKEND="anymail.backends.mailgun.EmailBackend")
    code = (
        "import django; django.setup(); from django.conf import settings; print(settings.ANYMAIL)"
    )
    result = run_portal(["-c", code], ANYMAIL_MAILGUN_API_KEY="key-123", **env)
    assert result.returncode == 0, result.stderr
    assert "{'MAILGUN_API_KEY': 'key-123'}" in result.stdout


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (
            "smtp://portal:p%40ss@smtp.example.com:587/?tls=true",
            ("smtp.example.com", 587, "portal", "p@ss", True, False, 10),
        ),
        (
            "smtps://u:p@mail.example.com/?timeout=5",
            ("mail.example.com", 465, "u", "p", False, True, 5),
        ),
        ("smtp://relay.internal/", ("relay.internal", 25, "", "", False, False, 10)),
        ("smtp://relay.internal:2525?tls=1", ("relay.internal", 2525, "", "", True, False, 10)),
    ],
)
def test_it_reads_email_url(url, expected):
    conf = parse_email_url(url)
    assert conf["EMAIL_BACKEND"] == "django.core.mail.backends.smtp.EmailBackend"
    assert expected == tuple(
        conf[name]
        for name in (
            "EMAIL_HOST",
            "EMAIL_PORT",
            "EMAIL_HOST_USER",
            "EMAIL_HOST_PASSWORD",
            "EMAIL_USE_TLS",
            "EMAIL_USE_SSL",
            "EMAIL_TIMEOUT",
        )
    )


@pytest.mark.parametrize(
    "url",
    [
        "console://",
        "http://smtp.example.com/",
        "smtp://",
        "smtp://u:secret-pw@host:99999999/",
        "smtps://u:secret-pw@host/?tls=true",
        "smtp://u:secret-pw@host/?timeout=soon",
    ],
)
def test_it_refuses_an_unusable_email_url_without_repeating_it(url):
    with pytest.raises(ValueError) as caught:
        parse_email_url(url)
    assert "secret-pw" not in str(caught.value)


# Committed for real, so the subprocess sees the user; serialized_rollback puts the database
# back as the other transactional tests expect it.
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_it_refuses_to_start_in_production_while_the_demo_user_exists():
    from django.contrib.auth.models import User

    env = production_env(DATABASE_URL=support.test_database_url())
    assert run_portal(["manage.py", "check"], **env).returncode == 0
    User.objects.create_user("demo", "demo@example.com", "demo-portal-2026")
    serve = ["-c", "import portal.asgi"]  # what gunicorn and uvicorn load
    for command in (["manage.py", "check"], ["manage.py", "check", "--deploy"], serve):
        result = run_portal(command, **env)
        assert result.returncode != 0
        assert "accounts.E001" in result.stderr and "demo" in result.stderr
    # Development seeds it on purpose (make run): no objection there.
    result = run_portal(
        ["manage.py", "check"], DJANGO_DEBUG="true", DATABASE_URL=env["DATABASE_URL"]
    )
    assert result.returncode == 0, result.stderr


def test_it_names_an_unusable_vault_key_without_echoing_it():
    result = run_portal(
        ["manage.py", "check"], **production_env(VAULT_KEYS="not-a-fernet-key-but-a-secret")
    )
    assert result.returncode != 0
    assert "VAULT_KEYS holds a value that is not a Fernet key" in result.stderr
    assert "not-a-fernet-key-but-a-secret" not in result.stderr


def test_it_collects_static_files_with_hashed_compressed_names(tmp_path):
    # The release step of docs/deploy.md: whitenoise then serves these with far-future caching.
    result = run_portal(
        ["manage.py", "collectstatic", "--noinput"], **production_env(STATIC_ROOT=str(tmp_path))
    )
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "staticfiles.json").read_text())
    hashed = manifest["paths"]["css/portal.css"]
    assert hashed != "css/portal.css"
    assert (tmp_path / hashed).exists()
    assert (tmp_path / f"{hashed}.gz").exists()


@pytest.mark.parametrize(("cpus", "workers"), [(1, 3), (2, 5), (4, 9), (32, 12)])
def test_it_sizes_gunicorn_from_the_cpu_count(monkeypatch, cpus, workers):
    monkeypatch.delenv("WEB_CONCURRENCY", raising=False)
    monkeypatch.setattr("multiprocessing.cpu_count", lambda: cpus)
    config = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    assert config["workers"] == workers
    assert config["accesslog"] is None  # requests are logged by the app, redacted


def test_it_lets_the_environment_size_gunicorn_and_log_json(monkeypatch):
    monkeypatch.setenv("WEB_CONCURRENCY", "7")
    monkeypatch.setenv("DJANGO_DEBUG", "false")
    monkeypatch.delenv("LOG_FORMAT", raising=False)
    config = runpy.run_path(str(BASE_DIR / "gunicorn.conf.py"))
    assert config["workers"] == 7
    handler = config["logconfig_dict"]["handlers"]["console"]
    assert handler["formatter"] == "json" and handler["filters"] == ["redact"]


@pytest.mark.parametrize(
    ("env", "pooled"),
    [
        ({"DATABASE_URL": "postgres://portal@db.example/portal"}, True),
        ({"DATABASE_URL": "postgres://portal@db.example/portal", "DB_POOL": "false"}, False),
        # A pool and persistent connections exclude each other: the operator's choice wins.
        ({"DATABASE_URL": "postgres://portal@db.example/portal", "DB_CONN_MAX_AGE": "60"}, False),
        ({"DATABASE_URL": "sqlite:///portal.sqlite3"}, False),
    ],
)
def test_it_pools_postgresql_connections_for_the_web_role(monkeypatch, env, pooled):
    for name in ("DB_POOL", "DB_CONN_MAX_AGE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    databases = runpy.run_path(str(BASE_DIR / "portal" / "settings.py"))["DATABASES"]
    options = databases["default"].get("OPTIONS", {})
    assert ("pool" in options) is pooled
    if pooled:
        assert options["pool"] == {"min_size": 2, "max_size": 10, "timeout": 10}
        assert databases["default"]["CONN_MAX_AGE"] == 0
