"""The admin explains identity decisions: an event says which rule attributed it or why not; a
profile lists the links it refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from identity.services import resolve_events
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db


def resolved(merchant, **kwargs):
    event = EventFactory(merchant=merchant, **kwargs)
    resolve_events(events=[event])
    event.refresh_from_db()
    return event


def test_event_page_says_junk_email_was_ignored_and_why(admin_client, merchant):
    event = resolved(merchant, anonymous_id="a1", identifiers={"email": "asdf@gmail.com"})
    page = admin_client.get(reverse("admin:events_event_change", args=[event.pk])).content.decode()
    assert "Its only identity was junk" in page
    assert "Junk email ignored: placeholder value." in page


def test_event_page_says_shared_device_session_rule(admin_client, merchant):
    now = timezone.now()
    resolved(
        merchant, anonymous_id="laptop", identifiers={"email": "alice@acme.io"}, timestamp=now - timedelta(hours=3)
    )
    resolved(merchant, anonymous_id="laptop", identifiers={"email": "bob@acme.io"}, timestamp=now - timedelta(hours=1))
    browse = resolved(merchant, anonymous_id="laptop", timestamp=now - timedelta(minutes=50))
    page = admin_client.get(reverse("admin:events_event_change", args=[browse.pk])).content.decode()
    assert "A laptop, desktop or shared device: attributed because the event came in the same browsing session" in page
    assert "Identifier: anonymous_id." in page


def test_profile_page_lists_the_click_id_link_it_refused(admin_client, merchant):
    now = timezone.now()
    resolved(merchant, anonymous_id="ann", identifiers={"email": "ann@acme.io", "gclid": "G"}, timestamp=now)
    other = resolved(merchant, anonymous_id="sam", identifiers={"gclid": "G"}, timestamp=now + timedelta(minutes=5))
    page = admin_client.get(reverse("admin:identity_profile_change", args=[other.profile_id])).content.decode()
    assert "Links refused" in page and "Click id on another network or OS" in page
    event_page = admin_client.get(reverse("admin:events_event_change", args=[other.pk])).content.decode()
    assert "Not linked through gclid: click id on another network or OS" in event_page
