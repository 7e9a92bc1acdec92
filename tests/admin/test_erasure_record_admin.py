"""Support staff see where an erasure stands on each platform (never the identifier)."""

from __future__ import annotations

import pytest
from django.urls import reverse

from identity.services import forget_profile
from tests.admin.conftest import DestinationFactory
from tests.destinations.conftest import ProfileFactory

pytestmark = pytest.mark.django_db


def test_support_sees_the_platform_deletion_requests_of_an_erasure(support_client, merchant):
    DestinationFactory(merchant=merchant, kind="loops")
    record = forget_profile(ProfileFactory(merchant=merchant, email="ann@example.com"))
    page = support_client.get(reverse("admin:identity_erasurerecord_change", args=[record.pk]))
    assert page.status_code == 200
    assert b"Platform deletion requests" in page.content and b"Pending" in page.content
    assert b"ann@example.com" not in page.content
