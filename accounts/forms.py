from __future__ import annotations

from django import forms
from django.contrib.auth.forms import UserCreationForm
from django.contrib.auth.models import User

from accounts.models import Provider, Region, Role


class SignUpForm(UserCreationForm):
    email = forms.EmailField(required=True)

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email")


class KeyForm(forms.Form):
    label = forms.CharField(max_length=100, help_text="A name you will recognise, e.g. 'Main key'.")
    provider = forms.ChoiceField(choices=Provider.choices, initial=Provider.MINIMAX)
    region = forms.ChoiceField(choices=Region.choices, initial=Region.GLOBAL)
    # render_value=False: a secret never comes back into the page, not even after an error.
    secret = forms.CharField(
        label="API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted; only its last 4 characters are ever shown again.",
    )


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
