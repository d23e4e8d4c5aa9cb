from __future__ import annotations

from datetime import date

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_POST

from accounts.audit import client_ip
from accounts.models import Team
from accounts.selectors import current_team, team_for_member
from accounts.services import require_manager
from billing import charts, services
from billing.forms import TeamPlanForm
from billing.periods import period_of, period_parse
from billing.selectors import (
    plans_public,
    statement_periods,
    team_plan_for,
    team_usage,
    usage_daily,
)
from billing.statements import statement_csv, statement_for
from portal.errors import DomainError
from portal.web import show_as_message


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
    require_manager(team=team, user=request.user)  # 403 if not allowed
    form = TeamPlanForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(str(e) for e in errors)}")
        return redirect("accounts:team_detail", team_id=team.pk)
    try:
        chosen = services.team_plan_choose(
            team=team,
            plan_id=form.cleaned_data["plan"].pk,
            by=request.user,
            ip=client_ip(request),
            **form.cleaned_caps(),
        )
    except DomainError as exc:
        show_as_message(request, exc)
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
