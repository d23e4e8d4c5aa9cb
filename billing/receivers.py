"""Billing follows teams being made (accounts.signals.team_created): a new team gets its plan
at once, so it can make videos straight away. Jobs call billing explicitly (videos.services)."""

from __future__ import annotations

from django.dispatch import receiver

from accounts.signals import team_created
from billing import services


@receiver(team_created, dispatch_uid="billing.assign_plan")
def assign_plan(sender, team, **kwargs) -> None:
    services.team_plan_assign(team=team)
