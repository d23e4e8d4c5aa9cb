"""The JSON API v1: one NinjaAPI at /api/v1/, a router per app, errors mapped once."""

from __future__ import annotations

from ninja import NinjaAPI

from accounts.api import router as audit_router
from batches.api import router as batches_router
from billing.api import router as usage_router
from integrations.api import router as webhooks_router
from portal.api import errors
from portal.api.auth import TokenAuth
from videos.api import keys_router, shares_router, templates_router, videos_router

api = NinjaAPI(
    title="Video Agent Portal API",
    version="1",
    description=(
        "Everything a person does in the portal, for integrations. Authenticate with "
        "`Authorization: Bearer <personal access token>` (portal: Integrations, or "
        '`manage.py create_token`). Errors are JSON `{"detail", "code"}`, with `field` '
        "naming the input on 422."
    ),
    urls_namespace="api-v1",
    auth=TokenAuth(),
    openapi_url="/openapi.json",
    docs_url="/docs",
)
errors.install(api)

api.add_router("", templates_router)
api.add_router("", keys_router)
api.add_router("", videos_router)
api.add_router("", batches_router)
api.add_router("", shares_router)
api.add_router("", usage_router)
api.add_router("", webhooks_router)
api.add_router("", audit_router)
