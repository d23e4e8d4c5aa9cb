"""The product's URLs plus the bench's bare endpoints under /bench/ (never in portal.urls)."""

from django.urls import path

from bench import views
from portal.urls import handler429
from portal.urls import urlpatterns as portal_urlpatterns

__all__ = ["handler429", "urlpatterns"]

urlpatterns = [
    path("bench/api/", views.bare_api.urls),
    path("bench/post", views.bare_post, name="bench-bare-post"),
    path("bench/staff", views.empty_staff_page, name="bench-staff"),
    *portal_urlpatterns,
]
