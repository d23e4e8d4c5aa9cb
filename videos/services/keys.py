"""Vault keys as upstream credentials: stored after their provider checked their shape,
deleted only when no unfinished job needs them, marked invalid when the upstream refuses them.

The model and its encryption are accounts' (accounts.models.ProviderKey, accounts.vault);
what a key must look like is its provider's, so these writes live here, above both.
"""

from __future__ import annotations

from django.db import transaction

from accounts import vault
from accounts.models import KeyStatus, ProviderKey
from portal.errors import FieldError
from videos.errors import KeyInputError, KeyInUseError
from videos.models import JobStatus, VideoTemplate
from videos.providers import DEFAULT_PROVIDER, PROVIDERS, provider_for
from videos.providers.base import Credentials
from videos.queue import enqueue


def key_store(
    *,
    user,
    label: str,
    secret: str,
    provider: str = DEFAULT_PROVIDER,
    region: str = "",
    account: str = "",
    max_jobs: int | None = None,
) -> ProviderKey:
    label = (label or "").strip()
    secret = (secret or "").strip()
    account = (account or "").strip()
    if provider not in PROVIDERS:
        raise KeyInputError("provider", f"unknown provider; choose one of {', '.join(PROVIDERS)}")
    upstream = provider_for(provider)
    regions = [r.slug for r in upstream.regions]
    region = region or regions[0]
    if region not in regions:
        raise KeyInputError(
            "region", f"unknown region for {upstream.label}; choose one of {', '.join(regions)}"
        )
    if not label:
        raise KeyInputError("label", "a label is required")
    if len(label) > 100:
        raise KeyInputError("label", "at most 100 characters")
    if not secret:
        raise KeyInputError("secret", "the API key is required")
    # Each provider states its secret's shape: a key that could never be sent (spaces,
    # non-ASCII in an HTTP header) is refused here, not discovered by every submit.
    try:
        upstream.check_credentials(
            Credentials(secret=secret, region=region, account=account, max_jobs=max_jobs)
        )
    except FieldError as exc:
        raise KeyInputError(exc.field, exc.message) from None
    if ProviderKey.objects.filter(user=user, label=label).exists():
        raise KeyInputError("label", "you already have a key with this label")
    with transaction.atomic():
        key = ProviderKey.objects.create(
            user=user,
            provider=provider,
            region=region,
            label=label,
            secret_encrypted=vault.encrypt(secret),
            last4=secret[-4:],
            account=account,
            max_jobs=max_jobs,
        )
        if (
            upstream.lists_catalogue
            and not VideoTemplate.objects.filter(provider=provider).exists()
        ):
            # A provider that lists its own templates: its first working key fetches them
            # (every key saved while the catalogue is still empty tries).
            enqueue("videos.tasks.sync_templates", provider, key_id=key.pk)
    return key


def key_delete(*, key: ProviderKey) -> None:
    # The worker needs the key to keep asking the upstream about these jobs.
    busy = key.jobs.filter(status__in=JobStatus.in_flight()).count()
    if busy:
        raise KeyInUseError(
            f"this key is used by {busy} unfinished job(s); delete it when they are done"
        )
    key.delete()


def key_mark_invalid(*, key_id: int | None, reason: str) -> None:
    if key_id is None:
        return
    ProviderKey.objects.filter(pk=key_id).update(
        status=KeyStatus.INVALID, status_reason=reason[:200]
    )
