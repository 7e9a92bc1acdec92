from django.urls import path

from shopify.api.views import ShopifyWebhookView

app_name = "shopify"

urlpatterns = [
    path("webhooks/<str:token>", ShopifyWebhookView.as_view(), name="webhook"),
]
