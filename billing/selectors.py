"""Reads for billing: a team's usage this month, its daily usage, plans.

`team_usage` is a stable interface (the JSON API's GET /api/v1/usage uses it): fields may be
added, never renamed or removed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime

from django.conf import settings
from django.db.models import Count, F, OuterRef, QuerySet, Subquery, Sum
from django.db.models.functions import Coalesce

from accounts.models import Membership, Team
from billing.models import DailyUsage, EntryKind, LedgerEntry, PeriodUsage, Plan, TeamPlan
from billing.periods import period_bounds, period_of


@dataclass(frozen=True)
class TeamUsage:
    period_start: datetime  # first instant of the month, UTC
    period_end: datetime  # first instant of the next month, UTC (when the limits reset)
    plan_name: str
    video_limit: int
    videos_used: int  # charged this month (succeeded)
    videos_reserved: int  # admitted this month and not finished yet
    budget_cents: int  # the plan's (or overridden, or capped) budget plus granted credit
    spent_cents: int  # charged this month
    reserved_cents: int  # held for unfinished jobs admitted this month
    granted_cents: int  # credit granted by staff for this month (already in budget_cents)
    released_videos: int  # failed or canceled this month, refunded
    released_cents: int
    max_concurrent: int
    running: int  # jobs queued, submitting or processing now
    suspended: bool

    @property
    def videos_remaining(self) -> int:
        return max(0, self.video_limit - self.videos_used - self.videos_reserved)

    @property
    def budget_remaining_cents(self) -> int:
        return max(0, self.budget_cents - self.spent_cents - self.reserved_cents)

    @property
    def resets_at(self) -> datetime:
        return self.period_end


@dataclass(frozen=True)
class PeriodTotals:
    """Sums of one team's ledger rows of one period (one query)."""

    reserved_videos: int = 0
    reserved_cents: int = 0
    captured_videos: int = 0
    captured_cents: int = 0
    released_videos: int = 0
    released_cents: int = 0
    granted_cents: int = 0

    @property
    def open_videos(self) -> int:
        return self.reserved_videos - self.captured_videos - self.released_videos

    @property
    def open_cents(self) -> int:
        return self.reserved_cents - self.captured_cents - self.released_cents

    @property
    def committed_videos(self) -> int:
        """What counts against the video limit: charged plus still reserved."""
        return self.reserved_videos - self.released_videos

    @property
    def committed_cents(self) -> int:
        return self.reserved_cents - self.released_cents


def period_totals(*, team_id: int, period: date) -> PeriodTotals:
    rows = (
        LedgerEntry.objects.filter(team_id=team_id, period=period)
        .values("kind")
        .annotate(n=Count("id"), cents=Sum("amount_cents"))
        .order_by()
    )
    by_kind = {row["kind"]: (row["n"], row["cents"] or 0) for row in rows}
    reserved = by_kind.get(EntryKind.RESERVE, (0, 0))
    captured = by_kind.get(EntryKind.CAPTURE, (0, 0))
    released = by_kind.get(EntryKind.RELEASE, (0, 0))
    return PeriodTotals(
        reserved_videos=reserved[0],
        reserved_cents=reserved[1],
        captured_videos=captured[0],
        captured_cents=captured[1],
        released_videos=released[0],
        released_cents=released[1],
        granted_cents=by_kind.get(EntryKind.GRANT, (0, 0))[1],
    )


def period_counters(*, team_id: int, period: date) -> PeriodTotals:
    """The same figures as period_totals, from the month's PeriodUsage row (one row read,
    however many jobs the month has); the counters move with every ledger row."""
    row = PeriodUsage.objects.filter(team_id=team_id, period=period).first()
    if row is None:
        return PeriodTotals()
    return PeriodTotals(
        reserved_videos=row.videos + row.released_videos,
        reserved_cents=row.cents + row.released_cents,
        captured_videos=row.captured_videos,
        captured_cents=row.captured_cents,
        released_videos=row.released_videos,
        released_cents=row.released_cents,
        granted_cents=row.granted_cents,
    )


def team_plan_for(*, team: Team) -> TeamPlan:
    """The team's plan. A team made before billing existed has no row until its first
    submit (billing.services.team_plan_assign makes it): until then it reads as the default
    plan, unsaved (a selector never writes)."""
    team_plan = TeamPlan.objects.select_related("plan").filter(team_id=team.pk).first()
    if team_plan is None:
        plan = Plan.objects.filter(is_default=True).first() or Plan(
            name="Starter",
            video_limit=settings.DEFAULT_PLAN_VIDEOS,
            budget_cents=settings.DEFAULT_PLAN_BUDGET_CENTS,
            max_concurrent=settings.DEFAULT_PLAN_MAX_CONCURRENT,
        )
        team_plan = TeamPlan(team=team, plan=plan)
    return team_plan


def open_reservations(*, team_id: int) -> int:
    """Jobs admitted and not settled yet, whatever the month: each unfinished job holds one
    reserve and no capture or release; summed from the months' counters (one row a month)."""
    open_videos = PeriodUsage.objects.filter(team_id=team_id).aggregate(
        n=Sum(F("videos") - F("captured_videos"))
    )["n"]
    return open_videos or 0


def team_usage(*, team: Team, now: datetime | None = None) -> TeamUsage:
    """This month's figures for a team, from the counters kept beside the ledger."""
    period = period_of(now)
    start, end = period_bounds(period)
    team_plan = team_plan_for(team=team)
    totals = period_counters(team_id=team.pk, period=period)
    return TeamUsage(
        period_start=start,
        period_end=end,
        plan_name=team_plan.plan.name,
        video_limit=team_plan.video_limit,
        videos_used=totals.captured_videos,
        videos_reserved=totals.open_videos,
        budget_cents=team_plan.budget_cents + totals.granted_cents,
        spent_cents=totals.captured_cents,
        reserved_cents=totals.open_cents,
        granted_cents=totals.granted_cents,
        released_videos=totals.released_videos,
        released_cents=totals.released_cents,
        max_concurrent=team_plan.max_concurrent,
        running=open_reservations(team_id=team.pk),
        suspended=team_plan.is_suspended,
    )


def plans_public() -> QuerySet[Plan]:
    return Plan.objects.filter(is_public=True)


def ledger_for_period(*, team: Team, period: date) -> QuerySet[LedgerEntry]:
    return (
        LedgerEntry.objects.filter(team=team, period=period)
        .select_related("job__template")
        .order_by("created_at", "id")
    )


@dataclass(frozen=True)
class DayUsage:
    """The jobs admitted on one day of the month, by what became of them."""

    day: date
    charged: int = 0
    in_progress: int = 0
    released: int = 0
    charged_cents: int = 0


def usage_daily(*, team: Team, period: date) -> list[DayUsage]:
    """One row per day of the month (days without jobs too), from the month's DailyUsage rows.

    A job is placed on the day it was admitted (its reserve), whatever day it finished, so
    the days add up to the month's figures in team_usage.
    """
    start, end = period_bounds(period)
    rows = {row.day: row for row in DailyUsage.objects.filter(team=team, period=period).order_by()}
    result = []
    day = start.date()
    while day < end.date():
        row = rows.get(day)
        result.append(
            DayUsage(
                day=day,
                charged=row.charged if row else 0,
                in_progress=row.in_progress if row else 0,
                released=row.released if row else 0,
                charged_cents=row.charged_cents if row else 0,
            )
        )
        day = date.fromordinal(day.toordinal() + 1)
    return result


def statement_periods(*, team: Team) -> list[date]:
    """The months the team has ledger rows in, newest first: each has its counters row."""
    return list(
        PeriodUsage.objects.filter(team=team).order_by("-period").values_list("period", flat=True)
    )


def _month(field, period: date | None):
    """One of a team's month counters (every month summed: period None), as a subquery."""
    rows = PeriodUsage.objects.filter(team=OuterRef("pk"))
    if period is not None:
        rows = rows.filter(period=period)
    total = rows.order_by().values("team").annotate(v=Sum(field)).values("v")
    return Coalesce(Subquery(total), 0)


def teams_with_usage(teams: QuerySet[Team], *, period: date | None = None) -> QuerySet[Team]:
    """Teams annotated with this month's figures, in the one query that lists them.

    Subqueries on the month counters (one row per team and month) rather than joins:
    joining memberships as well would multiply the rows and the sums.
    """
    period = period or period_of()
    members = (
        Membership.objects.filter(team=OuterRef("pk"))
        .order_by()
        .values("team")
        .annotate(n=Count("id"))
        .values("n")
    )
    return teams.select_related("billing__plan").annotate(
        videos_month=_month("captured_videos", period),
        spent_month=_month("captured_cents", period),
        # Held for unfinished jobs: admitted (not released) minus charged.
        reserved_month=_month(F("cents") - F("captured_cents"), period),
        granted_month=_month("granted_cents", period),
        # Unfinished jobs: reserved and not settled, in any month (as open_reservations).
        running_now=_month(F("videos") - F("captured_videos"), None),
        member_count=Coalesce(Subquery(members), 0),
    )
