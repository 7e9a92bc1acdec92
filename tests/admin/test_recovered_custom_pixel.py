"""Recovered revenue on a Custom Pixel install, end to end (issue 15 Must show).

The shopper's journey goes through the real ingest endpoint with the Custom Pixel's real
event shapes, identity resolution and the delivery engine (Klaviyo faked with `responses`);
the dashboard then counts the order. The thank-you page's own URL carries no UTM or _kx
("checkout_completed ... typically on the Thank you page"), so what counts is the visit from
the message that led to it, within the merchant's attribution window.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import orjson
import pytest
import responses
import time_machine
from django.utils import timezone

from console.dashboard import get_merchant_dashboard
from destinations.services import deliver_pending
from events.models import Event
from tests.destinations.conftest import KLAVIYO, DestinationFactory
from tests.events import shopify_payloads as p

pytestmark = pytest.mark.django_db

MESSAGE_LINK = "https://acme.com/cart?utm_source=klaviyo&utm_medium=email&_kx=kx_token.ABC123"


def _send(client, merchant, raw, capture):
    raw = {**raw, "timestamp": None}  # "now" on the travelled clock
    body = {"writeKey": merchant.write_key, **raw, "consent": {"analyticsProcessingAllowed": True}}
    with capture(execute=True):
        response = client.post("/api/v1/events", data=orjson.dumps(body), content_type="text/plain")
    assert response.status_code == 202, response.content


def _journey(client, merchant, capture, *, message_visit_after_forward=True, visit_age=timedelta(hours=2)):
    settings_url = KLAVIYO
    DestinationFactory(merchant=merchant, kind="klaviyo")
    start = timezone.now() - timedelta(days=2)
    with time_machine.travel(start, tick=False):
        _send(client, merchant, p.product_viewed(), capture)
        if not message_visit_after_forward:
            _send(client, merchant, p.event("page_viewed", href=MESSAGE_LINK, event_id="pv-msg"), capture)
        _send(client, merchant, p.checkout_started(), capture)  # abandoned, email known
    with time_machine.travel(start + timedelta(minutes=30), tick=False), responses.RequestsMock() as klaviyo:
        klaviyo.post(f"{settings_url}/api/events", status=202)
        deliver_pending(event_ids=list(Event.objects.values_list("id", flat=True)))
        assert len(klaviyo.calls) == 2  # Viewed Product and Started Checkout reached Klaviyo
    order_at = start + timedelta(hours=6)
    if message_visit_after_forward:
        with time_machine.travel(order_at - visit_age, tick=False):  # the reminder email is clicked
            _send(client, merchant, p.event("page_viewed", href=MESSAGE_LINK, event_id="pv-msg"), capture)
    with time_machine.travel(order_at, tick=False):
        _send(client, merchant, p.checkout_completed(), capture)  # on the thank-you page
    return order_at


def test_dashboard_counts_a_custom_pixel_order_a_reminder_led_to(client, merchant, django_capture_on_commit_callbacks):
    order_at = _journey(client, merchant, django_capture_on_commit_callbacks)
    purchase = Event.objects.get(type="Purchase")
    assert "utm" not in purchase.context and "kx" not in purchase.identifiers  # the thank-you page says nothing
    stats = get_merchant_dashboard(merchant, now=order_at + timedelta(hours=1))
    assert stats["7d"].recovered_orders == 1
    assert stats["7d"].recovered_revenue == {"USD": Decimal("143.2")}


def test_dashboard_does_not_count_a_message_visit_before_recapture_forwarded(
    client, merchant, django_capture_on_commit_callbacks
):
    order_at = _journey(client, merchant, django_capture_on_commit_callbacks, message_visit_after_forward=False)
    assert get_merchant_dashboard(merchant, now=order_at + timedelta(hours=1))["7d"].recovered_orders == 0


def test_dashboard_does_not_count_a_message_visit_older_than_the_attribution_window(
    client, merchant, django_capture_on_commit_callbacks
):
    merchant.attribution_window_days = 0
    merchant.save()
    order_at = _journey(client, merchant, django_capture_on_commit_callbacks, visit_age=timedelta(hours=2))
    assert get_merchant_dashboard(merchant, now=order_at + timedelta(hours=1))["7d"].recovered_orders == 0
