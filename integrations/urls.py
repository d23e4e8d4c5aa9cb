from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("", views.index, name="index"),
    path("tokens/", views.token_create, name="token_create"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("webhook-secret/rotate/", views.secret_rotate, name="secret_rotate"),
    path("deliveries/", views.deliveries, name="deliveries"),
]
