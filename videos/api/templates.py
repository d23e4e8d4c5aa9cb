"""JSON API: the template catalogue, every provider's, or one provider's."""

from __future__ import annotations

from typing import Annotated

from ninja import Query, Router

from portal.api.errors import error_responses, refuse_unknown_query
from videos.api.schemas import ProviderSlug, TemplateListOut, template_payload
from videos.selectors import templates_active

router = Router(tags=["templates"])


@router.get(
    "/templates",
    response={200: TemplateListOut, **error_responses(422)},
    summary="List templates",
    operation_id="templates_list",
)
def template_list(
    request,
    provider: Annotated[ProviderSlug | None, Query(description="Only this provider's.")] = None,
):
    refuse_unknown_query(request, "provider")
    templates = templates_active()
    if provider:
        templates = templates.filter(provider=provider)
    return {"items": [template_payload(t) for t in templates]}
