from __future__ import annotations

from django import forms

from accounts.models import Role

# Sign-up, sign-in and passwords are allauth's forms (settings: ACCOUNT_*).


class TeamCreateForm(forms.Form):
    name = forms.CharField(max_length=100, label="Team name")


class InviteForm(forms.Form):
    email = forms.EmailField(
        help_text="They join when they accept with an account that has verified this address."
    )
    role = forms.ChoiceField(
        choices=[(Role.MEMBER, Role.MEMBER.label), (Role.ADMIN, Role.ADMIN.label)],
        initial=Role.MEMBER,
        help_text="Admins can invite people and manage members, the plan and caps.",
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)


class TeamMfaForm(forms.Form):
    require_mfa = forms.BooleanField(
        required=False,
        label="Require two-factor authentication",
        help_text="Members without an authenticator app set one up before they can work in "
        "this team (the JSON API's tokens are not affected).",
    )
