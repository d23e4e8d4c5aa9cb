"""Production settings: check --deploy is clean, missing settings are named at once."""

from __future__ import annotations

import json
import runpy
import secrets
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tests.support import run_portal

BASE_DIR = Path(__file__).resolve().parent.parent


def production_env(**overrides: str) -> dict[str, str]:
    return {
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "VAULT_KEYS": f"{Fernet.generate_key().decode()},{Fernet.generate_key().decode()}",
        "DJANGO_ALLOWED_HOSTS": "portal.example.com",
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


def test_it_names_every_missing_setting_in_one_message():
    result = run_portal(["manage.py", "check"], DJANGO_DEBUG="false")
    assert result.returncode != 0
    messages = [line for line in result.stderr.splitlines() if "ImproperlyConfigured:" in line]
    assert len(messages) == 1, result.stderr
    assert "DJANGO_SECRET_KEY is not set" in messages[0]
    assert "VAULT_KEYS is not set" in messages[0]
    assert "docs/deploy.md" in messages[0]


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
