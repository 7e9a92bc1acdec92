"""identity.selectors."""

from __future__ import annotations

import pytest

from identity import selectors
from identity.models import ProfileMerge
from identity.services import resolve_events
from tests.factories import EventFactory, MerchantFactory

pytestmark = pytest.mark.django_db


def test_get_profile_by_identifier_normalises_like_resolution(merchant):
    event = EventFactory(merchant=merchant, identifiers={"email": "ann@x.io", "phone": "(415) 555-2671"})
    resolve_events(events=[event])
    event.refresh_from_db()
    assert selectors.get_profile_by_identifier(merchant, type="email", value=" ANN@x.io") == event.profile
    assert selectors.get_profile_by_identifier(merchant, type="phone", value="+1 415 555 2671") == event.profile
    assert selectors.get_profile_by_identifier(merchant, type="email", value="nobody@x.io") is None
    assert selectors.get_profile_by_identifier(merchant, type="email", value="not-an-email") is None
    assert selectors.get_profile_by_identifier(MerchantFactory(), type="email", value="ann@x.io") is None


def test_list_profile_identifiers_events_and_merges(merchant):
    first = EventFactory(merchant=merchant, anonymous_id="a1", identifiers={"email": "ann@x.io"})
    second = EventFactory(merchant=merchant, anonymous_id="a2")
    resolve_events(events=[first])
    resolve_events(events=[second])
    third = EventFactory(merchant=merchant, anonymous_id="a2", identifiers={"email": "ann@x.io"})
    resolve_events(events=[third])
    profile = selectors.get_profile_by_identifier(merchant, type="email", value="ann@x.io")
    assert [(i.type, i.value) for i in selectors.list_profile_identifiers(profile)] == [
        ("anonymous_id", "a2"),  # newest last_seen first within a type
        ("anonymous_id", "a1"),
        ("email", "ann@x.io"),
    ]
    assert {e.pk for e in selectors.list_profile_events(profile)} == {first.pk, second.pk, third.pk}
    assert list(selectors.list_profile_merges(profile)) == list(ProfileMerge.objects.all())
    assert len(selectors.list_profile_merges(profile)) == 1
