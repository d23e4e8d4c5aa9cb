"""Reads for the staff dashboard (/admin/dashboard/) and its CSV exports.

Every figure is one aggregate query over a date range (and optionally one team), so the
page costs the same number of queries for 2 teams or 2,000 (tests/test_dashboard.py counts).
Those queries still read every job and ledger row of the range (0.36 s for 30 days at a
million jobs), so a built board is kept in the cache for DASHBOARD_CACHE_SECONDS, per filter
(`dashboard_cached`): staff reloading the page, or several of them, pay for it once a minute.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import cast

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.models import Aggregate, Count, F, FloatField, Func, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from billing.models import EntryKind, LedgerEntry
from videos.models import Job, JobStatus


@dataclass(frozen=True)
class DashboardFilter:
    start: date  # first day, inclusive (UTC)
    end: date  # last day, inclusive (UTC)
    team_id: int | None = None

    @property
    def since(self) -> datetime:
        return datetime(self.start.year, self.start.month, self.start.day, tzinfo=UTC)

    @property
    def until(self) -> datetime:
        """Exclusive upper bound: the first instant after the last day."""
        end = self.end + timedelta(days=1)
        return datetime(end.year, end.month, end.day, tzinfo=UTC)

    def days(self) -> list[date]:
        return [self.start + timedelta(days=i) for i in range((self.end - self.start).days + 1)]


@dataclass
class Dashboard:
    filter: DashboardFilter
    jobs_by_day: dict[date, dict[str, int]]
    totals_by_status: dict[str, int]
    spend_by_team: list[tuple[str, int]]
    ledger_totals: dict[str, tuple[int, int]]  # kind -> (rows, cents)
    failures_by_code: list[tuple[str, int]]
    top_templates: list[dict]
    p50_seconds: float | None
    p95_seconds: float | None
    built_at: datetime = field(default_factory=timezone.now)  # the figures are as of this

    @property
    def jobs_total(self) -> int:
        return sum(self.totals_by_status.values())

    @property
    def finished_total(self) -> int:
        return sum(self.totals_by_status.get(s, 0) for s in JobStatus.terminal())

    @property
    def failure_rate(self) -> float | None:
        finished = self.finished_total
        return self.totals_by_status.get(JobStatus.FAILED, 0) / finished if finished else None

    def failure_rates(self) -> list[tuple[str, int, float]]:
        """(error code, failed jobs, share of all finished jobs)."""
        finished = self.finished_total or 1
        return [(code, n, n / finished) for code, n in self.failures_by_code]

    def cents(self, kind: str) -> int:
        return self.ledger_totals.get(kind, (0, 0))[1]


def _jobs(f: DashboardFilter) -> QuerySet[Job]:
    jobs = Job.objects.filter(created_at__gte=f.since, created_at__lt=f.until)
    return jobs.filter(team_id=f.team_id) if f.team_id else jobs


def _ledger(f: DashboardFilter) -> QuerySet[LedgerEntry]:
    rows = LedgerEntry.objects.filter(created_at__gte=f.since, created_at__lt=f.until)
    return rows.filter(team_id=f.team_id) if f.team_id else rows


def percentile(sorted_values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..1) of an ascending list."""
    if not sorted_values:
        return None
    rank = max(1, -(-len(sorted_values) * q // 1))  # ceil(n * q), at least 1
    return sorted_values[int(rank) - 1]


def dashboard_build(f: DashboardFilter) -> Dashboard:
    jobs = _jobs(f)

    # 1. One pass over the range's jobs, grouped in the database by day, status, template and
    # error code (a few thousand groups at most, whatever the number of jobs): jobs per day
    # by status (by the day they were submitted), failures by upstream error code, and the
    # top templates all come from these groups.
    jobs_by_day: dict[date, dict[str, int]] = defaultdict(dict)
    totals: dict[str, int] = defaultdict(int)
    failures: dict[str, int] = defaultdict(int)
    templates: dict[str, dict] = {}
    groups = (
        jobs.annotate(day=TruncDate("created_at", tzinfo=UTC))
        .values("day", "status", "template__name", "error_code")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in groups:
        status, n = row["status"], row["n"]
        by_status = jobs_by_day[row["day"]]
        by_status[status] = by_status.get(status, 0) + n
        totals[status] += n
        if status == JobStatus.FAILED:
            failures[row["error_code"]] += n
        name = row["template__name"]
        template = templates.setdefault(
            name, {"template__name": name, "n": 0, "succeeded": 0, "failed": 0}
        )
        template["n"] += n
        template["succeeded"] += n if status == JobStatus.SUCCEEDED else 0
        template["failed"] += n if status == JobStatus.FAILED else 0

    # 2. Spend (charged) per team, largest first.
    spend = (
        _ledger(f)
        .filter(kind=EntryKind.CAPTURE)
        .values("team_id", "team__name")
        .annotate(cents=Sum("amount_cents"))
        .order_by("-cents", "team__name")[:15]
    )
    spend_by_team = [(row["team__name"], row["cents"]) for row in spend]

    # 3. Ledger totals by kind (reserved, charged, released, granted).
    ledger_totals = {
        row["kind"]: (row["n"], row["cents"] or 0)
        for row in _ledger(f)
        .values("kind")
        .annotate(n=Count("id"), cents=Sum("amount_cents"))
        .order_by()
    }

    # 4. Time to finish (submit -> video stored) of succeeded jobs, computed by the database.
    finished = jobs.filter(status=JobStatus.SUCCEEDED, finished_at__isnull=False)
    p50, p95 = time_to_finish_percentiles(finished, (0.5, 0.95))

    return Dashboard(
        filter=f,
        jobs_by_day=dict(jobs_by_day),
        totals_by_status=dict(totals),
        spend_by_team=spend_by_team,
        ledger_totals=ledger_totals,
        failures_by_code=[
            (code or "unknown", n)
            for code, n in sorted(failures.items(), key=lambda item: (-item[1], item[0]))
        ],
        top_templates=sorted(templates.values(), key=lambda t: (-t["n"], t["template__name"]))[:10],
        p50_seconds=p50,
        p95_seconds=p95,
    )


def dashboard_cache_key(f: DashboardFilter) -> str:
    # v1: a kept board is a pickle of Dashboard; a release that changes its fields bumps it.
    return f"dashboard:v1:{f.start.isoformat()}:{f.end.isoformat()}:{f.team_id or 0}"


def dashboard_cached(f: DashboardFilter) -> Dashboard:
    """The board for this filter as built at most DASHBOARD_CACHE_SECONDS ago (0: always
    built now). Shared by every web process where the cache is (with REDIS_URL)."""
    seconds = settings.DASHBOARD_CACHE_SECONDS
    if seconds <= 0:
        return dashboard_build(f)
    board = cache.get_or_set(dashboard_cache_key(f), lambda: dashboard_build(f), timeout=seconds)
    return cast(Dashboard, board)


class _PercentileDisc(Aggregate):
    """PostgreSQL's ordered-set aggregate: the first value whose cumulative share is at least
    the fraction — the nearest-rank percentile, as `percentile` computes it in Python."""

    function = "PERCENTILE_DISC"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression, fraction: float):
        super().__init__(expression, fraction=float(fraction))


def time_to_finish_percentiles(
    finished: QuerySet[Job], fractions: tuple[float, ...]
) -> list[float | None]:
    """Nearest-rank percentiles of (finished_at - created_at) in seconds: one aggregate row
    on PostgreSQL; elsewhere (SQLite, the development database) the durations are read and
    ranked in Python, with the same answer."""
    if connection.vendor == "postgresql":
        seconds = Func(
            F("finished_at") - F("created_at"),
            template="EXTRACT(EPOCH FROM %(expressions)s)",
            output_field=FloatField(),
        )
        row = finished.aggregate(
            **{f"p{i}": _PercentileDisc(seconds, q) for i, q in enumerate(fractions)}
        )
        return [
            None if row[f"p{i}"] is None else float(row[f"p{i}"]) for i in range(len(fractions))
        ]
    durations = sorted(
        (done - created).total_seconds()
        for created, done in finished.values_list("created_at", "finished_at")
        if done is not None
    )
    return [percentile(durations, q) for q in fractions]


# --- CSV exports -----------------------------------------------------------------------------


def csv_cell(value) -> object:
    """Neutralise spreadsheet formulas in text people typed (team names, references)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return value


LEDGER_HEADER = [
    "entry_id",
    "created_at",
    "period",
    "team_id",
    "team",
    "kind",
    "job_id",
    "amount_cents",
    "effect_cents",
    "memo",
]


def ledger_rows(f: DashboardFilter) -> Iterator[list]:
    yield LEDGER_HEADER
    rows = _ledger(f).select_related("team").order_by("created_at", "id")
    for entry in rows.iterator(chunk_size=2000):
        yield [
            entry.pk,
            entry.created_at.isoformat(),
            f"{entry.period:%Y-%m}",
            entry.team_id,
            csv_cell(entry.team.name),
            entry.kind,
            entry.job_id or "",
            entry.amount_cents,
            entry.signed_cents,
            csv_cell(entry.memo),
        ]


JOBS_HEADER = [
    "job_id",
    "created_at",
    "finished_at",
    "team_id",
    "team",
    "template",
    "status",
    "error_code",
    "cost_cents",
    "seconds_to_finish",
    "reference",
]


def job_rows(f: DashboardFilter) -> Iterator[list]:
    yield JOBS_HEADER
    rows = _jobs(f).select_related("team", "template").order_by("created_at")
    for job in rows.iterator(chunk_size=2000):
        took = (job.finished_at - job.created_at).total_seconds() if job.finished_at else ""
        yield [
            job.pk,
            job.created_at.isoformat(),
            job.finished_at.isoformat() if job.finished_at else "",
            job.team_id,
            csv_cell(job.team.name),
            job.template.name,
            job.status,
            job.error_code,
            job.cost_cents,
            f"{took:.0f}" if took != "" else "",
            csv_cell(job.reference),
        ]
