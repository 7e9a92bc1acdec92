"""The three traps that sent events under another person's email (issue 12), end to end.

Each test is a merchant-level outcome: which email an event (or a re-identified event)
would go out under. Events go through POST /api/v1/events with a client address and a
user agent, as a browser sends them; tasks run inline (Q_SYNC).
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from unittest import mock

import orjson
import pytest
import time_machine

import destinations.services
from destinations.services.outbound import person_of
from events.models import Event, Identification
from identity.models import Identifier

URL = "/api/v1/events"
NOW = datetime(2026, 11, 20, 20, 0, tzinfo=UTC)
IPHONE_SAFARI = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Mobile/15E148 Safari/604.1"
)
IPHONE_INSTAGRAM = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Mobile/15E148 Instagram 334.0.4.32.98 (iPhone14,5; iOS 17_5; en_US; en; scale=3.00; 1170x2532)"
)
ANDROID_CHROME = (
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36"
)
MAC_CHROME = (
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)


def body(type_, at, *, anon, **extra):
    return {"event_id": str(uuid.uuid4()), "type": type_, "anonymous_id": anon, "timestamp": at, **extra}


@pytest.fixture
def ingest(client, merchant, django_capture_on_commit_callbacks):
    def post(event, *, ip="192.0.2.10", ua=MAC_CHROME):
        with django_capture_on_commit_callbacks(execute=True):
            response = client.post(
                URL,
                data=orjson.dumps(event),
                content_type="application/json",
                HTTP_X_WRITE_KEY=merchant.write_key,
                REMOTE_ADDR=ip,
                HTTP_USER_AGENT=ua,
            )
        assert response.status_code == 202, response.content
        return Event.objects.select_related("profile").get(merchant=merchant, event_id=event["event_id"])

    return post


@pytest.fixture
def sent_under():
    """Every (event pk, email) that scheduling was asked to deliver, re-identified sends included."""
    sends: list[tuple[int, str]] = []
    real = destinations.services.schedule_deliveries

    def spy(*, events, reidentified=False):
        sends.extend((e.pk, person_of(e).email) for e in events)
        return real(events=events, reidentified=reidentified)

    with mock.patch.object(destinations.services, "schedule_deliveries", side_effect=spy):
        yield sends


# --- Trap 1: placeholder emails become identities --------------------------------------


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize(
    "junk",
    [
        "test@test.com",
        "asdf@asdf.com",
        "none@none.com",
        "x@x.com",
        "qwerty@gmail.com",
        "asdfgh@hotmail.com",
        "test@gmail.com",
        "noreply@shopmail.io",
        "no-reply@acme.io",
        "jane@example.com",
        "jane@example.co.uk",
        "someone@mailinator.com",
        'a"b"@acme.io',
        "a,b@acme.io",
        'ann@acme.io"),or(equals(email,"bob@acme.io',
    ],
)
def test_ingest_placeholder_email_links_nothing_and_is_never_sent(ingest, sent_under, junk):
    first = ingest(body("AddToCart", "2026-11-20T18:00:00Z", anon="shopper-1", identifiers={"email": junk}))
    second = ingest(body("AddToCart", "2026-11-20T19:00:00Z", anon="shopper-2", identifiers={"email": junk}))
    assert first.profile_id != second.profile_id
    assert not Identifier.objects.filter(type="email").exists()
    assert {email for _pk, email in sent_under} == {""}
    assert first.identification == Identification.ANONYMOUS


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_ingest_phone_not_valid_for_region_links_nothing(ingest, sent_under):
    a = ingest(body("AddToCart", "2026-11-20T18:00:00Z", anon="shopper-1", identifiers={"phone": "555-555-5555"}))
    b = ingest(body("AddToCart", "2026-11-20T19:00:00Z", anon="shopper-2", identifiers={"phone": "+15555555555"}))
    assert a.profile_id != b.profile_id
    assert not Identifier.objects.filter(type="phone").exists()
    assert a.profile.phone == "" and b.profile.phone == ""


# --- Trap 2: the last person to identify owns the device ------------------------------------


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_ingest_shared_laptop_later_browsing_is_not_sent_under_last_identifier(ingest, sent_under):
    ingest(body("Identify", "2026-11-20T10:00:00Z", anon="laptop", identifiers={"email": "alice@acme.io"}))
    ingest(body("Identify", "2026-11-20T12:00:00Z", anon="laptop", identifiers={"email": "bob@acme.io"}))
    in_bobs_session = ingest(body("ViewContent", "2026-11-20T12:10:00Z", anon="laptop"))
    alice_cart = ingest(body("AddToCart", "2026-11-20T15:00:00Z", anon="laptop"))  # a new session
    assert in_bobs_session.profile.email == "bob@acme.io"
    assert alice_cart.identification == Identification.ANONYMOUS
    assert (alice_cart.pk, "bob@acme.io") not in sent_under
    sent_under.clear()

    ingest(body("Identify", "2026-11-20T15:10:00Z", anon="laptop", identifiers={"email": "alice@acme.io"}))
    ingest(body("Identify", "2026-11-20T18:00:00Z", anon="laptop", identifiers={"email": "bob@acme.io"}))
    alice_cart.refresh_from_db()
    assert alice_cart.profile.email == "alice@acme.io"  # re-identified within Alice's session
    assert (alice_cart.pk, "alice@acme.io") in sent_under
    assert not [pk for pk, email in sent_under if pk == alice_cart.pk and email != "alice@acme.io"]


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_ingest_shared_laptop_reidentification_stops_at_another_persons_identification(ingest, sent_under):
    ingest(body("Identify", "2026-11-20T09:00:00Z", anon="laptop", identifiers={"email": "alice@acme.io"}))
    ingest(body("Identify", "2026-11-20T10:00:00Z", anon="laptop", identifiers={"email": "bob@acme.io"}))
    alice_view = ingest(body("ViewContent", "2026-11-20T13:00:00Z", anon="laptop"))
    ingest(body("Identify", "2026-11-20T13:05:00Z", anon="laptop", identifiers={"email": "alice@acme.io"}))
    later = ingest(body("ViewContent", "2026-11-20T16:00:00Z", anon="laptop"))  # anyone: a new session
    ingest(body("Identify", "2026-11-20T16:05:00Z", anon="laptop", identifiers={"phone": "+14155552671"}))
    emails = {pk: email for pk, email in sent_under if pk == alice_view.pk}
    assert emails == {alice_view.pk: "alice@acme.io"}
    later.refresh_from_db()
    assert later.profile.phone == "+14155552671" and later.profile.email == ""


# --- Trap 3: a click id treated as identity ---------------------------------------------


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_ingest_click_id_shared_with_stranger_links_nothing_either_way(ingest, sent_under):
    ingest(
        body("Identify", "2026-11-20T10:00:00Z", anon="ann-phone", identifiers={"email": "ann@acme.io", "fbclid": "F"}),
        ip="203.0.113.7",
        ua=IPHONE_SAFARI,
    )
    ann_cart = ingest(body("AddToCart", "2026-11-20T10:05:00Z", anon="ann-phone"), ip="203.0.113.7", ua=IPHONE_SAFARI)
    stranger = ingest(
        body("ViewContent", "2026-11-20T10:30:00Z", anon="stranger", identifiers={"fbclid": "F"}),
        ip="198.51.100.20",
        ua=ANDROID_CHROME,
    )
    assert stranger.identification == Identification.ANONYMOUS
    assert stranger.profile_id != ann_cart.profile_id
    ingest(
        body("Identify", "2026-11-20T10:40:00Z", anon="stranger", identifiers={"email": "sam@acme.io"}),
        ip="198.51.100.20",
        ua=ANDROID_CHROME,
    )
    assert (ann_cart.pk, "sam@acme.io") not in sent_under
    assert {email for pk, email in sent_under if pk == stranger.pk} <= {"", "sam@acme.io"}


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_ingest_click_id_from_another_network_then_recipient_email_does_not_resend_sharers_history(ingest, sent_under):
    """Same OS family, another network: not corroborated, so the recipient's email never gets the sharer's cart."""
    sharer_cart = ingest(
        body("AddToCart", "2026-11-20T11:00:00Z", anon="sharer", identifiers={"gclid": "G7"}),
        ip="203.0.113.7",
        ua=IPHONE_SAFARI,
    )
    ingest(
        body("ViewContent", "2026-11-20T11:20:00Z", anon="friend", identifiers={"gclid": "G7"}),
        ip="198.51.100.99",
        ua=IPHONE_SAFARI,
    )
    ingest(
        body("Identify", "2026-11-20T11:25:00Z", anon="friend", identifiers={"email": "friend@acme.io"}),
        ip="198.51.100.99",
        ua=IPHONE_SAFARI,
    )
    sharer_cart.refresh_from_db()
    assert sharer_cart.identification == Identification.ANONYMOUS
    assert (sharer_cart.pk, "friend@acme.io") not in sent_under


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_ingest_in_app_browser_handoff_links_the_phone_browser(ingest):
    """The real case: an ad opened in Instagram, then in Safari on the same phone and network."""
    in_app = ingest(
        body("ViewContent", "2026-11-20T11:00:00Z", anon="ig-webview", identifiers={"fbclid": "F2"}),
        ip="203.0.113.7",
        ua=IPHONE_INSTAGRAM,
    )
    safari = ingest(
        body("Identify", "2026-11-20T11:04:00Z", anon="safari", identifiers={"fbclid": "F2", "email": "ivy@acme.io"}),
        ip="203.0.113.44",
        ua=IPHONE_SAFARI,
    )
    in_app.refresh_from_db()
    assert in_app.profile_id == safari.profile_id
    assert in_app.identification == Identification.RESOLVED and in_app.profile.email == "ivy@acme.io"
