"""The key vault: provider secrets encrypted with MultiFernet (first key encrypts, all decrypt).

A secret that no configured key can decrypt raises VaultError; there is no fallback, because
a silently wrong key is worse than a loud one.
"""

from __future__ import annotations

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.views.decorators.debug import sensitive_variables


class VaultError(Exception):
    """A stored secret could not be decrypted with any configured VAULT_KEYS entry."""


def _fernet() -> MultiFernet:
    try:
        return MultiFernet([Fernet(key.encode()) for key in settings.VAULT_KEYS])
    except ValueError as exc:
        # Never echo the key material itself.
        raise ImproperlyConfigured(
            "VAULT_KEYS holds a value that is not a Fernet key (32 url-safe base64 bytes)"
        ) from exc


@sensitive_variables("secret")
def encrypt(secret: str) -> str:
    return _fernet().encrypt(secret.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet().decrypt(token.encode()).decode()
    except InvalidToken:
        raise VaultError(
            "a stored provider key cannot be decrypted with any of VAULT_KEYS"
        ) from None


def rotate(token: str) -> str:
    """Re-encrypt under the first key (raises VaultError when nothing decrypts it)."""
    try:
        return _fernet().rotate(token.encode()).decode()
    except InvalidToken:
        raise VaultError(
            "a stored provider key cannot be decrypted with any of VAULT_KEYS"
        ) from None
