"""What every page tells a signed-in user about their keys: rejected or out of balance."""

from __future__ import annotations

from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import KeyCooling, KeyStatus, ProviderKey


def key_alerts(request: HttpRequest) -> dict:
    user = getattr(request, "user", None)
    if user is None or not user.is_authenticated:
        return {}
    alerts = ProviderKey.objects.filter(user=user).filter(
        Q(status=KeyStatus.INVALID)
        | Q(cooling_reason=KeyCooling.OUT_OF_BALANCE, cooling_until__gt=timezone.now())
    )
    return {"key_alerts": alerts}
