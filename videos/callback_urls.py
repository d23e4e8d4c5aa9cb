from django.urls import path

from videos import callbacks

urlpatterns = [
    path("<slug:provider>/<str:token>/", callbacks.callback, name="callback"),
]
