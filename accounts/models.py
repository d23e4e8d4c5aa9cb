from __future__ import annotations

from django.conf import settings
from django.db import models


class Team(models.Model):
    name = models.CharField(max_length=100)
    # The team made for a user at sign-up; there is exactly one per user.
    personal_for = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="personal_team",
    )
    # Set by the team's owners: a member without two-factor authentication who works in the
    # team is sent to set it up before anything else (accounts.middleware).
    require_mfa = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Role(models.TextChoices):
    OWNER = "owner", "Owner"
    ADMIN = "admin", "Admin"
    MEMBER = "member", "Member"


class Membership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_team_user_uniq"),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class KeyStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INVALID = "invalid", "Invalid"


class KeyCooling(models.TextChoices):
    """Why a usable key is resting until `cooling_until`."""

    RATE_LIMITED = "rate_limited", "Rate-limited"
    OUT_OF_BALANCE = "out_of_balance", "Out of balance"


class ProviderKey(models.Model):
    """An upstream API key of one user, encrypted at rest (see accounts/vault.py).

    `provider` and `region` are slugs of videos.providers (checked where keys are stored,
    videos.services.keys): this app sits below the one that knows the upstreams.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_keys"
    )
    provider = models.CharField(max_length=20)
    region = models.CharField(max_length=10)
    label = models.CharField(max_length=100)
    secret_encrypted = models.TextField(editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    # Options some providers take: an account chosen at the upstream, a cap on its jobs at once.
    account = models.CharField(max_length=100, blank=True)
    max_jobs = models.PositiveSmallIntegerField(null=True, blank=True)
    # Shared with a team: its members' jobs may run on the key (never seeing the secret); the
    # user stays its owner. Unsharing takes effect for new jobs at once.
    shared_with = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="shared_keys"
    )
    # Capacity: jobs at once at the upstream, and creates per minute (empty: the provider's
    # default). Enforced across every worker by the job pool (videos.services.pool).
    max_concurrent = models.PositiveSmallIntegerField(null=True, blank=True)
    rpm = models.PositiveSmallIntegerField(null=True, blank=True)
    # When the creates of the last minute were sent (epoch seconds, oldest first, at most
    # `rpm` of them): a sliding window, so no 60 s ever holds more than `rpm`. Written under
    # the key row's lock.
    recent_creates = models.JSONField(default=list, blank=True, editable=False)
    # Resting after a rate limit or an empty balance; new jobs go to other keys meanwhile.
    cooling_until = models.DateTimeField(null=True, blank=True)
    cooling_reason = models.CharField(max_length=20, choices=KeyCooling.choices, blank=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    last_checked_at = models.DateTimeField(null=True, blank=True)
    last_check_ok = models.BooleanField(null=True, blank=True)
    status = models.CharField(max_length=10, choices=KeyStatus.choices, default=KeyStatus.ACTIVE)
    status_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [
            # The default key lookup: a user's active keys for one provider and region.
            models.Index(
                fields=["user", "provider", "region", "status"], name="providerkey_pick_idx"
            ),
            # The pool: the keys shared with a team, for one provider and region.
            models.Index(
                fields=["shared_with", "provider", "region", "status"],
                name="providerkey_shared_idx",
                condition=models.Q(shared_with__isnull=False),
            ),
        ]
        constraints = [
            models.UniqueConstraint(fields=["user", "label"], name="providerkey_user_label_uniq"),
            models.CheckConstraint(
                condition=models.Q(max_concurrent__isnull=True) | models.Q(max_concurrent__gte=1),
                name="providerkey_max_concurrent_positive",
            ),
            models.CheckConstraint(
                condition=models.Q(rpm__isnull=True) | models.Q(rpm__gte=1),
                name="providerkey_rpm_positive",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} (…{self.last4})"

    @property
    def masked(self) -> str:
        return f"••••{self.last4}"


class Invitation(models.Model):
    """An email link that lets one person join a team: it works once, until it expires.

    Only a hash of the token is stored (like a password); the link is shown to the inviter
    and sent by email once, when it is made.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invitations")
    email = models.EmailField()
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="accepted_invitations",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            # One open invitation per address and team: inviting again replaces the old one.
            models.UniqueConstraint(
                fields=["team", "email"],
                condition=models.Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="invitation_team_email_open_uniq",
            ),
            models.CheckConstraint(
                condition=models.Q(accepted_at__isnull=True) | models.Q(revoked_at__isnull=True),
                name="invitation_not_accepted_and_revoked",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.email} to {self.team} ({self.role})"

    @property
    def is_open(self) -> bool:
        return self.accepted_at is None and self.revoked_at is None

    def state(self, now) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        return "expired" if self.expires_at <= now else "pending"


class AuditAction(models.TextChoices):
    SIGNIN_SUCCEEDED = "signin.succeeded", "Signed in"
    SIGNIN_FAILED = "signin.failed", "Sign-in failed"
    KEY_ADDED = "key.added", "Key added"
    KEY_SHARED = "key.shared", "Key shared"
    KEY_UNSHARED = "key.unshared", "Key unshared"
    KEY_DELETED = "key.deleted", "Key deleted"
    KEY_ROTATED = "key.rotated", "Key rotated"
    TOKEN_MINTED = "token.minted", "API token minted"
    TOKEN_REVOKED = "token.revoked", "API token revoked"
    INVITATION_SENT = "invitation.sent", "Invitation sent"
    INVITATION_ACCEPTED = "invitation.accepted", "Invitation accepted"
    MEMBER_ROLE_CHANGED = "member.role_changed", "Member role changed"
    MEMBER_REMOVED = "member.removed", "Member removed"
    PLAN_CHANGED = "plan.changed", "Plan changed"
    WEBHOOK_SECRET_ROTATED = "webhook_secret.rotated", "Webhook secret rotated"
    MFA_ENABLED = "mfa.enabled", "Two-factor enabled"
    MFA_DISABLED = "mfa.disabled", "Two-factor disabled"
    SHARE_CREATED = "share.created", "Share link made"
    SHARE_REVOKED = "share.revoked", "Share link revoked"


class AppendOnly(Exception):
    """An audit row was to be changed or deleted: the log only grows."""


class AuditEventQuerySet(models.QuerySet):
    # The guard for bulk writes through the default manager. Deleting a user or a team still
    # works: the deletion collector nulls `actor`/`team` through the plain base manager, which
    # is the one change the log allows (the row keeps `actor_label`).
    def update(self, **kwargs):
        raise AppendOnly("audit events cannot be updated")

    def delete(self):
        raise AppendOnly("audit events cannot be deleted")


class AuditEvent(models.Model):
    """One security-relevant act: who, when, from where, in which team, what, on what.

    Written by accounts.audit.record only, in the transaction of the act. `target` and `data`
    describe the object ('key "Production" (…ab12)'), never a secret.
    """

    at = models.DateTimeField(auto_now_add=True, db_index=True)
    # Null for anonymous acts (a failed sign-in) and the system; `actor_label` keeps the
    # username after the user is deleted.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    actor_label = models.CharField(max_length=150, blank=True)
    # Null for acts outside any team (a failed sign-in) and after the team is deleted: staff
    # still see the row in the admin.
    team = models.ForeignKey(
        Team, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    ip = models.GenericIPAddressField(null=True, blank=True)
    action = models.CharField(max_length=40, choices=AuditAction.choices)
    target = models.CharField(max_length=200, blank=True)
    data = models.JSONField(default=dict, blank=True)

    objects = AuditEventQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            # The team's log page and API, newest first, paged by the (at, id) keyset.
            models.Index(fields=["team", "-at", "-id"], name="auditevent_team_at_idx"),
            # Staff in the admin, filtering one action across teams.
            models.Index(fields=["action", "-at"], name="auditevent_action_at_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.action} by {self.actor_label or 'anonymous'}: {self.target}"

    def save(self, *args, **kwargs):
        if self.pk is not None and not self._state.adding:
            raise AppendOnly("audit events cannot be updated")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnly("audit events cannot be deleted")
