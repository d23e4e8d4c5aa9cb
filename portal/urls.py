from allauth.account.decorators import secure_admin_login
from django.contrib import admin
from django.urls import include, path

from portal import health
from portal.api.v1 import api

# The admin signs in through the portal's sign-in (allauth: rate-limited, two-factor), not
# through its own unthrottled form; a signed-in non-staff user gets 403 there.
admin.site.login = secure_admin_login(admin.site.login)  # type: ignore[method-assign]
# allauth's rate limits answer with this page (in the portal's frame) once they are passed.
handler429 = "accounts.views.too_many_requests"

urlpatterns = [
    # Answered by portal.health.HealthCheckMiddleware first; listed for reverse() and for a
    # stack without that middleware.
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    # The staff dashboard lives under /admin/ but must come before the admin's catch-all.
    path("admin/dashboard/", include("videos.dashboard_urls")),
    path("admin/", admin.site.urls),
    # django-allauth: sign-up, sign-in (and two-factor), sign-out, email verification,
    # passwords, /accounts/2fa/ (URL names account_login, account_signup, mfa_index, ...).
    path("accounts/", include("allauth.urls")),
    path("accounts/", include("accounts.urls")),
    path("callbacks/", include("videos.callback_urls")),
    path("api/v1/", api.urls),
    path("integrations/", include("integrations.urls")),
    path("notifications/", include("notifications.urls")),
    path("batches/", include("batches.urls")),
    path("", include("billing.urls")),
    path("", include("videos.urls")),
]
