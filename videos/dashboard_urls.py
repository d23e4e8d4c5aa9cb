"""Mounted at /admin/dashboard/ (before the admin's own URLs, which would swallow it)."""

from django.urls import path

from videos import dashboard_views as views

app_name = "dashboard"

urlpatterns = [
    path("", views.dashboard, name="index"),
    path("ledger.csv", views.dashboard_ledger_csv, name="ledger_csv"),
    path("jobs.csv", views.dashboard_jobs_csv, name="jobs_csv"),
]
