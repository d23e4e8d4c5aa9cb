from django.urls import path

from batches import views

app_name = "batches"

urlpatterns = [
    path("", views.batch_list, name="list"),
    path("new/<int:template_pk>/", views.batch_new, name="new"),
    path("new/<int:template_pk>/confirm/", views.batch_confirm, name="confirm"),
    path("new/<int:template_pk>/sample.csv", views.batch_sample_csv, name="sample_csv"),
    path("<uuid:batch_id>/", views.batch_detail, name="detail"),
    path("<uuid:batch_id>/status/", views.batch_status, name="status"),
    path("<uuid:batch_id>/cancel/", views.batch_cancel, name="cancel"),
    path("<uuid:batch_id>/retry/", views.batch_retry, name="retry"),
    path("<uuid:batch_id>/archive/", views.batch_archive, name="archive"),
]
