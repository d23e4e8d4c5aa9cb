"""Plans, per-team limits and the credit ledger.

The ledger is the single source of truth for money and video counts: every figure on the
usage page, the statement and the dashboard is a sum over LedgerEntry rows. Rows are only
ever added (reserve at submit, capture at success, release at failure/cancel, grant by an
administrator); nothing updates or deletes them.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from accounts.models import Team


class Plan(models.Model):
    name = models.CharField(max_length=60, unique=True)
    video_limit = models.PositiveIntegerField(help_text="Videos per calendar month (UTC).")
    budget_cents = models.PositiveIntegerField(help_text="Spend per calendar month, in cents.")
    max_concurrent = models.PositiveSmallIntegerField(
        help_text="Jobs queued, submitting or processing at once."
    )
    # New teams get the default plan; team owners may pick any public plan themselves.
    is_default = models.BooleanField(default=False)
    # Off by default: a plan staff create must not become self-service by accident.
    is_public = models.BooleanField(default=False, help_text="Team owners may choose it.")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["budget_cents", "name"]
        constraints = [
            # plan_default() relies on there being at most one.
            models.UniqueConstraint(
                fields=["is_default"], condition=Q(is_default=True), name="plan_one_default"
            ),
        ]

    def __str__(self) -> str:
        return self.name


class TeamPlan(models.Model):
    """A team's plan, the staff's per-team overrides, the team's own caps, suspension."""

    team = models.OneToOneField(
        Team, primary_key=True, on_delete=models.CASCADE, related_name="billing"
    )
    plan = models.ForeignKey(Plan, on_delete=models.PROTECT, related_name="team_plans")
    # Set by staff in the admin (e.g. a bigger budget for one customer); empty = the plan's.
    video_limit_override = models.PositiveIntegerField(null=True, blank=True)
    budget_cents_override = models.PositiveIntegerField(null=True, blank=True)
    max_concurrent_override = models.PositiveSmallIntegerField(null=True, blank=True)
    # Set by the team's owners/admins to spend less than they may; empty = no cap.
    video_cap = models.PositiveIntegerField(null=True, blank=True)
    budget_cap_cents = models.PositiveIntegerField(null=True, blank=True)
    suspended_at = models.DateTimeField(null=True, blank=True)
    suspended_reason = models.CharField(max_length=200, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "team plan"

    def __str__(self) -> str:
        return f"{self.team} on {self.plan}"

    @property
    def video_limit(self) -> int:
        limit = self.plan.video_limit
        if self.video_limit_override is not None:
            limit = self.video_limit_override
        return limit if self.video_cap is None else min(limit, self.video_cap)

    @property
    def budget_cents(self) -> int:
        """The monthly budget before granted credit (see selectors.team_usage)."""
        budget = self.plan.budget_cents
        if self.budget_cents_override is not None:
            budget = self.budget_cents_override
        return budget if self.budget_cap_cents is None else min(budget, self.budget_cap_cents)

    @property
    def max_concurrent(self) -> int:
        if self.max_concurrent_override is not None:
            return self.max_concurrent_override
        return self.plan.max_concurrent

    @property
    def is_suspended(self) -> bool:
        return self.suspended_at is not None


class EntryKind(models.TextChoices):
    RESERVE = "reserve", "Reserved"
    CAPTURE = "capture", "Charged"
    RELEASE = "release", "Released"
    GRANT = "grant", "Credit granted"


class LedgerEntry(models.Model):
    """One append-only movement. Amounts are positive; `kind` gives the direction.

    `period` is the month the job was reserved in, copied onto its capture or release, so a
    video submitted on the 31st and finished on the 1st counts against the month that
    admitted it — the same month whose quota was checked.
    """

    team = models.ForeignKey(Team, on_delete=models.PROTECT, related_name="ledger_entries")
    # PROTECT: a job with money on it is never deleted from under the ledger.
    job = models.ForeignKey(
        "videos.Job",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="ledger_entries",
    )
    kind = models.CharField(max_length=10, choices=EntryKind.choices)
    amount_cents = models.PositiveIntegerField()
    period = models.DateField(help_text="First day of the billing month.")
    memo = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "ledger entry"
        verbose_name_plural = "ledger entries"
        constraints = [
            # Never reserved, charged or refunded twice: a repeated callback, a duplicate task
            # or a late reconciler run inserts nothing the second time.
            models.UniqueConstraint(
                fields=["job", "kind"], condition=Q(job__isnull=False), name="ledger_job_kind_uniq"
            ),
            # A job is settled once: charged or released, never both.
            models.UniqueConstraint(
                fields=["job"],
                condition=Q(kind__in=["capture", "release"]),
                name="ledger_job_one_settlement",
            ),
            models.CheckConstraint(
                condition=Q(amount_cents__gte=0), name="ledger_amount_not_negative"
            ),
            # Job movements belong to a job; a grant belongs to none and gives something.
            models.CheckConstraint(
                condition=(Q(kind="grant") & Q(job__isnull=True) & Q(amount_cents__gt=0))
                | (~Q(kind="grant") & Q(job__isnull=False)),
                name="ledger_grant_xor_job",
            ),
            models.CheckConstraint(
                condition=Q(kind__in=["reserve", "capture", "release", "grant"]),
                name="ledger_kind_known",
            ),
        ]
        indexes = [
            # team_usage, the quota check and the statement: one team's rows of one month.
            models.Index(fields=["team", "period", "kind"], name="ledger_team_period_idx"),
            # The dashboard and the CSV export: every team's rows in a date range.
            models.Index(fields=["created_at"], name="ledger_created_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.amount_cents}¢ ({self.team})"

    @property
    def signed_cents(self) -> int:
        """What the entry adds to the amount due: charges add, granted credit subtracts."""
        if self.kind == EntryKind.CAPTURE:
            return self.amount_cents
        if self.kind == EntryKind.GRANT:
            return -self.amount_cents
        return 0


class PeriodUsage(models.Model):
    """A team's counters for one month, kept beside the ledger in the same transactions.

    The quota check is one conditional UPDATE of this row (billing.services.ledger_reserve):
    it adds the job to `videos`/`cents` only where the result stays within the limits, so
    nothing re-sums the ledger under a lock. Every reserve also copies the limits it was
    admitted under, and the CHECK constraints refuse any UPDATE that would go past them —
    even a code path that forgot the condition cannot overspend. Releases subtract;
    captures add to `captured_*` (the threshold alerts), grants to `granted_cents` (the
    budget). A row exists for every month the team has ledger rows in (the statement's list
    of months). The ledger stays the record: pages and statements sum it, and the counters
    always equal its sums (tests/test_period_usage.py).
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="period_usage")
    period = models.DateField()
    videos = models.PositiveIntegerField(default=0)  # reserved + captured, not released
    cents = models.PositiveIntegerField(default=0)
    video_limit = models.PositiveIntegerField(default=0)
    budget_cents = models.PositiveIntegerField(default=0)  # the plan's + granted, at admission
    captured_videos = models.PositiveIntegerField(default=0)
    captured_cents = models.PositiveIntegerField(default=0)
    released_videos = models.PositiveIntegerField(default=0)
    released_cents = models.PositiveIntegerField(default=0)
    granted_cents = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name = "period usage"
        verbose_name_plural = "period usage"
        constraints = [
            # The reserve's get-or-create of the month's row.
            models.UniqueConstraint(fields=["team", "period"], name="periodusage_team_period_uniq"),
            models.CheckConstraint(
                condition=Q(videos__lte=models.F("video_limit")), name="periodusage_videos_le_limit"
            ),
            models.CheckConstraint(
                condition=Q(cents__lte=models.F("budget_cents")), name="periodusage_cents_le_budget"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team} {self.period:%Y-%m}: {self.videos} videos, {self.cents}¢"


class DailyUsage(models.Model):
    """The jobs a team's month admitted on one day (UTC), by what became of them: the usage
    page's chart in one read of at most 31 rows, however many jobs the month has.

    Kept in the ledger's transactions like PeriodUsage: a reserve adds to `in_progress` on
    the day it was made, its capture or release moves it to `charged` or `released` on that
    same day (a job counts on the day it was admitted, whatever day it finished).
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="daily_usage")
    period = models.DateField()  # the reserve's billing month
    day = models.DateField()  # the reserve's day, UTC
    in_progress = models.PositiveIntegerField(default=0)
    charged = models.PositiveIntegerField(default=0)
    released = models.PositiveIntegerField(default=0)
    charged_cents = models.PositiveIntegerField(default=0)

    class Meta:
        verbose_name_plural = "daily usage"
        constraints = [
            # The reserve's upsert of the day's row; usage_daily reads one month of them.
            models.UniqueConstraint(
                fields=["team", "period", "day"], name="dailyusage_team_period_day_uniq"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.team} {self.day}: {self.charged} charged, {self.in_progress} open"
