from django import template

register = template.Library()


@register.filter
def cents(value) -> str:
    """420 -> "$4.20"."""
    try:
        return f"${int(value) / 100:,.2f}"
    except (TypeError, ValueError):
        return ""


@register.inclusion_tag("billing/_team_plan.html", takes_context=True)
def team_plan_card(context, team, can_manage: bool) -> dict:
    """The plan card of a team page (accounts' page, billing's figures and form)."""
    from billing.views import team_plan_context

    return {
        "team": team,
        "csrf_token": context.get("csrf_token"),
        **team_plan_context(team=team, can_manage=can_manage),
    }
