from django.urls import path

from videos import share_views, views

app_name = "videos"

urlpatterns = [
    path("", views.gallery, name="gallery"),
    path("templates/<int:template_pk>/new/", views.job_new, name="job_new"),
    # Before the asset route below, which would take "poster" for an asset's name.
    path("templates/<int:template_pk>/poster/", views.template_poster, name="template_poster"),
    path("templates/<int:template_pk>/<slug:asset>/", views.template_asset, name="template_asset"),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<uuid:job_id>/status/", views.job_status, name="job_status"),
    path("jobs/<uuid:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("jobs/<uuid:job_id>/video/", views.job_video, name="job_video"),
    path("jobs/<uuid:job_id>/poster/", views.job_poster, name="job_poster"),
    path("jobs/<uuid:job_id>/files/<int:attachment_id>/", views.job_file, name="job_file"),
    path("jobs/<uuid:job_id>/shares/", share_views.job_share_create, name="job_share_create"),
    path(
        "jobs/<uuid:job_id>/shares/<int:share_id>/revoke/",
        share_views.job_share_revoke,
        name="job_share_revoke",
    ),
    # Share links: public, the token in the URL is the permission.
    path("s/<str:token>/", share_views.share_page, name="share"),
    path("s/<str:token>/video", share_views.share_video, name="share_video"),
    path("s/<str:token>/poster", share_views.share_poster, name="share_poster"),
    # The vault lives under /accounts/ for the person, its logic with the jobs that use it.
    path("accounts/keys/", views.keys, name="keys"),
    path("accounts/keys/<int:key_id>/delete/", views.key_delete, name="key_delete"),
    path("accounts/keys/<int:key_id>/share/", views.key_share, name="key_share"),
    path("accounts/keys/<int:key_id>/limits/", views.key_limits, name="key_limits"),
    path("accounts/keys/<int:key_id>/test/", views.key_test, name="key_test"),
    path("accounts/keys/<int:key_id>/rotate/", views.key_rotate, name="key_rotate"),
    path("inputs/<str:token>/", views.input_image, name="input_image"),
]
