"""factory_boy factories shared by the suite."""

from __future__ import annotations

import uuid
from datetime import timedelta

import factory
from django.utils import timezone

from events.models import Event, Merchant


class MerchantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Merchant

    name = factory.Sequence(lambda n: f"Shop {n}")
    shop_domain = factory.Sequence(lambda n: f"shop-{n}.myshopify.com")
    allowed_origins = factory.LazyAttribute(lambda m: [f"https://{m.shop_domain}"])


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    merchant = factory.SubFactory(MerchantFactory)
    event_id = factory.LazyFunction(lambda: str(uuid.uuid4()))
    type = "ViewContent"
    anonymous_id = factory.LazyFunction(lambda: f"anon-{uuid.uuid4().hex[:12]}")
    timestamp = factory.LazyFunction(timezone.now)


def event_hours_ago(merchant: Merchant, *, anon: str, ago_hours: float = 0.0, **kwargs) -> Event:
    """A stored event of ``anon`` that happened ``ago_hours`` ago."""
    return EventFactory(
        merchant=merchant, anonymous_id=anon, timestamp=timezone.now() - timedelta(hours=ago_hours), **kwargs
    )
