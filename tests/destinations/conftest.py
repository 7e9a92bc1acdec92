"""Fixtures for the destinations tests: factories, deterministic retry settings, HTTP mocks."""

from __future__ import annotations

import datetime as dt

import factory
import pytest
import responses

from destinations.models import Destination
from events.models import Event
from identity.models import Profile
from tests.factories import EventFactory, MerchantFactory

KLAVIYO = "https://a.klaviyo.com"
LOOPS = "https://app.loops.so"
KLAVIYO_KEY = "pk_test_0123456789abcdef"
LOOPS_KEY = "loops_key_0123456789abcdef"
T0 = dt.datetime(2026, 11, 20, 12, 0, 0, tzinfo=dt.UTC)


class DestinationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Destination

    merchant = factory.SubFactory(MerchantFactory)
    kind = "klaviyo"
    name = factory.Sequence(lambda n: f"Destination {n}")
    api_key = KLAVIYO_KEY
    api_key_last4 = factory.LazyAttribute(lambda d: d.api_key[-4:])


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Profile

    merchant = factory.SubFactory(MerchantFactory)
    email = factory.Sequence(lambda n: f"person{n}@example.com")


@pytest.fixture(autouse=True)
def _delivery_settings(settings):
    settings.KLAVIYO_API_URL = KLAVIYO
    settings.LOOPS_API_URL = LOOPS
    settings.DELIVERY_RETRY_JITTER = 0.0
    settings.DELIVERY_RETRY_BASE_SECONDS = 60.0
    settings.DELIVERY_RETRY_FACTOR = 3.0
    settings.DELIVERY_MAX_ATTEMPTS = 10
    settings.DELIVERY_THREADS = 4
    settings.DELIVERY_BULK_THRESHOLD = 50
    settings.DELIVERY_HTTP_TIMEOUT_SECONDS = 2.0


@pytest.fixture
def mocked():
    with responses.RequestsMock(assert_all_requests_are_fired=True) as rsps:
        yield rsps


@pytest.fixture
def klaviyo(merchant):
    return DestinationFactory(merchant=merchant, kind="klaviyo", api_key=KLAVIYO_KEY)


@pytest.fixture
def loops(merchant):
    return DestinationFactory(merchant=merchant, kind="loops", api_key=LOOPS_KEY)


def make_event(merchant, *, profile=None, **kwargs) -> Event:
    kwargs.setdefault("timestamp", T0)
    kwargs.setdefault("event_id", "evt-1")
    return EventFactory(merchant=merchant, profile=profile, **kwargs)


PURCHASE_PROPERTIES = {
    "OrderID": "1001",
    "Revenue": 59.5,
    "Currency": "EUR",
    "Items": [
        {
            "ProductName": "Mug",
            "ProductID": "p1",
            "VariantID": "v1",
            "SKU": "MUG-1",
            "Price": 12.5,
            "Quantity": 2,
            "LineItemID": "li-1",
        },
        {
            "ProductName": "Tee",
            "ProductID": "p2",
            "VariantID": "v2",
            "SKU": "TEE-1",
            "Price": 34.5,
            "Quantity": 1,
            "LineItemID": "li-2",
        },
    ],
}
