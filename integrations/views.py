"""Portal pages for integrations: access tokens, the webhook signing secret, endpoints and
test events, the delivery log and its replays."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from accounts.audit import client_ip
from accounts.selectors import current_team_required
from integrations import health, services, webhooks
from integrations.forms import PingForm, TokenForm
from integrations.models import DeliveryStatus, WebhookDelivery, WebhookEndpoint
from integrations.selectors import (
    can_manage_webhooks,
    deliveries_for_team,
    endpoints_for_team,
    tokens_for_user,
)
from portal.errors import DomainError
from portal.web import show_as_message, show_on_form

DELIVERIES_PER_PAGE = 25
ENDPOINTS_SHOWN = 20


def _index_context(request, **extra) -> dict:
    team = current_team_required(request)
    endpoints = list(endpoints_for_team(team=team)[:ENDPOINTS_SHOWN])
    latest = max(endpoints, key=lambda e: e.created_at, default=None)
    return {
        "team": team,
        "tokens": tokens_for_user(user=request.user),
        "form": TokenForm(),
        "can_manage": can_manage_webhooks(user=request.user, team=team),
        "endpoints": endpoints,
        "ping_form": PingForm(initial={"url": latest.url if latest else ""}),
        # Only the last 4 characters: the whole secret appears once, in the answer to the
        # rotation that made it (secret_rotate), like a new token.
        "secret": services.webhook_secret_get(team=team),
        **extra,
    }


@never_cache
@login_required
def index(request):
    return render(request, "integrations/index.html", _index_context(request))


@never_cache
@login_required
@require_POST
def token_create(request):
    form = TokenForm(request.POST)
    if not form.is_valid():
        return render(request, "integrations/index.html", _index_context(request, form=form))
    try:
        token, raw = services.token_create(
            user=request.user,
            team=current_team_required(request),
            name=form.cleaned_data["name"],
            ip=client_ip(request),
        )
    except DomainError as exc:
        show_on_form(form, exc)
        return render(request, "integrations/index.html", _index_context(request, form=form))
    # Rendered, not redirected: this answer is the only place the token ever appears.
    return render(
        request, "integrations/index.html", _index_context(request, new_token=raw, created=token)
    )


@login_required
@require_POST
def token_revoke(request, token_id: int):
    token = get_object_or_404(tokens_for_user(user=request.user), pk=token_id)
    services.token_revoke(token=token, by=request.user, ip=client_ip(request))
    messages.success(request, f"Token “{token.name}” revoked; it stops working at once.")
    return redirect("integrations:index")


@never_cache
@login_required
@require_POST
def secret_rotate(request):
    team = current_team_required(request)
    if not can_manage_webhooks(user=request.user, team=team):
        raise PermissionDenied("only owners and admins rotate the signing secret")
    _secret, raw = services.webhook_secret_rotate(team=team, by=request.user, ip=client_ip(request))
    # Rendered, not redirected: this answer is the only place the new secret ever appears.
    return render(request, "integrations/index.html", _index_context(request, new_secret=raw))


@login_required
def deliveries(request):
    team = current_team_required(request)
    queryset = deliveries_for_team(team=team)
    status = request.GET.get("status", "")
    if status in DeliveryStatus.values:
        queryset = queryset.filter(status=status)
    page = Paginator(queryset, DELIVERIES_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "integrations/deliveries.html",
        {
            "team": team,
            "page": page,
            "status": status,
            "statuses": DeliveryStatus.choices,
            "can_manage": can_manage_webhooks(user=request.user, team=team),
        },
    )


@login_required
@require_POST
def webhook_test(request):
    team = current_team_required(request)
    form = PingForm(request.POST)
    if form.is_valid():
        try:
            delivery = webhooks.delivery_create_test(
                team=team, by=request.user, url=form.cleaned_data["url"]
            )
        except DomainError as exc:
            if exc.status in (403, 404):
                raise
            show_on_form(form, exc)
        else:
            messages.success(
                request,
                f"Test event {delivery.webhook_id} is on its way to "
                f"{delivery.endpoint.display_url if delivery.endpoint else delivery.url}.",
            )
            return redirect("integrations:deliveries")
    return render(request, "integrations/index.html", _index_context(request, ping_form=form))


@login_required
@require_POST
def endpoint_enable(request, endpoint_id: int):
    team = current_team_required(request)
    endpoint = get_object_or_404(WebhookEndpoint, pk=endpoint_id, team=team)
    try:
        health.endpoint_enable(endpoint=endpoint, by=request.user)
    except DomainError as exc:
        show_as_message(request, exc)
    else:
        messages.success(
            request, f"Webhooks to {endpoint.display_url} are on again; new events go out."
        )
    return redirect(reverse("integrations:index") + "#webhooks")


@login_required
@require_POST
def delivery_retry(request, delivery_id):
    team = current_team_required(request)
    delivery = get_object_or_404(
        WebhookDelivery.objects.select_related("team", "endpoint"), pk=delivery_id, team=team
    )
    try:
        webhooks.delivery_replay(delivery=delivery, by=request.user)
    except DomainError as exc:
        show_as_message(request, exc)
    else:
        messages.success(
            request, f"Re-sent {delivery.webhook_id}: a new attempt, with the same webhook-id."
        )
    return redirect("integrations:deliveries")
