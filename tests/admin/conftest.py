"""Admin test fixtures: staff clients (superuser and Support) and delivery factories."""

from __future__ import annotations

import uuid

import factory
import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from destinations.models import Delivery, DeliveryAttempt, Destination
from identity.models import Profile
from tests.factories import EventFactory, MerchantFactory


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Profile

    merchant = factory.SubFactory(MerchantFactory)
    email = factory.Sequence(lambda n: f"shopper{n}@example.com")


class DestinationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Destination

    merchant = factory.SubFactory(MerchantFactory)
    kind = "klaviyo"
    name = factory.Sequence(lambda n: f"Klaviyo {n}")
    api_key = "pk_live_secret_abcd1234"
    api_key_last4 = "1234"


class DeliveryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Delivery

    destination = factory.SubFactory(DestinationFactory)
    event = factory.LazyAttribute(lambda d: EventFactory(merchant=d.destination.merchant))
    status = "pending"
    next_attempt_at = factory.LazyFunction(timezone.now)
    idempotency_key = factory.LazyFunction(lambda: uuid.uuid4().hex)


class AttemptFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = DeliveryAttempt

    delivery = factory.SubFactory(DeliveryFactory)
    attempt = 1
    step = "event"
    method = "POST"
    url = "https://a.klaviyo.com/api/events"
    status_code = 202
    duration_ms = 42


@pytest.fixture
def support_user(db, django_user_model):
    user = django_user_model.objects.create_user("support", "support@example.com", "pw-support-1", is_staff=True)
    user.groups.add(Group.objects.get(name="Support"))
    return user


@pytest.fixture
def support_client(client, support_user):
    client.force_login(support_user)
    return client
