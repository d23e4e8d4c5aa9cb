"""Share links: a public page for one finished video, for anyone holding the link.

The link is the permission, so its token is drawn from 256 random bits and only its SHA-256
is stored: a leaked database (or a backup) opens no video. An unkeyed hash is enough here,
unlike for passwords, because there is no dictionary to try against 256 random bits, and it
survives a rotation of DJANGO_SECRET_KEY. The public page looks the hash up through a unique
index, so no string is compared character by character in Python against a guess.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from django.db import transaction
from django.db.models import F, Q
from django.urls import reverse
from django.utils import timezone

from accounts import audit
from accounts.models import Membership
from portal.errors import ConflictError, FieldError, NotFoundError
from videos.models import Job, JobStatus, Share

DAY = 24 * 60 * 60
# The API's range for `expires_in_s` (null: never): from a day to ten years.
SHARE_MIN_SECONDS = DAY
SHARE_MAX_SECONDS = 10 * 365 * DAY
# A token is 43 URL-safe characters; anything much longer in the URL is not one of ours.
TOKEN_MAX_LENGTH = 100
PREFIX_LENGTH = 6


class ShareInputError(FieldError):
    """Bad input for a share link: `field` names it, the message says why."""


class ShareStateError(ConflictError):
    """Only a finished video with a stored file can be shared."""

    code = "not_shareable"


def share_token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def share_url(raw: str, *, base_url: str) -> str:
    """The public page of a token, absolute with `base_url` (PUBLIC_BASE_URL or the request's)."""
    return base_url.rstrip("/") + reverse("videos:share", kwargs={"token": raw})


def _check_expiry(expires_in_s) -> None:
    # bool is an int in Python: `true` is not a number of seconds.
    if expires_in_s is None:
        return
    if isinstance(expires_in_s, bool) or not isinstance(expires_in_s, int):
        raise ShareInputError("expires_in_s", "must be a whole number of seconds or null (never)")
    if not SHARE_MIN_SECONDS <= expires_in_s <= SHARE_MAX_SECONDS:
        raise ShareInputError(
            "expires_in_s",
            f"must be between {SHARE_MIN_SECONDS} (a day) and {SHARE_MAX_SECONDS} (ten years) "
            "seconds, or null (never)",
        )


def share_create(
    *, job: Job, by, expires_in_s: int | None, ip: str | None = None
) -> tuple[Share, str]:
    """A new link to the job's video; returns the row and the raw token (shown once)."""
    _check_expiry(expires_in_s)
    # The callers look the job up within the user's teams; this keeps the rule where the act is.
    if not Membership.objects.filter(team_id=job.team_id, user=by).exists():
        raise NotFoundError("no such video")
    if job.status != JobStatus.SUCCEEDED:
        raise ShareStateError(f"only a finished video can be shared (status: {job.status})")
    result = job.result
    if result is None or not result.file:
        raise ShareStateError("this video has no stored file to share")
    raw = secrets.token_urlsafe(32)
    now = timezone.now()
    with transaction.atomic():
        share = Share.objects.create(
            job=job,
            created_by=by,
            token_hash=share_token_hash(raw),
            prefix=raw[:PREFIX_LENGTH],
            expires_at=now + timedelta(seconds=expires_in_s) if expires_in_s else None,
        )
        audit.record("share.created", actor=by, team=job.team, target=_target(share, job), ip=ip)
    return share, raw


def share_revoke(*, share: Share, by, ip: str | None = None) -> Share:
    """Stop the link at once. Revoking a revoked link changes nothing (and records nothing)."""
    with transaction.atomic():
        # Conditional: two revokes at once record one act, and the first time stays.
        revoked = Share.objects.filter(pk=share.pk, revoked_at__isnull=True).update(
            revoked_at=timezone.now()
        )
        if revoked:
            job = share.job
            audit.record(
                "share.revoked", actor=by, team=job.team, target=_target(share, job), ip=ip
            )
    share.refresh_from_db()
    return share


def _target(share: Share, job: Job) -> str:
    # The prefix only: the audit log never holds the token.
    return f"share {share.prefix}… of video {job.id}"


def share_for_token(raw: str) -> Share | None:
    """The live link of a token; None when it is unknown, revoked or expired (all alike)."""
    if not raw or len(raw) > TOKEN_MAX_LENGTH or not raw.isascii():
        return None
    now = timezone.now()
    return (
        Share.objects.select_related("job__template")
        .filter(token_hash=share_token_hash(raw), revoked_at__isnull=True)
        .filter(Q(expires_at__isnull=True) | Q(expires_at__gt=now))
        .filter(job__status=JobStatus.SUCCEEDED)
        .first()
    )


def share_count_view(*, share: Share) -> None:
    """One more view, counted in the database (concurrent views all count); not once the
    link is revoked, should that happen between the lookup and this."""
    Share.objects.filter(pk=share.pk, revoked_at__isnull=True).update(views=F("views") + 1)
