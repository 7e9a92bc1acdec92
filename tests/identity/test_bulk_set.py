"""bulk_set writes exactly what the fields hold, whatever the value (PostgreSQL's jsonb_to_recordset path)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from identity.models import Identifier, Profile
from identity.services.writes import bulk_set
from tests.factories import MerchantFactory

pytestmark = pytest.mark.django_db


def test_bulk_set_round_trips_every_kind_of_value():
    merchant = MerchantFactory()
    profiles = [Profile.objects.create(merchant=merchant) for _ in range(3)]
    tricky = 'O\'Brien "Ann" \\ ünïcødé 🛒 %s %(x)s'
    profiles[0].email, profiles[0].traits = "ann@shop.io", {"first_name": tricky, "nested": {"n": [1, 2.5, None]}}
    profiles[0].reidentified_at = datetime(2026, 12, 1, 10, 30, 15, 123456, tzinfo=UTC)
    profiles[1].traits = {"big": 2**70}  # past orjson's 64-bit integers: the standard library encodes it
    profiles[1].verified_traits = ["first_name"]
    profiles[2].reidentified_at = None
    bulk_set(Profile, profiles, ["email", "traits", "verified_traits", "reidentified_at"])
    first, second, third = (Profile.objects.get(pk=p.pk) for p in profiles)
    assert first.email == "ann@shop.io" and first.traits == profiles[0].traits
    assert first.reidentified_at == profiles[0].reidentified_at
    assert second.traits == {"big": 2**70} and second.verified_traits == ["first_name"]
    assert third.reidentified_at is None and third.email == ""


def test_bulk_set_repoints_foreign_keys_and_flags():
    merchant = MerchantFactory()
    old, new = Profile.objects.create(merchant=merchant), Profile.objects.create(merchant=merchant)
    seen = datetime(2026, 1, 1, tzinfo=UTC)
    rows = [
        Identifier.objects.create(
            merchant=merchant, profile=old, type="anonymous_id", value=f"a{i}", first_seen=seen, last_seen=seen
        )
        for i in range(3)
    ]
    for row in rows:
        row.profile, row.shared, row.hint = new, True, "10.1.2|ios"
    bulk_set(Identifier, rows, ["profile", "shared", "hint"])
    assert set(Identifier.objects.filter(profile=new).values_list("shared", "hint")) == {(True, "10.1.2|ios")}
    assert not Identifier.objects.filter(profile=old).exists()
