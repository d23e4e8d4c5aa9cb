"""The videos app's JSON API: one router per part, mounted by portal/api/v1.py."""

from videos.api.keys import router as keys_router
from videos.api.shares import router as shares_router
from videos.api.templates import router as templates_router
from videos.api.videos import router as videos_router

__all__ = ["keys_router", "shares_router", "templates_router", "videos_router"]
