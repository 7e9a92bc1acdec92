"""The sweeper loop: a 429's Retry-After is honoured to within a second, on controlled time."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import responses
import time_machine
from django.core.management import call_command
from responses import matchers

from destinations.models import Delivery, DeliveryAttempt, DeliveryStatus, Destination
from destinations.services import run_sweeper, schedule_deliveries
from destinations.services.sweep import next_wait, seconds_until_next_due
from tests.destinations.conftest import KLAVIYO, ProfileFactory, make_event
from tests.destinations.test_delivery_klaviyo import HEADERS, viewed_body
from tests.fakes.core import mount
from tests.fakes.klaviyo import KlaviyoDouble

START = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
EVENTS_URL = f"{KLAVIYO}/api/events"


def _scheduled(merchant, klaviyo) -> Delivery:
    """Schedule one Viewed Product; with transaction=True and Q_SYNC its delivery task runs at once."""
    klaviyo.profile_sync = "off"
    klaviyo.save()
    profile = ProfileFactory(merchant=merchant, email="ann@example.com")
    event = make_event(merchant, profile=profile, anonymous_id="anon-1", properties={"ProductName": "Mug"})
    schedule_deliveries(events=[event])
    return Delivery.objects.get(event=event, destination=klaviyo)


def _expect(mocked, status: int, **kwargs):
    match = [matchers.header_matcher(HEADERS), matchers.json_params_matcher(viewed_body())]
    return mocked.post(EVENTS_URL, status=status, match=match, **kwargs)


@pytest.mark.parametrize(("to_next_due", "wait"), [(None, 1.0), (30.0, 1.0), (0.4, 0.4), (0.0, 0.05), (-5.0, 0.05)])
def test_next_wait_sleeps_the_tick_or_until_the_next_due_row(to_next_due, wait):
    assert next_wait(to_next_due, tick=1.0) == pytest.approx(wait)


@pytest.mark.django_db(transaction=True)
def test_sweeper_sends_a_rate_limited_event_when_retry_after_says_not_a_minute_later(merchant, klaviyo, mocked):
    """Klaviyo: "429 … Retry-After header … the number of seconds to wait" (developers.klaviyo.com, rate limits).

    The merchant-level outcome: the event reaches Klaviyo 3 s after the 429, not at the next
    minute schedule. Time is time-machine's; the sweeper's sleeps move it.
    """
    with time_machine.travel(START, tick=False) as traveller:
        _expect(mocked, 429, headers={"Retry-After": "3"}, json={"errors": [{"detail": "throttled"}]})
        delivery = _scheduled(merchant, klaviyo)  # first try: the 429
        delivery.refresh_from_db()
        assert (delivery.status, delivery.next_attempt_at) == (DeliveryStatus.PENDING, START + timedelta(seconds=3))

        _expect(mocked, 202)
        slept: list[float] = []

        def sleep(seconds: float) -> None:
            slept.append(seconds)
            traveller.shift(seconds)

        def delivered() -> bool:
            return Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SUCCEEDED).exists()

        run_sweeper(tick=1.0, sleep=sleep, should_stop=delivered, max_iterations=30)

    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and delivery.attempts == 2
    assert START + timedelta(seconds=3) <= delivery.delivered_at <= START + timedelta(seconds=4)
    assert sum(slept) == pytest.approx(3.0)
    assert list(DeliveryAttempt.objects.order_by("id").values_list("status_code", flat=True)) == [429, 202]


@pytest.mark.django_db(transaction=True)
def test_sweeper_leaves_a_paused_destination_alone(merchant, klaviyo, mocked):
    with time_machine.travel(START, tick=False):
        klaviyo.status = "error"
        klaviyo.save()
        delivery = _scheduled(merchant, klaviyo)
        assert seconds_until_next_due(START - timedelta(seconds=1)) is None
        run_sweeper(tick=1.0, sleep=lambda s: None, max_iterations=3)  # `mocked` fails on any request
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING and delivery.attempts == 0


@pytest.mark.django_db(transaction=True)
def test_run_sweeper_command_once_delivers_what_is_due(merchant, klaviyo, mocked):
    klaviyo.status = "error"  # paused while scheduling: no task sends it
    klaviyo.save()
    delivery = _scheduled(merchant, klaviyo)
    Destination.objects.filter(pk=klaviyo.pk).update(status="active")  # resumed without a task
    _expect(mocked, 202)
    call_command("run_sweeper", "--once")
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_sweeper_on_the_klaviyo_double_records_the_order_once_three_seconds_later(merchant, klaviyo):
    """On the semantic double: a 429 ("Retry-After: 3") on the Placed Order; the sweeper retries
    it 3 s later, Klaviyo keeps one Placed Order (revenue once) and its flow fires once."""
    double = KlaviyoDouble()
    double.add_flow("Post-purchase", metric="Placed Order")
    double.faults.rate_limit_next, double.faults.retry_after = 1, "3"
    with (
        responses.RequestsMock(assert_all_requests_are_fired=False) as rsps,
        time_machine.travel(START, tick=False) as traveller,
    ):
        mount(rsps, double, KLAVIYO)
        klaviyo.profile_sync = "off"
        klaviyo.save()
        profile = ProfileFactory(merchant=merchant, email="ann@example.com")
        order = make_event(merchant, profile=profile, type="Purchase", properties={"OrderID": "1001", "Revenue": 59.5})
        schedule_deliveries(events=[order])  # first try: the 429
        assert not double.recorded("Placed Order")
        delivery = Delivery.objects.get()

        def delivered() -> bool:
            return Delivery.objects.filter(pk=delivery.pk, status=DeliveryStatus.SUCCEEDED).exists()

        run_sweeper(tick=1.0, sleep=traveller.shift, should_stop=delivered, max_iterations=30)
    delivery.refresh_from_db()
    assert delivery.delivered_at == START + timedelta(seconds=3)
    assert double.revenue("Placed Order") == 59.5 and len(double.recorded("Placed Order")) == 1
    assert double.flows_fired() == [("Post-purchase", "ann@example.com")]
