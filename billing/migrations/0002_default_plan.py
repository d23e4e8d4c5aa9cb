"""The default plan from the DEFAULT_PLAN_* settings, given to every existing team.

Jobs still in flight when billing arrives get their reservation too, so they settle (charge
or release) like any other; jobs finished before were never billed and stay out of the ledger.
"""

from datetime import UTC

from django.conf import settings
from django.db import migrations

IN_FLIGHT = ["queued", "submitting", "processing"]


def forwards(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    TeamPlan = apps.get_model("billing", "TeamPlan")
    Team = apps.get_model("accounts", "Team")
    Job = apps.get_model("videos", "Job")
    LedgerEntry = apps.get_model("billing", "LedgerEntry")
    PeriodUsage = apps.get_model("billing", "PeriodUsage")

    plan = Plan.objects.filter(is_default=True).first()
    if plan is None:
        plan = Plan.objects.create(
            name="Starter",
            video_limit=settings.DEFAULT_PLAN_VIDEOS,
            budget_cents=settings.DEFAULT_PLAN_BUDGET_CENTS,
            max_concurrent=settings.DEFAULT_PLAN_MAX_CONCURRENT,
            is_default=True,
            is_public=True,
        )
    for team in Team.objects.filter(billing__isnull=True):
        TeamPlan.objects.create(team=team, plan=plan)

    totals = {}
    for job in Job.objects.filter(status__in=IN_FLIGHT, ledger_entries__isnull=True):
        period = job.created_at.astimezone(UTC).date().replace(day=1)
        LedgerEntry.objects.create(
            team_id=job.team_id,
            job_id=job.pk,
            kind="reserve",
            amount_cents=job.cost_cents,
            period=period,
            memo="reserved when billing was introduced",
        )
        videos, cents = totals.get((job.team_id, period), (0, 0))
        totals[(job.team_id, period)] = (videos + 1, cents + job.cost_cents)
    for (team_id, period), (videos, cents) in totals.items():
        # The limits admit what is already running; the next reserve copies the real ones.
        PeriodUsage.objects.create(
            team_id=team_id,
            period=period,
            videos=videos,
            cents=cents,
            video_limit=max(videos, plan.video_limit),
            budget_cents=max(cents, plan.budget_cents),
        )


class Migration(migrations.Migration):
    dependencies = [
        ("billing", "0001_initial"),
        ("accounts", "0002_invitation"),
    ]

    operations = [migrations.RunPython(forwards, migrations.RunPython.noop)]
