from django.urls import path

from videos import callbacks

urlpatterns = [
    path("minimax/<str:token>/", callbacks.minimax_callback, name="callback_minimax"),
]
