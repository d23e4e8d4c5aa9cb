from __future__ import annotations

import csv

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts import services
from accounts.audit import AuditFilter, audit_csv_rows, audit_events, client_ip
from accounts.forms import AuditFilterForm, InviteForm, RoleForm, TeamCreateForm, TeamMfaForm
from accounts.models import Role
from accounts.selectors import (
    SESSION_TEAM_KEY,
    current_team_required,
    email_state,
    invitations_open,
    members_of,
    membership_of,
    team_for_member,
)
from portal.api.cursors import cursor_encode
from portal.errors import DomainError
from portal.web import show_as_message, show_on_form


def _safe_next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    ok = url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )
    return target if ok else ""


# Sign-up, sign-in, sign-out and passwords: allauth (portal/urls.py, templates/account/).


def too_many_requests(request, exception=None):
    """The page allauth's rate limits answer with (sign-ins, sign-ups, resets from one address
    past ACCOUNT_RATE_LIMITS): portal/urls.py names it handler429."""
    return render(
        request,
        "error.html",
        {
            "status": 429,
            "message": "Too many attempts from your address. Wait a minute, then try again.",
        },
        status=429,
    )


# --- Teams --------------------------------------------------------------------------------


@login_required
def teams(request):
    """The user's teams (switch between them) and a form to start a new one."""
    form = TeamCreateForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            team = services.team_create(name=form.cleaned_data["name"], owner=request.user)
        except DomainError as exc:
            show_on_form(form, exc)
        else:
            request.session[SESSION_TEAM_KEY] = team.pk
            messages.success(request, f"Team “{team.name}” created; you are working in it now.")
            return redirect("accounts:team_detail", team_id=team.pk)
    memberships = request.user.memberships.select_related("team").order_by("team__name")
    return render(request, "accounts/teams.html", {"form": form, "memberships": memberships})


@login_required
def team_current(request):
    return redirect("accounts:team_detail", team_id=current_team_required(request).pk)


@login_required
def team_detail(request, team_id: int):
    team = team_for_member(user=request.user, team_id=team_id)
    me = membership_of(team=team, user=request.user)
    can_manage = me is not None and me.role in services.MANAGER_ROLES
    context = {
        "team": team,
        "me": me,
        "can_manage": can_manage,
        "members": members_of(team=team),
        "invitations": invitations_open(team=team) if can_manage else [],
        "invite_form": InviteForm(),
        "mfa_form": TeamMfaForm(initial={"require_mfa": team.require_mfa}),
        "roles": Role.choices,
        "now": timezone.now(),
        "invite_link": request.session.pop("invite_link", ""),
    }
    return render(request, "accounts/team_detail.html", context)


@login_required
@require_POST
def team_switch(request, team_id: int):
    # Switching stays open: working in the team then asks for two-factor (the middleware).
    team = team_for_member(user=request.user, team_id=team_id, enforce_mfa=False)
    request.session[SESSION_TEAM_KEY] = team.pk
    messages.success(request, f"You are working in “{team.name}” now.")
    return redirect(_safe_next(request) or "videos:job_list")


@login_required
@require_POST
def team_mfa(request, team_id: int):
    team = team_for_member(user=request.user, team_id=team_id)
    form = TeamMfaForm(request.POST)
    required = form.is_valid() and form.cleaned_data["require_mfa"]
    services.team_require_mfa(team=team, by=request.user, required=required)  # 403 if not owner
    if required:
        messages.success(
            request, f"“{team.name}” now requires two-factor authentication of its members."
        )
    else:
        messages.success(request, f"“{team.name}” no longer requires two-factor authentication.")
    return redirect("accounts:team_detail", team_id=team.pk)


@login_required
@require_POST
def team_invite(request, team_id: int):
    team = team_for_member(user=request.user, team_id=team_id)
    form = InviteForm(request.POST)
    if not form.is_valid():
        for field, errors in form.errors.items():
            messages.error(request, f"{field}: {' '.join(str(e) for e in errors)}")
        return redirect("accounts:team_detail", team_id=team.pk)
    try:
        invitation, link = services.invitation_create(
            team=team,
            by=request.user,
            base_url=request.build_absolute_uri("/"),
            ip=client_ip(request),
            **form.cleaned_data,
        )
    except DomainError as exc:
        show_as_message(request, exc)
    else:
        # Only a hash is stored, so this is the one time the link can be shown.
        request.session["invite_link"] = link
        messages.success(request, f"Invitation sent to {invitation.email}.")
    return redirect("accounts:team_detail", team_id=team.pk)


@login_required
@require_POST
def invitation_revoke(request, team_id: int, invitation_id: int):
    team = team_for_member(user=request.user, team_id=team_id)
    invitation = get_object_or_404(team.invitations, pk=invitation_id)
    services.invitation_revoke(invitation=invitation, by=request.user)  # 403 if not allowed
    messages.success(request, f"Invitation to {invitation.email} withdrawn.")
    return redirect("accounts:team_detail", team_id=team.pk)


@login_required
@require_POST
def member_role(request, team_id: int, membership_id: int):
    team = team_for_member(user=request.user, team_id=team_id)
    membership = get_object_or_404(team.memberships.select_related("user"), pk=membership_id)
    form = RoleForm(request.POST)
    role = form.cleaned_data["role"] if form.is_valid() else request.POST.get("role", "")
    try:
        membership = services.membership_change_role(
            membership=membership, role=role, by=request.user, ip=client_ip(request)
        )
    except DomainError as exc:
        show_as_message(request, exc)
    else:
        messages.success(
            request, f"{membership.user.get_username()} is now {membership.get_role_display()}."
        )
    return redirect("accounts:team_detail", team_id=team.pk)


@login_required
@require_POST
def member_remove(request, team_id: int, membership_id: int):
    team = team_for_member(user=request.user, team_id=team_id)
    membership = get_object_or_404(team.memberships.select_related("user"), pk=membership_id)
    leaving = membership.user_id == request.user.pk
    try:
        services.membership_remove(membership=membership, by=request.user, ip=client_ip(request))
    except DomainError as exc:
        show_as_message(request, exc)
        return redirect("accounts:team_detail", team_id=team.pk)
    if leaving:
        request.session.pop(SESSION_TEAM_KEY, None)
        messages.success(request, f"You left “{team.name}”.")
        return redirect("accounts:teams")
    messages.success(request, f"{membership.user.get_username()} was removed from the team.")
    return redirect("accounts:team_detail", team_id=team.pk)


# --- Invitations --------------------------------------------------------------------------


def invitation(request, token: str):
    """The emailed link: shows what it is, and joins the team on POST (once)."""
    found = services.invitation_for_token(token)
    if found is None:
        return render(
            request,
            "accounts/invitation.html",
            {"error": "This invitation link is not valid."},
            status=404,
        )
    if not request.user.is_authenticated:
        return render(
            request, "accounts/invitation.html", {"invitation": found, "next": request.path}
        )
    if request.method == "POST":
        try:
            membership = services.invitation_accept(
                token=token, user=request.user, ip=client_ip(request)
            )
        except services.InvitationError as exc:
            return render(
                request,
                "accounts/invitation.html",
                {"invitation": found, "error": str(exc)},
                status=400,
            )
        request.session[SESSION_TEAM_KEY] = membership.team_id
        messages.success(
            request, f"Welcome to “{membership.team.name}”; you are working in it now."
        )
        return redirect("accounts:team_detail", team_id=membership.team_id)
    state = found.state(timezone.now())
    address = email_state(user=request.user, email=found.email)
    return render(
        request,
        "accounts/invitation.html",
        {
            "invitation": found,
            "state": state,
            # The address is on the account but not confirmed yet: say that, not "another".
            "unverified_email": address == "unverified",
            "wrong_email": address is None,
        },
    )


# --- The audit log ------------------------------------------------------------------------

AUDIT_PAGE_SIZE = 50


def _audit_team_and_filters(request, team_id: int):
    """The team (its owners and admins only: 403 for members, 404 for anyone else) and the
    checked filters, or the form with its errors."""
    team = team_for_member(user=request.user, team_id=team_id)
    services.require_manager(team=team, user=request.user)
    form = AuditFilterForm(request.GET)
    if not form.is_valid():
        return team, form, None
    data = form.cleaned_data
    filters = AuditFilter(
        action=data["action"],
        actor=data["actor"].strip(),
        since=data["since"],
        until=data["until"],
    )
    return team, form, filters


@never_cache
@login_required
@require_GET
def team_audit(request, team_id: int):
    team, form, filters = _audit_team_and_filters(request, team_id)
    context = {"team": team, "form": form, "events": [], "next_cursor": None, "query": ""}
    if filters is None:
        return render(request, "accounts/team_audit.html", context, status=400)
    rows = audit_events(team=team, filters=filters, after=form.cleaned_data["cursor"])
    page = list(rows[: AUDIT_PAGE_SIZE + 1])
    shown = page[:AUDIT_PAGE_SIZE]
    query = request.GET.copy()
    query.pop("cursor", None)
    context.update(
        events=shown,
        next_cursor=(
            cursor_encode(shown[-1].at, shown[-1].pk) if len(page) > AUDIT_PAGE_SIZE else None
        ),
        query=query.urlencode(),
        paged=bool(form.cleaned_data["cursor"]),
    )
    return render(request, "accounts/team_audit.html", context)


class _Echo:
    def write(self, value: str) -> str:
        return value


@never_cache
@login_required
@require_GET
def team_audit_csv(request, team_id: int):
    """Every row the filters select (not one page), streamed as it is read."""
    team, form, filters = _audit_team_and_filters(request, team_id)
    if filters is None:
        context = {"team": team, "form": form, "events": [], "next_cursor": None, "query": ""}
        return render(request, "accounts/team_audit.html", context, status=400)
    writer = csv.writer(_Echo())
    rows = audit_csv_rows(audit_events(team=team, filters=filters))
    response = StreamingHttpResponse(
        (writer.writerow(row) for row in rows), content_type="text/csv; charset=utf-8"
    )
    stamp = timezone.localdate().isoformat()
    response["Content-Disposition"] = f'attachment; filename="audit-team{team.pk}-{stamp}.csv"'
    return response
