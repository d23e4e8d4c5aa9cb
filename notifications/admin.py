from __future__ import annotations

from django.contrib import admin

from notifications.models import Notification


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    """Read-only for staff: what a user was told, and whether the email went."""

    list_display = ("created_at", "user", "team", "kind", "title", "read_at", "email_state")
    list_filter = ("kind", "email_state")
    search_fields = ("user__username", "title")
    list_select_related = ("user", "team")
    readonly_fields = [f.name for f in Notification._meta.fields]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False
