from __future__ import annotations

from django.contrib import admin

from accounts.models import Membership, ProviderKey, Team


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Team)
class TeamAdmin(admin.ModelAdmin):
    list_display = ["name", "personal_for", "created_at"]
    search_fields = ["name", "personal_for__username"]
    inlines = [MembershipInline]


@admin.register(ProviderKey)
class ProviderKeyAdmin(admin.ModelAdmin):
    # The secret is never part of the admin form: editable=False keeps it out, and only the
    # last 4 characters are listed.
    list_display = ["label", "user", "provider", "region", "masked", "status", "created_at"]
    list_filter = ["provider", "region", "status"]
    search_fields = ["label", "user__username"]
    readonly_fields = ["user", "provider", "region", "masked", "created_at"]
    fields = [
        "label",
        "user",
        "provider",
        "region",
        "masked",
        "status",
        "status_reason",
        "created_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # keys are added by their owner through the vault page or API
