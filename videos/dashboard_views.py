"""The staff dashboard (/admin/dashboard/): jobs and spend over a date range, and CSVs.

It lives with the jobs it reads (videos sits above billing, whose ledger it reads too).
"""

from __future__ import annotations

import csv

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.views.decorators import staff_member_required
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import render

from billing import charts
from billing.forms import DashboardFilterForm
from billing.services import money
from videos.dashboard import DashboardFilter, dashboard_cached, job_rows, ledger_rows
from videos.models import JobStatus

NO_VALUE = "\u2013"  # an en dash: no figure (no finished jobs in the range)


def _money(value: float) -> str:
    return money(int(value))


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
        board = dashboard_cached(f)
        context.update(_dashboard_charts(board))
        context["board"] = board
        context["cache_seconds"] = settings.DASHBOARD_CACHE_SECONDS
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
