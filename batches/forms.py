from __future__ import annotations

from django import forms


class MultipleImageInput(forms.ClearableFileInput):
    allow_multiple_selected = True


class MultipleImageField(forms.FileField):
    """Many images in one input (Django's documented recipe for multiple files)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("widget", MultipleImageInput(attrs={"accept": "image/*"}))
        super().__init__(*args, **kwargs)

    def clean(self, data, initial=None):
        single = super().clean
        if isinstance(data, (list, tuple)):
            return [single(d, initial) for d in data]
        return [single(data, initial)] if data else []


class BatchForm(forms.Form):
    name = forms.CharField(max_length=200, required=False, label="Name (optional)")
    rows = forms.FileField(
        required=False,
        label="CSV, one row per video",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    images_zip = forms.FileField(
        required=False,
        label="ZIP of images (for rows that name a file)",
        widget=forms.ClearableFileInput(attrs={"accept": ".zip,application/zip"}),
    )
    images = MultipleImageField(required=False, label="Or drop many images (one video each)")

    def __init__(self, *args, image_only: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if not image_only:
            del self.fields["images"]

    def clean(self):
        data = super().clean() or {}
        if not data.get("rows") and not data.get("images"):
            raise forms.ValidationError(
                "Upload a CSV" + (" or images." if "images" in self.fields else ".")
            )
        if data.get("rows") and data.get("images"):
            raise forms.ValidationError("Upload a CSV or images, not both.")
        return data


class ConfirmForm(forms.Form):
    draft = forms.CharField(max_length=40)
    name = forms.CharField(max_length=200, required=False)
