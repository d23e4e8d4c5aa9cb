"""Writes for billing: plans, the quota check, the ledger, suspension and credit.

The money rules, in one place:
- reserve at submit (videos.services.create calls ledger_reserve inside job_create's
  transaction, under a lock on the team's plan row), after checking suspension and
  concurrency; the month's video limit and budget are one conditional UPDATE of the month's
  PeriodUsage counters;
- capture at success, release at failure or cancel (called by the job's one terminal
  transition), each at most once per job (the ledger's unique constraints decide any race),
  copying the reserve's amount and month;
- credit granted by staff raises the month's budget.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from uuid import UUID

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest
from django.utils import timezone

from accounts import audit
from accounts.models import AuditAction, Team
from billing.errors import QuotaExceededError, TeamSuspendedError
from billing.models import DailyUsage, EntryKind, LedgerEntry, PeriodUsage, Plan, TeamPlan
from billing.periods import period_bounds, period_of
from portal.errors import FieldError

logger = logging.getLogger(__name__)

DEFAULT_PLAN_NAME = "Starter"


class BillingInputError(FieldError):
    """Bad input for a billing change: `field` names the input, the message says why."""


def money(cents: int) -> str:
    return f"${cents / 100:,.2f}"


# --- Plans --------------------------------------------------------------------------------


def plan_default() -> Plan:
    """The plan new teams start on; made from the DEFAULT_PLAN_* settings if missing."""
    plan = Plan.objects.filter(is_default=True).first()
    if plan is not None:
        return plan
    try:
        with transaction.atomic():
            return Plan.objects.create(
                name=DEFAULT_PLAN_NAME,
                video_limit=settings.DEFAULT_PLAN_VIDEOS,
                budget_cents=settings.DEFAULT_PLAN_BUDGET_CENTS,
                max_concurrent=settings.DEFAULT_PLAN_MAX_CONCURRENT,
                is_default=True,
            )
    except IntegrityError:  # made concurrently, or a non-default plan already has the name
        return Plan.objects.filter(is_default=True).first() or Plan.objects.get(
            name=DEFAULT_PLAN_NAME
        )


def plan_set_default(*, plan: Plan) -> Plan:
    """Staff: new teams start on this plan from now on (teams already made keep theirs)."""
    with transaction.atomic():
        # Unset first: the partial unique index allows one default at a time.
        Plan.objects.filter(is_default=True).exclude(pk=plan.pk).update(is_default=False)
        Plan.objects.filter(pk=plan.pk).update(is_default=True)
    plan.refresh_from_db()
    return plan


def team_plan_assign(*, team: Team, plan: Plan | None = None) -> TeamPlan:
    """Give a new team its plan (the default one unless told); a no-op if it has one."""
    team_plan, _ = TeamPlan.objects.select_related("plan").get_or_create(
        team=team, defaults={"plan": plan or plan_default()}
    )
    return team_plan


def team_plan_set(*, team: Team, plan: Plan, by=None, ip: str | None = None) -> TeamPlan:
    """Staff: move a team to any plan (overrides and caps stay)."""
    team_plan = team_plan_assign(team=team, plan=plan)
    if team_plan.plan_id != plan.pk:
        before = _plan_terms(team_plan)
        with transaction.atomic():
            TeamPlan.objects.filter(pk=team.pk).update(plan=plan, updated_at=timezone.now())
            team_plan.refresh_from_db()
            _audit_plan_change(team_plan, before=before, by=by, ip=ip)
    return team_plan


def _plan_terms(team_plan: TeamPlan) -> dict:
    return {
        "plan": team_plan.plan.name,
        "video_cap": team_plan.video_cap,
        "budget_cap_cents": team_plan.budget_cap_cents,
    }


def _audit_plan_change(team_plan: TeamPlan, *, before: dict, by, ip: str | None) -> None:
    after = _plan_terms(team_plan)
    if after != before:  # saving the same plan and caps again is no change
        audit.record(
            AuditAction.PLAN_CHANGED,
            actor=by,
            team=team_plan.team,
            target=f'plan "{after["plan"]}"',
            ip=ip,
            data={"from": before, "to": after},
        )


def team_plan_choose(
    *,
    team: Team,
    plan_id: int,
    video_cap: int | None,
    budget_cap_cents: int | None,
    by=None,
    ip: str | None = None,
) -> TeamPlan:
    """A team's owners/admins pick a public plan and, if they like, caps below its limits.

    The caller checks the role (accounts.services.require_manager); this checks the input.
    """
    plan = Plan.objects.filter(pk=plan_id, is_public=True).first()
    if plan is None:
        raise BillingInputError("plan", "choose one of the plans listed")
    for field, value in (("video_cap", video_cap), ("budget_cap_cents", budget_cap_cents)):
        if value is not None and (not isinstance(value, int) or value < 0):
            raise BillingInputError(field, "must be a whole number, 0 or more (empty: no cap)")
    team_plan = team_plan_assign(team=team, plan=plan)
    before = _plan_terms(team_plan)
    with transaction.atomic():
        TeamPlan.objects.filter(pk=team.pk).update(
            plan=plan,
            video_cap=video_cap,
            budget_cap_cents=budget_cap_cents,
            updated_at=timezone.now(),
        )
        team_plan.refresh_from_db()
        _audit_plan_change(team_plan, before=before, by=by, ip=ip)
    return team_plan


def team_suspend(*, team: Team, reason: str = "") -> bool:
    """Stop a team from submitting (running jobs finish). False if it already was."""
    team_plan_assign(team=team)
    return bool(
        TeamPlan.objects.filter(pk=team.pk, suspended_at__isnull=True).update(
            suspended_at=timezone.now(),
            suspended_reason=(reason or "suspended by an administrator")[:200],
            updated_at=timezone.now(),
        )
    )


def team_resume(*, team: Team) -> bool:
    return bool(
        TeamPlan.objects.filter(pk=team.pk, suspended_at__isnull=False).update(
            suspended_at=None, suspended_reason="", updated_at=timezone.now()
        )
    )


def credit_grant(*, team: Team, amount_cents: int, memo: str = "", by=None) -> LedgerEntry:
    """Staff: add credit to this month's budget (a `grant` row in the ledger)."""
    if not isinstance(amount_cents, int) or isinstance(amount_cents, bool) or amount_cents <= 0:
        raise BillingInputError("amount_cents", "must be a whole number of cents above 0")
    if amount_cents > 100_000_000:
        raise BillingInputError("amount_cents", "at most $1,000,000.00 at once")
    period = period_of()
    with transaction.atomic():
        entry = LedgerEntry.objects.create(
            team=team,
            kind=EntryKind.GRANT,
            amount_cents=amount_cents,
            period=period,
            memo=(memo or "credit granted")[:200],
            created_by=by if by is not None and by.is_authenticated else None,
        )
        # The month's counters: the next reserve's budget includes it.
        _period_row_ensure(team.pk, period)
        PeriodUsage.objects.filter(team_id=team.pk, period=period).update(
            granted_cents=F("granted_cents") + amount_cents
        )
    return entry


# --- The quota check and the reservation ---------------------------------------------------


def _resets_on(when: datetime) -> str:
    return f"{when.day} {when:%B %Y} (UTC)"


def ledger_reserve(
    *, team_id: int, job_id: UUID, cost_cents: int, jobs_in_flight: Callable[[], int]
) -> LedgerEntry:
    """Admit a new job or raise QuotaExceededError; must run inside job_create's transaction,
    after the job row is inserted.

    The team's plan row is locked (FOR NO KEY UPDATE, read with its plan in the same query):
    concurrent submits of one team pass the concurrency count one at a time until they
    commit. The month's video limit and budget are one conditional UPDATE of the month's
    PeriodUsage row — the database adds the job only where the sums stay within the limits,
    so nothing re-sums the ledger under the lock. `jobs_in_flight()` counts the team's
    unfinished jobs, the new one included (jobs are the caller's, not billing's).
    """
    team_plan = _team_plan_locked(team_id)
    period = period_of()

    if team_plan.is_suspended:
        raise TeamSuspendedError(
            f"Your team is suspended ({team_plan.suspended_reason}), so it cannot start new "
            "videos. Contact support to have it resumed."
        )
    running = jobs_in_flight() - 1  # the new job is already in the table
    if running >= team_plan.max_concurrent:
        raise QuotaExceededError(
            f"Your team already has {running} video(s) in progress, the most your plan runs "
            "at once. Submit again when one of them has finished.",
            limit="concurrency",
            resets_at=None,
        )
    video_limit, budget = team_plan.video_limit, team_plan.budget_cents
    if not _period_admit(team_id, period, cost_cents, video_limit=video_limit, budget=budget):
        raise _refusal(team_id, period, cost_cents, video_limit=video_limit, budget=budget)
    entry = LedgerEntry.objects.create(
        team_id=team_id,
        job_id=job_id,
        kind=EntryKind.RESERVE,
        amount_cents=cost_cents,
        period=period,
    )
    _daily_add(entry, in_progress=F("in_progress") + 1)
    return entry


def _one_less(field: str) -> Greatest:
    # Never below 0: a reserve made by code from before the rollup (during a rolling deploy)
    # has no day row, and a CHECK violation here would abort the job's final transition.
    return Greatest(F(field) - 1, Value(0))


def _daily_add(reserve: LedgerEntry, **change) -> None:
    """Move the counters of the day the reserve was made (UTC), making the row if needed."""
    day = reserve.created_at.astimezone(UTC).date()
    row = DailyUsage.objects.filter(team_id=reserve.team_id, period=reserve.period, day=day)
    if not row.update(**change):
        # The day's first job; ON CONFLICT DO NOTHING: a settle of the team may make it too.
        DailyUsage.objects.bulk_create(
            [DailyUsage(team_id=reserve.team_id, period=reserve.period, day=day)],
            ignore_conflicts=True,
        )
        row.update(**change)


def _team_plan_locked(team_id: int) -> TeamPlan:
    # NO KEY UPDATE, and of the plan row only: the job row just inserted holds a KEY SHARE
    # lock on the team (its foreign key), and the plan is shared by many teams.
    locked = TeamPlan.objects.select_for_update(no_key=True, of=("self",)).select_related("plan")
    team_plan = locked.filter(team_id=team_id).first()
    if team_plan is None:  # a team from before billing: its first submit gives it its plan
        team_plan_assign(team=Team(pk=team_id))
        team_plan = locked.get(team_id=team_id)
    return team_plan


def _period_admit(team_id: int, period, cost_cents: int, *, video_limit: int, budget: int) -> bool:
    """Add one video and its price to the month's counters where both stay within the limits
    (the budget: the plan's plus credit granted this month). True if the row was updated."""
    admitted = PeriodUsage.objects.filter(
        team_id=team_id,
        period=period,
        videos__lte=video_limit - 1,
        cents__lte=F("granted_cents") + (budget - cost_cents),
    )
    change = {
        "videos": F("videos") + 1,
        "cents": F("cents") + cost_cents,
        # The limits it was admitted under, for the CHECK constraints.
        "video_limit": video_limit,
        "budget_cents": F("granted_cents") + budget,
    }
    if admitted.update(**change):
        return True
    if PeriodUsage.objects.filter(team_id=team_id, period=period).exists():
        return False
    _period_row_ensure(team_id, period)  # the month's first movement
    return bool(admitted.update(**change))


def _period_row_ensure(team_id: int, period) -> None:
    # ON CONFLICT DO NOTHING: a grant may make the row at the same moment.
    PeriodUsage.objects.bulk_create(
        [PeriodUsage(team_id=team_id, period=period)], ignore_conflicts=True
    )


def _refusal(
    team_id: int, period, cost_cents: int, *, video_limit: int, budget: int
) -> QuotaExceededError:
    """Which limit refused the job, in words, from the month's counters (we hold them)."""
    row = PeriodUsage.objects.get(team_id=team_id, period=period)
    _, resets_at = period_bounds(period)
    if row.videos + 1 > video_limit:
        return QuotaExceededError(
            f"Your team has used its {video_limit} video(s) for this month "
            f"({row.captured_videos} made, {row.videos - row.captured_videos} in progress). "
            f"The quota resets on {_resets_on(resets_at)}.",
            limit="videos",
            resets_at=resets_at,
        )
    budget += row.granted_cents
    left = max(0, budget - row.cents)
    return QuotaExceededError(
        f"This video costs {money(cost_cents)} but only {money(left)} of your team's "
        f"{money(budget)} monthly budget is left. "
        f"The budget resets on {_resets_on(resets_at)}.",
        limit="budget",
        resets_at=resets_at,
    )


# --- Settling: capture and release -------------------------------------------------------


def ledger_capture(*, job_id) -> LedgerEntry | None:
    """Charge a succeeded job's reservation; None if there is nothing (more) to settle."""
    return _settle(job_id=job_id, kind=EntryKind.CAPTURE)


def ledger_release(*, job_id) -> LedgerEntry | None:
    """Give back a failed or canceled job's reservation; None if already settled."""
    return _settle(job_id=job_id, kind=EntryKind.RELEASE)


def _settle(*, job_id, kind: str) -> LedgerEntry | None:
    with transaction.atomic():
        reserve = LedgerEntry.objects.filter(job_id=job_id, kind=EntryKind.RESERVE).first()
        if reserve is None:
            # A job from before billing existed: nothing was held, so nothing moves.
            logger.warning("job %s: %s without a reservation; ignored", job_id, kind)
            return None
        settled = LedgerEntry.objects.filter(
            job_id=job_id, kind__in=[EntryKind.CAPTURE, EntryKind.RELEASE]
        ).first()
        if settled is not None:
            if settled.kind != kind:
                logger.warning("job %s: %s after %s; ignored", job_id, kind, settled.kind)
            return None
        try:
            with transaction.atomic():  # a savepoint: the loser of a race must not poison ours
                entry = LedgerEntry.objects.create(
                    team_id=reserve.team_id,
                    job_id=job_id,
                    kind=kind,
                    amount_cents=reserve.amount_cents,
                    period=reserve.period,
                )
        except IntegrityError:
            return None  # a concurrent twin settled it first
        usage = PeriodUsage.objects.filter(team_id=reserve.team_id, period=reserve.period)
        cents = reserve.amount_cents
        if kind == EntryKind.RELEASE:
            usage.update(
                videos=F("videos") - 1,
                cents=F("cents") - cents,
                released_videos=F("released_videos") + 1,
                released_cents=F("released_cents") + cents,
            )
            _daily_add(reserve, in_progress=_one_less("in_progress"), released=F("released") + 1)
        else:
            usage.update(
                captured_videos=F("captured_videos") + 1, captured_cents=F("captured_cents") + cents
            )
            _daily_add(
                reserve,
                in_progress=_one_less("in_progress"),
                charged=F("charged") + 1,
                charged_cents=F("charged_cents") + cents,
            )
    return entry
