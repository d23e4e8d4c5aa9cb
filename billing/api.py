"""JSON API: the caller's team usage this month (figures from billing.selectors.team_usage)."""

from __future__ import annotations

from datetime import datetime

from ninja import Field, Router, Schema

from billing.selectors import team_usage
from portal.api.errors import error_responses

router = Router(tags=["usage"])


class UsageOut(Schema):
    period_start: datetime
    period_end: datetime = Field(..., description="When the monthly limits reset.")
    video_limit: int
    videos_used: int = Field(..., description="Videos charged this period.")
    videos_reserved: int = Field(..., description="Videos admitted and not finished yet.")
    budget_cents: int
    spent_cents: int
    reserved_cents: int
    max_concurrent: int
    running: int = Field(..., description="Jobs queued, submitting or processing now.")


@router.get(
    "/usage",
    response={200: UsageOut, **error_responses()},
    summary="Team usage",
    operation_id="usage_get",
)
def usage(request):
    return team_usage(team=request.auth.team)
