"""The key vault: MultiFernet encryption at rest, rotation, and the settings that guard it."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command

from accounts import vault
from accounts.models import ProviderKey
from tests.conftest import SECRET
from tests.support import run_portal
from videos.services import key_store

BASE_DIR = Path(__file__).resolve().parent.parent
OTHER_SECRET = "sk-api-second-secret-9999"


def new_key() -> str:
    return Fernet.generate_key().decode()


@pytest.fixture
def old_key(settings) -> str:
    key = new_key()
    settings.VAULT_KEYS = [key]
    return key


def rotate(stdout=None, stderr=None) -> tuple[str, str]:
    out, err = stdout or io.StringIO(), stderr or io.StringIO()
    call_command("rotate_vault_keys", stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


# --- encrypt / decrypt ------------------------------------------------------------------


def test_it_round_trips_a_secret(old_key):
    token = vault.encrypt(SECRET)
    assert vault.decrypt(token) == SECRET


def test_it_keeps_the_secret_out_of_the_ciphertext(old_key):
    token = vault.encrypt(SECRET)
    assert SECRET not in token
    assert SECRET[3:] not in token
    # Fernet: a fresh IV each time, so the same secret never gives the same ciphertext.
    assert vault.encrypt(SECRET) != token


def test_it_stores_a_key_encrypted_with_only_the_last4_in_clear(old_key, owner):
    key = key_store(user=owner, label="Main", secret=SECRET)
    key.refresh_from_db()
    assert SECRET not in key.secret_encrypted
    assert key.last4 == "5678"
    assert Fernet(old_key.encode()).decrypt(key.secret_encrypted.encode()).decode() == SECRET
    assert vault.decrypt(key.secret_encrypted) == SECRET


def test_it_decrypts_with_an_old_key_placed_after_a_new_one(settings, old_key):
    token = vault.encrypt(SECRET)
    settings.VAULT_KEYS = [new_key(), old_key]
    assert vault.decrypt(token) == SECRET


def test_it_encrypts_under_the_first_key(settings, old_key):
    first = new_key()
    settings.VAULT_KEYS = [first, old_key]
    token = vault.encrypt(SECRET)
    assert Fernet(first.encode()).decrypt(token.encode()).decode() == SECRET
    settings.VAULT_KEYS = [first]
    assert vault.decrypt(token) == SECRET


def test_it_raises_vault_error_when_no_key_decrypts(settings, old_key):
    token = vault.encrypt(SECRET)
    settings.VAULT_KEYS = [new_key()]
    with pytest.raises(vault.VaultError) as excinfo:
        vault.decrypt(token)
    assert "VAULT_KEYS" in str(excinfo.value)
    assert SECRET not in str(excinfo.value)


def test_it_raises_vault_error_for_a_stored_key_no_key_decrypts(settings, old_key, owner):
    key = key_store(user=owner, label="Main", secret=SECRET)
    settings.VAULT_KEYS = [new_key()]
    key.refresh_from_db()
    with pytest.raises(vault.VaultError):
        vault.decrypt(key.secret_encrypted)


def test_it_raises_vault_error_for_garbage_ciphertext(old_key):
    with pytest.raises(vault.VaultError):
        vault.decrypt("not-a-fernet-token")


def test_it_refuses_a_vault_key_that_is_not_a_fernet_key_without_echoing_it(settings):
    settings.VAULT_KEYS = ["this-is-not-a-fernet-key"]
    with pytest.raises(ImproperlyConfigured) as excinfo:
        vault.encrypt(SECRET)
    assert "this-is-not-a-fernet-key" not in str(excinfo.value)
    assert "VAULT_KEYS" in str(excinfo.value)


# --- rotate_vault_keys ------------------------------------------------------------------


def test_it_re_encrypts_every_key_under_the_first_key(settings, old_key, owner, outsider):
    first = key_store(user=owner, label="Main", secret=SECRET)
    second = key_store(user=outsider, label="Other", secret=OTHER_SECRET)
    before = {first.pk: first.secret_encrypted, second.pk: second.secret_encrypted}
    fresh = new_key()
    settings.VAULT_KEYS = [fresh, old_key]

    out, _ = rotate()

    assert "Re-encrypted 2 provider key(s)" in out
    for key, secret in ((first, SECRET), (second, OTHER_SECRET)):
        key.refresh_from_db()
        assert key.secret_encrypted != before[key.pk]
        assert SECRET not in key.secret_encrypted
        assert Fernet(fresh.encode()).decrypt(key.secret_encrypted.encode()).decode() == secret
    # The old key can go now.
    settings.VAULT_KEYS = [fresh]
    first.refresh_from_db()
    second.refresh_from_db()
    assert vault.decrypt(first.secret_encrypted) == SECRET
    assert vault.decrypt(second.secret_encrypted) == OTHER_SECRET


def test_it_re_encrypts_webhook_secrets_in_the_same_run(settings, old_key, owner, team):
    from integrations.services import webhook_secret_get, webhook_secret_reveal

    key_store(user=owner, label="Main", secret=SECRET)
    whsec = webhook_secret_reveal(secret=webhook_secret_get(team=team))
    fresh = new_key()
    settings.VAULT_KEYS = [fresh, old_key]

    out, _ = rotate()

    assert "1 provider key(s) and 1 webhook secret(s)" in out
    settings.VAULT_KEYS = [fresh]  # the old key is gone: the secret must still be readable
    assert webhook_secret_reveal(secret=webhook_secret_get(team=team)) == whsec


def test_it_draws_a_progress_bar_on_stderr(settings, old_key, owner, outsider):
    key_store(user=owner, label="Main", secret=SECRET)
    key_store(user=outsider, label="Other", secret=OTHER_SECRET)
    settings.VAULT_KEYS = [new_key(), old_key]

    out, err = rotate()

    assert "Re-encrypting [" in err
    assert "1/2" in err
    assert "[" + "#" * 30 + "] 2/2" in err
    assert err.endswith("\n")
    assert "Re-encrypting" not in out


def test_it_rotates_an_empty_vault(settings, old_key, db):
    settings.VAULT_KEYS = [new_key(), old_key]
    out, _ = rotate()
    assert "Re-encrypted 0 provider key(s)" in out


def test_it_fails_the_rotation_and_changes_nothing_when_a_key_cannot_be_decrypted(
    settings, old_key, owner, outsider
):
    good = key_store(user=owner, label="Main", secret=SECRET)
    settings.VAULT_KEYS = [new_key()]  # a key that is about to be lost
    lost = key_store(user=outsider, label="Lost", secret=OTHER_SECRET)
    before = {good.pk: good.secret_encrypted, lost.pk: lost.secret_encrypted}
    settings.VAULT_KEYS = [new_key(), old_key]

    with pytest.raises(CommandError) as excinfo:
        rotate()

    assert "nothing was changed" in str(excinfo.value)
    assert OTHER_SECRET not in str(excinfo.value)
    assert {k.pk: k.secret_encrypted for k in ProviderKey.objects.all()} == before


# --- settings ---------------------------------------------------------------------------


LOAD_SETTINGS = [
    "-c",
    "import django; from django.conf import settings; django.setup(); print(settings.DEBUG)",
]


def test_it_refuses_to_load_settings_without_vault_keys_in_production():
    result = run_portal(LOAD_SETTINGS, DJANGO_DEBUG="false", DJANGO_SECRET_KEY="s" * 50)
    assert result.returncode != 0
    assert "ImproperlyConfigured" in result.stderr
    assert "VAULT_KEYS" in result.stderr


def test_it_loads_settings_in_production_with_vault_keys():
    result = run_portal(
        LOAD_SETTINGS,
        DJANGO_DEBUG="false",
        DJANGO_SECRET_KEY="s" * 50,
        VAULT_KEYS=new_key(),
        EMAIL_URL="smtp://mail.example.com:587/?tls=true",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert "VAULT_KEYS" not in result.stderr


def test_it_warns_about_missing_vault_keys_in_debug():
    result = run_portal(["manage.py", "check"], DJANGO_DEBUG="true")
    assert result.returncode == 0, result.stderr
    assert "VAULT_KEYS" in result.stderr
    assert "WARNING" in result.stderr


def test_it_does_not_warn_in_debug_when_vault_keys_are_set():
    result = run_portal(["manage.py", "check"], DJANGO_DEBUG="true", VAULT_KEYS=new_key())
    assert result.returncode == 0, result.stderr
    assert "VAULT_KEYS" not in result.stderr
