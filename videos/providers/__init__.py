"""The upstream providers: one module each, behind videos.providers.base.Provider.

Like healthchecks' TRANSPORTS, the registry holds dotted paths loaded on first use, so adding
an upstream is one module and one line here; nothing outside a provider module names its
upstream.
"""

from __future__ import annotations

from functools import cache

from django.utils.module_loading import import_string

from videos.providers.base import Provider

# What a key or template is for when nobody says (the JSON API's `provider` default).
DEFAULT_PROVIDER = "minimax"

PROVIDERS: dict[str, str] = {
    "minimax": "videos.providers.minimax.provider",
    "useapi": "videos.providers.useapi.provider",
}


class UnknownProvider(LookupError):
    pass


@cache
def provider_for(slug: str) -> Provider:
    try:
        path = PROVIDERS[slug]
    except KeyError:
        raise UnknownProvider(slug) from None
    provider: Provider = import_string(path)
    return provider


def provider_choices() -> list[tuple[str, str]]:
    return [(slug, provider_for(slug).label) for slug in PROVIDERS]
