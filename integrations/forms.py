from __future__ import annotations

from django import forms


class TokenForm(forms.Form):
    name = forms.CharField(
        max_length=100,
        help_text="What uses this token, e.g. “Shop backend”.",
        widget=forms.TextInput(attrs={"placeholder": "Shop backend"}),
    )


class PingForm(forms.Form):
    # A CharField, not a URLField: the service checks the URL (netguard, the same rule as a
    # job's callback_url) and says what is wrong with it.
    url = forms.CharField(
        label="Endpoint URL",
        max_length=1024,
        help_text="A signed test.ping event goes there, like a job's webhooks.",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/hooks/video"}),
    )
