from __future__ import annotations

from billing.selectors import team_usage
from integrations.models import ApiToken
from integrations.services import token_revoke

FIELDS = {
    "period_start", "period_end", "video_limit", "videos_used", "videos_reserved",
    "budget_cents", "spent_cents", "reserved_cents", "max_concurrent", "running",
}  # fmt: skip


def test_it_shows_the_teams_quota_use_and_spend(api, team, make_job):
    make_job()
    response = api.get("/usage")
    assert response.status_code == 200
    data = response.json()
    assert set(data) == FIELDS
    usage = team_usage(team=team)
    assert (data["video_limit"], data["budget_cents"], data["max_concurrent"]) == (
        usage.video_limit,
        usage.budget_cents,
        usage.max_concurrent,
    )
    assert (data["videos_reserved"], data["reserved_cents"], data["running"]) == (1, 40, 1)
    assert data["videos_used"] == data["spent_cents"] == 0
    assert data["period_start"] < data["period_end"]


def test_it_shows_only_the_callers_team(outsider_api, make_job):
    make_job()
    data = outsider_api.get("/usage").json()
    assert (data["videos_reserved"], data["running"]) == (0, 0)


def test_it_ignores_query_parameters_it_does_not_take(api):
    assert api.get("/usage", team="1").status_code == 200


def test_it_answers_401_without_a_token_or_with_a_revoked_one(api):
    assert api.as_token(None).get("/usage").status_code == 401
    token_revoke(token=ApiToken.objects.get())
    response = api.get("/usage")
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"
