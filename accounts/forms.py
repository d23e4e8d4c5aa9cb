from __future__ import annotations

from django import forms

from accounts.models import AuditAction, Role

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


class AuditFilterForm(forms.Form):
    """The team log's filters (GET). Bad values are errors by their field, never ignored: a
    filter silently dropped would show more than was asked for."""

    action = forms.ChoiceField(required=False, choices=[("", "Any action"), *AuditAction.choices])
    actor = forms.CharField(required=False, max_length=150, label="Who (username)")
    since = forms.DateField(
        required=False,
        label="From",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    until = forms.DateField(
        required=False,
        label="To (included)",
        input_formats=["%Y-%m-%d"],
        widget=forms.DateInput(attrs={"type": "date"}),
    )
    cursor = forms.CharField(required=False, max_length=200, widget=forms.HiddenInput)

    def clean_cursor(self):
        from portal.api.cursors import cursor_decode, int_pk
        from portal.errors import FieldError

        text = self.cleaned_data["cursor"]
        if not text:
            return None
        try:
            return cursor_decode(text, pk=int_pk)
        except FieldError:
            raise forms.ValidationError("not a link this page gave out; start again") from None

    def clean(self):
        data = super().clean() or {}
        since, until = data.get("since"), data.get("until")
        if since and until and since > until:
            self.add_error("until", "must be on or after the “From” date")
        return data
