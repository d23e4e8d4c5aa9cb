"""The admin site, with one repair of Django's: its "view on site" link
(admin/r/<content type>/<object id>/) answers 404, not 500, for an id that is not a UUID of a
model keyed by UUIDs (jobs). Django's shortcut view catches ValueError, not the
ValidationError a UUID field raises."""

from __future__ import annotations

from django.contrib import admin
from django.contrib.contenttypes import views as contenttype_views
from django.core.exceptions import ValidationError
from django.http import Http404
from django.urls import URLPattern


def _shortcut(request, content_type_id, object_id):
    try:
        return contenttype_views.shortcut(request, content_type_id, object_id)
    except ValidationError:
        raise Http404("no such object") from None


class PortalAdminSite(admin.AdminSite):
    def get_urls(self):
        urls = super().get_urls()
        for index, pattern in enumerate(urls):
            if isinstance(pattern, URLPattern) and pattern.name == "view_on_site":
                urls[index] = URLPattern(
                    pattern.pattern, self.admin_view(_shortcut), name="view_on_site"
                )
        return urls
