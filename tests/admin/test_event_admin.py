"""Event admin and the live stream: filters, chips, detail page, bounded queries."""

from __future__ import annotations

import pytest
from django.urls import reverse

from tests.admin.conftest import AttemptFactory, DeliveryFactory, DestinationFactory, ProfileFactory
from tests.factories import EventFactory

pytestmark = pytest.mark.django_db

CHANGELIST = reverse("admin:events_event_changelist")
LIVE = reverse("admin:events_event_live")
LIVE_JSON = reverse("admin:events_event_live_json")


def _events_with_deliveries(merchant, n: int):
    destination = DestinationFactory(merchant=merchant, name="Main")
    profile = ProfileFactory(merchant=merchant, email="ann@example.com")
    events = []
    for i in range(n):
        event = EventFactory(
            merchant=merchant, profile=profile if i % 2 else None, identification="resolved" if i % 2 else "anonymous"
        )
        DeliveryFactory(event=event, destination=destination, status="succeeded" if i % 3 else "dead")
        events.append(event)
    return events


@pytest.mark.parametrize("n", [3, 30])
def test_event_changelist_queries_do_not_grow_with_rows(admin_client, merchant, n, django_assert_max_num_queries):
    _events_with_deliveries(merchant, n)
    with django_assert_max_num_queries(9):
        response = admin_client.get(CHANGELIST)
    assert response.status_code == 200
    assert response.content.count(b'class="action-select"') == 0  # read-only log: no actions column
    # chips name the destination (not the platform) and link to the delivery
    assert response.content.count(b"Main: succeeded") + response.content.count(b"Main: dead") == n
    assert response.content.count(b"/admin/destinations/delivery/") >= n


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"identification__exact": "resolved"}, 2),
        ({"identification__exact": "anonymous"}, 2),
        ({"delivery_status": "dead"}, 2),
        ({"delivery_status": "succeeded"}, 2),
        ({"type": "ViewContent"}, 4),
        ({"type": "Purchase"}, 0),
    ],
)
def test_event_changelist_filters(admin_client, merchant, query, expected):
    _events_with_deliveries(merchant, 4)  # deliveries: dead, succeeded, succeeded, dead
    response = admin_client.get(CHANGELIST, {"merchant__id__exact": merchant.pk, **query})
    assert response.status_code == 200
    assert len(response.context["cl"].result_list) == expected


def test_event_changelist_search_by_profile_email(admin_client, merchant):
    _events_with_deliveries(merchant, 4)
    response = admin_client.get(CHANGELIST, {"q": "ann@example.com"})
    assert len(response.context["cl"].result_list) == 2


def test_event_detail_shows_payloads_identity_and_attempts(admin_client, merchant, django_assert_max_num_queries):
    profile = ProfileFactory(merchant=merchant, email="bob@example.com")
    event = EventFactory(
        merchant=merchant,
        profile=profile,
        identification="resolved",
        resolved_by="anonymous_id",
        properties={"ProductName": "Hoodie"},
        raw={"type": "ViewContent", "properties": {"ProductName": "Hoodie"}, "marker": "raw-only-key"},
    )
    delivery = DeliveryFactory(event=event, destination__merchant=merchant, status="succeeded", attempts=2)
    AttemptFactory(delivery=delivery, attempt=1, status_code=503, duration_ms=1200, response_body="upstream down")
    AttemptFactory(delivery=delivery, attempt=2, status_code=202, duration_ms=87)
    with django_assert_max_num_queries(12):
        response = admin_client.get(reverse("admin:events_event_change", args=[event.pk]))
    assert response.status_code == 200
    html = response.content.decode()
    assert "raw-only-key" in html and "Hoodie" in html
    assert "bob@example.com" in html and "anonymous_id" in html and "Resolved by Recapture" in html
    assert ">503<" in html and "1200 ms" in html and "upstream down" in html and ">202<" in html


def test_event_is_read_only(admin_client, merchant):
    event = EventFactory(merchant=merchant)
    assert admin_client.get(reverse("admin:events_event_add")).status_code == 403
    assert admin_client.get(reverse("admin:events_event_delete", args=[event.pk])).status_code == 403
    before = event.type
    admin_client.post(reverse("admin:events_event_change", args=[event.pk]), {"type": "Hacked"})
    event.refresh_from_db()
    assert event.type == before


def test_live_page_renders_with_filters(admin_client, merchant):
    response = admin_client.get(LIVE)
    assert response.status_code == 200
    html = response.content.decode()
    assert LIVE_JSON in html and merchant.name in html and 'name="delivery_status"' in html
    assert "<script src=" not in html.split("</head>")[1]  # no external scripts in the page body


def test_live_json_is_newest_first_with_chips(admin_client, merchant, django_assert_max_num_queries):
    events = _events_with_deliveries(merchant, 6)
    with django_assert_max_num_queries(6):
        response = admin_client.get(LIVE_JSON)
    assert response.status_code == 200
    rows = response.json()["events"]
    assert [r["id"] for r in rows] == [e.id for e in reversed(events)]
    newest = rows[0]
    assert newest["profile"] == "ann@example.com" and newest["identification"] == "resolved"
    delivery_id = newest["deliveries"][0]["id"]
    assert newest["deliveries"] == [
        {
            "id": delivery_id,
            "destination": "Main",
            "kind": "klaviyo",
            "status": "succeeded",
            "state": "succeeded",
            "attempts": 0,
            "url": reverse("admin:destinations_delivery_change", args=[delivery_id]),
            "title": "accepted by the platform",
        }
    ]
    assert newest["url"] == reverse("admin:events_event_change", args=[newest["id"]])
    assert rows[1]["profile"] == "anonymous"


@pytest.mark.parametrize("n", [5, 60])
def test_live_json_queries_do_not_grow_with_rows(admin_client, merchant, n, django_assert_max_num_queries):
    _events_with_deliveries(merchant, n)
    with django_assert_max_num_queries(6):
        response = admin_client.get(LIVE_JSON, {"limit": 100})
    assert len(response.json()["events"]) == n


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"identification": "resolved"}, 3),
        ({"identification": "bogus"}, 6),  # unknown values are ignored, not a 500
        ({"delivery_status": "dead"}, 2),
        ({"type": "AddToCart"}, 0),
        ({"limit": "2"}, 2),
        ({"limit": "nope"}, 6),
    ],
)
def test_live_json_filters(admin_client, merchant, query, expected):
    _events_with_deliveries(merchant, 6)
    response = admin_client.get(LIVE_JSON, {"merchant": merchant.pk, **query})
    assert len(response.json()["events"]) == expected


def test_live_json_filters_by_merchant_and_after_id(admin_client, merchant):
    from tests.factories import MerchantFactory

    mine = _events_with_deliveries(merchant, 3)
    EventFactory(merchant=MerchantFactory())
    rows = admin_client.get(LIVE_JSON, {"merchant": merchant.pk, "after": mine[0].id}).json()["events"]
    assert [r["id"] for r in rows] == [mine[2].id, mine[1].id]


def test_live_stream_needs_staff(client, merchant):
    response = client.get(LIVE_JSON)
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_live_stream_allowed_for_support(support_client, merchant):
    _events_with_deliveries(merchant, 2)
    assert support_client.get(LIVE).status_code == 200
    assert len(support_client.get(LIVE_JSON).json()["events"]) == 2


def test_event_search_by_email_is_case_insensitive_for_the_typed_term(admin_client, merchant):
    _events_with_deliveries(merchant, 4)
    response = admin_client.get(CHANGELIST, {"q": "  Ann@Example.com "})
    assert len(response.context["cl"].result_list) == 2


def test_event_search_by_event_id_and_anonymous_id(admin_client, merchant):
    event = EventFactory(merchant=merchant, event_id="evt-42", anonymous_id="anon-42")
    EventFactory(merchant=merchant)
    for term in ("evt-42", "anon-42"):
        assert list(admin_client.get(CHANGELIST, {"q": term}).context["cl"].result_list) == [event]
