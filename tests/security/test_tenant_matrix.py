"""The tenant matrix: every URL of the site, for every kind of caller.

The URLs come from Django's resolver (walked recursively, so a new URL is found wherever it
is mounted), filled with real ids of team A's objects (tests/security/world.py). Each URL
name has a policy in POLICIES below; a URL without one fails
test_it_classifies_every_url_of_the_resolver, so nobody adds a page without saying who may
see it. For each caller the matrix asserts:

- anonymous: the sign-in redirect (pages) or 401 (JSON API), never the page;
- outsider (another team): 404 for every object of team A — the same answer as for an id
  that names nothing — never 403 or 200;
- member, admin, owner of team A: the page (never 404 nor 5xx);
- dual (in team A and B, working in B): team A's objects through the web by membership, but
  never through a token of team B, and nothing of team A in team B's lists;
- staff: the admin and the dashboard; team pages like any non-member.

And every body and header (pages, JSON, CSV, files, event streams) is searched for the marks
of the teams the caller is not in: nothing of another team appears in lists, counts, exports
or streams.
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass

import pytest
from django.conf import settings
from django.db import transaction
from django.test import Client
from django.urls import reverse

from accounts.selectors import SESSION_TEAM_KEY
from tests.security.urlmap import Entry, fill, resolver_entries
from tests.security.world import MARK_A, MARK_A_TEAM, MARK_B, World

MATRIX_ROLES = ("anonymous", "outsider", "member", "admin", "owner", "dual", "staff")

# --- What a caller may get ------------------------------------------------------------------
# public  : anything but a 5xx (the page is for everyone)
# login   : a redirect to a sign-in page (the portal's, or the admin's, which leads there)
# unauth  : 401 from the JSON API
# hidden  : 404 for every method the URL serves, the same answer as for ids that name nothing
# ok      : served (no 404, no 5xx); nothing of other teams in it
# reader  : served, and team A's marks are expected: the dual user on team A's pages (a
#           member of A), staff on a statement (staff read every team's)
# own     : the caller's own account pages (allauth, two-factor): no 5xx; 404 allowed where it
#           means "you have none" (no authenticator to deactivate, no recovery codes yet)
# staff   : the staff user inside the admin: no 5xx (every team's marks are expected there)
# refused : a signed-in non-staff user on a staff page: 403 or a redirect, never the page
# capable : a capability URL (the token in it is the permission): no 5xx for anyone holding
#           the real link; a forged token answers 404
# shared  : a share link's public page: like capable, and what it shows holds nothing of any
#           team, for whoever holds the link (its own team's members included)


@dataclass(frozen=True)
class Policy:
    name: str
    expect: dict[str, str]


def _policy(name: str, **expect: str) -> Policy:
    missing = set(MATRIX_ROLES) - set(expect)
    assert not missing, f"{name}: no expectation for {missing}"
    return Policy(name, expect)


PUBLIC = _policy("public", **dict.fromkeys(MATRIX_ROLES, "public"))
CAPABILITY = _policy("capability", **dict.fromkeys(MATRIX_ROLES, "capable"))
SHARE_LINK = _policy("share link", **dict.fromkeys(MATRIX_ROLES, "shared"))
SIGNED_IN = _policy(
    "signed-in",
    anonymous="login",
    outsider="ok",
    member="ok",
    admin="ok",
    owner="ok",
    dual="ok",
    staff="ok",
)
OWN_ACCOUNT = _policy(
    "own account",
    anonymous="login",
    outsider="own",
    member="own",
    admin="own",
    owner="own",
    dual="own",
    staff="own",
)
# Team A's objects in the web portal: visible to its members (whichever team they work in).
TEAM_A = _policy(
    "team A's members",
    anonymous="login",
    outsider="hidden",
    member="ok",
    admin="ok",
    owner="ok",
    dual="reader",
    staff="hidden",
)
# Staff read any team's statement (from the dashboard), by design (billing/views.py).
TEAM_A_STATEMENT = _policy(
    "team A's members and staff",
    anonymous="login",
    outsider="hidden",
    member="ok",
    admin="ok",
    owner="ok",
    dual="reader",
    staff="reader",
)
# A key shared with team A: visible to the members working in team A.
TEAM_A_WORKING = _policy(
    "team A's members working in it",
    anonymous="login",
    outsider="hidden",
    member="ok",
    admin="ok",
    owner="ok",
    dual="hidden",
    staff="hidden",
)
# The owner's own things (his vault key, his access token): nobody else even sees them.
OWNER_ONLY = _policy(
    "its owner only",
    anonymous="login",
    outsider="hidden",
    member="hidden",
    admin="hidden",
    owner="ok",
    dual="hidden",
    staff="hidden",
)
API_LIST = _policy(
    "API, the token's team",
    anonymous="unauth",
    outsider="ok",
    member="ok",
    admin="ok",
    owner="ok",
    dual="ok",
    staff="ok",
)
# A token acts in one team: another team's object is 404, even for a member of both.
API_TEAM_A = _policy(
    "API, team A's tokens",
    anonymous="unauth",
    outsider="hidden",
    member="ok",
    admin="ok",
    owner="ok",
    dual="hidden",
    staff="hidden",
)
STAFF = _policy(
    "staff",
    anonymous="login",
    outsider="refused",
    member="refused",
    admin="refused",
    owner="refused",
    dual="refused",
    staff="staff",
)

_ADMIN_MODELS = (
    "account_emailaddress",
    "accounts_auditevent",
    "accounts_invitation",
    "accounts_membership",
    "accounts_providerkey",
    "accounts_team",
    "auth_group",
    "batches_batch",
    "auth_user",
    "billing_ledgerentry",
    "billing_periodusage",
    "billing_plan",
    "django_q_failure",
    "django_q_ormq",
    "django_q_schedule",
    "django_q_success",
    "integrations_apitoken",
    "integrations_webhookdelivery",
    "integrations_webhookendpoint",
    "mfa_authenticator",
    "notifications_notification",
    "videos_job",
    "videos_videotemplate",
)

POLICIES: dict[str, Policy] = {
    # Probes.
    "healthz": PUBLIC,
    "readyz": PUBLIC,
    # django-allauth: signing in, up and out, resets and confirmations (a forged key here).
    "account_login": PUBLIC,
    "account_logout": PUBLIC,
    "account_signup": PUBLIC,
    "account_confirm_login_code": PUBLIC,
    "account_email_verification_sent": PUBLIC,
    "account_confirm_email": PUBLIC,
    "account_inactive": PUBLIC,
    "account_reset_password": PUBLIC,
    "account_reset_password_done": PUBLIC,
    "account_reset_password_from_key": PUBLIC,
    "account_reset_password_from_key_done": PUBLIC,
    "mfa_authenticate": PUBLIC,
    # django-allauth: the signed-in user's own account.
    "account_change_password": OWN_ACCOUNT,
    "account_set_password": OWN_ACCOUNT,
    "account_email": OWN_ACCOUNT,
    "account_reauthenticate": OWN_ACCOUNT,
    "account_request_reauthentication_code": OWN_ACCOUNT,
    "account_confirm_reauthentication_code": OWN_ACCOUNT,
    "mfa_index": OWN_ACCOUNT,
    "mfa_activate_totp": OWN_ACCOUNT,
    "mfa_deactivate_totp": OWN_ACCOUNT,
    "mfa_reauthenticate": OWN_ACCOUNT,
    "mfa_generate_recovery_codes": OWN_ACCOUNT,
    "mfa_view_recovery_codes": OWN_ACCOUNT,
    "mfa_download_recovery_codes": OWN_ACCOUNT,
    # Teams.
    "accounts:teams": SIGNED_IN,
    "accounts:team": SIGNED_IN,
    "accounts:team_detail": TEAM_A,
    "accounts:team_switch": TEAM_A,
    "accounts:team_invite": TEAM_A,
    "accounts:team_mfa": TEAM_A,
    "accounts:invitation_revoke": TEAM_A,
    "accounts:member_role": TEAM_A,
    "accounts:member_remove": TEAM_A,
    # The audit log: its owners and admins read it (members get a 403 page), nobody else.
    "accounts:team_audit": TEAM_A,
    "accounts:team_audit_csv": TEAM_A,
    "accounts:invitation": CAPABILITY,
    # Billing.
    "billing:usage": SIGNED_IN,
    "billing:team_plan": TEAM_A,
    "billing:statement": TEAM_A_STATEMENT,
    "billing:statement_csv": TEAM_A_STATEMENT,
    # Videos (portal pages).
    "videos:gallery": SIGNED_IN,
    "videos:job_new": SIGNED_IN,
    "videos:template_asset": SIGNED_IN,
    "videos:job_list": SIGNED_IN,
    "videos:job_detail": TEAM_A,
    "videos:job_status": TEAM_A,
    "videos:job_cancel": TEAM_A,
    "videos:job_video": TEAM_A,
    "videos:job_file": TEAM_A,
    "videos:job_share_create": TEAM_A,
    "videos:job_share_revoke": TEAM_A,
    "videos:share": SHARE_LINK,
    "videos:share_video": SHARE_LINK,
    "videos:share_poster": SHARE_LINK,
    "videos:keys": SIGNED_IN,
    "videos:key_share": TEAM_A_WORKING,
    "videos:key_limits": TEAM_A_WORKING,
    "videos:key_test": TEAM_A_WORKING,
    "videos:key_delete": OWNER_ONLY,
    "videos:key_rotate": OWNER_ONLY,
    "videos:input_image": CAPABILITY,
    "callback": CAPABILITY,
    # Batches (portal pages): set up in the team one works in; a batch like its jobs.
    "batches:list": SIGNED_IN,
    "batches:new": SIGNED_IN,
    "batches:confirm": SIGNED_IN,
    "batches:sample_csv": SIGNED_IN,
    "batches:detail": TEAM_A,
    "batches:status": TEAM_A,
    "batches:cancel": TEAM_A,
    "batches:retry": TEAM_A,
    "batches:archive": TEAM_A,
    # Integrations.
    "integrations:index": SIGNED_IN,
    "integrations:token_create": SIGNED_IN,
    "integrations:secret_rotate": SIGNED_IN,
    "integrations:deliveries": SIGNED_IN,
    "integrations:token_revoke": OWNER_ONLY,
    # Webhook replay and health: owners and admins act (members get a 403 page); the
    # delivery or endpoint is looked up in the team the caller works in.
    "integrations:webhook_test": SIGNED_IN,
    "integrations:delivery_retry": TEAM_A_WORKING,
    "integrations:endpoint_enable": TEAM_A_WORKING,
    # Notifications: the signed-in user's own (the list, marking read, preferences).
    "notifications:index": SIGNED_IN,
    "notifications:read_all": SIGNED_IN,
    "notifications:preferences": SIGNED_IN,
    "notifications:open": OWNER_ONLY,
    # JSON API.
    "api-v1:api-root": PUBLIC,
    "api-v1:openapi-json": PUBLIC,
    "api-v1:openapi-view": PUBLIC,
    "api-v1:template_list": API_LIST,
    "api-v1:key_list": API_LIST,
    "api-v1:key_create": API_LIST,
    "api-v1:video_list": API_LIST,
    "api-v1:video_create": API_LIST,
    "api-v1:usage": API_LIST,
    "api-v1:audit_list": API_LIST,
    "api-v1:batch_list": API_LIST,
    "api-v1:batch_create": API_LIST,
    "api-v1:key_update": API_TEAM_A,
    "api-v1:key_test": API_TEAM_A,
    "api-v1:key_delete": API_TEAM_A,
    "api-v1:key_rotate": API_TEAM_A,
    "api-v1:video_detail": API_TEAM_A,
    "api-v1:video_cancel": API_TEAM_A,
    "api-v1:video_events": API_TEAM_A,
    "api-v1:video_download": API_TEAM_A,
    "api-v1:video_file": API_TEAM_A,
    "api-v1:delivery_detail": API_TEAM_A,
    "api-v1:delivery_retry": API_TEAM_A,
    "api-v1:video_share_create": API_TEAM_A,
    "api-v1:video_share_list": API_TEAM_A,
    "api-v1:share_delete": API_TEAM_A,
    "api-v1:batch_detail": API_TEAM_A,
    "api-v1:batch_cancel": API_TEAM_A,
    "api-v1:batch_retry": API_TEAM_A,
    "api-v1:batch_archive": API_TEAM_A,
    # Staff: the dashboard and the admin (its sign-in leads to the portal's).
    "dashboard:index": STAFF,
    "dashboard:ledger_csv": STAFF,
    "dashboard:jobs_csv": STAFF,
    "admin:index": STAFF,
    "admin:login": STAFF,
    "admin:logout": STAFF,
    "admin:password_change": STAFF,
    "admin:password_change_done": STAFF,
    "admin:autocomplete": STAFF,
    "admin:jsi18n": STAFF,
    "admin:view_on_site": STAFF,
    "admin:app_list": STAFF,
    "admin:auth_user_password_change": STAFF,
    "route:admin/(?P<url>.*)$": STAFF,
    **{
        f"admin:{model}_{view}": STAFF
        for model in _ADMIN_MODELS
        for view in ("changelist", "add", "change", "delete", "history")
    },
    # The admin's old-style object URLs (a redirect to the change form), one per model.
    "route:admin/account/emailaddress/<path:object_id>/": STAFF,
    "route:admin/accounts/auditevent/<path:object_id>/": STAFF,
    "route:admin/accounts/invitation/<path:object_id>/": STAFF,
    "route:admin/accounts/membership/<path:object_id>/": STAFF,
    "route:admin/accounts/providerkey/<path:object_id>/": STAFF,
    "route:admin/accounts/team/<path:object_id>/": STAFF,
    "route:admin/auth/group/<path:object_id>/": STAFF,
    "route:admin/batches/batch/<path:object_id>/": STAFF,
    "route:admin/auth/user/<path:object_id>/": STAFF,
    "route:admin/billing/ledgerentry/<path:object_id>/": STAFF,
    "route:admin/billing/periodusage/<path:object_id>/": STAFF,
    "route:admin/billing/plan/<path:object_id>/": STAFF,
    "route:admin/django_q/failure/<path:object_id>/": STAFF,
    "route:admin/django_q/ormq/<path:object_id>/": STAFF,
    "route:admin/django_q/schedule/<path:object_id>/": STAFF,
    "route:admin/django_q/success/<path:object_id>/": STAFF,
    "route:admin/integrations/apitoken/<path:object_id>/": STAFF,
    "route:admin/integrations/webhookdelivery/<path:object_id>/": STAFF,
    "route:admin/integrations/webhookendpoint/<path:object_id>/": STAFF,
    "route:admin/mfa/authenticator/<path:object_id>/": STAFF,
    "route:admin/notifications/notification/<path:object_id>/": STAFF,
    "route:admin/videos/job/<path:object_id>/": STAFF,
    "route:admin/videos/videotemplate/<path:object_id>/": STAFF,
}

# The JSON API serves each operation on its own methods (ninja); the portal's pages are
# asked with GET and POST (views that only take POST answer GET with 405).
WEB_METHODS = ("get", "post")


def api_methods() -> dict[str, tuple[str, ...]]:
    from portal.api.v1 import api

    methods: dict[str, tuple[str, ...]] = {}
    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                name = getattr(operation, "url_name", None) or api.get_operation_url_name(
                    operation, router=router
                )
                methods[f"api-v1:{name}"] = tuple(m.lower() for m in operation.methods)
    return methods


# --- Callers ---------------------------------------------------------------------------------


@dataclass
class Caller:
    role: str
    client: Client
    token: str | None

    def request(self, method: str, path: str):
        """One request, undone afterwards (a savepoint, and the cookies as they were), so
        that one URL's POST (a sign-out, a removal) does not change what the next one sees."""
        cookies = copy.deepcopy(self.client.cookies)
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        kwargs: dict = {"headers": headers}
        if path.startswith("/api/") and method in ("post", "patch"):
            kwargs.update(data="{}", content_type="application/json")
        try:
            with transaction.atomic():
                response = getattr(self.client, method)(path, **kwargs)
                body = _body(response)
                transaction.set_rollback(True)
        finally:
            self.client.cookies = cookies
        return response, body


def _body(response) -> str:
    # File downloads and event streams (a finished job's stream replays and ends) are read to
    # the end, which closes them (the test client's wrapper); closing them again would send
    # request_finished, whose handler closes the test's database connection.
    content = b"".join(response.streaming_content) if response.streaming else response.content
    head = "\n".join(f"{name}: {value}" for name, value in response.items())
    return head + "\n\n" + content.decode("utf-8", errors="replace")


def make_caller(world: World, role: str) -> Caller:
    client = Client(raise_request_exception=False)
    user = world.user(role)
    token = world.tokens.get(role)
    if user is not None:
        client.force_login(user)
        team = world.acting_team(role)
        if team is not None:
            session = client.session
            session[SESSION_TEAM_KEY] = team.pk
            session.save()
    return Caller(role=role, client=client, token=token)


def forbidden_marks(role: str, expectation: str) -> tuple[str, ...]:
    """The marks a body must not hold for this caller."""
    if expectation in ("staff", "capable"):
        return ()  # the admin shows every team; a capability's holder sees what it is for
    if expectation == "shared":
        return (MARK_A, MARK_B)  # a share link's page is for anyone: no team's marks at all
    if role in ("staff", "dual") and expectation == "reader":
        return ()  # team A's page, read by right (a statement; a member of team A)
    if role in ("anonymous", "staff"):
        return (MARK_A, MARK_B)
    if role in ("outsider", "dual"):
        return (MARK_A,)  # team B's own marks are theirs
    return (MARK_B,)  # team A's owner, admin and member


def _leaks(body: str, role: str, marks: tuple[str, ...]) -> list[str]:
    text = body.lower()
    if role == "dual":
        text = text.replace(MARK_A_TEAM, "")  # the team switcher names all the user's teams
    return [mark for mark in marks if mark in text]


# --- The matrix ------------------------------------------------------------------------------


def _is_login_redirect(response) -> bool:
    if response.status_code not in (301, 302, 303):
        return False
    location = response["Location"]
    # The admin's sign-out sends whoever is not staff to the admin's index, which sends them
    # on to sign in (that URL is itself in the matrix).
    return location.startswith(
        (reverse(settings.LOGIN_URL), reverse("admin:login"))
    ) or location == reverse("admin:index")


def check(caller: Caller, world: World, entry: Entry, policy: Policy) -> list[str]:
    """Every way this caller's answers break the policy, as readable lines."""
    expectation = policy.expect[caller.role]
    methods = api_methods().get(entry.key, WEB_METHODS)
    path = fill(entry, world)
    problems: list[str] = []
    served: list[tuple[str, int]] = []
    for method in methods:
        response, body = caller.request(method, path)
        status = response.status_code
        where = f"{caller.role} {method.upper()} {path} ({entry.key}, {policy.name})"
        if response.has_header("Location"):
            where += f" -> {response['Location']}"
        if status >= 500:
            problems.append(f"{where}: {status}")
            continue
        leaked = _leaks(body, caller.role, forbidden_marks(caller.role, expectation))
        if leaked:
            problems.append(f"{where}: shows {leaked} of a team the caller is not in")
        if status == 405:
            continue
        served.append((method, status))
        if expectation == "login" and not _is_login_redirect(response):
            problems.append(f"{where}: {status}, expected a sign-in redirect")
        elif expectation == "unauth" and status != 401:
            problems.append(f"{where}: {status}, expected 401")
        elif expectation == "hidden" and status != 404:
            problems.append(f"{where}: {status}, expected 404 (never 403/200: no leak)")
        elif expectation in ("ok", "reader") and status == 404:
            problems.append(f"{where}: 404, expected the page (the caller may see it)")
        elif expectation == "refused" and not (status == 403 or _is_login_redirect(response)):
            problems.append(f"{where}: {status}, expected 403 or a redirect to sign in")
    if expectation in ("hidden", "unauth", "login") and not served:
        problems.append(f"{caller.role} {path} ({entry.key}): no method served: untested")
    if expectation == "hidden":
        # Another team's id must answer exactly like an id that names nothing.
        missing = fill(entry, world, missing=True)
        for method, status in served:
            other, _body_text = caller.request(method, missing)
            if other.status_code != status:
                problems.append(
                    f"{caller.role} {method.upper()} {path}: {status}, but {other.status_code} "
                    f"for ids that name nothing ({missing}): existence shows"
                )
    if expectation in ("capable", "shared"):
        forged = fill(entry, world, missing=True)
        for method, _status in served:
            other, body = caller.request(method, forged)
            if other.status_code != 404:
                problems.append(
                    f"{caller.role} {method.upper()} {forged}: {other.status_code} for a forged "
                    "token, expected 404"
                )
            # The page around it may show the caller's own teams (the team switcher): only
            # what they are not in counts.
            if _leaks(body, caller.role, forbidden_marks(caller.role, "ok")):
                problems.append(f"{caller.role} {forged}: a forged token shows another team")
    return problems


def test_it_classifies_every_url_of_the_resolver():
    keys = {entry.key for entry in resolver_entries()}
    unclassified = sorted(keys - set(POLICIES))
    # django-q2 registers its queue's admin only with the ORM broker (not with Redis).
    orm_broker_only = ("django_q_ormq", "admin/django_q/ormq/")
    stale = sorted(k for k in set(POLICIES) - keys if not any(o in k for o in orm_broker_only))
    assert not unclassified, (
        "URLs without a policy in tests/security/test_tenant_matrix.py POLICIES (say who may "
        f"see them): {unclassified}"
    )
    assert not stale, f"POLICIES names URLs the resolver no longer has: {stale}"


def test_it_knows_the_methods_of_every_api_operation():
    # The matrix asks API URLs with their operations' own methods: every API URL has some.
    api_keys = {e.key for e in resolver_entries() if e.route.startswith("api/v1/")}
    documents = {"api-v1:api-root", "api-v1:openapi-json", "api-v1:openapi-view"}
    assert api_keys - documents <= set(api_methods())


@pytest.mark.parametrize("role", MATRIX_ROLES)
def test_it_gives_each_caller_only_what_its_teams_may_see(world, role):
    caller = make_caller(world, role)
    problems: list[str] = []
    checked = 0
    for entry in sorted(resolver_entries(), key=lambda e: e.key):
        policy = POLICIES.get(entry.key)
        if policy is None:
            continue  # reported by test_it_classifies_every_url_of_the_resolver
        problems += check(caller, world, entry, policy)
        checked += 1
    assert checked > 150  # the whole resolver, not a part of it
    assert not problems, f"{len(problems)} problem(s):\n" + "\n".join(problems)


# --- Controls and the cases a matrix of single ids cannot see ------------------------------


@pytest.mark.parametrize(
    ("role", "path_of", "mark"),
    [
        ("owner", lambda w: reverse("videos:job_list"), "mark-a-job-ref"),
        ("member", lambda w: reverse("integrations:deliveries"), "mark-a-hook"),
        ("member", lambda w: reverse("videos:keys"), "mark-a-key-shared"),
        ("owner", lambda w: reverse("accounts:team_detail", args=[w.a.team.pk]), "mark-a-invitee"),
        ("admin", lambda w: reverse("accounts:team_audit", args=[w.a.team.pk]), "mark-a-audit"),
        ("owner", lambda w: reverse("accounts:team_audit_csv", args=[w.a.team.pk]), "mark-a-audit"),
        ("owner", lambda w: "/api/v1/audit", "mark-a-audit"),
        ("outsider", lambda w: "/api/v1/audit", "mark-b-audit"),
        ("owner", lambda w: "/api/v1/videos", "mark-a-job-ref"),
        ("member", lambda w: "/api/v1/keys", "mark-a-key-shared"),
        ("outsider", lambda w: reverse("videos:job_list"), "mark-b-job-ref"),
        ("outsider", lambda w: "/api/v1/videos", "mark-b-job-ref"),
        ("dual", lambda w: reverse("videos:job_list"), "mark-b-job-ref"),
        ("dual", lambda w: "/api/v1/keys", "mark-b-key-shared"),
    ],
)
def test_it_shows_each_team_its_own_marks(world, role, path_of, mark):
    # The control of the matrix: its searches would pass on empty pages too; these pages do
    # show the marks of the caller's own team, so their absence elsewhere means something.
    response, body = make_caller(world, role).request("get", path_of(world))
    assert response.status_code == 200
    assert mark in body.lower()


def test_it_counts_only_the_acting_teams_jobs(world, make_job_in):
    # Team A gets a second, unfinished job: its counts now differ from team B's, so a count
    # that mixed the two teams would show.
    make_job_in(world.a)
    for role, side in (("owner", world.a), ("outsider", world.b), ("dual", world.b)):
        caller = make_caller(world, role)
        _response, body = caller.request("get", "/api/v1/videos")
        listed = json.loads(body.split("\n\n", 1)[1])["items"]
        assert {item["id"] for item in listed} == {
            str(pk) for pk in side.team.jobs.values_list("pk", flat=True)
        }, role
        _response, body = caller.request("get", "/api/v1/usage")
        usage = json.loads(body.split("\n\n", 1)[1])
        assert usage["running"] == side.team.jobs.filter(status="queued").count(), role
        assert usage["videos_used"] == 1, role  # each team's one finished video
    # Each team: its finished job and its batch's queued one; team A the new one too.
    assert world.a.team.jobs.count() == 3 and world.b.team.jobs.count() == 2


@pytest.mark.parametrize(
    "name", ["accounts:invitation_revoke", "accounts:member_role", "accounts:member_remove"]
)
def test_it_refuses_another_teams_objects_under_the_callers_own_team(world, name):
    # The outsider owns team B: B's URL carrying team A's invitation or membership id must
    # find nothing (the object is looked up within the team of the URL), and change nothing.
    caller = make_caller(world, "outsider")
    args = {
        "accounts:invitation_revoke": [world.b.team.pk, world.a.invitation.pk],
        "accounts:member_role": [world.b.team.pk, world.a.member_membership.pk],
        "accounts:member_remove": [world.b.team.pk, world.a.member_membership.pk],
    }[name]
    response = caller.client.post(reverse(name, args=args), {"role": "owner"})
    assert response.status_code == 404
    world.a.invitation.refresh_from_db()
    world.a.member_membership.refresh_from_db()
    assert world.a.invitation.revoked_at is None
    assert world.a.member_membership.role == "member"


def test_it_refuses_another_users_key_in_a_new_job(world, png_data_url):
    # A key id in the body is an id too: the outsider cannot run a job on team A's key.
    from videos.models import Job

    before = Job.objects.count()
    caller = make_caller(world, "outsider")
    response = caller.client.post(
        "/api/v1/videos",
        data=json.dumps(
            {
                "template_id": world.template.template_id,
                "media_inputs": [{"value": png_data_url}],
                "key_id": world.a.key_shared.pk,
            }
        ),
        content_type="application/json",
        headers={"Authorization": f"Bearer {caller.token}"},
    )
    assert response.status_code in (400, 422), response.content
    assert "mark-a-" not in response.content.decode().lower()
    assert Job.objects.count() == before


def test_it_refuses_another_users_key_in_the_job_form(world):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from tests.security.world import png_bytes
    from videos.models import Job

    before = Job.objects.count()
    caller = make_caller(world, "dual")  # works in team B: team A's shared key is not theirs
    response = caller.client.post(
        reverse("videos:job_new", args=[world.template.pk]),
        {"media_0": SimpleUploadedFile("me.png", png_bytes()), "key": world.a.key_shared.pk},
    )
    assert response.status_code == 200  # the form again, with the error by the field
    assert "key" in response.context["form"].errors
    assert Job.objects.count() == before


def test_it_keeps_a_teams_two_factor_rule_for_its_objects_seen_from_another_team(world):
    """Team A requires two-factor; the dual user has none and works in team B.

    The rule keeps them out of team A while they work in it (accounts/middleware.py): reading
    team A's jobs, files and statements by URL while working in team B must not get round it.
    """
    world.a.team.require_mfa = True
    world.a.team.save(update_fields=["require_mfa"])
    caller = make_caller(world, "dual")
    job = world.a.job
    paths = [
        reverse("videos:job_detail", args=[job.pk]),
        reverse("videos:job_video", args=[job.pk]),
        reverse("videos:job_file", args=[job.pk, world.a.input_file.pk]),
        reverse("billing:statement_csv", args=[world.a.team.pk, job.created_at.strftime("%Y-%m")]),
    ]
    # The control: working in team A, the same user is sent to set up two-factor first.
    inside = make_caller(world, "dual")
    session = inside.client.session
    session[SESSION_TEAM_KEY] = world.a.team.pk
    session.save()
    for path in paths:
        response, _body_text = inside.request("get", path)
        assert response.status_code == 302 and response["Location"] == reverse(
            "mfa_activate_totp"
        ), path
    served = []
    for path in paths:
        response, _body_text = caller.request("get", path)
        if response.status_code == 200:
            served.append(path)
    assert not served, (
        "team A requires two-factor, yet a member without it, working in team B, reads "
        f"team A's {served}"
    )


def test_it_answers_a_malformed_admin_object_link_with_404(world):
    """The admin's "view on site" link (admin/r/<content type>/<object id>/) with an id that
    is not a UUID, for a model keyed by UUIDs (jobs): Django's contenttypes shortcut catches
    ValueError but not the ValidationError a UUID field raises, so this is a 500."""
    from django.contrib.contenttypes.models import ContentType

    from videos.models import Job

    caller = make_caller(world, "staff")
    content_type = ContentType.objects.get_for_model(Job)
    response, _body_text = caller.request(
        "get", reverse("admin:view_on_site", args=[content_type.pk, "not-a-uuid"])
    )
    assert response.status_code == 404
