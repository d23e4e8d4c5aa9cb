from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone

from accounts import services
from accounts.models import AuditEvent, Invitation, Membership, ProviderKey

# Teams are registered by billing/admin.py: their list is mostly plan and usage columns, and
# accounts sits below billing.


class MembershipInline(admin.TabularInline):
    # Shown, not edited: roles move through accounts.services (which keeps an owner per team).
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["user", "role", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "team", "role", "created_at"]
    list_filter = ["role"]
    list_select_related = ["user", "team"]
    search_fields = ["user__username", "user__email", "team__name"]
    readonly_fields = ["team", "user", "role", "created_at"]

    def has_add_permission(self, request) -> bool:
        return False  # people join by invitation; roles change on the team page

    def has_change_permission(self, request, obj=None) -> bool:
        return False


class InvitationStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request, model_admin):
        return [(s, s.capitalize()) for s in ("pending", "expired", "accepted", "revoked")]

    def queryset(self, request, queryset):
        now = timezone.now()
        open_ = Q(accepted_at__isnull=True, revoked_at__isnull=True)
        return {
            "pending": queryset.filter(open_, expires_at__gt=now),
            "expired": queryset.filter(open_, expires_at__lte=now),
            "accepted": queryset.filter(accepted_at__isnull=False),
            "revoked": queryset.filter(revoked_at__isnull=False),
        }.get(self.value() or "", queryset)


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    list_display = ["email", "team", "role", "state", "invited_by", "created_at", "expires_at"]
    list_filter = [InvitationStateFilter, "role"]
    list_select_related = ["team", "invited_by"]
    search_fields = ["email", "team__name"]
    readonly_fields = [
        "team",
        "email",
        "role",
        "invited_by",
        "created_at",
        "expires_at",
        "accepted_at",
        "accepted_by",
        "revoked_at",
    ]
    exclude = ["token_hash"]
    actions = ["withdraw"]

    def has_add_permission(self, request) -> bool:
        return False  # made by the team's owners/admins, so the email carries the link

    @admin.display(description="State")
    def state(self, obj: Invitation) -> str:
        return obj.state(timezone.now())

    @admin.action(description="Withdraw selected invitations")
    def withdraw(self, request, queryset):
        done = sum(
            1 for inv in queryset if services.invitation_revoke(invitation=inv, by=request.user)
        )
        self.message_user(request, f"Withdrew {done} invitation(s).", messages.SUCCESS)


@admin.register(ProviderKey)
class ProviderKeyAdmin(admin.ModelAdmin):
    # The secret is never part of the admin form: editable=False keeps it out, and only the
    # last 4 characters are listed.
    list_display = ["label", "user", "provider", "region", "masked", "status", "created_at"]
    list_filter = ["provider", "region", "status"]
    search_fields = ["label", "user__username"]
    readonly_fields = ["user", "provider", "region", "masked", "created_at"]
    fields = [
        "label",
        "user",
        "provider",
        "region",
        "masked",
        "status",
        "status_reason",
        "created_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # keys are added by their owner through the vault page or API


@admin.register(AuditEvent)
class AuditEventAdmin(admin.ModelAdmin):
    # Staff read every team's log; nobody writes it here (append-only: accounts.audit.record
    # is its only writer, called where each act happens).
    list_display = ["at", "action", "actor_label", "team", "target", "ip"]
    list_filter = ["action", ("team", admin.RelatedOnlyFieldListFilter), "at"]
    list_select_related = ["team"]
    search_fields = ["actor_label", "target"]
    readonly_fields = ("at", "action", "actor", "actor_label", "team", "ip", "target", "data")
    fields = readonly_fields
    show_full_result_count = False  # no COUNT(*) over a table that only grows

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
