from __future__ import annotations

import csv
from datetime import date

from django.contrib import admin, messages
from django.contrib.admin.views.decorators import staff_member_required
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.models import Team
from accounts.selectors import current_team, team_for_member
from accounts.services import TeamPermissionError, require_manager
from billing import charts, services
from billing.dashboard import DashboardFilter, dashboard_build, job_rows, ledger_rows
from billing.forms import DashboardFilterForm, TeamPlanForm
from billing.periods import period_of, period_parse
from billing.selectors import (
    plans_public,
    statement_periods,
    team_plan_for,
    team_usage,
    usage_daily,
)
from billing.statements import statement_csv, statement_for
from videos.models import JobStatus

NO_VALUE = "\u2013"  # an en dash: no figure (no finished jobs in the range)


def _money(value: float) -> str:
    return services.money(int(value))


def team_plan_context(*, team: Team, can_manage: bool) -> dict:
    """What the team page shows about the plan (and the form for owners/admins)."""
    team_plan = team_plan_for(team=team)
    form = None
    if can_manage:
        form = TeamPlanForm(
            initial={
                "plan": team_plan.plan_id,
                "video_cap": team_plan.video_cap,
                "budget_cap": (
                    None if team_plan.budget_cap_cents is None else team_plan.budget_cap_cents / 100
                ),
            }
        )
    return {"team_plan": team_plan, "plan_form": form, "plans": plans_public()}


@login_required
def usage(request):
    team = current_team(request)
    if team is None:
        raise Http404("no team")
    figures = team_usage(team=team)
    period = period_of()
    days = usage_daily(team=team, period=period)
    today = timezone.now().date()
    running_total, cumulative = 0, []
    for day in days:
        running_total += day.charged_cents
        cumulative.append(running_total if day.day <= today else None)  # no line into the future
    chart = charts.stacked_bars(
        [f"{d.day:%b} {d.day.day}" for d in days],
        [
            charts.Series("charged", [d.charged for d in days]),
            charts.Series("in progress", [d.in_progress for d in days]),
            charts.Series("released", [d.released for d in days]),
        ],
        title=f"Videos per day in {period:%B %Y}, and spend so far",
        line=charts.Series("spend so far", cumulative),
        line_limit=figures.budget_cents,
        line_format=_money,
    )
    return render(
        request,
        "billing/usage.html",
        {
            "team": team,
            "usage": figures,
            "chart": chart,
            "periods": statement_periods(team=team),
            "video_pct": _pct(figures.videos_used + figures.videos_reserved, figures.video_limit),
            "budget_pct": _pct(figures.spent_cents + figures.reserved_cents, figures.budget_cents),
        },
    )


def _pct(part: int, whole: int) -> int:
    return 100 if whole <= 0 else min(100, round(100 * part / whole))


@login_required
@require_POST
def team_plan(request, team_id: int):
    team = team_for_member(user=request.user, team_id=team_id)
    try:
        require_manager(team=team, user=request.user)
    except TeamPermissionError as exc:
        raise PermissionDenied(str(exc)) from None
    form = TeamPlanForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(errors)}")
        return redirect("accounts:team_detail", team_id=team.pk)
    try:
        chosen = services.team_plan_choose(
            team=team, plan_id=form.cleaned_data["plan"].pk, **form.cleaned_caps()
        )
    except services.BillingInputError as exc:
        messages.error(request, f"{exc.field}: {exc.message}")
    else:
        messages.success(request, f"Plan saved: {chosen.plan.name}.")
    return redirect("accounts:team_detail", team_id=team.pk)


def _statement_team(request, team_id: int) -> Team:
    # Staff read any team's statement (from the dashboard); everyone else only their teams'.
    if request.user.is_staff:
        team = Team.objects.filter(pk=team_id).first()
        if team is None:
            raise Http404("no such team")
        return team
    return team_for_member(user=request.user, team_id=team_id)


def _period(text: str) -> date:
    try:
        return period_parse(text)
    except ValueError:
        raise Http404("not a month") from None


@login_required
def statement(request, team_id: int, period: str):
    team = _statement_team(request, team_id)
    return render(
        request,
        "billing/statement.html",
        {"statement": statement_for(team=team, period=_period(period))},
    )


@login_required
def statement_download(request, team_id: int, period: str):
    team = _statement_team(request, team_id)
    month = _period(period)
    response = HttpResponse(
        statement_csv(statement_for(team=team, period=month)), content_type="text/csv"
    )
    response["Content-Disposition"] = (
        f'attachment; filename="statement-team{team.pk}-{month:%Y-%m}.csv"'
    )
    return response


# --- The staff dashboard ---------------------------------------------------------------------


def _filter_from(request) -> tuple[DashboardFilterForm, DashboardFilter | None]:
    # Always bound: every field is optional and an empty filter means the last 30 days.
    form = DashboardFilterForm(request.GET)
    if not form.is_valid():
        return form, None
    data = form.cleaned_data
    team = data.get("team")
    return form, DashboardFilter(
        start=data["start"], end=data["end"], team_id=team.pk if team else None
    )


@staff_member_required
def dashboard(request):
    form, f = _filter_from(request)
    context = {**admin.site.each_context(request), "title": "Usage and billing", "form": form}
    if f is not None:
        board = dashboard_build(f)
        context.update(_dashboard_charts(board))
        context["board"] = board
        context["query"] = request.GET.urlencode()
    return render(request, "billing/dashboard.html", context)


STATUS_ORDER = [
    JobStatus.SUCCEEDED,
    JobStatus.PROCESSING,
    JobStatus.SUBMITTING,
    JobStatus.QUEUED,
    JobStatus.FAILED,
    JobStatus.CANCELED,
]


def _dashboard_charts(board) -> dict:
    days = board.filter.days()
    per_day = charts.stacked_bars(
        [f"{d:%b} {d.day}" for d in days],
        [
            charts.Series(str(status), [board.jobs_by_day.get(d, {}).get(status, 0) for d in days])
            for status in STATUS_ORDER
        ],
        title="Jobs per day by status",
    )
    spend = charts.hbars(
        board.spend_by_team, title="Spend per team", value_format=_money, colour_name="charged"
    )
    failures = charts.hbars(
        [(code, share * 100) for code, _, share in board.failure_rates()],
        title="Failure rate by upstream error code (share of finished jobs)",
        value_format=lambda v: f"{v:.1f} %",
        colour_name="failed",
    )
    templates = charts.hbars(
        [(row["template__name"], row["n"]) for row in board.top_templates],
        title="Top templates by jobs",
    )
    return {
        "p50": _duration(board.p50_seconds),
        "p95": _duration(board.p95_seconds),
        "failure_rate": NO_VALUE if board.failure_rate is None else f"{board.failure_rate:.1%}",
        "failure_rows": [(code, n, f"{share:.1%}") for code, n, share in board.failure_rates()],
        "chart_per_day": per_day,
        "chart_spend": spend,
        "chart_failures": failures,
        "chart_templates": templates,
    }


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return NO_VALUE
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


class _Echo:
    def write(self, value: str) -> str:
        return value


def _csv_response(rows, filename: str) -> StreamingHttpResponse:
    writer = csv.writer(_Echo())
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv"
    )
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@staff_member_required
def dashboard_ledger_csv(request):
    form, f = _filter_from(request)
    if f is None:
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain")
    return _csv_response(ledger_rows(f), f"ledger-{f.start}-{f.end}.csv")


@staff_member_required
def dashboard_jobs_csv(request):
    form, f = _filter_from(request)
    if f is None:
        return HttpResponse(form.errors.as_text(), status=400, content_type="text/plain")
    return _csv_response(job_rows(f), f"jobs-{f.start}-{f.end}.csv")
