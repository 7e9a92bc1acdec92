"""Shopify webhooks: receive (verify, de-duplicate, store), then turn orders into events and keep
checkouts' recovery URLs (which Started Checkout carries when it is delivered)."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from config.errors import ApplicationError
from config.queue import enqueue_on_commit
from events.models import Event, EventType, Merchant
from events.services import record_events
from events.shopify import SERVER_EVENT_ID_PREFIX
from shopify import checkouts, compliance, orders, selectors, webhooks
from shopify.client import ShopifyAdminClient
from shopify.exceptions import ShopifySignatureInvalidError, ShopifyWebhookInvalidError, ShopifyWebhookNotFoundError
from shopify.models import ShopifyCheckout, ShopifyOrder, ShopifyStore, ShopifyWebhook, WebhookState

logger = logging.getLogger(__name__)

PROCESS_TASK = "shopify.tasks.process_shopify_webhook"
LOST_AFTER = timedelta(minutes=5)
SWEEP_LIMIT = 500


def queue_shopify_webhook(webhook_id: int) -> None:
    """Process the stored Shopify webhook in a task, on commit (every caller queues it through here)."""
    enqueue_on_commit(PROCESS_TASK, webhook_id)


@dataclass(slots=True)
class WebhookReceipt:
    webhook: ShopifyWebhook | None
    duplicate: bool
    state: str


# --- Set-up ----------------------------------------------------------------------------


def get_or_create_store(merchant: Merchant) -> ShopifyStore:
    store, _ = ShopifyStore.objects.get_or_create(merchant=merchant)
    return store


def set_shopify_webhook_secret(merchant: Merchant, *, secret: str) -> ShopifyStore:
    """Store the key Shopify signs this store's webhooks with."""
    secret = secret.strip()
    if not secret:
        raise ApplicationError("The Shopify webhook secret is empty.", code="invalid", fields={"secret": ["empty"]})
    store = get_or_create_store(merchant)
    store.webhook_secret = secret
    store.save(update_fields=["webhook_secret"])
    return store


# --- Receiving ---------------------------------------------------------------------------


def receive_shopify_webhook(*, token: str, body: bytes, headers: Mapping[str, str]) -> WebhookReceipt:
    """Verify the HMAC over the raw body, drop redeliveries, store, queue processing.

    Shopify: "Your app should process webhooks using idempotent operations"; "Get the event ID
    from the headers. This is the X-Shopify-Event-Id header and the same value across more than
    one webhook indicates a duplicate" (Ignore duplicate webhooks). A repeated X-Shopify-Webhook-Id,
    or a repeated (topic, X-Shopify-Event-Id), is answered 200 as a duplicate and stored once.
    """
    store = selectors.get_store_by_webhook_token(token)
    if store is None:
        raise ShopifyWebhookNotFoundError("Unknown webhook URL.")
    delivery = webhooks.read_headers(headers, body)
    if not webhooks.signature_matches(store.webhook_secret, body, delivery.signature):
        logger.warning("shopify webhook rejected: bad signature", extra={"merchant_id": store.merchant_id})
        raise ShopifySignatureInvalidError("X-Shopify-Hmac-Sha256 is missing or does not match the body.")
    if not delivery.topic:
        raise ShopifyWebhookInvalidError("X-Shopify-Topic is missing.", fields={"X-Shopify-Topic": ["missing"]})
    if delivery.topic not in webhooks.SUPPORTED_TOPICS:
        return WebhookReceipt(webhook=None, duplicate=False, state=WebhookState.IGNORED)
    payload = load_payload(body)
    if payload is None:
        raise ShopifyWebhookInvalidError("The body is not a JSON object.", code="invalid_json")
    return _store(store.merchant, delivery, body=body, payload=payload)


def _store(merchant: Merchant, delivery: webhooks.DeliveryHeaders, *, body: bytes, payload: dict) -> WebhookReceipt:
    duplicate = _find_duplicate(merchant, delivery)
    if duplicate is not None:
        return WebhookReceipt(webhook=duplicate, duplicate=True, state=duplicate.state)
    max_age = timedelta(hours=settings.SHOPIFY_WEBHOOK_MAX_AGE_HOURS)
    stale = webhooks.is_stale(delivery.triggered_at, now=timezone.now(), max_age=max_age)
    try:
        with transaction.atomic():
            webhook = ShopifyWebhook.objects.create(
                merchant=merchant,
                topic=delivery.topic,
                webhook_id=delivery.webhook_id,
                event_id=delivery.event_id,
                triggered_at=delivery.triggered_at,
                api_version=delivery.api_version,
                resource_id=resource_id_of(delivery.topic, payload)[:64],
                body=body.decode("utf-8", errors="replace").replace("\x00", "\ufffd"),
                state=WebhookState.STALE if stale else WebhookState.RECEIVED,
                error=f"Triggered more than {max_age} ago: stored, not forwarded." if stale else "",
            )
            if not stale:
                queue_shopify_webhook(webhook.id)
    except IntegrityError:  # the same delivery raced in on another connection
        existing = _find_duplicate(merchant, delivery)
        if existing is None:
            raise
        return WebhookReceipt(webhook=existing, duplicate=True, state=existing.state)
    return WebhookReceipt(webhook=webhook, duplicate=False, state=webhook.state)


def _find_duplicate(merchant: Merchant, delivery: webhooks.DeliveryHeaders) -> ShopifyWebhook | None:
    same = ShopifyWebhook.objects.filter(merchant=merchant, webhook_id=delivery.webhook_id).first()
    if same is None and delivery.event_id:
        same = ShopifyWebhook.objects.filter(merchant=merchant, topic=delivery.topic, event_id=delivery.event_id)
        return same.first()
    return same


def resource_id_of(topic: str, payload: Mapping[str, Any]) -> str:
    """The order a delivery is about (a refund's order), so refunds can wait for it; a checkout's token."""
    if topic in webhooks.REFUND_TOPICS:
        return orders.text(payload.get("order_id"))
    if topic in webhooks.CHECKOUT_TOPICS:
        return checkouts.token_of(payload)
    return orders.text(payload.get("id")) if topic in webhooks.ORDER_TOPICS else ""


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def load_payload(body: bytes | str) -> dict[str, Any] | None:
    """The body as a JSON object (strict JSON, storable: no NUL), or None."""
    try:
        payload = json.loads(body, parse_constant=_reject_constant)
        json.dumps(payload, ensure_ascii=False, allow_nan=False).encode("utf-8")
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict) or "\\u0000" in json.dumps(payload):
        return None
    return payload


# --- Processing --------------------------------------------------------------------------


def process_shopify_webhook(webhook: ShopifyWebhook) -> ShopifyWebhook:
    """Turn one stored delivery into events (or park a refund until its order arrives)."""
    payload = load_payload(webhook.body)
    if payload is None:
        return finish(webhook, WebhookState.FAILED, error="The body is not a JSON object.")
    handlers: dict[str, Callable[[ShopifyWebhook, dict[str, Any]], ShopifyWebhook]] = {
        **dict.fromkeys(webhooks.ORDER_TOPICS, _process_order),
        **dict.fromkeys(webhooks.REFUND_TOPICS, _process_refund),
        **dict.fromkeys(webhooks.CHECKOUT_TOPICS, _process_checkout),
        **dict.fromkeys(webhooks.COMPLIANCE_TOPICS, _process_compliance),
    }
    handler = handlers.get(webhook.topic)
    if handler is None:
        return finish(webhook, WebhookState.IGNORED, error=f"Topic {webhook.topic!r} is stored, not forwarded.")
    try:
        return handler(webhook, payload)
    except Exception as exc:  # the row records the failure; the admin can reprocess it
        logger.exception("shopify webhook processing failed", extra={"shopify_webhook_id": webhook.id})
        return finish(webhook, WebhookState.FAILED, error=f"{type(exc).__name__}: {exc}"[:2000])


def _process_order(webhook: ShopifyWebhook, payload: dict[str, Any]) -> ShopifyWebhook:
    order_id = orders.order_id_of(payload)
    if not order_id or len(order_id) > 64:
        return finish(webhook, WebhookState.FAILED, error="The order has no usable id.")
    with transaction.atomic():
        order = upsert_order(webhook.merchant, payload=payload, triggered_at=webhook.triggered_at)
        build = orders.cancelled_order if webhook.topic == "orders/cancelled" else orders.placed_order
        event = build(payload, anonymous_id=order.anonymous_id, fallback_time=webhook.received_at)
        _record(webhook, event)
    release_waiting_webhooks(webhook.merchant, order_id=order_id)
    return webhook


def _process_compliance(webhook: ShopifyWebhook, payload: dict[str, Any]) -> ShopifyWebhook:
    """customers/redact -> erasure, customers/data_request -> export, shop/redact -> erase the store."""
    with transaction.atomic():
        webhook.result = compliance.HANDLERS[webhook.topic](webhook, payload)
        finish(webhook, WebhookState.PROCESSED)
        if webhook.topic != "customers/data_request":  # the request itself names the person: redact it too
            ShopifyWebhook.objects.filter(id=webhook.id).update(body="{}")
    return webhook


def _process_refund(webhook: ShopifyWebhook, payload: dict[str, Any]) -> ShopifyWebhook:
    """A refund names only its order: who it was for comes from the stored order (wait for it)."""
    order_id = orders.text(payload.get("order_id"))
    if not order_id or not orders.text(payload.get("id")):
        return finish(webhook, WebhookState.FAILED, error="The refund has no id or no order_id.")
    order = selectors.get_order(webhook.merchant_id, order_id=order_id)
    if order is None:
        finish(webhook, WebhookState.WAITING)
        order = selectors.get_order(webhook.merchant_id, order_id=order_id)  # stored meanwhile?
        if order is None or not _claim(webhook.id, WebhookState.WAITING):
            return webhook
    event = orders.refunded_order(
        payload, order=order.payload, anonymous_id=order.anonymous_id, fallback_time=webhook.received_at
    )
    with transaction.atomic():
        _record(webhook, event)
    return webhook


def _process_checkout(webhook: ShopifyWebhook, payload: dict[str, Any]) -> ShopifyWebhook:
    """Keep the checkout's recovery URL by its token; nothing is forwarded (the pixel reports the
    checkout itself, and its email is identity evidence there, under identity's junk rules)."""
    token = checkouts.token_of(payload)
    if not token or len(token) > 128:
        return finish(webhook, WebhookState.FAILED, error="The checkout has no usable token.")
    with transaction.atomic():
        checkout = upsert_checkout(webhook.merchant, payload=payload, triggered_at=webhook.triggered_at)
        webhook.result = {"checkout_token": token, "recovery_url": bool(checkout.abandoned_checkout_url)}
        finish(webhook, WebhookState.PROCESSED)
    return webhook


def upsert_checkout(merchant: Merchant, *, payload: dict[str, Any], triggered_at: Any) -> ShopifyCheckout:
    """The newest snapshot per checkout token (an older ``checkouts/update`` never wins); a
    snapshot without a recovery URL keeps the one already known."""
    fields = {
        "cart_token": orders.text(payload.get("cart_token"))[:128],
        "abandoned_checkout_url": checkouts.recovery_url(payload),
        "email": checkouts.email_of(payload),
        "completed_at": webhooks.parse_time(payload.get("completed_at")),
        "triggered_at": triggered_at,
    }
    checkout, created = ShopifyCheckout.objects.select_for_update().get_or_create(
        merchant=merchant, token=checkouts.token_of(payload), defaults=fields
    )
    if not created and webhooks.is_newer(triggered_at, checkout.triggered_at):
        for name, value in fields.items():
            if value or name not in ("abandoned_checkout_url", "email"):
                setattr(checkout, name, value)
        checkout.save()
    return checkout


def _started_checkouts(events: Sequence[Event]) -> list[tuple[tuple[int, str], Event]]:
    """((merchant id, checkout token), event) of the Started Checkout events among ``events``."""
    return [
        ((e.merchant_id, e.properties["CheckoutToken"]), e)
        for e in events
        if e.type == EventType.INITIATE_CHECKOUT and isinstance((e.properties or {}).get("CheckoutToken"), str)
    ]


def started_checkout_overlays(events: Sequence[Event]) -> dict[int, dict[str, Any]]:
    """The delivery hook (destinations.services.outbound.PROPERTY_HOOKS): Started Checkout events
    whose checkout a webhook gave a recovery URL send it as CheckoutURL. Resolved when the payload
    is built, so a webhook that arrives after the pixel event still counts; one query a batch."""
    wanted = _started_checkouts(events)
    urls = selectors.get_checkout_urls(key for key, _ in wanted) if wanted else {}
    return {e.pk: checkouts.recovery_properties(e.properties, urls[key]) for key, e in wanted if urls.get(key)}


def started_checkout_delays(events: Sequence[Event]) -> dict[int, float]:
    """The scheduling hook (destinations.services.scheduling.DELAY_HOOKS): a Started Checkout whose
    recovery URL is not known yet waits SHOPIFY_CHECKOUT_URL_WAIT_SECONDS, on stores that send
    checkout webhooks (a checkout row in the retention window), so the webhook can land first."""
    wait = settings.SHOPIFY_CHECKOUT_URL_WAIT_SECONDS
    wanted = _started_checkouts(events) if wait > 0 else []
    merchants = selectors.list_merchants_with_checkouts({m for (m, _), _ in wanted}) if wanted else set()
    wanted = [(key, e) for key, e in wanted if key[0] in merchants]
    known = selectors.get_checkout_urls(key for key, _ in wanted) if wanted else {}
    return {e.pk: float(wait) for key, e in wanted if key not in known}


def upsert_order(merchant: Merchant, *, payload: dict[str, Any], triggered_at: Any) -> ShopifyOrder:
    """Keep the newest snapshot per order (by X-Shopify-Triggered-At: an older delivery never wins),
    and join the order to its pixel session once."""
    checkout_token, cart_token = orders.session_tokens(payload)
    fields = {
        "name": orders.text(payload.get("name"))[:64],
        "email": orders.email_of(payload).lower()[:254],
        "checkout_token": checkout_token[:128],
        "cart_token": cart_token[:128],
        "payload": payload,
        "triggered_at": triggered_at,
    }
    order, created = ShopifyOrder.objects.select_for_update().get_or_create(
        merchant=merchant, order_id=orders.order_id_of(payload), defaults=fields
    )
    if not created and webhooks.is_newer(triggered_at, order.triggered_at):
        for name, value in fields.items():
            setattr(order, name, value)
    if not order.anonymous_id:
        order.anonymous_id = selectors.find_session_anonymous_id(
            merchant.pk, checkout_token=order.checkout_token, cart_token=order.cart_token, now=timezone.now()
        )
    order.save()
    return order


def _record(webhook: ShopifyWebhook, event: Any) -> None:
    event.raw["shopify_webhook_id"] = webhook.id
    result = record_events(webhook.merchant, events=[event])
    joined = not event.anonymous_id.startswith(SERVER_EVENT_ID_PREFIX)
    outcome: dict[str, Any] = {"event_id": event.event_id, "joined_session": joined}
    if result.duplicates:
        existing = Event.objects.filter(merchant=webhook.merchant, event_id=event.event_id).only("source").first()
        outcome["duplicate_of"] = existing.source if existing else "unknown"
    webhook.result = outcome
    finish(webhook, WebhookState.PROCESSED)


def release_waiting_webhooks(merchant: Merchant, *, order_id: str) -> int:
    released = 0
    for webhook_id in selectors.list_waiting_webhook_ids(merchant.pk, order_id=order_id):
        if _claim(webhook_id, WebhookState.WAITING):
            process_shopify_webhook(ShopifyWebhook.objects.select_related("merchant").get(id=webhook_id))
            released += 1
    return released


def reprocess_shopify_webhook(webhook: ShopifyWebhook) -> None:
    """Queue a stored delivery again (a failed or stale one, from the admin)."""
    ShopifyWebhook.objects.filter(id=webhook.id).update(state=WebhookState.RECEIVED, error="")
    queue_shopify_webhook(webhook.id)


def sweep_shopify_webhooks() -> int:
    """Re-queue deliveries still ``received`` after LOST_AFTER (their task was lost)."""
    cutoff = timezone.now() - LOST_AFTER
    ids = list(
        ShopifyWebhook.objects.filter(state=WebhookState.RECEIVED, received_at__lt=cutoff)
        .order_by("received_at")
        .values_list("id", flat=True)[:SWEEP_LIMIT]
    )
    for webhook_id in ids:
        queue_shopify_webhook(webhook_id)
    return len(ids)


def prune_shopify_webhooks(*, days: int | None = None) -> int:
    """Delete stored bodies (they hold PII) of finished deliveries older than the retention."""
    days = settings.SHOPIFY_WEBHOOK_RETENTION_DAYS if days is None else days
    done = [WebhookState.PROCESSED, WebhookState.IGNORED, WebhookState.STALE]
    old = ShopifyWebhook.objects.filter(state__in=done, received_at__lt=timezone.now() - timedelta(days=days))
    deleted, _ = old.delete()
    return deleted


def prune_shopify_checkouts(*, days: int | None = None) -> int:
    """Delete checkouts (a recovery URL and an email) not updated within the retention."""
    days = settings.SHOPIFY_CHECKOUT_RETENTION_DAYS if days is None else days
    deleted, _ = ShopifyCheckout.objects.filter(updated_at__lt=timezone.now() - timedelta(days=days)).delete()
    return deleted


def _claim(webhook_id: int, state: str) -> bool:
    return ShopifyWebhook.objects.filter(id=webhook_id, state=state).update(state=WebhookState.RECEIVED) == 1


def finish(webhook: ShopifyWebhook, state: str, *, error: str = "") -> ShopifyWebhook:
    webhook.state, webhook.error = state, error
    webhook.processed_at = None if state == WebhookState.WAITING else timezone.now()
    webhook.save(update_fields=["state", "error", "result", "processed_at"])
    return webhook


def register_shopify_webhooks(
    merchant: Merchant, *, access_token: str = "", topics: Sequence[str] = (), client: Any = None
) -> dict[str, str]:
    """Create the order, refund and checkout subscriptions through the Admin API; topic -> "created" / "exists".

    The compliance topics cannot be subscribed this way: Shopify takes them from the app's
    configuration (the docs page says where). The token is kept (encrypted) for the next run.
    """
    store = get_or_create_store(merchant)
    if access_token.strip():
        store.admin_api_token = access_token.strip()
        store.save(update_fields=["admin_api_token"])
    if not store.admin_api_token:
        raise ApplicationError("No Admin API access token for this store.", code="invalid", fields={"token": ["empty"]})
    client = client or ShopifyAdminClient(shop_domain=merchant.shop_domain, access_token=store.admin_api_token)
    uri = selectors.get_webhook_url(store)
    topics = topics or sorted(webhooks.REGISTERED_TOPICS)
    return {topic: client.create_webhook(topic=topic, uri=uri) for topic in topics}
