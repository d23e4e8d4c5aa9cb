"""What each event tells whom: a job's end its submitter, a key's refusal its owner, a
team's month reaching 80 % / 100 % of its budget or video quota its owners and admins.

Called by the receivers inside the transaction of the change (a job's one terminal
transition, a key marked invalid or set to rest): quick database work only.
"""

from __future__ import annotations

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, ProviderKey, Role, Team
from batches.models import Batch
from batches.selectors import batch_summary
from billing.models import EntryKind, LedgerEntry, PeriodUsage
from billing.periods import period_bounds, period_of
from billing.selectors import period_totals, team_plan_for
from billing.services import money
from notifications.models import Kind, Notification, TeamAlert
from notifications.services import notify
from videos.models import Job, JobStatus, KeyEventKind

# An empty balance is seen again each time the key's rest ends (KEY_BALANCE_COOLOFF_SECONDS);
# its owner hears of it once a day, not every few minutes.
BALANCE_REPEAT_AFTER = timedelta(hours=24)


def job_finished_notify(*, job_id, status: str) -> Notification | None:
    if status not in (JobStatus.SUCCEEDED, JobStatus.FAILED):
        return None  # processing is no news; a cancel is the user's own act
    job = (
        Job.objects.filter(pk=job_id)
        .values("created_by_id", "team_id", "template__name", "reference", "error_message")
        .first()
    )
    if job is None or job["created_by_id"] is None:
        return None  # its user was deleted: nobody to tell
    name = job["template__name"]
    about = f" ({job['reference']})" if job["reference"] else ""
    if status == JobStatus.SUCCEEDED:
        kind, title, body = Kind.JOB_SUCCEEDED, f"Your video “{name}” is ready", ""
    else:
        kind, title = Kind.JOB_FAILED, f"Your video “{name}” failed"
        body = job["error_message"] or "The upstream did not make the video."
    return notify(
        user_id=job["created_by_id"],
        team_id=job["team_id"],
        kind=kind,
        title=title + about,
        body=body,
        link=reverse("videos:job_detail", args=[job_id]),
        ref=f"job:{job_id}",
    )


def batch_finished_notify(*, batch_id) -> Notification | None:
    """Its maker hears that every job of the batch has ended, and how it went."""
    batch = Batch.objects.select_related("template").filter(pk=batch_id).first()
    if batch is None or batch.created_by_id is None:
        return None
    summary = batch_summary(batch)
    made, failed = summary.count(JobStatus.SUCCEEDED), summary.count(JobStatus.FAILED)
    canceled = summary.count(JobStatus.CANCELED)
    body = f"{made} of {summary.total} video(s) made"
    if failed:
        body += f", {failed} failed"
    if canceled:
        body += f", {canceled} canceled"
    return notify(
        user_id=batch.created_by_id,
        team_id=batch.team_id,
        kind=Kind.BATCH_FINISHED,
        title=f"Your batch “{batch.display_name}” finished",
        body=body + ".",
        link=reverse("batches:detail", args=[batch_id]),
        ref=f"batch:{batch_id}",
    )


def key_health_notify(*, key_id: int, kind: str, reason: str) -> Notification | None:
    key = ProviderKey.objects.filter(pk=key_id).values("user_id", "label", "last4").first()
    if key is None:
        return None
    ref = f"key:{key_id}"
    named = f"“{key['label']}” (…{key['last4']})"
    link = reverse("videos:keys") + f"#key-{key_id}"
    if kind == KeyEventKind.REJECTED:
        return notify(
            user_id=key["user_id"],
            kind=Kind.KEY_REJECTED,
            title=f"Your key {named} was rejected by the upstream",
            body=f"{reason}\n\nNo job uses it any more. Replace it, or test it again on the "
            "keys page once the upstream accepts it.",
            link=link,
            ref=ref,
        )
    if kind == KeyEventKind.OUT_OF_BALANCE:
        since = timezone.now() - BALANCE_REPEAT_AFTER
        told = Notification.objects.filter(
            user_id=key["user_id"], kind=Kind.KEY_OUT_OF_BALANCE, ref=ref, created_at__gte=since
        )
        if told.exists():
            return None
        return notify(
            user_id=key["user_id"],
            kind=Kind.KEY_OUT_OF_BALANCE,
            title=f"Your key {named} is out of balance at the upstream",
            body=f"{reason}\n\nJobs use your other keys meanwhile. Top up the account at the "
            "upstream; the key is tried again after its rest.",
            link=link,
            ref=ref,
        )
    return None


def _alert_once(*, team_id: int, period, threshold: str) -> bool:
    """Insert the month's alert row; True only for the transaction that inserted it."""
    try:
        with transaction.atomic():  # a savepoint: losing the race must not abort the job's
            TeamAlert.objects.create(team_id=team_id, period=period, threshold=threshold)
    except IntegrityError:
        return False
    return True


def team_thresholds_check(*, job_id) -> list[str]:
    """After a job's charge: announce each threshold its team's month has newly reached.

    Must run in the transaction that captured the charge. Concurrent captures of one team
    are serialised on the month's PeriodUsage row (FOR UPDATE), so each one sums the ledger
    with the others' charges committed: a threshold crossed by two jobs finishing together
    is seen by the second; the TeamAlert row makes it once per month. Returns the kinds sent.
    """
    charge = (
        LedgerEntry.objects.filter(job_id=job_id, kind=EntryKind.CAPTURE)
        .values("team_id", "period")
        .first()
    )
    if charge is None:
        return []  # nothing was charged (a job from before billing)
    team_id, period = charge["team_id"], charge["period"]
    if period != period_of():
        # A job admitted last month and charged now counts there; that month is over, so
        # an alert about it would ask nobody to act.
        return []
    list(PeriodUsage.objects.select_for_update().filter(team_id=team_id, period=period))
    team = Team.objects.get(pk=team_id)
    team_plan = team_plan_for(team=team)
    totals = period_totals(team_id=team_id, period=period)
    budget, spent = team_plan.budget_cents + totals.granted_cents, totals.captured_cents
    limit, made = team_plan.video_limit, totals.captured_videos
    reached = []
    if budget > 0:
        reached += [Kind.BUDGET_80] if spent * 100 >= budget * 80 else []
        reached += [Kind.BUDGET_100] if spent >= budget else []
    if limit > 0:
        reached += [Kind.QUOTA_80] if made * 100 >= limit * 80 else []
        reached += [Kind.QUOTA_100] if made >= limit else []
    new = [k for k in reached if _alert_once(team_id=team_id, period=period, threshold=k)]
    # A job that takes the month from under 80 % to 100 % at once: one message (100 %), the
    # 80 % row is kept all the same so it is never announced later that month.
    if Kind.BUDGET_100 in new and Kind.BUDGET_80 in new:
        new.remove(Kind.BUDGET_80)
    if Kind.QUOTA_100 in new and Kind.QUOTA_80 in new:
        new.remove(Kind.QUOTA_80)
    if not new:
        return []
    _, resets_at = period_bounds(period)
    resets = f"{resets_at.day} {resets_at:%B %Y} (UTC)"
    month = f"{period:%B %Y}"
    texts = {
        Kind.BUDGET_80: (
            f"{team.name} has spent 80 % of this month's budget",
            f"{money(spent)} of {money(budget)} spent in {month}. New videos are refused "
            f"once the budget is used up; it resets on {resets}.",
        ),
        Kind.BUDGET_100: (
            f"{team.name} has spent this month's budget",
            f"{money(spent)} of {money(budget)} spent in {month}: new videos are refused "
            f"until the budget resets on {resets}, or an owner raises it.",
        ),
        Kind.QUOTA_80: (
            f"{team.name} has used 80 % of this month's videos",
            f"{made} of {limit} videos made in {month}. The quota resets on {resets}.",
        ),
        Kind.QUOTA_100: (
            f"{team.name} has used all of this month's videos",
            f"{made} of {limit} videos made in {month}: new videos are refused until the "
            f"quota resets on {resets}, or an owner picks a bigger plan.",
        ),
    }
    managers = Membership.objects.filter(
        team_id=team_id, role__in=[Role.OWNER, Role.ADMIN]
    ).values_list("user_id", flat=True)
    link = reverse("billing:usage")
    for user_id in managers:
        for kind in new:
            title, body = texts[kind]
            notify(user_id=user_id, team_id=team_id, kind=kind, title=title, body=body, link=link)
    return [k.value for k in new]
