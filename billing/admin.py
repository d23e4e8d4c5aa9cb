"""Billing in the admin: plans, the (read-only) ledger, and teams with their plan and usage
(registered here rather than in accounts, which sits below billing). Actions are thin
callers of billing.services.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from accounts.admin import MembershipInline
from accounts.audit import client_ip
from accounts.models import Team
from billing import services
from billing.forms import ChangePlanForm, GrantCreditForm, SuspendForm, dollars_to_cents
from billing.models import LedgerEntry, PeriodUsage, Plan, TeamPlan
from billing.periods import period_of
from billing.selectors import team_usage, teams_with_usage


def cents(value: int | None) -> str:
    return "" if value is None else services.money(value)


# --- Plans ---------------------------------------------------------------------------------


@admin.register(Plan)
class PlanAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "video_limit",
        "budget",
        "max_concurrent",
        "is_default",
        "is_public",
        "team_count",
    ]
    list_filter = ["is_default", "is_public"]
    search_fields = ["name"]
    readonly_fields = ["team_count", "created_at"]
    fieldsets = [
        ("Plan", {"fields": ["name", "is_default", "is_public"]}),
        ("Limits", {"fields": ["video_limit", "budget_cents", "max_concurrent"]}),
        ("Usage", {"fields": ["team_count", "created_at"]}),
    ]
    actions = ["make_default"]

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(_teams=Count("team_plans"))

    @admin.display(description="Budget / month", ordering="budget_cents")
    def budget(self, obj: Plan) -> str:
        return cents(obj.budget_cents)

    @admin.display(description="Teams", ordering="_teams")
    def team_count(self, obj: Plan) -> int:
        return getattr(obj, "_teams", None) or obj.team_plans.count()

    @admin.action(description="Make the default plan for new teams")
    def make_default(self, request, queryset):
        if queryset.count() != 1:
            self.message_user(request, "Choose exactly one plan.", messages.ERROR)
            return
        plan = services.plan_set_default(plan=queryset.get())
        self.message_user(request, f"New teams now start on {plan.name}.")


# --- The ledger: read-only, it is the record --------------------------------------------------


@admin.register(LedgerEntry)
class LedgerEntryAdmin(admin.ModelAdmin):
    list_display = ["created_at", "team", "kind", "amount", "period_month", "job_link", "memo"]
    list_filter = ["kind", "period"]
    list_select_related = ["team"]
    search_fields = ["team__name", "memo", "=job__id"]
    date_hierarchy = "created_at"
    ordering = ["-id"]
    fieldsets = [
        ("Entry", {"fields": ["team", "kind", "amount_cents", "period", "memo"]}),
        ("Origin", {"fields": ["job", "created_by", "created_at"]}),
    ]
    readonly_fields = [
        "team",
        "kind",
        "amount_cents",
        "period",
        "memo",
        "job",
        "created_by",
        "created_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # entries come from services only (grant credit: the team action)

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.display(description="Amount", ordering="amount_cents")
    def amount(self, obj: LedgerEntry) -> str:
        return cents(obj.amount_cents)

    @admin.display(description="Month", ordering="period")
    def period_month(self, obj: LedgerEntry) -> str:
        return f"{obj.period:%Y-%m}"

    @admin.display(description="Job")
    def job_link(self, obj: LedgerEntry) -> str:
        if not obj.job_id:
            return "—"
        url = reverse("admin:videos_job_change", args=[obj.job_id])
        return format_html('<a href="{}">{}</a>', url, str(obj.job_id)[:8])


@admin.register(PeriodUsage)
class PeriodUsageAdmin(admin.ModelAdmin):
    """The database guard beside the ledger; shown for diagnosis, never edited."""

    list_display = ["team", "period", "videos", "video_limit", "cents", "budget_cents"]
    list_filter = ["period"]
    list_select_related = ["team"]
    search_fields = ["team__name"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


# --- What the Team admin uses ---------------------------------------------------------------


class TeamPlanInline(admin.StackedInline):
    model = TeamPlan
    can_delete = False
    extra = 0
    min_num = 1
    max_num = 1
    fieldsets = [
        ("Plan", {"fields": ["plan", "suspended_at", "suspended_reason"]}),
        (
            "Limits",
            {
                "fields": [
                    ("video_limit_override", "budget_cents_override", "max_concurrent_override"),
                    ("video_cap", "budget_cap_cents"),
                ],
                "description": "Overrides (staff) replace the plan's limits; caps (set by the "
                "team's owners) lower them. Empty: the plan's.",
            },
        ),
    ]


def _intermediate(modeladmin, request, queryset, *, form_class, title, action, apply):
    """Admin actions that need input: a small form first, then the service per team."""
    if "apply" in request.POST:
        form = form_class(request.POST)
        if form.is_valid():
            done = sum(1 for team in queryset if apply(team, form.cleaned_data))
            modeladmin.message_user(request, f"{title}: {done} team(s).")
            return None
    else:
        form = form_class()
    return TemplateResponse(
        request,
        "admin/billing/team_action.html",
        {
            **modeladmin.admin_site.each_context(request),
            "title": title,
            "form": form,
            "teams": queryset,
            "action": action,
            "opts": modeladmin.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        },
    )


@admin.action(description="Grant credit for this month…")
def grant_credit(modeladmin, request, queryset):
    def apply(team, data):
        services.credit_grant(
            team=team,
            amount_cents=dollars_to_cents(data["amount"]) or 0,
            memo=data["memo"],
            by=request.user,
        )
        return True

    return _intermediate(
        modeladmin,
        request,
        queryset,
        form_class=GrantCreditForm,
        title="Grant credit",
        action="grant_credit",
        apply=apply,
    )


@admin.action(description="Suspend (no new videos)…")
def suspend_teams(modeladmin, request, queryset):
    return _intermediate(
        modeladmin,
        request,
        queryset,
        form_class=SuspendForm,
        title="Suspend",
        action="suspend_teams",
        apply=lambda team, data: services.team_suspend(team=team, reason=data["reason"]),
    )


@admin.action(description="Resume suspended teams")
def resume_teams(modeladmin, request, queryset):
    done = sum(1 for team in queryset if services.team_resume(team=team))
    modeladmin.message_user(request, f"Resumed {done} team(s).")


@admin.action(description="Move to another plan…")
def change_plan(modeladmin, request, queryset):
    def apply(team, data):
        services.team_plan_set(team=team, plan=data["plan"], by=request.user, ip=client_ip(request))
        return True

    return _intermediate(
        modeladmin,
        request,
        queryset,
        form_class=ChangePlanForm,
        title="Move to plan",
        action="change_plan",
        apply=apply,
    )


TEAM_ACTIONS = [grant_credit, suspend_teams, resume_teams, change_plan]


def statement_link(team) -> str:
    period = period_of()
    url = reverse("billing:statement", args=[team.pk, f"{period:%Y-%m}"])
    return format_html('<a href="{}">{} statement</a>', url, f"{period:%B %Y}")


# --- Teams ---------------------------------------------------------------------------------


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
        return team.member_count  # type: ignore[attr-defined]

    @admin.display(description="Videos this month", ordering="videos_month")
    def videos_month(self, team: Team) -> int:
        return team.videos_month  # type: ignore[attr-defined]

    @admin.display(description="Spent this month", ordering="spent_month")
    def spent_month(self, team: Team) -> str:
        return cents(team.spent_month)  # type: ignore[attr-defined]

    @admin.display(description="Held", ordering="reserved_month")
    def reserved_month(self, team: Team) -> str:
        return cents(team.reserved_month)  # type: ignore[attr-defined]

    @admin.display(description="Running", ordering="running_now")
    def running_now(self, team: Team) -> int:
        return team.running_now  # type: ignore[attr-defined]

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
