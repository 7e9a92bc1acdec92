"""The hooks higher apps fill: properties replaced in what is sent (PROPERTY_HOOKS) and deliveries
that wait (DELAY_HOOKS). destinations never imports those apps; the shopify app registers its
Started Checkout hooks in its AppConfig.ready()."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from destinations.models import Delivery, DeliveryStatus
from destinations.services import outbound, scheduling
from destinations.services.outbound import outbound_event, property_overlays
from destinations.services.scheduling import delivery_delays, schedule_deliveries
from tests.destinations.conftest import ProfileFactory, make_event


@pytest.fixture
def hooks(monkeypatch):
    monkeypatch.setattr(outbound, "PROPERTY_HOOKS", [])
    monkeypatch.setattr(scheduling, "DELAY_HOOKS", [])
    return outbound.PROPERTY_HOOKS, scheduling.DELAY_HOOKS


def test_shopify_registers_its_started_checkout_hooks():
    from shopify.services import started_checkout_delays, started_checkout_overlays

    assert started_checkout_overlays in outbound.PROPERTY_HOOKS
    assert started_checkout_delays in scheduling.DELAY_HOOKS


def test_property_overlays_merge_every_hook(hooks, merchant):
    properties, _ = hooks
    event = make_event(merchant, properties={"CheckoutURL": "https://acme.com/cart/1:1"})
    properties.append(lambda events: {events[0].pk: {"CheckoutURL": "https://acme.com/recover"}})
    properties.append(lambda events: {events[0].pk: {"Extra": 1}})
    assert property_overlays([event]) == {event.pk: {"CheckoutURL": "https://acme.com/recover", "Extra": 1}}


def test_outbound_event_overlay_replaces_properties_and_is_sanitised(merchant):
    event = make_event(merchant, properties={"CheckoutURL": "https://acme.com/cart/1:1", "Keep": "me"})
    sent = outbound_event(event, overlay={"CheckoutURL": "https://acme.com/recover?key=k"})
    assert sent.properties == {"CheckoutURL": "https://acme.com/recover?key=k", "Keep": "me"}
    unsafe = outbound_event(event, overlay={"CheckoutURL": "javascript:alert(1)"})
    assert unsafe.properties.get("CheckoutURL") != "javascript:alert(1)"
    event.refresh_from_db()
    assert event.properties["CheckoutURL"] == "https://acme.com/cart/1:1"  # the stored event is untouched


def test_delivery_delays_take_the_longest_and_drop_zero(hooks, merchant):
    _, delays = hooks
    a, b = make_event(merchant, event_id="a"), make_event(merchant, event_id="b")
    delays.append(lambda events: {a.pk: 30, b.pk: 0})
    delays.append(lambda events: {a.pk: 60})
    assert delivery_delays([a, b]) == {a.pk: 60.0}


def test_a_delayed_event_is_scheduled_pending_but_due_later(hooks, merchant, klaviyo):
    _, delays = hooks
    profile = ProfileFactory(merchant=merchant, email="ann.lee@fastmail.com")
    event = make_event(merchant, profile=profile, identifiers={"email": "ann.lee@fastmail.com"})
    delays.append(lambda events: {event.pk: 90})
    before = timezone.now()
    schedule_deliveries(events=[event])
    delivery = Delivery.objects.get()
    assert delivery.status == DeliveryStatus.PENDING
    assert before + timedelta(seconds=90) <= delivery.next_attempt_at <= timezone.now() + timedelta(seconds=90)
