"""resend_recent_events: the profile page's re-send schedules its recent events again."""

from __future__ import annotations

from unittest import mock

import pytest

from identity.models import Profile
from identity.services import resolve_events
from pipeline.processing import resend_recent_events
from tests.factories import event_hours_ago as make

pytestmark = pytest.mark.django_db


def test_resend_recent_events_schedules_profile_events_within_hours(merchant):
    resolve_events(events=[make(merchant, anon="a1", identifiers={"email": "ann@x.io"}, ago_hours=1)])
    resolve_events(events=[make(merchant, anon="a1", ago_hours=5)])
    resolve_events(events=[make(merchant, anon="a1", ago_hours=50)])
    profile = Profile.objects.get()
    with mock.patch("destinations.services.schedule_deliveries") as schedule:
        assert resend_recent_events(profile, hours=6) == 2
        assert resend_recent_events(profile) == 2  # merchant lookback: 24 h
        assert resend_recent_events(profile, hours=0) == 0
    assert schedule.call_count == 2
    sent = schedule.call_args.kwargs
    assert sent["reidentified"] is True and {e.profile_id for e in sent["events"]} == {profile.pk}
