"""factory_boy factories of the identity app."""

from __future__ import annotations

import factory
from django.utils import timezone

from identity.models import Identifier, Profile
from tests.factories import MerchantFactory


class ProfileFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Profile

    merchant = factory.SubFactory(MerchantFactory)


class IdentifierFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Identifier

    profile = factory.SubFactory(ProfileFactory)
    merchant = factory.SelfAttribute("profile.merchant")
    type = "anonymous_id"
    value = factory.Sequence(lambda n: f"anon-{n}")
    first_seen = factory.LazyFunction(timezone.now)
    last_seen = factory.LazyFunction(timezone.now)
