"""checkouts/create and checkouts/update: the recovery URL Started Checkout carries as CheckoutURL.

The webhook goes through the same receive path as the order topics (HMAC, webhook-id / event-id
de-duplication, X-Shopify-Triggered-At staleness). The URL is resolved when Started Checkout's
payload is built, so it is used whichever arrives first, the pixel event or the webhook, as long
as the webhook is in before the delivery; without one the cart permalink stays.
"""

from __future__ import annotations

import copy
from datetime import timedelta

import orjson
import pytest
import responses
import time_machine
from django.utils import timezone

from destinations.models import Delivery, DeliveryStatus, Destination
from destinations.services import deliver_pending
from events.models import Event
from shopify import checkouts, services
from shopify.models import ShopifyCheckout, ShopifyWebhook, WebhookState
from tests.destinations.conftest import KLAVIYO, KLAVIYO_KEY
from tests.events import shopify_payloads as pixel
from tests.fakes.core import mount
from tests.fakes.klaviyo import KlaviyoDouble
from tests.shopify import payloads as p

pytestmark = pytest.mark.django_db

PERMALINK = "https://acme.com/cart/44610569208040:2,555:1"


# --- pure ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "kept"),
    [
        (p.RECOVERY_URL, True),
        ("http://acme.myshopify.com/1/checkouts/ac/t/recover?key=k", True),
        ("javascript:alert(1)", False),
        ("/548380009/checkouts/ac/t/recover", False),
        ("https://acme.myshopify.com/recover?key=a b", False),
        ("https://acme.myshopify.com/" + "a" * 2000, False),
        (None, False),
        (12, False),
    ],
)
def test_recovery_url_only_absolute_http_urls(url, kept):
    assert checkouts.recovery_url({"abandoned_checkout_url": url}) == (url if kept else "")


def test_recovery_properties_keep_the_permalink_as_cart_url():
    assert checkouts.recovery_properties({"CheckoutURL": PERMALINK}, p.RECOVERY_URL) == {
        "CheckoutURL": p.RECOVERY_URL,
        "CartURL": PERMALINK,
    }
    page = "https://acme.com/checkouts/cn/abc"  # no permalink (no variants): the page URL is not a cart
    assert checkouts.recovery_properties({"CheckoutURL": page}, p.RECOVERY_URL) == {"CheckoutURL": p.RECOVERY_URL}
    own = {"CheckoutURL": PERMALINK, "CartURL": "https://acme.com/cart/1:1"}
    assert checkouts.recovery_properties(own, p.RECOVERY_URL) == {"CheckoutURL": p.RECOVERY_URL}


def test_checkout_email_of_prefers_the_checkout_and_lowercases():
    assert checkouts.email_of({"email": "Ada@Lovelace-Engines.com"}) == "ada@lovelace-engines.com"
    assert checkouts.email_of({"email": None, "customer": {"email": "c@lovelace-engines.com"}}) == (
        "c@lovelace-engines.com"
    )
    assert checkouts.email_of({"email": "not-an-email"}) == ""


# --- receiving -------------------------------------------------------------------------------


def test_checkouts_create_stores_the_recovery_url_by_token_and_forwards_nothing(post_shopify, merchant):
    response = post_shopify("checkouts/create", p.checkout())
    assert response.status_code == 200, response.content
    row = ShopifyCheckout.objects.get()
    assert (row.merchant, row.token, row.cart_token) == (merchant, p.CHECKOUT_TOKEN, p.CART_TOKEN)
    assert (row.abandoned_checkout_url, row.email) == (p.RECOVERY_URL, "ada@lovelace-engines.com")
    webhook = ShopifyWebhook.objects.get()
    assert (webhook.state, webhook.resource_id) == (WebhookState.PROCESSED, p.CHECKOUT_TOKEN)
    assert webhook.result == {"checkout_token": p.CHECKOUT_TOKEN, "recovery_url": True}
    assert not Event.objects.exists()  # the pixel reports the checkout; the webhook only adds its URL


def test_checkouts_webhook_bad_signature_is_401_and_nothing_stored(post_shopify):
    response = post_shopify("checkouts/create", p.checkout(), signature="bm90IHRoZSBzaWduYXR1cmU=")
    assert response.status_code == 401
    assert not ShopifyWebhook.objects.exists() and not ShopifyCheckout.objects.exists()


def test_checkouts_webhook_redelivery_is_a_duplicate(post_shopify):
    post_shopify("checkouts/update", p.checkout(), webhook_id="wh-1")
    response = post_shopify("checkouts/update", p.checkout(), webhook_id="wh-1")
    assert response.status_code == 200 and response.json()["duplicate"] is True
    assert ShopifyWebhook.objects.count() == 1 and ShopifyCheckout.objects.count() == 1


def test_checkouts_webhook_stale_delivery_is_stored_not_applied(post_shopify):
    old = timezone.now() - timedelta(days=5)
    post_shopify("checkouts/create", p.checkout(), triggered_at=old)
    assert ShopifyWebhook.objects.get().state == WebhookState.STALE
    assert not ShopifyCheckout.objects.exists()


def test_checkouts_update_older_than_the_stored_snapshot_never_wins(post_shopify):
    now = timezone.now()
    newer = p.RECOVERY_URL.replace("4d2a5e1f0b9c8a7e", "newkey")
    post_shopify("checkouts/update", p.checkout(abandoned_checkout_url=newer), triggered_at=now)
    post_shopify("checkouts/create", p.checkout(cart_token="old-cart"), triggered_at=now - timedelta(minutes=5))
    row = ShopifyCheckout.objects.get()
    assert (row.abandoned_checkout_url, row.cart_token) == (newer, p.CART_TOKEN)


def test_checkouts_update_without_a_url_keeps_the_known_one(post_shopify):
    now = timezone.now()
    post_shopify("checkouts/create", p.checkout(), triggered_at=now - timedelta(minutes=1))
    update = p.checkout(abandoned_checkout_url=None, email=None, completed_at="2026-11-23T05:20:00-05:00")
    post_shopify("checkouts/update", update, triggered_at=now)
    row = ShopifyCheckout.objects.get()
    assert (row.abandoned_checkout_url, row.email) == (p.RECOVERY_URL, "ada@lovelace-engines.com")
    assert row.completed_at is not None


def test_checkouts_webhook_without_token_fails_visibly(post_shopify):
    post_shopify("checkouts/create", p.checkout(token=None))
    webhook = ShopifyWebhook.objects.get()
    assert webhook.state == WebhookState.FAILED and "token" in webhook.error
    assert not ShopifyCheckout.objects.exists()


def test_checkouts_webhook_of_another_store_never_lends_its_url(post_shopify, merchant):
    from tests.factories import MerchantFactory

    other = MerchantFactory()
    ShopifyCheckout.objects.create(merchant=other, token=p.CHECKOUT_TOKEN, abandoned_checkout_url=p.RECOVERY_URL)
    event = Event.objects.create(
        merchant=merchant,
        event_id="ic-1",
        type="InitiateCheckout",
        timestamp=timezone.now(),
        properties={"CheckoutToken": p.CHECKOUT_TOKEN, "CheckoutURL": PERMALINK},
    )
    assert services.started_checkout_overlays([event]) == {}


def test_started_checkout_overlays_one_query_for_a_batch(merchant, django_assert_num_queries):
    for i in range(5):
        url = f"{p.RECOVERY_URL}{i}"
        ShopifyCheckout.objects.create(merchant=merchant, token=f"tok-{i}", abandoned_checkout_url=url)
    events = [
        Event.objects.create(
            merchant=merchant,
            event_id=f"ic-{i}",
            type=kind,
            timestamp=timezone.now(),
            properties={"CheckoutToken": f"tok-{i}", "CheckoutURL": PERMALINK},
        )
        for i, kind in enumerate(["InitiateCheckout"] * 4 + ["AddShippingAddress"])
    ]
    with django_assert_num_queries(1):
        overlays = services.started_checkout_overlays(events)
    assert sorted(overlays) == sorted(e.pk for e in events[:4])  # only Started Checkout carries CheckoutURL
    assert overlays[events[2].pk]["CheckoutURL"] == f"{p.RECOVERY_URL}2"


# --- Started Checkout's CheckoutURL, both arrival orders, delivered to Klaviyo ----------------


@pytest.fixture
def klaviyo(merchant):
    destination = Destination.objects.create(
        merchant=merchant, kind="klaviyo", name="Klaviyo", api_key=KLAVIYO_KEY, profile_sync="off"
    )
    double = KlaviyoDouble()
    double.add_flow("Abandoned Checkout", metric="Started Checkout")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mount(rsps, double, KLAVIYO)
        yield destination, double


@pytest.fixture
def ingest(client, merchant, django_capture_on_commit_callbacks, settings):
    settings.KLAVIYO_API_URL = KLAVIYO

    def send(event: dict):
        event["timestamp"] = timezone.now().isoformat()
        body = orjson.dumps({"writeKey": merchant.write_key, **event})
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post("/api/v1/events", data=body, content_type="text/plain")
        assert response.status_code == 202, response.content
        return response

    return send


def _started() -> dict:
    """The pixel's checkout_started with a real-looking email (example.com never identifies)."""
    event = pixel.checkout_started()
    event["data"]["checkout"]["email"] = "ada@lovelace-engines.com"
    return event


def _anonymous_checkout_started() -> dict:
    event = pixel.checkout_started()
    event["data"]["checkout"]["email"] = ""
    event["data"]["checkout"]["phone"] = ""
    event["data"]["checkout"]["billingAddress"] = {}
    event["data"]["checkout"]["shippingAddress"] = {}
    return event


def _sent_started_checkout(double, destination) -> dict:
    """What Klaviyo recorded once the delivery was due (a waiting Started Checkout included)."""
    with time_machine.travel(timezone.now() + timedelta(minutes=2), tick=False):
        deliver_pending(destination_id=destination.pk)
    (started,) = double.recorded("Started Checkout")
    return started.properties


def test_started_checkout_webhook_first_carries_the_recovery_url(klaviyo, ingest, post_shopify):
    destination, double = klaviyo
    post_shopify("checkouts/create", p.checkout())
    ingest(_started())
    sent = _sent_started_checkout(double, destination)
    assert sent["CheckoutURL"] == p.RECOVERY_URL
    assert sent["CartURL"] == PERMALINK  # the permalink stays as the cart link
    assert double.flows_fired() == [("Abandoned Checkout", "ada@lovelace-engines.com")]
    stored = Event.objects.get(type="InitiateCheckout")
    assert stored.properties["CheckoutURL"] == PERMALINK  # the stored event is what the pixel said


def test_started_checkout_pixel_first_webhook_before_delivery_carries_the_recovery_url(klaviyo, ingest, post_shopify):
    """The common order: checkout_started fires before the contact step (no email: held); the
    checkout webhook and the contact step follow; the held Started Checkout is built then."""
    destination, double = klaviyo
    ingest(_anonymous_checkout_started())
    assert Delivery.objects.get(destination=destination).status == DeliveryStatus.HELD
    post_shopify("checkouts/create", p.checkout())
    contact = pixel.checkout_contact_info_submitted()
    contact["data"]["checkout"]["email"] = "ada@lovelace-engines.com"
    ingest(contact)
    sent = _sent_started_checkout(double, destination)
    assert sent["CheckoutURL"] == p.RECOVERY_URL and sent["CheckoutToken"] == p.CHECKOUT_TOKEN


def test_started_checkout_without_a_checkout_webhook_keeps_the_cart_permalink(klaviyo, ingest):
    destination, double = klaviyo
    ingest(_started())
    sent = _sent_started_checkout(double, destination)
    assert sent["CheckoutURL"] == PERMALINK and "CartURL" not in sent


def test_started_checkout_of_another_checkout_keeps_its_permalink(klaviyo, ingest, post_shopify):
    destination, double = klaviyo
    post_shopify("checkouts/create", p.checkout(token="another-checkout-token"))
    ingest(_started())
    assert _sent_started_checkout(double, destination)["CheckoutURL"] == PERMALINK


def test_started_checkout_waits_for_a_late_checkout_webhook_on_stores_that_send_them(
    klaviyo, ingest, post_shopify, settings
):
    """Shopify sends checkouts/create seconds after the contact step: a Started Checkout that is
    deliverable before its checkout webhook waits SHOPIFY_CHECKOUT_URL_WAIT_SECONDS for it."""
    settings.SHOPIFY_CHECKOUT_URL_WAIT_SECONDS = 60
    destination, double = klaviyo
    post_shopify("checkouts/create", p.checkout(token="earlier-checkout"))  # the store sends checkout webhooks
    before = timezone.now()
    ingest(_started())
    delivery = Delivery.objects.get(destination=destination)
    assert delivery.status == DeliveryStatus.PENDING
    assert delivery.next_attempt_at >= before + timedelta(seconds=60)
    deliver_pending(destination_id=destination.pk)
    assert double.recorded() == []  # not due yet
    post_shopify("checkouts/create", p.checkout())  # its own webhook lands meanwhile
    assert _sent_started_checkout(double, destination)["CheckoutURL"] == p.RECOVERY_URL


def test_started_checkout_released_by_the_contact_step_waits_too(klaviyo, ingest, post_shopify, settings):
    settings.SHOPIFY_CHECKOUT_URL_WAIT_SECONDS = 60
    destination, double = klaviyo
    post_shopify("checkouts/create", p.checkout(token="earlier-checkout"))
    ingest(_anonymous_checkout_started())
    contact = pixel.checkout_contact_info_submitted()
    contact["data"]["checkout"]["email"] = "ada@lovelace-engines.com"
    before = timezone.now()
    ingest(contact)  # identifies the held Started Checkout before Shopify's webhook
    delivery = Delivery.objects.get(destination=destination, event__type="InitiateCheckout")
    assert delivery.status == DeliveryStatus.PENDING and delivery.next_attempt_at >= before + timedelta(seconds=60)
    post_shopify("checkouts/update", p.checkout())
    assert _sent_started_checkout(double, destination)["CheckoutURL"] == p.RECOVERY_URL


def test_started_checkout_does_not_wait_when_the_url_is_known_or_the_store_sends_none(
    klaviyo, ingest, post_shopify, settings
):
    destination, _ = klaviyo
    ingest(_started())  # no checkout webhooks from this store: due at once
    (first,) = Delivery.objects.filter(destination=destination)
    assert first.next_attempt_at <= timezone.now()
    post_shopify("checkouts/create", p.checkout())
    again = _started()
    again["id"] = "sh-checkout-started-2"
    ingest(again)  # the URL is known already: due at once
    assert all(d.next_attempt_at <= timezone.now() for d in Delivery.objects.filter(destination=destination))
    settings.SHOPIFY_CHECKOUT_URL_WAIT_SECONDS = 0
    other = _started()
    other["id"], other["data"]["checkout"]["token"] = "sh-checkout-started-3", "unknown-token"
    ingest(other)  # waiting switched off
    assert all(d.next_attempt_at <= timezone.now() for d in Delivery.objects.filter(destination=destination))


def test_started_checkout_without_analytics_consent_has_no_token_to_look_up(klaviyo, ingest, post_shopify, merchant):
    post_shopify("checkouts/create", p.checkout())
    event = _started()
    event["consent"] = {"analyticsProcessingAllowed": False}
    ingest(event)
    stored = Event.objects.get(type="InitiateCheckout")
    assert "CheckoutToken" not in stored.properties and "CheckoutURL" not in stored.properties
    assert services.started_checkout_overlays([stored]) == {}


# --- erasure and retention -------------------------------------------------------------------


def test_customers_redact_erases_the_persons_checkouts(post_shopify, ingest, merchant, klaviyo):
    post_shopify("checkouts/create", p.checkout())
    phone_only = p.checkout(token="phone-only-token", email=None, phone="+15035550100")
    post_shopify("checkouts/create", copy.deepcopy(phone_only) | {"customer": None})
    started = _started()
    started["data"]["checkout"]["token"] = "phone-only-token"  # the person's own pixel event names it
    ingest(started)
    kept = p.checkout(token="someone-else", email="grace@hopper-compilers.com", customer=None)
    post_shopify("checkouts/create", kept)

    post_shopify("customers/redact", p.customers_redact())

    assert list(ShopifyCheckout.objects.values_list("token", flat=True)) == ["someone-else"]
    redact = ShopifyWebhook.objects.get(topic="customers/redact")
    assert redact.result["checkouts_erased"] == 2
    bodies = ShopifyWebhook.objects.filter(topic="checkouts/create").order_by("id").values_list("body", flat=True)
    assert [body == "{}" for body in bodies] == [True, True, False]


def test_customers_data_request_exports_the_persons_checkouts(post_shopify):
    post_shopify("checkouts/create", p.checkout())
    post_shopify("customers/data_request", p.customers_data_request())
    result = ShopifyWebhook.objects.get(topic="customers/data_request").result
    assert result["checkouts"] == [{"token": p.CHECKOUT_TOKEN, "abandoned_checkout_url": p.RECOVERY_URL}]


def test_shop_redact_erases_every_checkout(post_shopify, merchant):
    post_shopify("checkouts/create", p.checkout())
    post_shopify("shop/redact", p.shop_redact())
    assert not ShopifyCheckout.objects.exists()
    assert ShopifyWebhook.objects.get(topic="shop/redact").result["checkouts_erased"] == 1


def test_prune_shopify_checkouts_after_the_retention(merchant, settings):
    settings.SHOPIFY_CHECKOUT_RETENTION_DAYS = 30
    old = ShopifyCheckout.objects.create(merchant=merchant, token="old", abandoned_checkout_url=p.RECOVERY_URL)
    ShopifyCheckout.objects.filter(pk=old.pk).update(updated_at=timezone.now() - timedelta(days=31))
    ShopifyCheckout.objects.create(merchant=merchant, token="recent", abandoned_checkout_url=p.RECOVERY_URL)
    from shopify.tasks import prune_shopify_webhooks

    prune_shopify_webhooks()  # the daily task prunes webhook bodies and checkouts
    assert list(ShopifyCheckout.objects.values_list("token", flat=True)) == ["recent"]
