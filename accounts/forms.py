from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User

from accounts.models import Role


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=True)

    class Meta(UserCreationForm.Meta):  # type: ignore[name-defined]
        model = User
        fields = ("username", "email")


class TeamCreateForm(forms.Form):
    name = forms.CharField(max_length=100, label="Team name")


class InviteForm(forms.Form):
    email = forms.EmailField(
        help_text="They join when they accept with an account of this address."
    )
    role = forms.ChoiceField(
        choices=[(Role.MEMBER, Role.MEMBER.label), (Role.ADMIN, Role.ADMIN.label)],
        initial=Role.MEMBER,
        help_text="Admins can invite people and manage members, the plan and caps.",
    )


class RoleForm(forms.Form):
    role = forms.ChoiceField(choices=Role.choices)
