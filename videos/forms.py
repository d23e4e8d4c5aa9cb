from __future__ import annotations

from django import forms

from accounts.models import KeyStatus
from accounts.selectors import keys_for_user
from videos.models import VideoTemplate

IMAGE_ACCEPT = "image/png,image/jpeg,image/webp"


class JobForm(forms.Form):
    """Built from the template: one field per text input and per image input."""

    def __init__(self, *args, template: VideoTemplate, user, **kwargs):
        super().__init__(*args, **kwargs)
        self.template = template
        for i in range(template.text_inputs):
            self.fields[f"text_{i}"] = forms.CharField(
                label=template.text_label or f"Text {i + 1}",
                max_length=500,
                widget=forms.TextInput(attrs={"placeholder": template.text_placeholder}),
            )
        for i in range(template.media_inputs):
            self.fields[f"media_{i}"] = forms.FileField(
                label=template.media_label or f"Image {i + 1}",
                help_text="JPEG, PNG or WebP; under 20 MB; shorter side over 300 px; "
                "aspect ratio between 2:5 and 5:2.",
                widget=forms.ClearableFileInput(attrs={"accept": IMAGE_ACCEPT}),
            )
        keys = keys_for_user(user=user).filter(
            provider=template.provider, region=template.region, status=KeyStatus.ACTIVE
        )
        self.fields["key"] = forms.ModelChoiceField(
            queryset=keys, empty_label=None, label="API key", required=True
        )
        self.fields["reference"] = forms.CharField(
            max_length=200,
            required=False,
            label="Reference (optional)",
            help_text="Your own note or order number; shown in the job list.",
        )

    def text_values(self) -> list[str]:
        return [self.cleaned_data[f"text_{i}"] for i in range(self.template.text_inputs)]

    def media_files(self) -> list:
        return [self.cleaned_data[f"media_{i}"] for i in range(self.template.media_inputs)]

    def field_for(self, error_field: str) -> str | None:
        """Map a service error field (text_inputs[0], media_inputs[1], key_id) to a form field."""
        if error_field.startswith("text_inputs["):
            return "text_" + error_field[len("text_inputs[") : -1]
        if error_field.startswith("media_inputs["):
            return "media_" + error_field[len("media_inputs[") : -1]
        return {"key_id": "key", "reference": "reference"}.get(error_field)
