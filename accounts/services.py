"""Writes for teams and the key vault."""

from __future__ import annotations

from django.db import transaction

from accounts import vault
from accounts.models import KeyStatus, Membership, Provider, ProviderKey, Region, Role, Team


class KeyInputError(ValueError):
    """Bad input for a vault key: `field` names the input, the message says why."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field
        self.message = message


class KeyInUseError(Exception):
    pass


def team_create_personal(*, user) -> Team:
    with transaction.atomic():
        team = Team.objects.create(name=f"{user.get_username()}'s team", personal_for=user)
        Membership.objects.create(team=team, user=user, role=Role.OWNER)
    return team


def key_store(
    *, user, label: str, secret: str, provider: str = Provider.MINIMAX, region: str = Region.GLOBAL
) -> ProviderKey:
    label = (label or "").strip()
    secret = (secret or "").strip()
    if provider not in Provider.values:
        raise KeyInputError(
            "provider", f"unknown provider; choose one of {', '.join(Provider.values)}"
        )
    if region not in Region.values:
        raise KeyInputError("region", f"unknown region; choose one of {', '.join(Region.values)}")
    if not label:
        raise KeyInputError("label", "a label is required")
    if len(label) > 100:
        raise KeyInputError("label", "at most 100 characters")
    if len(secret) < 8:
        raise KeyInputError("secret", "the key is too short to be a MiniMax API key")
    if len(secret) > 4096 or any(ch.isspace() for ch in secret):
        raise KeyInputError("secret", "the key must be one line without spaces")
    if ProviderKey.objects.filter(user=user, label=label).exists():
        raise KeyInputError("label", "you already have a key with this label")
    return ProviderKey.objects.create(
        user=user,
        provider=provider,
        region=region,
        label=label,
        secret_encrypted=vault.encrypt(secret),
        last4=secret[-4:],
    )


def key_secret(*, key: ProviderKey) -> str:
    """The plaintext secret, for the upstream client only. Never log or show it."""
    return vault.decrypt(key.secret_encrypted)


def key_delete(*, key: ProviderKey) -> None:
    from videos.models import JobStatus

    # The worker needs the key to keep asking the upstream about these jobs.
    busy = key.jobs.filter(status__in=JobStatus.in_flight()).count()
    if busy:
        raise KeyInUseError(
            f"this key is used by {busy} unfinished job(s); delete it when they are done"
        )
    key.delete()


def key_mark_invalid(*, key_id: int, reason: str) -> None:
    ProviderKey.objects.filter(pk=key_id).update(
        status=KeyStatus.INVALID, status_reason=reason[:200]
    )


def vault_rotate_all(*, progress=None) -> int:
    """Re-encrypt every stored secret under the first VAULT_KEYS entry; returns the count.

    All or nothing: one secret that no key decrypts rolls the whole rotation back.
    `progress(done, total)` is called after each key (the command draws a bar with it).
    """
    with transaction.atomic():
        keys = list(ProviderKey.objects.select_for_update().only("pk", "secret_encrypted"))
        for done, key in enumerate(keys, start=1):
            rotated = vault.rotate(key.secret_encrypted)
            ProviderKey.objects.filter(pk=key.pk).update(secret_encrypted=rotated)
            if progress:
                progress(done, len(keys))
    return len(keys)
