"""Billing in the admin: plans, the (read-only) ledger, and the team actions and inline that
accounts/admin.py's TeamAdmin uses. Actions are thin callers of billing.services.
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.db.models import Count
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.html import format_html

from billing import services
from billing.forms import ChangePlanForm, GrantCreditForm, SuspendForm, dollars_to_cents
from billing.models import LedgerEntry, PeriodUsage, Plan, TeamPlan
from billing.periods import period_of


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
            "action_checkbox_name": admin.helpers.ACTION_CHECKBOX_NAME,
        },
    )


@admin.action(description="Grant credit for this month…")
def grant_credit(modeladmin, request, queryset):
    def apply(team, data):
        services.credit_grant(
            team=team,
            amount_cents=dollars_to_cents(data["amount"]),
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
        services.team_plan_set(team=team, plan=data["plan"])
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
