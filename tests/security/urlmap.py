"""Every URL pattern of the site, from Django's resolver, filled with real ids of a world."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass

from django.apps import apps
from django.contrib.contenttypes.models import ContentType
from django.urls import URLPattern, URLResolver, get_resolver

from tests.security.world import World


@dataclass(frozen=True)
class Entry:
    """One resolver entry: its name (or `route:<route>` for an unnamed one) and its route."""

    key: str
    route: str
    params: tuple[str, ...]


_PARAM = re.compile(r"<(?:(?P<conv>[a-z_]+):)?(?P<name>\w+)>|\(\?P<(?P<rname>\w+)>[^)]*\)")


def _walk(resolver: URLResolver, prefix: str, namespaces: tuple[str, ...]):
    for pattern in resolver.url_patterns:
        if isinstance(pattern, URLResolver):
            ns = namespaces + ((pattern.namespace,) if pattern.namespace else ())
            yield from _walk(pattern, prefix + str(pattern.pattern), ns)
        elif isinstance(pattern, URLPattern):
            route = prefix + str(pattern.pattern)
            key = ":".join((*namespaces, pattern.name)) if pattern.name else f"route:{route}"
            params = tuple(m.group("name") or m.group("rname") for m in _PARAM.finditer(route))
            yield Entry(key=key, route=route, params=params)


def resolver_entries() -> list[Entry]:
    """Every entry once (ninja lists one route under each of its operations' names)."""
    seen: dict[str, Entry] = {}
    for entry in _walk(get_resolver(), "", ()):
        seen.setdefault(entry.key, entry)
    return list(seen.values())


def _admin_model(route: str):
    match = re.match(r"admin/(\w+)/(\w+)/", route)
    if not match:
        return None
    try:
        return apps.get_model(match.group(1), match.group(2))
    except LookupError:
        return None


def _capability(key: str, world: World) -> str:
    """The unguessable token a capability URL carries (the world's real one)."""
    from videos.inputs import input_url_path

    if key == "accounts:invitation":
        return world.a.invitation_token
    if key == "callback":
        return world.a.job.callback_token
    if key == "videos:input_image":
        return input_url_path(world.a.input_file.pk).rstrip("/").rsplit("/", 1)[-1]
    if key in ("videos:share", "videos:share_video", "videos:share_poster"):
        return world.a.share_token
    return "no-token"


def fill(entry: Entry, world: World, *, missing: bool = False) -> str:
    """The entry's path with every converter given a real id of team A's objects (or, with
    `missing`, ids that name nothing: what a guess at another team's id looks like)."""
    a = world.a
    model = _admin_model(entry.route)
    admin_object = model.objects.order_by("pk").first() if model is not None else None
    values = {
        "team_id": a.team.pk,
        "invitation_id": a.invitation.pk,
        "membership_id": a.member_membership.pk if a.member_membership else 0,
        "job_id": a.job.pk,
        "video_id": a.job.pk,
        "attachment_id": a.input_file.pk,
        "file_id": a.input_file.pk,
        "template_pk": world.template.pk,
        "asset": "cover",
        "key_id": a.key_shared.pk,
        "token_id": a.owner_token.pk,
        "notification_id": a.notification.pk if a.notification else 0,
        "share_id": a.share.pk if a.share else 0,
        "delivery_id": a.delivery.pk if a.delivery else uuid.UUID(int=1),
        "endpoint_id": a.endpoint.pk if a.endpoint else 0,
        "batch_id": a.batch.pk if a.batch else uuid.UUID(int=1),
        "period": a.job.created_at.strftime("%Y-%m"),
        "provider": "minimax",
        # view_on_site (admin/r/<content type>/<object id>/) names the job.
        "object_id": admin_object.pk if admin_object is not None else a.job.pk,
        "content_type_id": ContentType.objects.get_for_model(type(a.job)).pk,
        "app_label": "videos",
        "url": "no/such/page/",
        "id": a.owner.pk,
        "key": "no-such-key",
        "uidb36": "1",
        "token": _capability(entry.key, world),
    }
    if missing:
        values.update(
            team_id=999_999,
            invitation_id=999_999,
            membership_id=999_999,
            job_id=uuid.UUID(int=1),
            video_id=uuid.UUID(int=1),
            attachment_id=999_999,
            file_id=999_999,
            key_id=999_999,
            token_id=999_999,
            notification_id=999_999,
            share_id=999_999,
            delivery_id=uuid.UUID(int=1),
            endpoint_id=999_999,
            batch_id=uuid.UUID(int=1),
            token="forged-token-0123456789abcdef",
        )
    path = entry.route
    for match in reversed(list(_PARAM.finditer(path))):
        name = match.group("name") or match.group("rname")
        if name not in values:
            raise KeyError(f"{entry.key}: no value for the path parameter {name!r}")
        path = path[: match.start()] + str(values[name]) + path[match.end() :]
    path = path.replace("^", "").replace("$", "")
    return "/" + path
