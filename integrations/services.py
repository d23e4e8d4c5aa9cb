"""Writes for personal access tokens and teams' webhook signing secrets."""

from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import secrets
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts import audit, vault
from accounts.models import AuditAction, Membership, Team
from integrations.models import ApiToken, WebhookSecret
from portal.errors import FieldError

TOKEN_PREFIX = "vap_"  # noqa: S105  (a public marker that log redaction and scanners know)
# "vap_" and 8 random characters: enough to find the row, useless without the rest.
LOOKUP_LENGTH = 12
# last_used_at is a hint for people, not an audit log: one write a minute per token is plenty.
LAST_USED_RESOLUTION = timedelta(minutes=1)
WHSEC_PREFIX = "whsec_"


class TokenInputError(FieldError):
    """Bad input: `field` names the input, the message says why."""


# --- Personal access tokens ------------------------------------------------------------


def _token_hash(raw: str, *, secret_key: str | None = None) -> str:
    # HMAC, not a bare hash: a leaked database alone does not allow checking guesses.
    key_material = secret_key if secret_key is not None else settings.SECRET_KEY
    return hmac.new(_hmac_key(key_material), raw.encode(), hashlib.sha256).hexdigest()


@functools.lru_cache(maxsize=8)
def _hmac_key(key_material: str) -> bytes:
    # Derived once per secret key, not on every authenticated request.
    return hashlib.sha256(f"integrations.api-token:{key_material}".encode()).digest()


def _token_matches(token: ApiToken, raw: str) -> bool:
    if hmac.compare_digest(token.hashed, _token_hash(raw)):
        return True
    # While DJANGO_SECRET_KEY rolls over, tokens hashed under an old key still work; the
    # first use re-hashes them under the new one, so the old key can go without a cut-off.
    for old_key in settings.SECRET_KEY_FALLBACKS:
        if hmac.compare_digest(token.hashed, _token_hash(raw, secret_key=old_key)):
            ApiToken.objects.filter(pk=token.pk, hashed=token.hashed).update(
                hashed=_token_hash(raw)
            )
            return True
    return False


def token_create(*, user, team: Team, name: str, ip: str | None = None) -> tuple[ApiToken, str]:
    """Make a token for the user in the team; returns the row and the token (shown once)."""
    name = (name or "").strip()
    if not name:
        raise TokenInputError("name", "a name is required")
    if len(name) > 100:
        raise TokenInputError("name", "at most 100 characters")
    if not Membership.objects.filter(team=team, user=user).exists():
        raise TokenInputError("team", f"{user.get_username()} is not a member of {team.name}")
    for _ in range(5):
        raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
        try:
            with transaction.atomic():  # a savepoint: a prefix collision must not poison more
                token = ApiToken.objects.create(
                    user=user,
                    team=team,
                    name=name,
                    prefix=raw[:LOOKUP_LENGTH],
                    hashed=_token_hash(raw),
                )
        except IntegrityError:
            continue  # 64**8 prefixes: a collision is rare; just draw again
        audit.record(
            AuditAction.TOKEN_MINTED, actor=user, team=team, target=_token_target(token), ip=ip
        )
        return token, raw
    raise RuntimeError("could not draw a unique token prefix")


def _token_target(token: ApiToken) -> str:
    # The name and the public lookup prefix ("vap_" + 8), never the rest of the token.
    return f'token "{token.name}" ({token.prefix}…)'


def token_revoke(*, token: ApiToken, by=None, ip: str | None = None) -> None:
    with transaction.atomic():
        revoked = ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:  # once: revoking a revoked token is no act
            audit.record(
                AuditAction.TOKEN_REVOKED,
                actor=by,
                team=token.team,
                target=_token_target(token),
                ip=ip,
            )
    token.refresh_from_db()


def token_authenticate(*, raw: str) -> ApiToken | None:
    """The active token for this string, its user still in its team; None otherwise."""
    if not raw.startswith(TOKEN_PREFIX) or not (LOOKUP_LENGTH < len(raw) <= 200):
        return None
    # One query: the token, its user and team, and whether the user is still a member of
    # the team (a token made in a team stops working when its user leaves it). No cache, so
    # a revocation, a deactivated user or a removed member is refused on the next request.
    member = Membership.objects.filter(team_id=OuterRef("team_id"), user_id=OuterRef("user_id"))
    token = (
        ApiToken.objects.select_related("user", "team")
        .filter(
            Exists(member),
            prefix=raw[:LOOKUP_LENGTH],
            revoked_at__isnull=True,
            user__is_active=True,
        )
        .order_by()
        .first()
    )
    if token is None or not _token_matches(token, raw):
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at >= LAST_USED_RESOLUTION:
        ApiToken.objects.filter(pk=token.pk).filter(
            Q(last_used_at__isnull=True) | Q(last_used_at__lte=now - LAST_USED_RESOLUTION)
        ).update(last_used_at=now)
        token.last_used_at = now
    return token


# --- Webhook signing secrets -----------------------------------------------------------


def _new_whsec() -> str:
    return WHSEC_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def webhook_secret_get(*, team: Team) -> WebhookSecret:
    """The team's signing secret, made on first use."""
    existing = WebhookSecret.objects.filter(team=team).first()
    if existing is not None:
        return existing
    raw = _new_whsec()
    try:
        with transaction.atomic():
            return WebhookSecret.objects.create(
                team=team, secret_encrypted=vault.encrypt(raw), last4=raw[-4:]
            )
    except IntegrityError:
        # Two first uses at once: the other one's secret is the team's secret.
        return WebhookSecret.objects.get(team=team)


def webhook_secret_reveal(*, secret: WebhookSecret) -> str:
    """The plaintext `whsec_...`: for code that signs or verifies, never for a page."""
    return vault.decrypt(secret.secret_encrypted)


def webhook_secret_rotate(
    *, team: Team, by=None, ip: str | None = None
) -> tuple[WebhookSecret, str]:
    """A new secret; returns the row and the plaintext, to be shown this once.

    The old one keeps signing for WEBHOOK_SECRET_OVERLAP_SECONDS. Pages never show a saved
    secret again, so rotating is also how a team that never saw its secret gets one.
    """
    webhook_secret_get(team=team)
    raw = _new_whsec()
    with transaction.atomic():
        secret = WebhookSecret.objects.select_for_update().get(team=team)
        secret.previous_encrypted = secret.secret_encrypted
        secret.secret_encrypted = vault.encrypt(raw)
        secret.last4 = raw[-4:]
        secret.rotated_at = timezone.now()
        secret.save()
        audit.record(
            AuditAction.WEBHOOK_SECRET_ROTATED,
            actor=by,
            team=team,
            target=f"webhook signing secret (…{secret.last4})",
            ip=ip,
        )
    return secret, raw


def webhook_signing_keys(*, team: Team) -> list[bytes]:
    """HMAC keys to sign with: the current secret, then the previous one while it overlaps."""
    secret = webhook_secret_get(team=team)
    values = [vault.decrypt(secret.secret_encrypted)]
    overlap = timedelta(seconds=settings.WEBHOOK_SECRET_OVERLAP_SECONDS)
    if (
        secret.previous_encrypted
        and secret.rotated_at
        and (timezone.now() - secret.rotated_at < overlap)
    ):
        values.append(vault.decrypt(secret.previous_encrypted))
    # Standard Webhooks: the key is the base64-decoded part after "whsec_".
    return [base64.b64decode(value.removeprefix(WHSEC_PREFIX)) for value in values]


def webhook_secrets_vault_rotate_all() -> int:
    """Re-encrypt every webhook secret under the first VAULT_KEYS entry (vault key rotation)."""
    with transaction.atomic():
        rows = list(WebhookSecret.objects.select_for_update())
        for row in rows:
            row.secret_encrypted = vault.rotate(row.secret_encrypted)
            if row.previous_encrypted:
                row.previous_encrypted = vault.rotate(row.previous_encrypted)
            row.save(update_fields=["secret_encrypted", "previous_encrypted"])
    return len(rows)
