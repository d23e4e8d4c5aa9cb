from __future__ import annotations

from django.contrib import admin

from videos.models import Attachment, Job, JobEvent, VideoTemplate


@admin.register(VideoTemplate)
class VideoTemplateAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "template_id",
        "region",
        "media_inputs",
        "text_inputs",
        "price_cents",
        "is_active",
        "position",
    ]
    list_editable = ["price_cents", "is_active", "position"]
    list_filter = ["provider", "region", "is_active"]
    search_fields = ["name", "template_id"]
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
        ("Catalogue", {"fields": ["price_cents", "is_active", "position"]}),
    ]


class JobEventInline(admin.TabularInline):
    model = JobEvent
    extra = 0
    can_delete = False
    fields = ["created_at", "kind", "status", "message"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class AttachmentInline(admin.TabularInline):
    model = Attachment
    extra = 0
    can_delete = False
    fields = ["kind", "position", "file", "content_type", "bytes", "duration_s"]
    readonly_fields = fields

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
        "upstream_status",
        "cost_cents",
        "created_at",
        "finished_at",
    ]
    list_filter = ["status", "template"]
    search_fields = ["id", "upstream_task_id", "reference", "team__name"]
    list_select_related = ["team", "template"]
    exclude = ["callback_token"]
    inlines = [AttachmentInline, JobEventInline]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in Job._meta.fields if f.name != "callback_token"]

    def has_add_permission(self, request) -> bool:
        return False
