from django.urls import path

from videos import views

app_name = "videos"

urlpatterns = [
    path("", views.gallery, name="gallery"),
    path("templates/<int:template_pk>/new/", views.job_new, name="job_new"),
    path("jobs/", views.job_list, name="job_list"),
    path("jobs/<uuid:job_id>/", views.job_detail, name="job_detail"),
    path("jobs/<uuid:job_id>/status/", views.job_status, name="job_status"),
    path("jobs/<uuid:job_id>/cancel/", views.job_cancel, name="job_cancel"),
    path("jobs/<uuid:job_id>/video/", views.job_video, name="job_video"),
    path("inputs/<str:token>/", views.input_image, name="input_image"),
]
