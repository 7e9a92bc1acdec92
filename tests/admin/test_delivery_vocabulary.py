"""One delivery vocabulary on every page: a failed delivery is "retrying" everywhere, a dry run is never "succeeded"."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from config.admin import delivery_state
from console.charts import dashboard_charts
from console.dashboard import get_merchant_dashboard
from tests.admin.conftest import AttemptFactory, DeliveryFactory, DestinationFactory

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("status", "attempts", "dry_run", "state"),
    [
        ("pending", 0, False, "pending"),
        ("pending", 2, False, "retrying"),
        ("sending", 1, False, "retrying"),
        ("succeeded", 1, False, "succeeded"),
        ("succeeded", 1, True, "dry run"),
        ("held", 0, False, "held"),
        ("dead", 3, False, "dead"),
    ],
)
def test_delivery_state_words(status, attempts, dry_run, state):
    assert delivery_state(status, attempts, dry_run) == state


def _chip_words(html: str) -> set[str]:
    return set(re.findall(r'class="rc-chip rc-status-([a-z-]+)"', html))


def test_a_failed_delivery_reads_retrying_on_every_page(admin_client, merchant):
    destination = DestinationFactory(merchant=merchant, name="Shop Klaviyo")
    delivery = DeliveryFactory(destination=destination, status="pending", attempts=2, last_error="HTTP 503")
    event_id = delivery.event_id

    pages = {
        "deliveries": admin_client.get(reverse("admin:destinations_delivery_changelist")).content.decode(),
        "delivery": admin_client.get(
            reverse("admin:destinations_delivery_change", args=[delivery.pk])
        ).content.decode(),
        "events": admin_client.get(reverse("admin:events_event_changelist")).content.decode(),
        "event": admin_client.get(reverse("admin:events_event_change", args=[event_id])).content.decode(),
    }
    for name in ("deliveries", "events", "event"):
        assert _chip_words(pages[name]) >= {"retrying"}, name
        assert "Pending" not in re.findall(r'class="rc-chip[^>]*>([^<]*)<', pages[name]), name
    assert "Shop Klaviyo: retrying" in pages["events"]
    live = admin_client.get(reverse("admin:events_event_live_json")).json()["events"][0]["deliveries"][0]
    assert (live["destination"], live["state"]) == ("Shop Klaviyo", "retrying")
    charts = dashboard_charts(get_merchant_dashboard(merchant))
    assert charts["24h"]["stats"].deliveries == {"Shop Klaviyo (klaviyo)": {"retrying": 1}}
    # the filters use the same words
    filtered = admin_client.get(reverse("admin:destinations_delivery_changelist"), {"state": "retrying"})
    assert len(filtered.context["cl"].result_list) == 1
    events = admin_client.get(reverse("admin:events_event_changelist"), {"delivery_status": "retrying"})
    assert len(events.context["cl"].result_list) == 1


def test_a_dry_run_is_not_called_succeeded_and_its_request_body_is_viewable(admin_client, merchant):
    destination = DestinationFactory(merchant=merchant, name="Demo Klaviyo", dry_run=True)
    delivery = DeliveryFactory(destination=destination, status="succeeded", attempts=1, dry_run=True)
    body = {"data": {"type": "event", "attributes": {"metric": {"data": {"attributes": {"name": "Added to Cart"}}}}}}
    AttemptFactory(delivery=delivery, status_code=None, dry_run=True, request_body=body)

    event_page = admin_client.get(reverse("admin:events_event_change", args=[delivery.event_id])).content.decode()
    assert "Demo Klaviyo" in event_page and _chip_words(event_page) >= {"dry-run"}
    assert "dry run: not sent" in event_page
    assert '<details class="rc-request-body"><summary>Request body</summary>' in event_page
    assert "Added to Cart" in event_page
    delivery_page = admin_client.get(reverse("admin:destinations_delivery_change", args=[delivery.pk])).content.decode()
    assert "Added to Cart" in delivery_page
    live = admin_client.get(reverse("admin:events_event_live_json")).json()["events"][0]["deliveries"][0]
    assert live["state"] == "dry run"
    stats = get_merchant_dashboard(merchant)["24h"]
    assert stats.deliveries == {"Demo Klaviyo (klaviyo)": {"dry run": 1}}
