from __future__ import annotations

from django import forms


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What uses this token, e.g. “Shop backend”.",
        widget=forms.TextInput(attrs={"placeholder": "Shop backend"}),
    )
