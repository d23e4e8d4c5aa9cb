from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django import forms
from django.utils import timezone

from accounts.models import Team
from billing.models import Plan


def dollars_to_cents(value: Decimal | None) -> int | None:
    return None if value is None else int((value * 100).to_integral_value())


class TeamPlanForm(forms.Form):
    """What a team's owners/admins may change: a public plan, and caps below its limits."""

    plan = forms.ModelChoiceField(queryset=Plan.objects.filter(is_public=True), empty_label=None)
    video_cap = forms.IntegerField(
        required=False,
        min_value=0,
        label="Video cap per month",
        help_text="Optional: stop at this many videos a month, below the plan's limit.",
    )
    budget_cap = forms.DecimalField(
        required=False,
        min_value=Decimal("0"),
        max_digits=10,
        decimal_places=2,
        label="Budget cap per month ($)",
        help_text="Optional: stop spending at this amount a month, below the plan's budget.",
    )

    def cleaned_caps(self) -> dict:
        return {
            "video_cap": self.cleaned_data["video_cap"],
            "budget_cap_cents": dollars_to_cents(self.cleaned_data["budget_cap"]),
        }


class TeamField(forms.CharField):
    """A team by its id or its exact name (any case): a box, not a list of every team (a
    <select> of 1,000 teams was most of the dashboard's time, and no way to find one)."""

    def clean(self, value: object) -> Team | None:
        text = str(super().clean(value) or "").strip()
        if not text:
            return None
        by_id = text.isascii() and text.isdigit() and len(text) <= 18  # a bigint at most
        teams = (
            Team.objects.filter(pk=int(text)) if by_id else Team.objects.filter(name__iexact=text)
        )
        found = list(teams[:2])
        if not found:
            raise forms.ValidationError(
                f"no team has the {'id' if by_id else 'name'} “{text[:60]}”"
            )
        if len(found) > 1:
            raise forms.ValidationError(
                f"several teams are named “{text[:60]}”: give the team's id"
            )
        return found[0]


class DashboardFilterForm(forms.Form):
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    team = TeamField(
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"placeholder": "all teams"}),
    )

    MAX_DAYS = 366

    def clean(self):
        data = super().clean() or {}
        today = timezone.now().date()
        data["end"] = data.get("end") or today
        data["start"] = data.get("start") or data["end"] - timedelta(days=29)
        if data["start"] > data["end"]:
            self.add_error("start", "the start must be on or before the end")
        elif (data["end"] - data["start"]).days >= self.MAX_DAYS:
            self.add_error("start", f"at most {self.MAX_DAYS} days at once")
        return data


class GrantCreditForm(forms.Form):
    amount = forms.DecimalField(
        min_value=Decimal("0.01"), max_digits=10, decimal_places=2, label="Credit ($)"
    )
    memo = forms.CharField(max_length=200, required=False)


class SuspendForm(forms.Form):
    reason = forms.CharField(
        max_length=200, help_text="Shown to the team when a submit is refused."
    )


class ChangePlanForm(forms.Form):
    plan = forms.ModelChoiceField(queryset=Plan.objects.all(), empty_label=None)
