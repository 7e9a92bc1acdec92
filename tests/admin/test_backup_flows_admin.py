"""Backup flows in the admin: the destination actions, the dashboard's flow table, the CSV export."""

from __future__ import annotations

import csv
import io

import pytest
import responses
from django.contrib.messages import get_messages
from django.urls import reverse

from destinations.models import BackupFlow, DeliveryStatus
from tests.admin.conftest import DeliveryFactory, DestinationFactory
from tests.factories import EventFactory
from tests.fakes.core import mount
from tests.fakes.klaviyo import KlaviyoDouble
from tests.fakes.klaviyo_flows import KlaviyoFlows

pytestmark = pytest.mark.django_db
KEY = "pk_live_secret_abcd1234"
CHANGELIST = reverse("admin:destinations_destination_changelist")


@pytest.fixture
def double(settings):
    settings.KLAVIYO_API_URL = "https://a.klaviyo.com"
    klaviyo = KlaviyoDouble(api_key=KEY)
    fake = KlaviyoFlows(klaviyo)
    for name in ("Viewed Product", "Added to Cart", "Started Checkout", "Placed Order", "Received Email"):
        fake.add_metric(name)
    fake.add_flow("Abandoned Checkout", metric_id=fake.add_metric("Checkout Started", "Shopify"))
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        mount(rsps, klaviyo, settings.KLAVIYO_API_URL)
        yield fake


def run_action(client, action: str, *destinations):
    data = {"action": action, "_selected_action": [str(d.pk) for d in destinations]}
    return client.post(CHANGELIST, data, follow=True)


def _messages(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def test_dry_run_action_shows_every_body_and_creates_nothing(admin_client, double):
    destination = DestinationFactory(kind="klaviyo", api_key=KEY)

    response = run_action(admin_client, "plan_flows", destination)

    page = response.content.decode()
    assert response.status_code == 200 and "Backup flows: dry run" in page
    assert page.count("POST https://a.klaviyo.com/api/flows") == 3
    assert "utm_campaign" in page and "recapture-backup-abandoned-checkout" in page
    assert double.flows.keys() == {fid for fid, f in double.flows.items() if not f["name"].startswith("Recapture")}
    assert not BackupFlow.objects.exists()


def test_provision_action_creates_drafts_then_reports_without_duplicating(admin_client, double):
    destination = DestinationFactory(kind="klaviyo", api_key=KEY)

    first = _messages(run_action(admin_client, "provision_flows", destination))
    second = _messages(run_action(admin_client, "provision_flows", destination))

    assert sum("created as a draft" in m for m in first) == 3
    assert sum("exists (draft)" in m for m in second) == 3
    assert len([f for f in double.flows.values() if f["name"].startswith("Recapture backup")]) == 3


def test_provision_action_refuses_a_loops_destination(admin_client, double):
    loops = DestinationFactory(kind="loops")
    messages = _messages(run_action(admin_client, "provision_flows", loops))
    assert messages == [f"{loops}: backup flows are a Klaviyo feature."]
    assert double.klaviyo.log == []


def _measured_destination(double):
    destination = DestinationFactory(kind="klaviyo", api_key=KEY)
    from destinations.services.flows import provision_backup_flows, refresh_backup_flow_reports

    provision_backup_flows(destination)
    checkout = BackupFlow.objects.get(destination=destination, kind="abandoned_checkout")
    double.record_sends(checkout.remote_flow_id, recipients=42, conversions=5, value=612.4)
    refresh_backup_flow_reports(destination)
    for identification, count in (("resolved", 3), ("native", 4), ("anonymous", 2)):
        for _ in range(count):
            event = EventFactory(merchant=destination.merchant, type="InitiateCheckout", identification=identification)
            DeliveryFactory(destination=destination, event=event, status=DeliveryStatus.SUCCEEDED)
    return destination


def test_merchant_dashboard_shows_the_flow_table(admin_client, double):
    destination = _measured_destination(double)
    url = reverse("admin:events_merchant_change", args=[destination.merchant_id])

    page = admin_client.get(url).content.decode()

    assert 'id="rc-backup-flows"' in page
    row = page[page.index('data-kind="abandoned_checkout"') :]
    row = row[: row.index("</tr>")]
    assert '<td class="rc-recipients" style="text-align:right">42</td>' in row
    assert '<td class="rc-conversions" style="text-align:right">5</td>' in row
    assert "612.40" in row
    assert "3 resolved / 4 native" in row and "+75.0%" in row
    assert "export.csv?merchant=" in page


def test_flow_csv_export_has_one_row_per_flow(admin_client, double):
    destination = _measured_destination(double)
    url = reverse("admin:destinations_backupflow_export") + f"?merchant={destination.merchant_id}"

    response = admin_client.get(url)

    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    assert len(rows) == 3
    checkout = next(r for r in rows if r["flow"] == "Recapture backup: Abandoned Checkout")
    assert (checkout["recipients"], checkout["conversions"], checkout["revenue"]) == ("42", "5", "612.40")
    assert (checkout["resolved_deliveries"], checkout["native_deliveries"]) == ("3", "4")
    assert checkout["identification_lift_percent"] == "75.0"


@pytest.mark.parametrize("query", ["", "?merchant=abc", "?merchant=999999"])
def test_flow_csv_export_without_a_merchant_is_a_400(admin_client, query):
    response = admin_client.get(reverse("admin:destinations_backupflow_export") + query)
    assert response.status_code == 400


def test_merchant_dashboard_without_klaviyo_has_no_flow_table(admin_client):
    loops = DestinationFactory(kind="loops")
    page = admin_client.get(reverse("admin:events_merchant_change", args=[loops.merchant_id])).content.decode()
    assert "rc-backup-flows" not in page


def test_flow_table_rows_take_two_queries_whatever_the_number_of_flows(double, django_assert_num_queries):
    from destinations.selectors import list_backup_flow_rows

    destination = _measured_destination(double)
    with django_assert_num_queries(2):
        rows = list_backup_flow_rows(destination.merchant)
    assert [r.flow.kind for r in rows] == ["abandoned_cart", "abandoned_checkout", "browse_abandonment"]
    assert [(r.resolved, r.native) for r in rows] == [(0, 0), (3, 4), (0, 0)]
