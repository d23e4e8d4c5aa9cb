from django.urls import path

from accounts import views

app_name = "accounts"

urlpatterns = [
    # Sign-up, sign-in, sign-out, email and passwords are allauth's, under the same prefix
    # (portal/urls.py): account_signup, account_login, account_change_password, ...
    path("team/", views.team_current, name="team"),
    path("teams/", views.teams, name="teams"),
    path("teams/<int:team_id>/", views.team_detail, name="team_detail"),
    path("teams/<int:team_id>/switch/", views.team_switch, name="team_switch"),
    path("teams/<int:team_id>/invite/", views.team_invite, name="team_invite"),
    path("teams/<int:team_id>/mfa/", views.team_mfa, name="team_mfa"),
    path("teams/<int:team_id>/audit/", views.team_audit, name="team_audit"),
    path("teams/<int:team_id>/audit.csv", views.team_audit_csv, name="team_audit_csv"),
    path(
        "teams/<int:team_id>/invitations/<int:invitation_id>/revoke/",
        views.invitation_revoke,
        name="invitation_revoke",
    ),
    path(
        "teams/<int:team_id>/members/<int:membership_id>/role/",
        views.member_role,
        name="member_role",
    ),
    path(
        "teams/<int:team_id>/members/<int:membership_id>/remove/",
        views.member_remove,
        name="member_remove",
    ),
    path("invitations/<str:token>/", views.invitation, name="invitation"),
]
