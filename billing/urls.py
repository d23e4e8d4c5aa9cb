from django.urls import path

from billing import views

app_name = "billing"

urlpatterns = [
    path("usage/", views.usage, name="usage"),
    path("billing/teams/<int:team_id>/plan/", views.team_plan, name="team_plan"),
    path(
        "billing/teams/<int:team_id>/statements/<str:period>/",
        views.statement,
        name="statement",
    ),
    path(
        "billing/teams/<int:team_id>/statements/<str:period>.csv",
        views.statement_download,
        name="statement_csv",
    ),
]
