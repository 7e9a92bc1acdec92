"""page_viewed as Klaviyo's "Active on Site" (Destination.active_on_site): one per visit.

Pure decisions (visit_starts, metric_name), scheduling, and delivery against the Klaviyo
double (tests/fakes/klaviyo.py) as a merchant would check it: which site-abandonment flows
fired for whom, and what toggling the option off changes (nothing: today's behaviour).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import responses
from django.core.exceptions import ValidationError

from config.errors import ApplicationError
from destinations import mapping
from destinations.activity import PageView, visit_starts
from destinations.clients.base import ClientConfig, OutboundEvent, Person
from destinations.clients.klaviyo import main_event_attributes
from destinations.models import Delivery, DeliveryStatus
from destinations.services import create_destination, deliver_pending, schedule_deliveries
from destinations.services.scheduling import forwards_event
from tests.destinations.conftest import KLAVIYO, DestinationFactory, ProfileFactory, make_event
from tests.fakes.core import mount
from tests.fakes.klaviyo import KlaviyoDouble

T0 = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
GAP = timedelta(minutes=30)
EMAIL = "ann.lee@fastmail.com"


def view(id_, minutes, anon="browser-1", profile=None):
    return PageView(id_, anon, profile, T0 + timedelta(minutes=minutes))


# --- pure: which page view starts a visit ------------------------------------------------


def test_visit_starts_one_per_visit_of_a_browser():
    views = [view(1, 0), view(2, 5), view(3, 29), view(4, 70), view(5, 80)]
    assert visit_starts(views, views, gap=GAP) == {1, 4}


def test_visit_starts_gap_is_measured_from_the_previous_page_view_not_the_first():
    views = [view(1, 0), view(2, 25), view(3, 50)]  # never 30 minutes idle: one visit
    assert visit_starts(views, views, gap=GAP) == {1}


def test_visit_starts_an_earlier_stored_page_view_continues_the_visit():
    stored = [view(1, 0)]
    assert visit_starts([view(2, 10)], [*stored, view(2, 10)], gap=GAP) == set()
    assert visit_starts([view(3, 31)], [*stored, view(3, 31)], gap=GAP) == {3}


def test_visit_starts_the_same_person_on_another_browser_is_the_same_visit():
    history = [view(1, 0, anon="phone", profile=7), view(2, 3, anon="laptop", profile=7)]
    assert visit_starts(history, history, gap=GAP) == {1}


def test_visit_starts_different_browsers_of_different_people_each_start_one():
    history = [view(1, 0, anon="a"), view(2, 1, anon="b"), view(3, 2, anon="a")]
    assert visit_starts(history, history, gap=GAP) == {1, 2}


def test_visit_starts_ties_in_time_go_to_the_lower_id():
    history = [view(2, 0), view(1, 0)]
    assert visit_starts(history, history, gap=GAP) == {1}


def test_visit_starts_an_anonymised_page_view_starts_nothing():
    anonymised = view(1, 0, anon="")
    assert visit_starts([anonymised], [anonymised], gap=GAP) == set()


# --- pure: names and forwarding -----------------------------------------------------------


def test_metric_name_page_view_is_active_on_site_only_with_the_option():
    assert mapping.metric_name("PageView") == "PageView"  # today's behaviour
    assert mapping.metric_name("PageView", active_on_site=True) == "Active on Site"
    assert mapping.metric_name("PageView", active_on_site=True, suffix=" - Recapture") == "Active on Site - Recapture"
    renamed = mapping.metric_name("PageView", active_on_site=True, overrides={"PageView": "Browsed"}, suffix=" (R)")
    assert renamed == "Browsed (R)"
    assert mapping.metric_name("ViewContent", active_on_site=True) == "Viewed Product"


def test_klaviyo_payload_names_the_metric_and_keeps_the_page_url():
    event = OutboundEvent(
        event_id="pv-1",
        type="PageView",
        source="shopify",
        timestamp=T0,
        person=Person(email=EMAIL, anonymous_id="browser-1"),
        context={"url": "https://shop.myshopify.com/products/mug", "utm": {"source": "klaviyo"}},
    )
    config = ClientConfig(api_key="k", base_url=KLAVIYO, metric_suffix=" - Recapture", active_on_site=True)
    attrs = main_event_attributes(event, config)
    assert attrs["metric"]["data"]["attributes"]["name"] == "Active on Site - Recapture"
    assert attrs["properties"] == {
        "$url": "https://shop.myshopify.com/products/mug",
        "utm_source": "klaviyo",
        "$event_id": "pv-1",
    }
    assert attrs["unique_id"] == "pv-1" and "value" not in attrs


@pytest.mark.parametrize(
    ("active_on_site", "event_types", "forwarded"),
    [(False, [], False), (True, [], True), (False, ["PageView"], True), (True, ["PageView"], True)],
)
def test_forwards_event_page_views_by_the_option_or_the_event_types(active_on_site, event_types, forwarded):
    decision = forwards_event(
        event_type="PageView",
        source="shopify",
        reidentified=False,
        event_types=event_types,
        forward_returns=True,
        forward_reidentified=True,
        active_on_site=active_on_site,
    )
    assert decision is forwarded


def test_forwards_event_active_on_site_respects_the_reidentified_opt_out():
    kwargs = {"event_type": "PageView", "source": "shopify", "event_types": [], "forward_returns": True}
    assert not forwards_event(reidentified=True, forward_reidentified=False, active_on_site=True, **kwargs)


# --- configuration ------------------------------------------------------------------------


def test_only_a_klaviyo_destination_can_send_active_on_site(merchant):
    with pytest.raises(ApplicationError, match="Klaviyo metric"):
        create_destination(merchant, kind="loops", api_key="loops_key_1234", active_on_site=True)
    loops = DestinationFactory(merchant=merchant, kind="loops")
    loops.active_on_site = True
    with pytest.raises(ValidationError, match="Klaviyo metric"):
        loops.validate_constraints()
    klaviyo = create_destination(merchant, kind="klaviyo", api_key="pk_live_1234", active_on_site=True)
    assert klaviyo.active_on_site


def test_admin_form_refuses_active_on_site_on_loops(merchant):
    from destinations.admin import DestinationForm

    data = {"name": "L", "kind": "loops", "api_key": "loops_key_1234", "profile_sync": "create_update"}
    form = DestinationForm(data={**data, "active_on_site": "on"}, instance=DestinationFactory.build(merchant=merchant))
    assert not form.is_valid() and "Klaviyo metric" in str(form.errors)
    form = DestinationForm(data={**data, "kind": "klaviyo", "active_on_site": "on"})
    form.instance.merchant = merchant
    assert form.is_valid(), form.errors


# --- scheduling and delivery ----------------------------------------------------------------


@pytest.fixture
def double():
    klaviyo = KlaviyoDouble()
    klaviyo.add_flow("Site Abandonment", metric="Active on Site - Recapture")
    klaviyo.add_flow("Raw page views", metric="PageView")
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mount(rsps, klaviyo, KLAVIYO)
        yield klaviyo


@pytest.fixture
def aos(klaviyo):
    klaviyo.active_on_site, klaviyo.metric_suffix, klaviyo.profile_sync = True, " - Recapture", "off"
    klaviyo.save()
    return klaviyo


def page_views(merchant, minutes, *, profile=None, anon="browser-1", prefix="pv"):
    events = [
        make_event(
            merchant,
            event_id=f"{prefix}-{m}",
            type="PageView",
            profile=profile,
            anonymous_id=anon,
            timestamp=T0 + timedelta(minutes=m),
            identifiers={"email": EMAIL} if profile else {},
            context={"url": f"https://shop.myshopify.com/page-{m}"},
            properties={},
        )
        for m in minutes
    ]
    schedule_deliveries(events=events)
    return events


def test_active_on_site_one_metric_per_visit_fires_the_site_abandonment_flow(double, merchant, aos):
    profile = ProfileFactory(merchant=merchant, email=EMAIL)
    page_views(merchant, [0, 4, 9, 50, 55], profile=profile)
    assert Delivery.objects.filter(destination=aos).count() == 2
    assert deliver_pending(destination_id=aos.pk) == {"succeeded": 2}
    recorded = double.recorded("Active on Site - Recapture")
    assert sorted(e.properties["$url"] for e in recorded) == [
        "https://shop.myshopify.com/page-0",
        "https://shop.myshopify.com/page-50",
    ]
    assert double.flows_fired() == [("Site Abandonment", EMAIL), ("Site Abandonment", EMAIL)]


def test_active_on_site_page_views_arriving_one_by_one_are_one_visit(double, merchant, aos):
    profile = ProfileFactory(merchant=merchant, email=EMAIL)
    for minute in (0, 3, 6):
        page_views(merchant, [minute], profile=profile)
    assert deliver_pending(destination_id=aos.pk) == {"succeeded": 1}
    assert double.flows_fired() == [("Site Abandonment", EMAIL)]


def test_active_on_site_an_anonymous_visit_waits_for_identity_like_other_events(double, merchant, aos):
    page_views(merchant, [0, 5])  # nobody known yet: held, nothing sent
    assert list(Delivery.objects.values_list("status", flat=True)) == [DeliveryStatus.HELD]
    assert deliver_pending(destination_id=aos.pk) == {} and double.recorded() == []


def test_active_on_site_anonymised_page_views_are_never_scheduled(double, merchant, aos):
    page_views(merchant, [0, 40], anon="")  # no analytics consent: stored without a device id
    assert not Delivery.objects.exists()


def test_active_on_site_off_is_todays_behaviour(double, merchant, klaviyo):
    klaviyo.profile_sync = "off"
    klaviyo.save()
    profile = ProfileFactory(merchant=merchant, email=EMAIL)
    page_views(merchant, [0, 4, 50], profile=profile)
    assert not Delivery.objects.exists()  # page views are not a default event type
    klaviyo.event_types = [*klaviyo.event_types, "PageView"]
    klaviyo.save()
    page_views(merchant, [60, 61], profile=profile, prefix="again")
    assert deliver_pending(destination_id=klaviyo.pk) == {"succeeded": 2}  # every page view, as before
    assert [e.metric for e in double.recorded()] == ["PageView", "PageView"]
    assert double.flows_fired() == [("Raw page views", EMAIL), ("Raw page views", EMAIL)]


def test_active_on_site_other_events_are_untouched(double, merchant, aos):
    profile = ProfileFactory(merchant=merchant, email=EMAIL)
    viewed = make_event(merchant, event_id="vc-1", type="ViewContent", profile=profile, properties={"ProductName": "M"})
    page_views(merchant, [0], profile=profile)
    schedule_deliveries(events=[viewed])
    assert deliver_pending(destination_id=aos.pk) == {"succeeded": 2}
    assert sorted(e.metric for e in double.recorded()) == ["Active on Site - Recapture", "Viewed Product - Recapture"]


def test_active_on_site_through_the_bulk_job(settings, double, merchant, aos):
    settings.DELIVERY_BULK_THRESHOLD = 2
    for i in range(3):
        profile = ProfileFactory(merchant=merchant, email=f"shopper{i}@fastmail.com")
        page_views(merchant, [0, 2], profile=profile, anon=f"browser-{i}", prefix=f"p{i}")
    assert deliver_pending(destination_id=aos.pk) == {"succeeded": 3}
    assert double.requests_to("/api/event-bulk-create-jobs", status=202)
    assert sorted(email for _, email in double.flows_fired()) == [f"shopper{i}@fastmail.com" for i in range(3)]


def test_active_on_site_scheduling_costs_one_query_per_batch(merchant, aos, django_assert_num_queries):
    profile = ProfileFactory(merchant=merchant, email=EMAIL)
    events = [
        make_event(merchant, event_id=f"q-{m}", type="PageView", profile=profile, timestamp=T0 + timedelta(minutes=m))
        for m in range(20)
    ]
    from destinations.services.scheduling import _skipped_page_views

    with django_assert_num_queries(1):
        skipped = _skipped_page_views(events, [aos])
    assert len(skipped) == 19
