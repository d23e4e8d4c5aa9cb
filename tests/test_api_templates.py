from __future__ import annotations

from integrations.models import ApiToken
from integrations.services import token_revoke
from tests.conftest import DIVING
from videos.models import VideoTemplate


def test_it_lists_every_active_template_with_its_inputs_and_price(api):
    response = api.get("/templates")
    assert response.status_code == 200
    items = response.json()["items"]
    assert len(items) == VideoTemplate.objects.filter(is_active=True).count() == 16
    diving = next(t for t in items if t["template_id"] == DIVING)
    assert diving == {
        "id": VideoTemplate.objects.get(template_id=DIVING).pk,
        "provider": "minimax",
        "region": "global",
        "template_id": DIVING,
        "name": "Diving",
        "description": diving["description"],
        "media_inputs": 1,
        "text_inputs": 0,
        "price_cents": 40,
        "image_types": ["image/jpeg", "image/png", "image/webp"],
        "image_rules": "JPEG, PNG or WebP; under 20 MB; shorter side over 300 px; aspect ratio "
        "between 2:5 and 5:2.",
        "max_text": 500,
    }


def test_it_hides_inactive_templates(api, diving):
    VideoTemplate.objects.filter(pk=diving.pk).update(is_active=False)
    ids = [t["template_id"] for t in api.get("/templates").json()["items"]]
    assert DIVING not in ids and len(ids) == 15


def test_it_filters_by_provider(api, catalogue):
    VideoTemplate.objects.create(
        provider="useapi",
        region="global",
        template_id="5001",
        name="Neon",
        media_inputs=1,
        price_cents=60,
    )
    items = api.get("/templates", provider="useapi").json()["items"]
    assert [(t["provider"], t["template_id"]) for t in items] == [("useapi", "5001")]
    assert len(api.get("/templates", provider="minimax").json()["items"]) == 16
    assert len(api.get("/templates").json()["items"]) == 17


def test_it_refuses_an_unknown_provider_or_query_parameter(api):
    response = api.get("/templates", provider="x")
    assert response.status_code == 422 and response.json()["field"] == "provider"
    response = api.get("/templates", limit="-1")
    assert response.status_code == 422 and response.json()["field"] == "limit"


def test_it_answers_401_without_a_token(api):
    response = api.as_token(None).get("/templates")
    assert response.status_code == 401 and response.json()["code"] == "unauthorized"


def test_it_answers_401_for_a_revoked_token(api):
    token_revoke(token=ApiToken.objects.get())
    assert api.get("/templates").status_code == 401


def test_it_shows_the_same_catalogue_to_every_team(api, outsider_api):
    # Templates are the upstream's catalogue, not team data: nothing to hide from outsiders.
    assert outsider_api.get("/templates").json() == api.get("/templates").json()
