"""forget_profile (right to erasure)."""

from __future__ import annotations

import pytest

from events.models import Event
from identity.models import ErasureRecord, Identifier, Profile, ProfileMerge
from identity.services import forget_profile, resolve_events
from tests.factories import event_hours_ago as make

pytestmark = pytest.mark.django_db


def test_forget_profile_erases_identifiers_events_and_merges_keeping_only_counts(merchant):
    resolve_events(events=[make(merchant, anon="a1", identifiers={"email": "ann@x.io"}, ago_hours=2)])
    resolve_events(events=[make(merchant, anon="a2", ago_hours=1)])
    resolve_events(events=[make(merchant, anon="a2", identifiers={"email": "ann@x.io"}, raw={"email": "ann@x.io"})])
    other = make(merchant, anon="someone-else")
    resolve_events(events=[other])
    profile = Profile.objects.get(email="ann@x.io")
    assert ProfileMerge.objects.count() == 1

    record = forget_profile(profile, actor="admin@shop")

    assert (record.identifiers_deleted, record.events_deleted, record.merges_deleted) == (3, 3, 1)
    assert record.actor == "admin@shop" and record.profile_id == profile.pk and record.merchant_id == merchant.pk
    assert not Profile.objects.filter(pk=profile.pk).exists()
    assert not Identifier.objects.filter(value__in=["ann@x.io", "a1", "a2"]).exists()
    assert list(Event.objects.values_list("pk", flat=True)) == [other.pk]
    assert ProfileMerge.objects.count() == 0
    stored = ErasureRecord.objects.values().get()
    assert "ann@x.io" not in repr(stored)
