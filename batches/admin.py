from __future__ import annotations

from django.contrib import admin

from batches.models import Batch, BatchItem
from batches.selectors import batch_summary


class BatchItemInline(admin.TabularInline):
    model = BatchItem
    fields = ("row", "attempt", "superseded", "job")
    readonly_fields = fields
    extra = 0
    can_delete = False
    show_change_link = False


@admin.register(Batch)
class BatchAdmin(admin.ModelAdmin):
    list_display = ("id", "name", "team", "template", "created_by", "created_at", "finished_at")
    list_filter = ("template",)
    search_fields = ("id", "name", "team__name")
    readonly_fields = (
        "team",
        "template",
        "created_by",
        "name",
        "callback_url",
        "idempotency_key",
        "created_at",
        "finished_at",
        "canceled_at",
        "summary",
    )
    exclude = ("request_hash",)
    inlines = [BatchItemInline]

    def has_add_permission(self, request) -> bool:
        return False  # batches are made by their team (portal or API), never here

    @admin.display(description="Jobs")
    def summary(self, batch: Batch) -> str:
        s = batch_summary(batch)
        return f"{s.status_label}: {s.done} of {s.total} ended, {s.count('succeeded')} made"
