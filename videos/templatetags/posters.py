"""Posters for pages: `{% job_poster_of job as poster %}`, `{% template_media_of template as
media %}` (used by templates/videos/_job_poster.html and _template_poster.html).

A list view that renders many of them prepares them in one query beforehand
(videos.posters.with_posters / with_template_media); otherwise each is looked up here."""

from __future__ import annotations

from django import template

from accounts.selectors import current_team
from videos import posters

register = template.Library()


@register.simple_tag
def job_poster_of(job) -> posters.PosterImage | None:
    return posters.job_poster(job)


@register.simple_tag(takes_context=True)
def template_media_of(context, template_obj) -> posters.TemplateMedia:
    media = getattr(template_obj, "media", None)
    if isinstance(media, posters.TemplateMedia):
        return media
    request = context.get("request")
    team = current_team(request) if request is not None else None
    return posters.template_media([template_obj], team=team)[template_obj.pk]
