"""Issue 13 regressions, asserted on the semantic doubles as a merchant would check them:
which flows / workflows fire for whom, revenue counted once, who was created or subscribed.

Each test drives the real engine (schedule_deliveries / backfill_destination /
deliver_pending) against tests/fakes/klaviyo.py and tests/fakes/loops.py mounted on the
platforms' URLs through ``responses``.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import responses
from django.utils import timezone

from destinations.models import Delivery, DeliveryStatus, DestinationStatus
from destinations.services import backfill_destination, deliver_pending, schedule_deliveries
from tests.destinations.conftest import KLAVIYO, LOOPS, PURCHASE_PROPERTIES, ProfileFactory, make_event
from tests.fakes.core import mount
from tests.fakes.klaviyo import KlaviyoDouble
from tests.fakes.loops import LoopsDouble

NOW = timezone.now()


@pytest.fixture
def doubles():
    klaviyo, loops = KlaviyoDouble(), LoopsDouble()
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mount(rsps, klaviyo, KLAVIYO)
        mount(rsps, loops, LOOPS)
        yield klaviyo, loops


def configure(destination, **fields):
    for key, value in fields.items():
        setattr(destination, key, value)
    destination.save()
    return destination


def event(merchant, event_id: str, *, type="AddToCart", email="ann@example.com", days_ago=0, profile=None, **kw):
    kw.setdefault("properties", {"ProductName": "Mug", "Price": 12.5, "Quantity": 1})
    identifiers = kw.pop("identifiers", {"email": email} if email else {})
    return make_event(
        merchant,
        event_id=event_id,
        type=type,
        profile=profile,
        identifiers=identifiers,
        timestamp=NOW - timedelta(days=days_ago),
        **kw,
    )


def statuses(destination) -> dict[str, int]:
    rows = Delivery.objects.filter(destination=destination).values_list("status", flat=True)
    return {s: list(rows).count(s) for s in set(rows)}


# --- backfill ------------------------------------------------------------------------------


def test_klaviyo_backfill_records_history_without_firing_flows(doubles, merchant, klaviyo):
    double, _ = doubles
    double.add_flow("Abandoned Cart", metric="Added to Cart")
    configure(klaviyo, profile_sync="off")
    old = [event(merchant, f"old-{i}", email=f"old{i}@example.com", days_ago=3) for i in range(3)]
    assert backfill_destination(klaviyo, days=7) == 3
    live = event(merchant, "live-1", email="live@example.com")
    schedule_deliveries(events=[live])
    assert deliver_pending(destination_id=klaviyo.pk) == {"succeeded": 4}
    assert len(double.recorded("Added to Cart")) == 4  # history is in Klaviyo ...
    assert double.flows_fired() == [("Abandoned Cart", "live@example.com")]  # ... and week-old carts fire nothing
    assert all(Delivery.objects.get(event=e).backfill for e in old)


def test_klaviyo_backfill_through_bulk_job_sets_backfill_on_every_event(settings, doubles, merchant, klaviyo):
    settings.DELIVERY_BULK_THRESHOLD = 5
    double, _ = doubles
    double.add_flow("Abandoned Cart", metric="Added to Cart")
    configure(klaviyo, profile_sync="off")
    for i in range(8):
        event(merchant, f"old-{i}", email=f"p{i % 3}@example.com", days_ago=2)
    backfill_destination(klaviyo, days=7)
    assert deliver_pending(destination_id=klaviyo.pk) == {"succeeded": 8}
    assert double.requests_to("/api/event-bulk-create-jobs", status=202)
    assert len(double.recorded()) == 8 and double.flows_fired() == []


def test_backfill_returns_reach_klaviyo_as_backfill(doubles, merchant, klaviyo, django_capture_on_commit_callbacks):
    from returns.services import backfill_returns
    from tests.returns.conftest import FIXTURES

    double, _ = doubles
    double.add_flow("Return Created flow", metric="Return Created")
    configure(klaviyo, profile_sync="off")
    import json

    returns = [json.loads(line) for line in (FIXTURES / "returns_export.jsonl").read_text().splitlines() if line]
    with django_capture_on_commit_callbacks(execute=True):
        summary = backfill_returns(merchant, returns=returns)
    assert summary.events_recorded > 0
    deliver_pending(destination_id=klaviyo.pk)
    recorded = double.recorded()
    assert recorded and all(e.backfill for e in recorded)
    assert double.flows_fired() == []  # no Return Created flow for weeks-old returns


def test_loops_backfill_updates_contacts_and_starts_no_workflow(doubles, merchant, loops):
    _, double = doubles
    double.add_workflow("Cart reminder", event="Added to Cart")
    profile = ProfileFactory(merchant=merchant, email="old@example.com", traits={"first_name": "Olga"})
    event(merchant, "old-1", email="old@example.com", days_ago=2, profile=profile)
    backfill_destination(loops, days=7)
    assert deliver_pending(destination_id=loops.pk) == {"succeeded": 1}
    assert double.workflow_runs == [] and double.emailed() == []
    assert not double.requests_to("/api/v1/events/send")
    assert double.contact(email="old@example.com").properties.get("firstName") == "Olga"
    assert "no event sent" in Delivery.objects.get(destination=loops).note


# --- phones ----------------------------------------------------------------------------


def test_invalid_phone_is_dropped_and_the_order_kept(doubles, merchant, klaviyo):
    double, _ = doubles
    configure(klaviyo, profile_sync="create_update")
    order = event(
        merchant,
        "po-1",
        type="Purchase",
        identifiers={"email": "ann@example.com", "phone": "12"},
        properties=PURCHASE_PROPERTIES,
    )
    schedule_deliveries(events=[order])
    assert deliver_pending(destination_id=klaviyo.pk) == {"succeeded": 1}
    assert double.revenue("Placed Order") == 59.5 and len(double.recorded("Ordered Product")) == 2
    assert double.profile_by("email", "ann@example.com").phone_number is None
    assert "dropped invalid phone '12'" in Delivery.objects.get(event=order).note


@pytest.mark.parametrize(
    ("region", "typed", "e164"),
    [("", "(415) 555-2671", "+14155552671"), ("GB", "07400 123456", "+447400123456")],
)
def test_local_phone_is_normalised_with_the_merchants_region(doubles, merchant, klaviyo, region, typed, e164):
    double, _ = doubles
    merchant.phone_region = region
    merchant.save()
    configure(klaviyo, profile_sync="create_update")
    schedule_deliveries(events=[event(merchant, "p-1", identifiers={"email": "ann@example.com", "phone": typed})])
    assert deliver_pending(destination_id=klaviyo.pk) == {"succeeded": 1}
    assert double.profile_by("phone_number", e164).email == "ann@example.com"


def test_a_400_naming_one_field_is_sent_again_without_it(doubles, merchant, klaviyo):
    double, _ = doubles
    configure(klaviyo, profile_sync="off")
    huge = event(merchant, "h-1", properties={"ProductName": "Mug", "Notes": "x" * 100_001})
    schedule_deliveries(events=[huge])
    assert deliver_pending(destination_id=klaviyo.pk) == {"succeeded": 1}
    [recorded] = double.recorded("Added to Cart")
    assert "Notes" not in recorded.properties and recorded.properties["ProductName"] == "Mug"
    assert len(double.requests_to("/api/events", status=400)) == 1  # once, not again and again
    assert "without /data/attributes/properties/Notes" in Delivery.objects.get(event=huge).note


def test_a_bulk_job_with_one_bad_field_is_sent_once_more_without_it(settings, doubles, merchant, klaviyo):
    settings.DELIVERY_BULK_THRESHOLD = 3
    double, _ = doubles
    configure(klaviyo, profile_sync="off")
    events = [event(merchant, f"b-{i}", email=f"b{i}@example.com") for i in range(3)]
    events.append(event(merchant, "b-huge", email="huge@example.com", properties={"Notes": "x" * 100_001}))
    schedule_deliveries(events=events)
    assert deliver_pending(destination_id=klaviyo.pk) == {"succeeded": 4}
    assert len(double.recorded("Added to Cart")) == 4  # the good entries are not lost with the bad one


# --- one order, one Placed Order -------------------------------------------------------------


def test_one_order_reported_twice_is_one_placed_order(doubles, merchant, klaviyo, loops):
    double, loops_double = doubles
    double.add_flow("Thank you", metric="Placed Order")
    loops_double.add_workflow("Thank you", event="Placed Order")
    configure(klaviyo, profile_sync="off")
    configure(loops, profile_sync="off")
    theme = event(merchant, "theme-pixel-1", type="Purchase", properties=PURCHASE_PROPERTIES)
    custom = event(merchant, "custom-pixel-9", type="Purchase", properties=PURCHASE_PROPERTIES, source="shopify")
    schedule_deliveries(events=[theme, custom])
    deliver_pending(destination_id=klaviyo.pk)
    deliver_pending(destination_id=loops.pk)
    assert double.revenue("Placed Order") == 59.5  # counted once
    assert len(double.recorded("Ordered Product")) == 2  # one per line, not per report
    assert double.flows_fired() == [("Thank you", "ann@example.com")]
    assert loops_double.emailed() == [("Thank you", "ann@example.com")]  # the 2nd report: 409, no 2nd email
    assert statuses(klaviyo) == {"succeeded": 2} and statuses(loops) == {"succeeded": 2}


# --- profile sync modes ------------------------------------------------------------------------


def test_klaviyo_update_only_never_creates_a_profile(doubles, merchant, klaviyo):
    double, _ = doubles
    configure(klaviyo, profile_sync="update_only")
    known = double.seed_profile(email="known@example.com")
    first = [event(merchant, f"u-{i}", email=e) for i, e in enumerate(["known@example.com", "new@example.com"])]
    schedule_deliveries(events=first)
    assert deliver_pending(destination_id=klaviyo.pk) == {"succeeded": 1, "held": 1}
    assert set(double.profiles) == {known.id}  # nobody created
    assert [e.profile_id for e in double.recorded()] == [known.id]
    held = Delivery.objects.get(event=first[1])
    assert held.status == DeliveryStatus.HELD and "never creates" in held.last_error
    lookups = len(double.requests_to("/api/profiles"))
    schedule_deliveries(events=[event(merchant, "u-9", email="new@example.com")])
    deliver_pending(destination_id=klaviyo.pk)
    assert len(double.requests_to("/api/profiles")) == lookups  # the answer was remembered


def test_klaviyo_update_only_looks_profiles_up_in_batches(doubles, merchant, klaviyo):
    double, _ = doubles
    configure(klaviyo, profile_sync="update_only")
    for i in range(0, 30, 2):
        double.seed_profile(email=f"p{i}@example.com")
    schedule_deliveries(events=[event(merchant, f"e{i}", email=f"p{i}@example.com") for i in range(30)])
    assert deliver_pending(destination_id=klaviyo.pk) == {"succeeded": 15, "held": 15}
    assert len(double.requests_to("/api/profiles")) == 1  # one any() request for 30 people
    assert len(double.profiles) == 15


def test_loops_update_only_never_creates_a_contact(doubles, merchant, loops):
    _, double = doubles
    configure(loops, profile_sync="update_only")
    double.seed_contact("known@example.com")
    schedule_deliveries(
        events=[event(merchant, "l-1", email="known@example.com"), event(merchant, "l-2", email="x@y.co")]
    )
    assert deliver_pending(destination_id=loops.pk) == {"succeeded": 1, "held": 1}
    assert [c.email for c in double.contacts.values()] == ["known@example.com"]


def test_sync_off_sends_no_profile_properties(doubles, merchant, klaviyo, loops):
    double, loops_double = doubles
    configure(klaviyo, profile_sync="off")
    configure(loops, profile_sync="off")
    profile = ProfileFactory(merchant=merchant, email="ann@example.com", traits={"first_name": "Ann", "vip": True})
    schedule_deliveries(events=[event(merchant, "o-1", profile=profile)])
    deliver_pending(destination_id=klaviyo.pk)
    deliver_pending(destination_id=loops.pk)
    person = double.profile_by("email", "ann@example.com")
    assert person.attributes == {} and person.properties == {} and person.location == {}
    assert loops_double.contact(email="ann@example.com").properties == {}
    assert not double.requests_to("/api/profile-import") and not loops_double.requests_to("/api/v1/contacts/update")


# --- Shopify customer id -------------------------------------------------------------------------


def test_shopify_customer_id_becomes_external_id_and_user_id(doubles, merchant, klaviyo, loops):
    double, loops_double = doubles
    configure(klaviyo, profile_sync="off")
    configure(loops, profile_sync="off")
    ids = {"email": "ann@example.com", "shopify_customer_id": "7001"}
    schedule_deliveries(events=[event(merchant, "c-1", identifiers=ids)])
    deliver_pending(destination_id=klaviyo.pk)
    deliver_pending(destination_id=loops.pk)
    assert double.profile_by("external_id", "7001").email == "ann@example.com"
    assert loops_double.contact(user_id="7001").email == "ann@example.com"


def test_customer_id_only_shopper_reaches_loops_when_loops_knows_them(doubles, merchant, loops):
    _, double = doubles
    double.add_workflow("Cart reminder", event="Added to Cart")
    configure(loops, profile_sync="off")
    double.seed_contact("ann@example.com").user_id = "7001"
    schedule_deliveries(
        events=[
            event(merchant, "k-1", identifiers={"shopify_customer_id": "7001"}),
            event(merchant, "k-2", identifiers={"shopify_customer_id": "9999"}),
        ]
    )
    assert deliver_pending(destination_id=loops.pk) == {"succeeded": 1, "held": 1}
    assert double.emailed() == [("Cart reminder", "ann@example.com")]
    assert len(double.contacts) == 1


# --- 403s ----------------------------------------------------------------------------------------


def test_cloudflare_html_403_is_retried_and_does_not_pause(doubles, merchant, klaviyo):
    double, _ = doubles
    configure(klaviyo, profile_sync="off")
    double.faults.html_403_next = 5
    schedule_deliveries(events=[event(merchant, "cf-1")])
    assert deliver_pending(destination_id=klaviyo.pk) == {"retrying": 1}
    klaviyo.refresh_from_db()
    assert klaviyo.status == DestinationStatus.ACTIVE


def test_json_permission_403_pauses_the_destination(doubles, merchant, klaviyo):
    double, _ = doubles
    configure(klaviyo, profile_sync="off")
    double.scopes.discard("events:write")
    schedule_deliveries(events=[event(merchant, "perm-1")])
    assert deliver_pending(destination_id=klaviyo.pk) == {"paused": 1}
    klaviyo.refresh_from_db()
    assert klaviyo.status == DestinationStatus.ERROR
    assert Delivery.objects.get(destination=klaviyo).status == DeliveryStatus.PENDING  # kept, not dead


# --- Loops rules ------------------------------------------------------------------------------------


def test_loops_long_strings_are_capped_and_custom_properties_created_first(doubles, merchant, loops):
    _, double = doubles
    configure(loops, profile_sync="create_update")
    merchant.forwarded_traits = ["favorite_color"]  # custom traits go out only when enabled
    merchant.save()
    profile = ProfileFactory(merchant=merchant, email="ann@example.com", traits={"favorite_color": "blue"})
    long = event(merchant, "s-1", profile=profile, properties={"ProductName": "M" * 800, "Price": 1})
    schedule_deliveries(events=[long])
    assert deliver_pending(destination_id=loops.pk) == {"succeeded": 1}
    assert double.custom_properties == {"favoriteColor": "string"}
    contact = double.contact(email="ann@example.com")
    assert contact.properties["favoriteColor"] == "blue"
    [sent] = double.events
    assert len(sent["eventProperties"]["ProductName"]) == 500
    listed = len(double.requests_to("/api/v1/contacts/properties", method="GET"))
    schedule_deliveries(events=[event(merchant, "s-2", profile=profile)])
    deliver_pending(destination_id=loops.pk)
    assert len(double.requests_to("/api/v1/contacts/properties", method="GET")) == listed  # cached list


# --- seed properties ------------------------------------------------------------------------------


def test_added_to_cart_carries_cart_value_and_ordered_product_the_final_line_price(doubles, merchant, klaviyo):
    double, _ = doubles
    configure(klaviyo, profile_sync="off")
    cart = event(merchant, "atc-1", properties={"ProductName": "Mug", "Price": 10, "Quantity": 2, "CartTotal": 45.0})
    items = [
        {**PURCHASE_PROPERTIES["Items"][0], "FinalLinePrice": 22.5},  # 2 x 12.5 with 2.50 off
        PURCHASE_PROPERTIES["Items"][1],
    ]
    order = event(merchant, "po-9", type="Purchase", properties={**PURCHASE_PROPERTIES, "Items": items})
    schedule_deliveries(events=[cart, order])
    deliver_pending(destination_id=klaviyo.pk)
    [added] = double.recorded("Added to Cart")
    assert added.properties["CartValue"] == 45.0 and added.value == 45.0
    assert sorted(e.value for e in double.recorded("Ordered Product")) == [22.5, 34.5]


# --- recording survives merges and erasure ----------------------------------------------------------


def _during(double, method: str, path: str, action) -> None:
    """Run ``action`` while the platform is answering ``path`` (i.e. mid-delivery)."""
    original = next(h for m, p, h in double.routes if m == method and p.match(path))

    def handler(call, match):
        action()
        return original(call, match)

    double.route(method, path)(handler)


def test_a_profile_merged_during_delivery_does_not_lose_the_batch(settings, doubles, merchant, klaviyo):
    from destinations.models import DeliveryAttempt, SyncedProfile
    from events.models import Event

    settings.DELIVERY_BULK_THRESHOLD = 1  # the bulk path talks to Klaviyo on this thread (one DB connection)
    double, _ = doubles
    configure(klaviyo, profile_sync="create_update", list_id="L1")
    loser = ProfileFactory(merchant=merchant, email="ann@example.com")
    winner = ProfileFactory(merchant=merchant, email="ann.other@example.com")
    mine = event(merchant, "m-1", profile=loser)
    schedule_deliveries(events=[mine, event(merchant, "m-2", email="bob@example.com")])

    def merge():  # what identity's merge does: events move to the winner, the loser row goes
        Event.objects.filter(profile=loser).update(profile=winner)
        loser.delete()

    _during(double, "POST", "/api/profile-import", merge)
    assert deliver_pending(destination_id=klaviyo.pk) == {"succeeded": 2}
    assert statuses(klaviyo) == {"succeeded": 2}  # recorded: not sent again after the lease
    assert DeliveryAttempt.objects.filter(delivery__event=mine).exists()
    assert not SyncedProfile.objects.filter(profile_id=loser.pk).exists()
    assert len(double.recorded()) == 2


@pytest.mark.django_db(transaction=True)
def test_a_profile_erased_during_delivery_does_not_lose_the_batch(settings, doubles, merchant, klaviyo):
    """Real commits (the foreign keys are checked at commit): an event erased while its batch
    is at Klaviyo takes its delivery with it; the rest of the batch is still recorded."""
    from identity.services.erasure import forget_profile

    settings.DELIVERY_BULK_THRESHOLD = 1
    double, _ = doubles
    configure(klaviyo, profile_sync="off")
    erased = ProfileFactory(merchant=merchant, email="gone@example.com")
    erased_once = []

    def erase():
        if not erased_once:
            erased_once.append(forget_profile(erased))

    _during(double, "POST", "/api/event-bulk-create-jobs", erase)
    events = [event(merchant, "x-1", profile=erased), event(merchant, "x-2", email="bob@example.com")]
    schedule_deliveries(events=events)  # with real commits the queued task may run it right away
    deliver_pending(destination_id=klaviyo.pk)
    assert erased_once, "the erasure ran mid-delivery"
    assert statuses(klaviyo) == {"succeeded": 1}  # bob's is recorded; the erased one left with its event
    assert Delivery.objects.get(destination=klaviyo).attempts == 1  # sent once, not again after the lease
