from django.urls import path

from returns.api.views import LoopWebhookView

app_name = "returns"

urlpatterns = [
    path("loop/<str:token>", LoopWebhookView.as_view(), name="loop-webhook"),
]
