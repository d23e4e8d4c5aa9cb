from __future__ import annotations

from django import forms
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db.models import Q, QuerySet

from videos.models import Attachment, AttachmentKind, Job, JobStatus, VideoTemplate
from videos.providers import DEFAULT_PROVIDER, PROVIDERS, provider_choices, provider_for
from videos.providers.base import ImageRules
from videos.services.pool import keys_usable_by


def region_choices() -> list[tuple[str, str]]:
    """Every region of the providers that have more than one (one only: nothing to choose)."""
    return [("", "The provider's default")] + [
        (region.slug, f"{provider_for(slug).label}: {region.label}")
        for slug in PROVIDERS
        for region in provider_for(slug).regions
        if len(provider_for(slug).regions) > 1
    ]


class KeyForm(forms.Form):
    label = forms.CharField(max_length=100, help_text="A name you will recognise, e.g. 'Main key'.")
    provider = forms.ChoiceField(choices=provider_choices, initial=DEFAULT_PROVIDER)
    region = forms.ChoiceField(
        choices=region_choices, required=False, help_text="Which site of the provider."
    )
    # render_value=False: a secret never comes back into the page, not even after an error.
    secret = forms.CharField(
        label="API key",
        widget=forms.PasswordInput(render_value=False, attrs={"autocomplete": "off"}),
        help_text="Stored encrypted; only its last 4 characters are ever shown again. "
        "useapi.net tokens look like user:1234-abc…",
    )
    account = forms.CharField(
        max_length=100,
        required=False,
        label="Account (useapi.net, optional)",
        help_text="The MiniMax account configured at useapi.net; empty: any of yours.",
    )
    max_jobs = forms.IntegerField(
        min_value=1,
        max_value=10,
        required=False,
        label="Videos at once (useapi.net, optional)",
        help_text="Sent as maxJobs (1-10); empty: your useapi.net setting.",
    )
    shared = forms.BooleanField(
        required=False,
        label="Share with my current team",
        help_text="Teammates' jobs may run on it; nobody but you ever sees the key.",
    )
    max_concurrent = forms.IntegerField(
        min_value=1,
        max_value=100,
        required=False,
        label="Jobs at once (optional)",
        help_text="Empty: the provider's default.",
    )
    rpm = forms.IntegerField(
        min_value=1,
        max_value=10_000,
        required=False,
        label="Creates per minute (optional)",
        help_text="Empty: the provider's published limit (MiniMax: 20).",
    )


class KeyLimitsForm(forms.Form):
    max_concurrent = forms.IntegerField(min_value=1, max_value=100, required=False)
    rpm = forms.IntegerField(min_value=1, max_value=10_000, required=False)


def _counted(field: forms.CharField, limit: int) -> forms.CharField:
    """A text field with a live counter (static/js/form.js) and no `maxlength`: the browser
    would cut a long paste silently; over the limit is refused with the field's error."""
    field.widget.attrs.pop("maxlength", None)
    field.widget.attrs["data-limit"] = str(limit)
    field.error_messages["max_length"] = (
        "At most %(limit_value)d characters; this has %(show_value)d. Shorten it."
    )
    return field


def _image_attrs(rules: ImageRules) -> dict[str, str]:
    """The provider's image rules, for the browser's checks before upload (static/js/form.js);
    the server checks the same rules again (videos.images)."""
    return {
        "accept": ",".join(rules.formats.values()),
        "data-image-types": ",".join(rules.formats.values()),
        "data-image-type-names": rules.format_names,
        "data-max-bytes": str(rules.max_bytes),
        "data-min-short-side": str(rules.min_short_side),
        "data-min-aspect": f"{rules.min_aspect.numerator}:{rules.min_aspect.denominator}",
        "data-max-aspect": f"{rules.max_aspect.numerator}:{rules.max_aspect.denominator}",
    }


class JobForm(forms.Form):
    """Built from the template: one field per text input and per image input.

    `source` is an earlier job of the team ("make another with these inputs"): its texts and
    reference fill the fields, and an image field left empty reuses its stored image.
    """

    def __init__(
        self, *args, template: VideoTemplate, user, team, source: Job | None = None, **kwargs
    ):
        super().__init__(*args, **kwargs)
        self.template = template
        self.source_images: dict[int, Attachment] = {}
        if source is not None and source.template_id == template.pk:
            self.source_images = {
                a.position: a
                for a in source.attachments.filter(kind=AttachmentKind.INPUT).exclude(file="")
            }
        rules = provider_for(template.provider).rules
        for i in range(template.text_inputs):
            self.fields[f"text_{i}"] = _counted(
                forms.CharField(
                    label=template.text_label or f"Text {i + 1}",
                    max_length=rules.max_text,
                    widget=forms.TextInput(attrs={"placeholder": template.text_placeholder}),
                ),
                rules.max_text,
            )
        for i in range(template.media_inputs):
            reused = self.source_images.get(i)
            self.fields[f"media_{i}"] = forms.FileField(
                label=template.media_label or f"Image {i + 1}",
                help_text=rules.image.summary
                + (" Leave empty to use the same image as before." if reused else ""),
                required=reused is None,
                widget=forms.ClearableFileInput(attrs=_image_attrs(rules.image)),
            )
        keys = keys_usable_by(
            user=user, team=team, provider=template.provider, region=template.region
        ).order_by("label")
        self.fields["key"] = forms.ModelChoiceField(
            queryset=keys,
            required=False,
            empty_label="Any free key of mine or my team's (recommended)",
            label="API key",
            help_text="The job runs on the least busy usable key when it starts; choose one "
            "only to pin the job to it.",
        )
        self.fields["reference"] = _counted(
            forms.CharField(
                max_length=200,
                required=False,
                label="Reference (optional)",
                help_text="Your own note or order number; shown in the job list.",
            ),
            200,
        )
        if source is not None and not self.is_bound:
            self.initial["reference"] = source.reference
            for i, text in enumerate(source.text_inputs[: template.text_inputs]):
                self.initial[f"text_{i}"] = text
            if source.key_pinned and source.key_id:
                self.initial["key"] = source.key_id

    def text_values(self) -> list[str]:
        return [self.cleaned_data[f"text_{i}"] for i in range(self.template.text_inputs)]

    def media_files(self) -> list:
        files = []
        for i in range(self.template.media_inputs):
            upload = self.cleaned_data[f"media_{i}"]
            if not upload and i in self.source_images:
                stored = self.source_images[i]
                try:
                    with stored.file.open("rb") as f:
                        upload = SimpleUploadedFile(
                            stored.file.name.rsplit("/", 1)[-1], f.read(), stored.content_type
                        )
                except OSError:
                    # Gone from storage: the service refuses the missing image on its field.
                    upload = None
            files.append(upload)
        return files

    def field_for(self, error_field: str) -> str | None:
        """Map a service error field (text_inputs[0], media_inputs[1], key_id) to a form field."""
        if error_field.startswith("text_inputs["):
            return "text_" + error_field[len("text_inputs[") : -1]
        if error_field.startswith("media_inputs["):
            return "media_" + error_field[len("media_inputs[") : -1]
        return {"key_id": "key", "reference": "reference"}.get(error_field)


class JobFilterForm(forms.Form):
    """The job list's filters: status ("running" = not finished yet), template, reference."""

    RUNNING = "running"

    status = forms.ChoiceField(
        required=False,
        choices=[("", "Any status"), (RUNNING, "Running"), *JobStatus.choices],
    )
    template = forms.ModelChoiceField(
        queryset=VideoTemplate.objects.none(), required=False, empty_label="Any template"
    )
    q = forms.CharField(required=False, max_length=200, label="Reference")

    def __init__(self, *args, templates, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["template"].queryset = templates  # type: ignore[attr-defined]
        self.fields["q"].widget.attrs.update(
            {"placeholder": "Search by reference", "type": "search"}
        )

    def apply(self, jobs: QuerySet[Job]) -> QuerySet[Job]:
        """The filtered jobs; an invalid filter (a stale template id) filters nothing."""
        if not self.is_bound or not self.is_valid():
            return jobs
        data = self.cleaned_data
        if data["status"] == self.RUNNING:
            jobs = jobs.exclude(status__in=JobStatus.terminal())
        elif data["status"]:
            jobs = jobs.filter(status=data["status"])
        if data["template"]:
            jobs = jobs.filter(template=data["template"])
        if data["q"].strip():
            jobs = jobs.filter(reference__icontains=data["q"].strip())
        return jobs

    @property
    def active(self) -> bool:
        return self.is_bound and self.is_valid() and any(self.cleaned_data.values())


class GalleryFilterForm(forms.Form):
    """The gallery's search and filters (the page also filters live, static/js/gallery.js)."""

    q = forms.CharField(required=False, max_length=100, label="Search templates")
    provider = forms.ChoiceField(
        required=False, choices=lambda: [("", "Any provider"), *provider_choices()]
    )
    kind = forms.ChoiceField(
        required=False,
        label="Input",
        choices=[("", "Any input"), ("image", "Takes a photo"), ("text", "Text only")],
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["q"].widget.attrs.update(
            {"placeholder": "Name or description", "type": "search"}
        )

    def apply(self, templates: QuerySet[VideoTemplate]) -> QuerySet[VideoTemplate]:
        if not self.is_bound or not self.is_valid():
            return templates
        data = self.cleaned_data
        if q := data["q"].strip():
            templates = templates.filter(Q(name__icontains=q) | Q(description__icontains=q))
        if data["provider"]:
            templates = templates.filter(provider=data["provider"])
        if data["kind"] == "image":
            templates = templates.filter(media_inputs__gt=0)
        elif data["kind"] == "text":
            templates = templates.filter(media_inputs=0, text_inputs__gt=0)
        return templates
