"""The audit log: one row per security-relevant act, append-only, secret-free, shown to the
team's owners and admins (page, CSV, API) and to staff in the admin."""

from __future__ import annotations

import csv
import io
import json
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from allauth.account.models import EmailAddress
from allauth.mfa.models import Authenticator
from allauth.mfa.totp.internal.auth import TOTP, format_hotp_value, generate_totp_secret, hotp_value
from django.contrib import admin
from django.contrib.auth.models import User
from django.db import connection
from django.test import Client, RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts import audit
from accounts.models import AppendOnly, AuditAction, AuditEvent, Membership, Role, Team
from accounts.services import invitation_create, team_create
from integrations.services import token_create
from tests.apiclient import ApiClient
from tests.conftest import SECRET
from videos.services import key_store, key_update

IP = "203.0.113.7"


@pytest.fixture(autouse=True)
def _fresh_cache(settings):
    # Sign-ins are rate-limited per address in the cache: each test starts with no count.
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.locmem.LocMemCache",
            "LOCATION": f"audit-{uuid.uuid4()}",
        }
    }


def verify(user: User) -> User:
    EmailAddress.objects.update_or_create(
        user=user, email=user.email, defaults={"verified": True, "primary": True}
    )
    return user


def web(user: User | None, team: Team | None = None) -> Client:
    """A browser at IP, signed in as `user`, working in `team`."""
    client = Client(REMOTE_ADDR=IP)
    if user is not None:
        client.force_login(user)
        if team is not None:
            session = client.session
            session["team_id"] = team.pk
            session.save()
    return client


def reauthenticate(client: Client, password: str) -> None:
    response = client.post(reverse("account_reauthenticate"), {"password": password})
    assert response.status_code == 302, response.content


def totp_code(secret: str) -> str:
    return format_hotp_value(hotp_value(secret, int(time.time()) // 30))


@pytest.fixture
def studio(owner, teammate):
    """A shared team: the owner owns it, the teammate is a member; the owner works in it."""
    team = team_create(name="Studio", owner=owner)
    Membership.objects.create(team=team, user=teammate, role=Role.MEMBER)
    return team


@pytest.fixture
def owner_web(owner, studio) -> Client:
    return web(owner, studio)


# --- Every audited act leaves exactly one row -----------------------------------------------


@dataclass
class Expect:
    actor: User | None
    team: Team | None
    target: str  # a part of the row's target


def act_signin_succeeded(owner, studio, teammate):
    verify(owner)
    response = web(None).post(
        reverse("account_login"), {"login": "owner", "password": "pw-owner-123"}
    )
    assert response.status_code == 302
    # A fresh session works in the personal team (accounts.selectors.current_team).
    return Expect(owner, owner.personal_team, 'account "owner"')


def act_signin_failed(owner, studio, teammate):
    response = web(None).post(reverse("account_login"), {"login": "owner", "password": "wrong"})
    assert response.status_code == 200
    return Expect(None, None, 'account "owner"')


def act_mfa_enabled(owner, studio, teammate):
    client = web(owner, studio)
    reauthenticate(client, "pw-owner-123")
    page = client.get(reverse("mfa_activate_totp"))
    secret = page.context["form"].secret
    response = client.post(reverse("mfa_activate_totp"), {"code": totp_code(secret)})
    assert response.status_code == 302
    return Expect(owner, studio, 'account "owner" (TOTP')


def act_mfa_disabled(owner, studio, teammate):
    TOTP.activate(owner, generate_totp_secret())
    client = web(owner, studio)
    reauthenticate(client, "pw-owner-123")
    response = client.post(reverse("mfa_deactivate_totp"))
    assert response.status_code == 302
    assert not Authenticator.objects.filter(user=owner, type="totp").exists()
    return Expect(owner, studio, 'account "owner" (TOTP')


def act_key_added(owner, studio, teammate):
    response = web(owner, studio).post(
        reverse("videos:keys"), {"label": "Production", "provider": "minimax", "secret": SECRET}
    )
    assert response.status_code == 302
    # Not shared: the key is its owner's business only, in their personal team's log.
    return Expect(owner, owner.personal_team, 'key "Production" (…5678)')


def act_key_shared(owner, studio, teammate):
    key = key_store(user=owner, label="Production", secret=SECRET)
    response = web(owner, studio).post(reverse("videos:key_share", args=[key.pk]), {"shared": "1"})
    assert response.status_code == 302
    return Expect(owner, studio, 'key "Production" (…5678)')


def act_key_unshared(owner, studio, teammate):
    key = key_store(user=owner, label="Production", secret=SECRET, share_with=studio)
    api = ApiClient(web(None), token_create(user=owner, team=studio, name="t")[1])
    response = api.client.patch(
        f"/api/v1/keys/{key.pk}",
        data=json.dumps({"shared": False}),
        content_type="application/json",
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code == 200, response.content
    return Expect(owner, studio, 'key "Production" (…5678)')


def act_key_deleted(owner, studio, teammate):
    key = key_store(user=owner, label="Production", secret=SECRET, share_with=studio)
    api = ApiClient(web(None), token_create(user=owner, team=studio, name="t")[1])
    assert api.delete(f"/keys/{key.pk}").status_code == 204
    return Expect(owner, studio, 'key "Production" (…5678)')


def act_token_minted(owner, studio, teammate):
    response = web(owner, studio).post(reverse("integrations:token_create"), {"name": "CI"})
    assert response.status_code == 200 and response.context["new_token"]
    return Expect(owner, studio, 'token "CI" (vap_')


def act_token_revoked(owner, studio, teammate):
    token, _raw = token_create(user=owner, team=studio, name="CI")
    response = web(owner, studio).post(reverse("integrations:token_revoke", args=[token.pk]))
    assert response.status_code == 302
    return Expect(owner, studio, 'token "CI" (vap_')


def act_invitation_sent(owner, studio, teammate):
    response = web(owner, studio).post(
        reverse("accounts:team_invite", args=[studio.pk]),
        {"email": "new@example.com", "role": "member"},
    )
    assert response.status_code == 302
    return Expect(owner, studio, 'invitation of "new@example.com"')


def act_invitation_accepted(owner, studio, teammate):
    _invitation, link = invitation_create(
        team=studio, by=owner, email="new@example.com", base_url="http://testserver/"
    )
    newcomer = verify(User.objects.create_user("newcomer", "new@example.com", "pw-new-123"))
    response = web(newcomer).post(link.removeprefix("http://testserver"))
    assert response.status_code == 302
    return Expect(newcomer, studio, 'invitation of "new@example.com"')


def act_member_role_changed(owner, studio, teammate):
    membership = studio.memberships.get(user=teammate)
    response = web(owner, studio).post(
        reverse("accounts:member_role", args=[studio.pk, membership.pk]), {"role": "admin"}
    )
    assert response.status_code == 302
    assert studio.memberships.get(user=teammate).role == "admin"
    return Expect(owner, studio, 'member "mate"')


def act_member_removed(owner, studio, teammate):
    membership = studio.memberships.get(user=teammate)
    response = web(owner, studio).post(
        reverse("accounts:member_remove", args=[studio.pk, membership.pk])
    )
    assert response.status_code == 302
    assert not studio.memberships.filter(user=teammate).exists()
    return Expect(owner, studio, 'member "mate"')


def act_plan_changed(owner, studio, teammate):
    from billing.models import Plan

    pro = Plan.objects.create(
        name="Pro", video_limit=500, budget_cents=50_000, max_concurrent=5, is_public=True
    )
    response = web(owner, studio).post(
        reverse("billing:team_plan", args=[studio.pk]), {"plan": pro.pk, "video_cap": "20"}
    )
    assert response.status_code == 302
    studio.billing.refresh_from_db()
    assert studio.billing.plan_id == pro.pk
    return Expect(owner, studio, 'plan "Pro"')


def act_webhook_secret_rotated(owner, studio, teammate):
    response = web(owner, studio).post(reverse("integrations:secret_rotate"))
    assert response.status_code == 200 and response.context["new_secret"]
    return Expect(owner, studio, "webhook signing secret (…")


ACTS = {
    AuditAction.SIGNIN_SUCCEEDED: act_signin_succeeded,
    AuditAction.SIGNIN_FAILED: act_signin_failed,
    AuditAction.MFA_ENABLED: act_mfa_enabled,
    AuditAction.MFA_DISABLED: act_mfa_disabled,
    AuditAction.KEY_ADDED: act_key_added,
    AuditAction.KEY_SHARED: act_key_shared,
    AuditAction.KEY_UNSHARED: act_key_unshared,
    AuditAction.KEY_DELETED: act_key_deleted,
    AuditAction.TOKEN_MINTED: act_token_minted,
    AuditAction.TOKEN_REVOKED: act_token_revoked,
    AuditAction.INVITATION_SENT: act_invitation_sent,
    AuditAction.INVITATION_ACCEPTED: act_invitation_accepted,
    AuditAction.MEMBER_ROLE_CHANGED: act_member_role_changed,
    AuditAction.MEMBER_REMOVED: act_member_removed,
    AuditAction.PLAN_CHANGED: act_plan_changed,
    AuditAction.WEBHOOK_SECRET_ROTATED: act_webhook_secret_rotated,
}


@pytest.mark.parametrize("action", list(ACTS), ids=str)
def test_it_records_each_act_once_with_who_where_and_what(
    action, owner, studio, teammate, enqueued, mailoutbox, django_capture_on_commit_callbacks
):
    def rows():
        return AuditEvent.objects.filter(action=action)

    before = set(rows().values_list("pk", flat=True))
    # allauth announces a new authenticator once its transaction commits.
    with django_capture_on_commit_callbacks(execute=True):
        expect = ACTS[action](owner, studio, teammate)
    new = list(rows().exclude(pk__in=before))
    assert len(new) == 1, [str(e) for e in new]
    event = new[0]
    assert event.actor == expect.actor
    assert event.actor_label == (expect.actor.username if expect.actor else "")
    assert event.team == expect.team
    assert event.ip == IP
    assert expect.target in event.target, event.target


def test_it_covers_every_action_with_a_test_of_its_act():
    # key.rotated: no act rotates a key's secret (a key is replaced by adding a new one and
    # deleting the old). share.*: recorded by videos.services.shares, tested with share links.
    untested = set(AuditAction.values) - set(ACTS) - {"key.rotated"}
    assert untested <= {"share.created", "share.revoked"}


def test_it_keeps_nothing_typed_at_a_failed_sign_in_that_names_no_account(db):
    web(None).post(reverse("account_login"), {"login": "hunter2-my-password", "password": "x"})
    event = AuditEvent.objects.get(action=AuditAction.SIGNIN_FAILED)
    assert event.target == "unknown account"
    assert "hunter2" not in json.dumps([event.target, event.data, event.actor_label])


def test_it_records_nothing_when_the_act_is_refused(owner, studio, teammate):
    before = AuditEvent.objects.count()
    # A member cannot change roles; a key needs a label; a team needs an owner.
    mate = studio.memberships.get(user=teammate)
    web(teammate, studio).post(
        reverse("accounts:member_role", args=[studio.pk, mate.pk]), {"role": "admin"}
    )
    web(owner, studio).post(reverse("videos:keys"), {"label": "", "secret": SECRET})
    mine = studio.memberships.get(user=owner)
    web(owner, studio).post(reverse("accounts:member_remove", args=[studio.pk, mine.pk]))
    assert AuditEvent.objects.count() == before


def test_it_rolls_the_row_back_with_the_act(owner, studio):
    from django.db import transaction

    key = key_store(user=owner, label="Production", secret=SECRET)
    with pytest.raises(RuntimeError), transaction.atomic():
        key_update(key=key, by=owner, team=studio, shared=True)
        raise RuntimeError("the act fails after its row was written")
    assert not AuditEvent.objects.filter(action=AuditAction.KEY_SHARED).exists()


def test_it_takes_the_client_address_from_the_balancer_only_behind_one(settings, rf):
    request = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="6.6.6.6, 198.51.100.4")
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 0
    assert audit.client_ip(request) == "10.0.0.2"  # a header anyone can write: ignored
    settings.ALLAUTH_TRUSTED_PROXY_COUNT = 1
    assert audit.client_ip(request) == "198.51.100.4"  # what our balancer appended
    junk = rf.get("/", REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="not-an-ip")
    assert audit.client_ip(junk) == "10.0.0.2"


# --- Nothing in it is a secret --------------------------------------------------------------


def test_it_never_stores_a_secret(owner, studio, enqueued, mailoutbox):
    client = web(owner, studio)
    raw_key = "sk-audit-never-in-the-log-9999"
    client.post(
        reverse("videos:keys"),
        {"label": "Prod", "provider": "minimax", "secret": raw_key, "shared": "on"},
    )
    raw_token = client.post(reverse("integrations:token_create"), {"name": "CI"}).context[
        "new_token"
    ]
    raw_whsec = client.post(reverse("integrations:secret_rotate")).context["new_secret"]
    client.post(
        reverse("accounts:team_invite", args=[studio.pk]),
        {"email": "x@example.com", "role": "member"},
    )
    invite_link = client.session["invite_link"]  # shown once, on the team page
    invite_token = invite_link.rstrip("/").rsplit("/", 1)[-1]
    api = ApiClient(web(None), raw_token)
    api.delete(f"/keys/{owner.provider_keys.get().pk}")
    secrets = {
        "key": raw_key,
        "token": raw_token,
        "token body": raw_token.removeprefix("vap_")[8:],
        "webhook": raw_whsec,
        "webhook body": raw_whsec.removeprefix("whsec_")[:-4],
        "invitation": invite_token,
    }
    assert all(len(value) >= 16 for value in secrets.values())
    events = list(AuditEvent.objects.all())
    assert {e.action for e in events} >= {
        "key.added",
        "key.deleted",
        "token.minted",
        "webhook_secret.rotated",
        "invitation.sent",
    }
    stored = json.dumps(
        [[e.action, e.actor_label, e.target, e.ip, e.data] for e in events], ensure_ascii=False
    )
    shown = (
        client.get(reverse("accounts:team_audit", args=[studio.pk])).content.decode()
        + b"".join(
            client.get(reverse("accounts:team_audit_csv", args=[studio.pk])).streaming_content
        ).decode()
        + api.get("/audit").content.decode()
    )
    for name, value in secrets.items():
        assert value not in stored, name
        assert value not in shown, name


# --- Append-only --------------------------------------------------------------------------


@pytest.fixture
def event(owner, team):
    return audit.record(AuditAction.KEY_ADDED, actor=owner, team=team, target='key "Main"')


def test_it_refuses_to_change_or_delete_a_row(event):
    event.target = "rewritten"
    with pytest.raises(AppendOnly):
        event.save()
    with pytest.raises(AppendOnly):
        event.delete()
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=event.pk).update(target="rewritten")
    with pytest.raises(AppendOnly):
        AuditEvent.objects.filter(pk=event.pk).delete()
    fresh = AuditEvent.objects.get(pk=event.pk)
    assert fresh.target == 'key "Main"'


def test_it_keeps_the_row_and_the_name_when_the_user_goes(event, owner):
    owner.delete()
    fresh = AuditEvent.objects.get(pk=event.pk)
    assert fresh.actor is None and fresh.actor_label == "owner"


def test_it_refuses_unknown_actions(owner, team):
    with pytest.raises(ValueError):
        audit.record("key.stolen", actor=owner, team=team, target="x")


def test_it_gives_staff_a_read_only_admin(event, admin_client):
    model_admin = admin.site._registry[AuditEvent]
    request = RequestFactory().get("/")
    request.user = User.objects.get(username="admin")
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, event)
    assert not model_admin.has_delete_permission(request, event)
    listing = admin_client.get(reverse("admin:accounts_auditevent_changelist"), {"q": "owner"})
    assert listing.status_code == 200 and "key &quot;Main&quot;" in listing.content.decode()
    for filters in ({"action": "key.added"}, {"team__id__exact": event.team_id}):
        assert (
            admin_client.get(reverse("admin:accounts_auditevent_changelist"), filters).status_code
            == 200
        )
    change = reverse("admin:accounts_auditevent_change", args=[event.pk])
    assert admin_client.get(change).status_code == 200  # view only
    assert admin_client.post(change, {"target": "rewritten"}).status_code == 403
    delete = reverse("admin:accounts_auditevent_delete", args=[event.pk])
    assert admin_client.post(delete, {"post": "yes"}).status_code == 403
    assert AuditEvent.objects.get(pk=event.pk).target == 'key "Main"'


# --- The team's log: page and CSV -----------------------------------------------------------


def page_url(team: Team) -> str:
    return reverse("accounts:team_audit", args=[team.pk])


def csv_url(team: Team) -> str:
    return reverse("accounts:team_audit_csv", args=[team.pk])


def csv_rows(response) -> list[list[str]]:
    return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))


@pytest.fixture
def logged(owner, studio, teammate, outsider):
    """Rows of the studio, and one of the outsider's own team."""
    audit.record(AuditAction.KEY_ADDED, actor=owner, team=studio, target='key "Studio key"')
    audit.record(
        AuditAction.MEMBER_ROLE_CHANGED, actor=owner, team=studio, target='member "mate"', ip=IP
    )
    audit.record(
        AuditAction.KEY_ADDED, actor=outsider, team=outsider.personal_team, target='key "Theirs"'
    )


def test_it_shows_owners_and_admins_their_teams_log(logged, owner, studio, teammate):
    response = web(owner, studio).get(page_url(studio))
    assert response.status_code == 200
    body = response.content.decode()
    assert "key &quot;Studio key&quot;" in body and "member &quot;mate&quot;" in body
    assert IP in body
    assert "Theirs" not in body
    assert (
        reverse("accounts:team_audit", args=[studio.pk])
        in web(owner, studio)
        .get(reverse("accounts:team_detail", args=[studio.pk]))
        .content.decode()
    )
    Membership.objects.filter(team=studio, user=teammate).update(role=Role.ADMIN)
    assert web(teammate, studio).get(page_url(studio)).status_code == 200
    exported = csv_rows(web(teammate, studio).get(csv_url(studio)))
    assert exported[0] == audit.CSV_HEADER
    assert {row[5] for row in exported[1:]} == {'key "Studio key"', 'member "mate"'}


def test_it_refuses_members_and_hides_the_team_from_outsiders(logged, studio, teammate, outsider):
    member = web(teammate, studio)
    assert member.get(page_url(studio)).status_code == 403
    assert member.get(csv_url(studio)).status_code == 403
    assert (
        reverse("accounts:team_audit", args=[studio.pk])
        not in member.get(reverse("accounts:team_detail", args=[studio.pk])).content.decode()
    )
    stranger = web(outsider)
    for url in (page_url(studio), csv_url(studio)):
        response = stranger.get(url)
        assert response.status_code == 404
        assert "Studio key" not in response.content.decode()
    # Its own team's log shows its own rows only.
    own = stranger.get(page_url(outsider.personal_team)).content.decode()
    assert "Theirs" in own and "Studio key" not in own


def test_it_filters_by_action_actor_and_dates(logged, owner, studio):
    client = web(owner, studio)
    only = client.get(page_url(studio), {"action": "key.added"}).context["events"]
    assert [e.target for e in only] == ['key "Studio key"']
    assert client.get(page_url(studio), {"actor": "OWNER"}).context["events"]
    assert not client.get(page_url(studio), {"actor": "mate"}).context["events"]
    today = timezone.localdate()
    assert len(client.get(page_url(studio), {"since": today, "until": today}).context["events"])
    tomorrow = (today + timedelta(days=1)).isoformat()
    assert not client.get(page_url(studio), {"since": tomorrow}).context["events"]
    exported = csv_rows(client.get(csv_url(studio), {"action": "member.role_changed"}))
    assert [row[4] for row in exported[1:]] == ["member.role_changed"]


@pytest.mark.parametrize(
    ("params", "field", "message"),
    [
        ({"action": "key.stolen"}, "action", "Select a valid choice"),
        ({"since": "2024-13-01"}, "since", "Enter a valid date"),
        ({"until": "yesterday"}, "until", "Enter a valid date"),
        ({"since": "2024-05-02", "until": "2024-05-01"}, "until", "on or after"),
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor", "not a link this page gave out"),
        ({"actor": "x" * 151}, "actor", "at most 150"),
    ],
)
def test_it_says_which_filter_is_wrong(logged, owner, studio, params, field, message):
    for url in (page_url(studio), csv_url(studio)):
        response = web(owner, studio).get(url, params)
        assert response.status_code == 400
        assert message in " ".join(response.context["form"].errors[field])
        assert message in response.content.decode()
        assert not response.context["events"]


def test_it_pages_by_keyset_without_count_or_offset(owner, studio):
    for number in range(60):
        audit.record(AuditAction.KEY_ADDED, actor=owner, team=studio, target=f"row {number}")
    client = web(owner, studio)
    with CaptureQueriesContext(connection) as queries:
        first = client.get(page_url(studio), {"action": "key.added"})
    reads = [q["sql"] for q in queries.captured_queries if "accounts_auditevent" in q["sql"]]
    assert reads and not any("COUNT(" in sql.upper() or "OFFSET" in sql.upper() for sql in reads)
    cursor = first.context["next_cursor"]
    assert len(first.context["events"]) == 50 and cursor
    assert f"cursor={cursor}" in first.content.decode()
    second = client.get(page_url(studio), {"action": "key.added", "cursor": cursor})
    assert second.context["next_cursor"] is None
    shown = [e.target for e in first.context["events"]] + [
        e.target for e in second.context["events"]
    ]
    assert shown == [f"row {n}" for n in reversed(range(60))]


def test_it_escapes_spreadsheet_formulas_in_the_csv(owner, studio):
    joker = User.objects.create_user("@joker", "j@example.com", "pw-joker-123")
    audit.record(AuditAction.KEY_ADDED, actor=joker, team=studio, target='=HYPERLINK("x")')
    audit.record(AuditAction.KEY_ADDED, actor=owner, team=studio, target="-2+3")
    audit.record(AuditAction.KEY_ADDED, actor=owner, team=studio, target="+1", data={"a": 1})
    response = web(owner, studio).get(csv_url(studio))
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    rows = csv_rows(response)[1:]
    assert [row[5] for row in rows] == ["'+1", "'-2+3", '\'=HYPERLINK("x")']
    assert rows[2][2] == "'@joker"
    assert rows[0][6] == '{"a": 1}'


# --- The API ----------------------------------------------------------------------------------


def test_it_lists_the_tokens_team_log_to_its_owners(logged, owner, studio):
    api = ApiClient(web(None), token_create(user=owner, team=studio, name="t")[1])
    response = api.get("/audit")
    assert response.status_code == 200
    body = response.json()
    assert body["next_cursor"] is None
    items = body["items"]
    # The token's own minting is an act of the studio too.
    assert [i["action"] for i in items] == ["token.minted", "member.role_changed", "key.added"]
    assert set(items[1]) == {"id", "at", "actor", "ip", "action", "target"}
    assert items[1]["actor"] == "owner" and items[1]["ip"] == IP
    assert "Theirs" not in response.content.decode()
    only = api.get("/audit", action="key.added").json()["items"]
    assert [i["target"] for i in only] == ['key "Studio key"']


def test_it_pages_the_api_with_its_cursor(owner, studio):
    for number in range(5):
        audit.record(AuditAction.KEY_ADDED, actor=owner, team=studio, target=f"row {number}")
    api = ApiClient(web(None), token_create(user=owner, team=studio, name="t")[1])
    seen: list[str] = []
    cursor = None
    while True:
        params = {"limit": 2, "action": "key.added", **({"cursor": cursor} if cursor else {})}
        body = api.get("/audit", **params).json()
        seen += [item["target"] for item in body["items"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"row {n}" for n in reversed(range(5))]


def test_it_refuses_members_over_the_api(logged, studio, teammate):
    api = ApiClient(web(None), token_create(user=teammate, team=studio, name="t")[1])
    response = api.get("/audit")
    assert response.status_code == 403
    assert response.json()["code"] == "forbidden" and response.json()["detail"]
    assert "Studio key" not in response.content.decode()


def test_it_never_lists_another_teams_rows_over_the_api(logged, outsider):
    api = ApiClient(
        web(None), token_create(user=outsider, team=outsider.personal_team, name="t")[1]
    )
    targets = [item["target"] for item in api.get("/audit").json()["items"]]
    assert 'key "Theirs"' in targets and not any("Studio" in t for t in targets)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"cursor": "bm90IGEgY3Vyc29y"}, "cursor"),
        ({"cursor": "WyIyMDI0LTAxLTAxVDAwOjAwOjAwIiwgIjEiXQ"}, "cursor"),  # a naive time
        ({"cursor": "WyIyMDI0LTAxLTAxVDAwOjAwOjAwKzAwOjAwIiwgIjAxIl0"}, "cursor"),  # id "01"
        ({"limit": 0}, "limit"),
        ({"limit": 101}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"action": "key.stolen"}, "action"),
        ({"actions": "key.added"}, "actions"),
    ],
)
def test_it_names_the_bad_query_parameter(logged, owner, studio, params, field):
    api = ApiClient(web(None), token_create(user=owner, team=studio, name="t")[1])
    response = api.get("/audit", **params)
    assert response.status_code == 422, response.content
    assert response.json()["field"] == field
