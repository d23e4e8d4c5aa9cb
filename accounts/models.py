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


class Provider(models.TextChoices):
    MINIMAX = "minimax", "MiniMax (official API)"


class Region(models.TextChoices):
    GLOBAL = "global", "Global (api.minimax.io)"
    CN = "cn", "Mainland China (api.minimaxi.com)"


class KeyStatus(models.TextChoices):
    ACTIVE = "active", "Active"
    INVALID = "invalid", "Invalid"


class ProviderKey(models.Model):
    """An upstream API key of one user, encrypted at rest (see accounts/vault.py)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="provider_keys"
    )
    provider = models.CharField(max_length=20, choices=Provider.choices, default=Provider.MINIMAX)
    region = models.CharField(max_length=10, choices=Region.choices, default=Region.GLOBAL)
    label = models.CharField(max_length=100)
    secret_encrypted = models.TextField(editable=False)
    last4 = models.CharField(max_length=4, editable=False)
    status = models.CharField(max_length=10, choices=KeyStatus.choices, default=KeyStatus.ACTIVE)
    status_reason = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "label"], name="providerkey_user_label_uniq"),
        ]
        indexes = [
            # The default key lookup: a user's active keys for one provider and region.
            models.Index(
                fields=["user", "provider", "region", "status"], name="providerkey_pick_idx"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.label} (…{self.last4})"

    @property
    def masked(self) -> str:
        return f"••••{self.last4}"
