"""django-q2 tasks of the shopify app: take ids, reload, call a service."""

from __future__ import annotations

from shopify import services
from shopify.models import ShopifyWebhook, WebhookState


def process_shopify_webhook(webhook_id: int) -> None:
    webhook = ShopifyWebhook.objects.select_related("merchant").filter(id=webhook_id).first()
    if webhook is None or webhook.state != WebhookState.RECEIVED:
        return
    services.process_shopify_webhook(webhook)


def sweep_shopify_webhooks() -> None:
    services.sweep_shopify_webhooks()


def prune_shopify_webhooks() -> None:
    """The daily prune: webhook bodies and checkouts past their retention."""
    services.prune_shopify_webhooks()
    services.prune_shopify_checkouts()
