"""Vault keys as upstream credentials: stored after their provider checked their shape,
shared with a team (its members' jobs run on it, nobody sees the secret), limited in jobs at
once and creates per minute, checked with a harmless call, deleted only when no unfinished
job needs them, marked invalid when the upstream refuses them.

The model and its encryption are accounts' (accounts.models.ProviderKey, accounts.vault);
what a key must look like is its provider's, so these writes live here, above both.
"""

from __future__ import annotations

from django.db import transaction
from django.db.models import Q
from django.views.decorators.debug import sensitive_variables

from accounts import audit, vault
from accounts.models import AuditAction, KeyStatus, ProviderKey
from accounts.selectors import is_manager
from portal.errors import FieldError
from videos.errors import KeyInputError, KeyInUseError, KeyPermissionError
from videos.models import JobStatus, KeyEvent, KeyEventKind, VideoTemplate
from videos.providers import DEFAULT_PROVIDER, PROVIDERS, provider_for
from videos.providers.base import Credentials
from videos.queue import enqueue
from videos.services.pool import AMBIGUOUS, pool_wake_for_key
from videos.signals import key_health_changed


@sensitive_variables("secret")  # error reports never show it
def key_store(
    *,
    user,
    label: str,
    secret: str,
    provider: str = DEFAULT_PROVIDER,
    region: str = "",
    account: str = "",
    max_jobs: int | None = None,
    share_with=None,
    max_concurrent: int | None = None,
    rpm: int | None = None,
    ip: str | None = None,
) -> ProviderKey:
    """`share_with`: a team of the user's to share the key with at once (None: not shared)."""
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
    _check_secret(
        upstream, Credentials(secret=secret, region=region, account=account, max_jobs=max_jobs)
    )
    _check_limits(max_concurrent=max_concurrent, rpm=rpm)
    if share_with is not None and not share_with.memberships.filter(user=user).exists():
        raise KeyInputError("shared", "you can only share a key with a team you are in")
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
            shared_with=share_with,
            max_concurrent=max_concurrent,
            rpm=rpm,
        )
        audit.record(
            AuditAction.KEY_ADDED,
            actor=user,
            team=_audit_team(key),
            target=_audit_target(key),
            ip=ip,
            data={"provider": provider, "region": region, "shared": share_with is not None},
        )
        # A harmless call tells at once whether the upstream takes it (a task: no request
        # waits on the upstream).
        enqueue("videos.tasks.check_key", key.pk)
        pool_wake_for_key(key_id=key.pk)  # jobs waiting for a key may run on this one
        if (
            upstream.lists_catalogue
            and not VideoTemplate.objects.filter(provider=provider).exists()
        ):
            # A provider that lists its own templates: its first working key fetches them
            # (every key saved while the catalogue is still empty tries).
            enqueue("videos.tasks.sync_templates", provider, key_id=key.pk)
    return key


def key_delete(*, key: ProviderKey, by=None, ip: str | None = None) -> None:
    """Delete a key no unfinished job needs. Jobs that only tried it and went back to the
    pool's queue let go of it; the lock keeps a claim from taking it meanwhile."""
    with transaction.atomic():
        ProviderKey.objects.select_for_update().filter(pk=key.pk).first()
        _refuse_while_needed(key, "delete it")
        key.jobs.filter(status=JobStatus.QUEUED).update(key=None)
        team, target = _audit_team(key), _audit_target(key)
        key.delete()
        audit.record(AuditAction.KEY_DELETED, actor=by, team=team, target=target, ip=ip)


@sensitive_variables("secret")  # error reports never show it
def key_rotate(*, key: ProviderKey, by, secret: str, ip: str | None = None) -> ProviderKey:
    """The owner's new secret for a key (after rotating it at the upstream): label, limits and
    sharing stay. The key is active again and checked at once, like a new one."""
    if key.user_id != by.pk:
        raise KeyPermissionError("only the key's owner can replace its secret")
    secret = (secret or "").strip()
    _check_secret(
        provider_for(key.provider),
        Credentials(secret=secret, region=key.region, account=key.account, max_jobs=key.max_jobs),
    )
    with transaction.atomic():
        ProviderKey.objects.select_for_update().filter(pk=key.pk).first()
        # The new secret may belong to another account, where these jobs' tasks don't exist.
        _refuse_while_needed(key, "replace its secret")
        key.secret_encrypted = vault.encrypt(secret)
        key.last4 = secret[-4:]
        key.status, key.status_reason = KeyStatus.ACTIVE, ""
        key.cooling_until, key.cooling_reason = None, ""
        key.last_checked_at = key.last_check_ok = None
        key.save(
            update_fields=[
                "secret_encrypted",
                "last4",
                "status",
                "status_reason",
                "cooling_until",
                "cooling_reason",
                "last_checked_at",
                "last_check_ok",
            ]
        )
        audit.record(
            AuditAction.KEY_ROTATED,
            actor=by,
            team=_audit_team(key),
            target=_audit_target(key),
            ip=ip,
        )
        enqueue("videos.tasks.check_key", key.pk)
        pool_wake_for_key(key_id=key.pk)
    return key


@sensitive_variables("credentials")
def _check_secret(upstream, credentials: Credentials) -> None:
    if not credentials.secret:
        raise KeyInputError("secret", "the API key is required")
    # Each provider states its secret's shape: a key that could never be sent (spaces,
    # non-ASCII in an HTTP header) is refused here, not discovered by every submit.
    try:
        upstream.check_credentials(credentials)
    except FieldError as exc:
        raise KeyInputError(exc.field, exc.message) from None


def _refuse_while_needed(key: ProviderKey, act: str) -> None:
    """Refuse while an unfinished job needs the key (call with the key's row locked)."""
    # The worker needs the key to keep asking the upstream about these jobs, and a job
    # chosen to run on it (pinned) or whose create there may exist must look there.
    stays = Q(key_pinned=True) | Q(upstream_data__has_key=AMBIGUOUS)
    needed = Q(status__in=[JobStatus.SUBMITTING, JobStatus.PROCESSING]) | (
        Q(status=JobStatus.QUEUED) & stays
    )
    busy = key.jobs.filter(needed).count()
    if busy:
        raise KeyInUseError(
            f"this key is used by {busy} unfinished job(s); {act} when they are done"
        )


def key_mark_invalid(*, key_id: int | None, reason: str) -> None:
    """The upstream refused the key: no job uses it any more, its owner sees why."""
    if key_id is None:
        return
    # Once: a refusal seen twice on the way (the submit, then the job's end) is one event.
    marked = (
        ProviderKey.objects.filter(pk=key_id)
        .exclude(status=KeyStatus.INVALID)
        .update(status=KeyStatus.INVALID, status_reason=reason[:200])
    )
    if marked:
        KeyEvent.objects.create(key_id=key_id, kind=KeyEventKind.REJECTED, message=reason[:300])
        key_health_changed.send(
            sender=ProviderKey, key_id=key_id, kind=KeyEventKind.REJECTED, reason=reason
        )


def _check_limits(*, max_concurrent: int | None, rpm: int | None) -> None:
    for field, value, most in (("max_concurrent", max_concurrent, 100), ("rpm", rpm, 10_000)):
        if value is None:
            continue
        if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= most:
            raise KeyInputError(field, f"a whole number from 1 to {most}, or empty for the default")


UNSET = object()


def key_update(
    *,
    key: ProviderKey,
    by,
    team,
    label: str | object = UNSET,
    shared: bool | object = UNSET,
    max_concurrent: int | object | None = UNSET,
    rpm: int | object | None = UNSET,
    ip: str | None = None,
) -> ProviderKey:
    """Change a key. Its owner changes anything; an owner or admin of `team` (the team the
    key is shared with) may only unshare it. Unsharing stops new jobs of the team from using
    it at once; jobs already running on it finish."""
    is_owner = key.user_id == by.pk
    manages = key.shared_with_id == team.pk and is_manager(team=team, user=by)
    if not is_owner:
        if not manages or label is not UNSET or max_concurrent is not UNSET or rpm is not UNSET:
            raise KeyPermissionError("only the key's owner can change it")
        if shared is not False and shared is not UNSET:
            raise KeyPermissionError("only the key's owner can share it")
    fields: dict[str, object] = {}
    if label is not UNSET:
        text = str(label or "").strip()
        if not text or len(text) > 100:
            raise KeyInputError("label", "a label of 1 to 100 characters is required")
        if ProviderKey.objects.filter(user=key.user, label=text).exclude(pk=key.pk).exists():
            raise KeyInputError("label", "you already have a key with this label")
        fields["label"] = text
    if max_concurrent is not UNSET or rpm is not UNSET:
        new_max = key.max_concurrent if max_concurrent is UNSET else max_concurrent
        new_rpm = key.rpm if rpm is UNSET else rpm
        _check_limits(max_concurrent=new_max, rpm=new_rpm)  # type: ignore[arg-type]
        fields.update(max_concurrent=new_max, rpm=new_rpm)
    if shared is not UNSET:
        if shared and not team.memberships.filter(user=by).exists():
            raise KeyInputError("shared", "you can only share a key with a team you are in")
        fields["shared_with"] = team if shared else None
    if fields:
        was_shared_with = key.shared_with
        with transaction.atomic():
            ProviderKey.objects.filter(pk=key.pk).update(**fields)
            key.refresh_from_db()
            _audit_sharing(key, before=was_shared_with, by=by, ip=ip)
        if shared is True or fields.keys() & {"max_concurrent", "rpm"}:
            pool_wake_for_key(key_id=key.pk)  # more room for the teams it serves
    return key


def _audit_team(key: ProviderKey):
    # The team whose log shows the key's acts: the one it is shared with (its jobs use it),
    # else its owner's personal team (nobody else's business).
    return key.shared_with or getattr(key.user, "personal_team", None)


def _audit_target(key: ProviderKey) -> str:
    return f'key "{key.label}" (…{key.last4})'  # the label and the last 4 the pages show


def _audit_sharing(key: ProviderKey, *, before, by, ip: str | None) -> None:
    after = key.shared_with
    if getattr(before, "pk", None) == getattr(after, "pk", None):
        return
    # Moving a share from one team to another unshares it there: each team's log says so.
    if before is not None:
        audit.record(
            AuditAction.KEY_UNSHARED, actor=by, team=before, target=_audit_target(key), ip=ip
        )
    if after is not None:
        audit.record(AuditAction.KEY_SHARED, actor=by, team=after, target=_audit_target(key), ip=ip)


def key_test(*, key: ProviderKey, by) -> bool:
    """ "Test" on the key page and the API: its owner's to run (it spends their account's
    rate; a teammate using a shared key sees its status instead)."""
    if key.user_id != by.pk:
        raise KeyPermissionError("only the key's owner can test it")
    return key_check(key=key)


def key_check(*, key: ProviderKey) -> bool:
    """A harmless authenticated call: does the upstream take the key? Recorded on the key
    (last check, its events); a rejected key is marked invalid."""
    from django.utils import timezone

    from accounts.vault import VaultError
    from videos.providers.errors import CredentialsRejected, UpstreamError
    from videos.services.transitions import credentials_for

    provider = provider_for(key.provider)
    try:
        provider.check_key(credentials_for(key))
    except CredentialsRejected as exc:
        key_mark_invalid(key_id=key.pk, reason=exc.message)
        ok = False
    except (UpstreamError, VaultError) as exc:
        # Not an answer about the key (the upstream is down, say): no verdict either way.
        message = getattr(exc, "message", str(exc))
        KeyEvent.objects.create(key=key, kind=KeyEventKind.ERROR, message=message[:300])
        ProviderKey.objects.filter(pk=key.pk).update(last_checked_at=timezone.now())
        key.refresh_from_db()
        return bool(key.last_check_ok)
    else:
        ok = True
        ProviderKey.objects.filter(pk=key.pk).update(status=KeyStatus.ACTIVE, status_reason="")
        KeyEvent.objects.create(key=key, kind=KeyEventKind.CHECKED)
        pool_wake_for_key(key_id=key.pk)  # back in use (or newly saved): waiting jobs look
    ProviderKey.objects.filter(pk=key.pk).update(last_checked_at=timezone.now(), last_check_ok=ok)
    key.refresh_from_db()
    return ok


def key_check_by_id(*, key_id: int) -> None:
    key = ProviderKey.objects.filter(pk=key_id).first()
    if key is not None:
        key_check(key=key)
