"""Provider and region names for pages: keys and templates store slugs (videos.providers)."""

from __future__ import annotations

from django import template

from videos.providers import PROVIDERS, provider_for

register = template.Library()


@register.filter
def provider_label(obj) -> str:
    slug = getattr(obj, "provider", obj)
    return provider_for(slug).label if slug in PROVIDERS else str(slug)


@register.filter
def region_label(obj) -> str:
    """The region's name, or "" for a provider that has one region only."""
    if obj.provider not in PROVIDERS:
        return obj.region
    regions = provider_for(obj.provider).regions
    if len(regions) == 1:
        return ""
    return next((r.label for r in regions if r.slug == obj.region), obj.region)
