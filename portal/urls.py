from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from portal import health
from portal.api.v1 import api

urlpatterns = [
    # Answered by portal.health.HealthCheckMiddleware first; listed for reverse() and for a
    # stack without that middleware.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # The staff dashboard lives under /admin/ but must come before the admin's catch-all.
    path("admin/dashboard/", include("videos.dashboard_urls")),
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/", include("accounts.urls")),
    path("callbacks/", include("videos.callback_urls")),
    path("api/v1/", api.urls),
    path("integrations/", include("integrations.urls")),
    path("", include("billing.urls")),
    path("", include("videos.urls")),
]
