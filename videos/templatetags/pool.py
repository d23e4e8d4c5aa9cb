"""The team page's key pool card: each shared key's load, rests, and jobs per day."""

from __future__ import annotations

from django import template
from django.utils import timezone

from billing import charts
from videos.selectors import jobs_per_key_per_day, key_loads

register = template.Library()


@register.inclusion_tag("videos/_team_keys.html")
def team_keys_card(team) -> dict:
    keys = list(team.shared_keys.select_related("user").order_by("label"))
    loads = key_loads(keys)
    days, counts = jobs_per_key_per_day(keys=keys, team=team)
    chart = (
        charts.stacked_bars(
            [f"{d:%b} {d.day}" for d in days],
            [charts.Series(f"{key.label} (…{key.last4})", counts[key.pk]) for key in keys],
            title="The team's jobs started per key per day",
        )
        if keys
        else ""
    )
    return {
        "rows": [(key, loads[key.pk]) for key in keys],
        "chart": chart,
        "now": timezone.now(),
        "team": team,
    }
