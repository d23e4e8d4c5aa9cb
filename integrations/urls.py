from django.urls import path

from integrations import views

app_name = "integrations"

urlpatterns = [
    path("", views.index, name="index"),
    path("tokens/", views.token_create, name="token_create"),
    path("tokens/<int:token_id>/revoke/", views.token_revoke, name="token_revoke"),
    path("webhook-secret/rotate/", views.secret_rotate, name="secret_rotate"),
    path("webhook-test/", views.webhook_test, name="webhook_test"),
    path("endpoints/<int:endpoint_id>/enable/", views.endpoint_enable, name="endpoint_enable"),
    path("deliveries/", views.deliveries, name="deliveries"),
    path("deliveries/<uuid:delivery_id>/retry/", views.delivery_retry, name="delivery_retry"),
]
