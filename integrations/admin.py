from __future__ import annotations

from django.contrib import admin, messages

from accounts.audit import client_ip
from integrations import services
from integrations.models import ApiToken, WebhookAttempt, WebhookDelivery, WebhookEndpoint


@admin.register(ApiToken)
class ApiTokenAdmin(admin.ModelAdmin):
    # Only the prefix is stored in the clear; the token itself never reaches the admin.
    list_display = ["name", "user", "team", "prefix", "created_at", "last_used_at", "revoked_at"]
    list_filter = [("revoked_at", admin.EmptyFieldListFilter)]
    search_fields = ["name", "prefix", "user__username", "team__name"]
    readonly_fields = ["user", "team", "prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["name", "user", "team", "prefix", "created_at", "last_used_at", "revoked_at"]
    actions = ["revoke"]

    def has_add_permission(self, request) -> bool:
        return False  # tokens are made in the portal or with `manage.py create_token`

    @admin.action(description="Revoke selected tokens")
    def revoke(self, request, queryset):
        for token in queryset.filter(revoked_at__isnull=True):
            services.token_revoke(token=token, by=request.user, ip=client_ip(request))
        messages.success(request, "Revoked.")


class WebhookAttemptInline(admin.TabularInline):
    model = WebhookAttempt
    extra = 0
    can_delete = False
    fields = readonly_fields = ("number", "attempted_at", "status_code", "latency_ms", "error")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(admin.ModelAdmin):
    list_display = [
        "event_type",
        "team",
        "job",
        "status",
        "attempts",
        "last_status_code",
        "next_attempt_at",
        "created_at",
    ]
    list_filter = ["status", "event_type"]
    search_fields = ["id", "job__id", "team__name", "url"]
    readonly_fields = [
        "id",
        "team",
        "job",
        "event_type",
        "url",
        "endpoint",
        "body",
        "status",
        "attempts",
        "max_attempts",
        "replayed_at",
        "next_attempt_at",
        "last_status_code",
        "last_error",
        "created_at",
        "finished_at",
    ]
    inlines = [WebhookAttemptInline]

    def has_add_permission(self, request) -> bool:
        return False


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(admin.ModelAdmin):
    # Staff see which endpoints were turned off and why; turning one back on is the team's
    # act (Integrations page), made by an owner or admin who fixed the receiver.
    list_display = [
        "display_url",
        "team",
        "disabled_at",
        "failing_since",
        "last_success_at",
        "created_at",
    ]
    list_filter = [("disabled_at", admin.EmptyFieldListFilter)]
    search_fields = ["url", "team__name"]
    readonly_fields = [
        "team",
        "url",
        "created_at",
        "last_success_at",
        "failing_since",
        "disabled_at",
        "disabled_reason",
        "disabled_notified_at",
    ]

    def has_add_permission(self, request) -> bool:
        return False  # made by the first delivery to a URL
