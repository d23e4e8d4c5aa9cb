"""Templates from a provider's own listing (`manage.py sync_templates`, daily, and when its
first key is saved); the official MiniMax catalogue is seeded data (videos/catalogue.py).

Name, description, cover and preview come from the listing (covers and clips are stored
locally, never hot-linked). Inputs come from the listing's detail where it states them, else
from an official template with the same id or name; else the template stays hidden until
staff set its inputs in the admin. The price comes from the provider (its listing's credits,
else its staff-set default); prices staff changed in the admin are kept on later syncs unless
the listing states credits. A template no longer listed is left as it is: staff retire it.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import BinaryIO, cast

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.models import KeyStatus, ProviderKey
from accounts.vault import VaultError
from videos import downloads
from videos.models import VideoTemplate
from videos.providers import PROVIDERS, provider_for
from videos.providers.base import CatalogueEntry, Provider
from videos.providers.errors import CredentialsRejected, UpstreamError
from videos.services.keys import key_mark_invalid
from videos.services.posters import template_cover_store, template_preview_store
from videos.services.transitions import credentials_for

logger = logging.getLogger("videos.services")

MAX_ASSET_BYTES = 50 * 1024 * 1024


class CatalogueSyncError(Exception):
    pass


@dataclass
class SyncCounts:
    created: int = 0
    updated: int = 0
    hidden: int = 0  # inputs not known: waiting for staff


def templates_sync(*, provider: str, key_id: int | None = None) -> SyncCounts:
    upstream = provider_for(provider)
    if not upstream.lists_catalogue:
        return SyncCounts()
    keys = ProviderKey.objects.filter(provider=provider, status=KeyStatus.ACTIVE)
    keys = keys.filter(pk=key_id) if key_id else keys.order_by("created_at")
    key, entries = _read_listing(upstream, list(keys))
    counts = SyncCounts()
    for position, entry in enumerate(entries):
        template, created = _upsert(upstream, key.region, entry, position)
        if created:
            counts.created += 1
        else:
            counts.updated += 1
        if not template.inputs_known:
            counts.hidden += 1
        _store_assets(upstream, template, entry)
    logger.info("catalogue %s: %s", provider, counts)
    return counts


def _read_listing(
    upstream: Provider, keys: list[ProviderKey]
) -> tuple[ProviderKey, list[CatalogueEntry]]:
    """The listing, read with the first key the upstream accepts (rejected keys are marked
    invalid on the way, so one bad key does not hide the catalogue for good)."""
    for key in keys:
        try:
            return key, list(upstream.catalogue(credentials_for(key)))
        except CredentialsRejected as exc:
            key_mark_invalid(key_id=key.pk, reason=exc.message)
        except (UpstreamError, VaultError) as exc:
            raise CatalogueSyncError(f"the listing could not be read: {exc}") from None
    raise CatalogueSyncError(f"no active {upstream.label} key to read the catalogue with")


def _inputs_for(entry: CatalogueEntry) -> dict | None:
    if entry.media_inputs is not None or entry.text_inputs is not None:
        return {
            "media_inputs": entry.media_inputs or 0,
            "text_inputs": entry.text_inputs or 0,
            "text_label": entry.text_label[:100],
        }
    # The same template in the official catalogue (the seeded one of a provider that lists
    # none), by id, else by name.
    seeded = [slug for slug in PROVIDERS if not provider_for(slug).lists_catalogue]
    official = (
        VideoTemplate.objects.filter(provider__in=seeded, inputs_known=True)
        .filter(Q(template_id=entry.template_id) | Q(name__iexact=entry.name))
        .order_by("-is_active", "region")
        .first()
    )
    if official is None or (official.media_inputs + official.text_inputs) == 0:
        return None
    return {
        "media_inputs": official.media_inputs,
        "text_inputs": official.text_inputs,
        "media_label": official.media_label,
        "text_label": official.text_label,
        "text_placeholder": official.text_placeholder,
    }


def _upsert(
    upstream: Provider, region: str, entry: CatalogueEntry, position: int
) -> tuple[VideoTemplate, bool]:
    inputs = _inputs_for(entry)
    now = timezone.now()
    with transaction.atomic():
        template = (
            VideoTemplate.objects.select_for_update()
            .filter(provider=upstream.slug, region=region, template_id=entry.template_id)
            .first()
        )
        created = template is None
        if template is None:
            template = VideoTemplate(
                provider=upstream.slug,
                region=region,
                template_id=entry.template_id,
                price_cents=entry.price_cents or 0,
                position=100 + position,
                inputs_known=False,
                is_active=False,
            )
        template.name = (entry.name or entry.template_id)[:100]
        template.description = entry.description
        if entry.price_cents is not None and (created or entry.credits is not None):
            template.price_cents = entry.price_cents
        if inputs is not None and not template.inputs_known:
            # Newly known inputs make the template usable; staff's later choices are kept.
            for field, value in inputs.items():
                setattr(template, field, value)
            template.inputs_known = True
            template.is_active = True
        template.synced_at = now
        template.save()
    return template, created


def _store_assets(upstream: Provider, template: VideoTemplate, entry: CatalogueEntry) -> None:
    """Copy the cover (as a WebP poster) and the clip (as a short muted loop) into storage,
    once per source URL (best effort)."""
    for field, url, kind in (
        ("cover", entry.cover_url, "image/png"),
        ("preview", entry.preview_url, "video/mp4"),
    ):
        # Signed links change their query on every listing; the file behind is the same.
        if not url or template.source_urls.get(field, "").split("?")[0] == url.split("?")[0]:
            continue
        try:
            stored = downloads.download(
                upstream.open_artifact(url), max_bytes=MAX_ASSET_BYTES, default_type=kind
            )
            try:
                # Decoded either way: a cover by Pillow, a clip by FFmpeg (videos.media).
                if field == "cover":
                    template_cover_store(template, cast(BinaryIO, stored.file))
                else:
                    template_preview_store(template, cast(BinaryIO, stored.file))
            finally:
                stored.close()
        except Exception as exc:  # best effort: a template without a cover is still usable
            logger.info("template %s: %s not stored: %s", template.pk, field, exc)
            continue
        template.source_urls = {**template.source_urls, field: url}
        VideoTemplate.objects.filter(pk=template.pk).update(source_urls=template.source_urls)
