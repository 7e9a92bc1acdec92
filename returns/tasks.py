"""django-q2 tasks of the returns app: take ids, reload, call a service."""

from __future__ import annotations

from returns import services
from returns.models import LoopWebhook, WebhookState


def process_loop_webhook(webhook_id: int) -> None:
    webhook = LoopWebhook.objects.select_related("merchant").filter(id=webhook_id).first()
    if webhook is None or webhook.state != WebhookState.RECEIVED:
        return
    services.process_loop_webhook(webhook)


def sweep_loop_webhooks() -> None:
    services.sweep_loop_webhooks()
