from __future__ import annotations

from django import forms
from django.contrib import admin
from django.core.files.uploadedfile import UploadedFile
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce

from accounts.admin import ProviderKeyAdmin
from accounts.models import ProviderKey
from billing import charts
from videos import media
from videos.models import Attachment, Job, JobEvent, VideoTemplate
from videos.providers import PROVIDERS, provider_choices, provider_for
from videos.selectors import jobs_per_key_per_day
from videos.services import posters
from videos.services.pool import capacity, holding_a_slot


def _all_regions() -> list[tuple[str, str]]:
    return sorted({(r.slug, r.label) for slug in PROVIDERS for r in provider_for(slug).regions})


class VideoTemplateForm(forms.ModelForm):
    """Provider and region are slugs: choose them from the providers' own lists."""

    provider = forms.ChoiceField(choices=provider_choices)
    region = forms.ChoiceField(choices=_all_regions)

    class Meta:
        model = VideoTemplate
        fields = [
            "provider",
            "region",
            "template_id",
            "name",
            "description",
            "media_inputs",
            "media_label",
            "text_inputs",
            "text_label",
            "text_placeholder",
            "price_cents",
            "is_active",
            "inputs_known",
            "position",
            "cover",
            "preview",
        ]
        help_texts = {
            "cover": "The gallery's poster: a PNG, JPEG, WebP or GIF, kept as a WebP at most "
            "640 px wide. Without one, a team sees the poster of its own latest video of "
            "this template, else a placeholder.",
            "preview": "A short clip, played muted in a loop on the card: its first 4 "
            "seconds are kept, at most 480 px wide, without sound.",
        }

    # An upload is turned into what the pages show here, so a file that does not decode is
    # the field's error, not a broken card later.
    def clean_cover(self):
        upload = self.cleaned_data.get("cover")
        if upload is False:  # cleared
            self.instance.cover_width = self.instance.cover_height = None
        if not upload or not isinstance(upload, UploadedFile):
            return upload
        try:
            file, width, height = posters.cover_file(upload)
        except media.NotAnImage as exc:
            raise forms.ValidationError(f"Not usable as a poster: {exc.message}.") from None
        self.instance.cover_width, self.instance.cover_height = width, height
        return file

    def clean_preview(self):
        upload = self.cleaned_data.get("preview")
        if not upload or not isinstance(upload, UploadedFile):
            return upload
        try:
            return posters.preview_file(upload)
        except media.NotAVideo as exc:
            raise forms.ValidationError(f"Not usable as a preview: {exc.message}.") from None


@admin.register(VideoTemplate)
class VideoTemplateAdmin(admin.ModelAdmin):
    form = VideoTemplateForm
    list_display = [
        "name",
        "provider",
        "template_id",
        "region",
        "media_inputs",
        "text_inputs",
        "inputs_known",
        "price_cents",
        "is_active",
        "position",
    ]
    list_editable = ["price_cents", "is_active", "position"]
    list_filter = ["provider", "region", "is_active", "inputs_known"]
    search_fields = ["name", "template_id"]
    readonly_fields = ["synced_at", "cover_size"]
    fieldsets = [
        (None, {"fields": ["provider", "region", "template_id", "name", "description"]}),
        (
            "Inputs",
            {
                "fields": [
                    "media_inputs",
                    "media_label",
                    "text_inputs",
                    "text_label",
                    "text_placeholder",
                ]
            },
        ),
        (
            "Catalogue",
            {
                "description": "A template from a provider's listing that did not say its "
                "inputs stays hidden: set them, tick 'inputs known' and make it active.",
                "fields": [
                    "price_cents",
                    "is_active",
                    "inputs_known",
                    "position",
                    "cover",
                    "cover_size",
                    "preview",
                    "synced_at",
                ],
            },
        ),
    ]

    @admin.display(description="Cover size")
    def cover_size(self, obj: VideoTemplate) -> str:
        if obj.cover_width and obj.cover_height:
            return f"{obj.cover_width} x {obj.cover_height} px"
        return "-"


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    fields = readonly_fields = ("created_at", "kind", "status", "message")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    can_delete = False
    fields = readonly_fields = (
        "kind",
        "position",
        "file",
        "source_url",
        "content_type",
        "bytes",
        "duration_s",
    )

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Job)
class JobAdmin(admin.ModelAdmin):
    # Jobs move only through services: every field is read-only here.
    list_display = [
        "id",
        "team",
        "template",
        "status",
        "provider",
        "upstream_status",
        "cost_cents",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "provider", "template"]
    search_fields = ["id", "upstream_task_id", "reference", "team__name"]
    list_select_related = ["team", "template"]
    exclude = ["callback_token"]
    inlines = [AttachmentInline, JobEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Job._meta.fields if f.name != "callback_token"]

    def has_add_permission(self, request) -> bool:
        return False


# --- Vault keys, with their load in the pool -------------------------------------------------
# Registered here, above accounts (which knows nothing of jobs): the list shows each key's
# load and rests next to what accounts' admin shows.

admin.site.unregister(ProviderKey)


@admin.register(ProviderKey)
class PooledKeyAdmin(ProviderKeyAdmin):
    list_display = [
        "label",
        "user",
        "provider",
        "masked",
        "status",
        "shared_with",
        "load",
        "cooling_until",
        "last_used_at",
        "created_at",
    ]
    list_filter = ["provider", "region", "status", "cooling_reason"]
    list_select_related = ["user", "shared_with"]

    def get_queryset(self, request):
        # The load column from the list's own query (no query per row).
        in_flight = (
            Job.objects.filter(holding_a_slot(), key=OuterRef("pk"))
            .order_by()
            .values("key")
            .annotate(n=Count("id"))
            .values("n")
        )
        return super().get_queryset(request).annotate(in_flight=Coalesce(Subquery(in_flight), 0))

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        # Only a rendered list (not a redirect after an action) has keys to chart.
        context = getattr(response, "context_data", None)
        if context and "cl" in context:
            context["key_chart"] = _jobs_per_key_chart(list(context["cl"].result_list))
        return response

    @admin.display(description="In flight / capacity", ordering="in_flight")
    def load(self, key: ProviderKey) -> str:
        return f"{key.in_flight} / {capacity(key)}"  # type: ignore[attr-defined]


def _jobs_per_key_chart(keys: list[ProviderKey]) -> str:
    """Jobs started per day on the keys of the list's page (all teams' jobs)."""
    if not keys:
        return ""
    days, counts = jobs_per_key_per_day(keys=keys)
    return charts.stacked_bars(
        [f"{d:%b} {d.day}" for d in days],
        [charts.Series(f"{key.label} (…{key.last4})", counts[key.pk]) for key in keys],
        title="Jobs started per key per day (the keys on this page)",
    )
