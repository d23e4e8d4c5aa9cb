from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Q
from django.utils import timezone

from accounts import services
from accounts.models import Invitation, Membership, ProviderKey, Team
from billing.admin import TEAM_ACTIONS, TeamPlanInline, cents, statement_link
from billing.selectors import team_usage, teams_with_usage


class MembershipInline(admin.TabularInline):
    # Shown, not edited: roles move through accounts.services (which keeps an owner per team).
    model = Membership
    extra = 0
    fields = ["user", "role", "created_at"]
    readonly_fields = ["user", "role", "created_at"]
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class SuspendedFilter(admin.SimpleListFilter):
    title = "suspended"
    parameter_name = "suspended"

    def lookups(self, request, model_admin):
        return [("yes", "Suspended"), ("no", "Active")]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(billing__suspended_at__isnull=False)
        if self.value() == "no":
            return queryset.filter(billing__suspended_at__isnull=True)
        return queryset


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "plan",
        "members",
        "videos_month",
        "spent_month",
        "reserved_month",
        "running_now",
        "is_suspended",
    ]
    list_filter = ["billing__plan", SuspendedFilter, "created_at"]
    search_fields = ["name", "personal_for__username", "memberships__user__email"]
    inlines = [TeamPlanInline, MembershipInline]
    actions = TEAM_ACTIONS
    readonly_fields = ["created_at", "usage_summary", "statement"]
    fieldsets = [
        (None, {"fields": ["name", "personal_for", "created_at"]}),
        ("Usage", {"fields": ["usage_summary", "statement"]}),
    ]

    def has_add_permission(self, request) -> bool:
        return False  # teams are made by people (sign-up, "Start a team"), with an owner

    def get_queryset(self, request):
        # Every usage column comes from annotations on the one list query (no N+1).
        return teams_with_usage(super().get_queryset(request))

    @admin.display(description="Plan", ordering="billing__plan__name")
    def plan(self, team: Team) -> str:
        billing = getattr(team, "billing", None)
        return billing.plan.name if billing else "—"

    @admin.display(description="Members", ordering="member_count")
    def members(self, team: Team) -> int:
        return team.member_count

    @admin.display(description="Videos this month", ordering="videos_month")
    def videos_month(self, team: Team) -> int:
        return team.videos_month

    @admin.display(description="Spent this month", ordering="spent_month")
    def spent_month(self, team: Team) -> str:
        return cents(team.spent_month)

    @admin.display(description="Held", ordering="reserved_month")
    def reserved_month(self, team: Team) -> str:
        return cents(team.reserved_month)

    @admin.display(description="Running", ordering="running_now")
    def running_now(self, team: Team) -> int:
        return team.running_now

    @admin.display(description="Suspended", boolean=True)
    def is_suspended(self, team: Team) -> bool:
        billing = getattr(team, "billing", None)
        return bool(billing and billing.suspended_at)

    @admin.display(description="This month")
    def usage_summary(self, team: Team) -> str:
        if not team.pk:
            return "—"
        u = team_usage(team=team)
        return (
            f"{u.videos_used} made + {u.videos_reserved} in progress of {u.video_limit} videos; "
            f"{cents(u.spent_cents)} spent + {cents(u.reserved_cents)} held of "
            f"{cents(u.budget_cents)} (incl. {cents(u.granted_cents)} credit); "
            f"{u.running} running of {u.max_concurrent} at once"
        )

    @admin.display(description="Statement")
    def statement(self, team: Team) -> str:
        return statement_link(team) if team.pk else "—"


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
        }.get(self.value(), queryset)


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
