"""Backup flows in a real browser: dry run, provision, refresh the report, read the dashboard's table.

Headless Chromium against a live server; Klaviyo is the semantic double (with its flows,
metrics and reports) served over HTTP on 127.0.0.1. The data is arranged before the
browser starts; afterwards only the double (not the database) is read.
"""

from __future__ import annotations

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from destinations.models import DeliveryStatus
from tests.admin.conftest import DeliveryFactory, DestinationFactory
from tests.browser.test_console_journey import PASSWORD, log_in
from tests.factories import EventFactory, MerchantFactory
from tests.fakes.core import DoubleServer
from tests.fakes.klaviyo import KlaviyoDouble
from tests.fakes.klaviyo_flows import KlaviyoFlows

pytestmark = pytest.mark.browser
KEY = "pk_browser_flows_key_4242"
SUFFIX = " - Recapture"


@pytest.fixture
def account():
    klaviyo = KlaviyoDouble(api_key=KEY)
    flows = KlaviyoFlows(klaviyo)
    for name in ("Viewed Product", "Added to Cart", "Received Email", "Placed Order"):
        flows.add_metric(name, "Shopify")
    for name in ("Viewed Product", "Added to Cart", "Started Checkout", "Placed Order"):
        flows.add_metric(name + SUFFIX)
    flows.add_flow("Abandoned Checkout (Shopify)", metric_id=flows.add_metric("Checkout Started", "Shopify"))
    with DoubleServer(klaviyo) as server:
        yield flows, server.url


@pytest.fixture
def shop(console_server, settings, account):
    flows, url = account
    settings.KLAVIYO_API_URL = url
    get_user_model().objects.create_superuser("staff", "staff@example.com", PASSWORD)
    merchant = MerchantFactory(name="Northwind Outfitters", shop_domain="northwind.myshopify.com")
    destination = DestinationFactory(merchant=merchant, name="Northwind Klaviyo", api_key=KEY, metric_suffix=SUFFIX)
    for event_type, resolved, native in (
        ("InitiateCheckout", 37, 52),
        ("AddToCart", 61, 140),
        ("ViewContent", 212, 630),
    ):
        for identification, count in (("resolved", resolved), ("native", native)):
            for _ in range(count):
                event = EventFactory(merchant=merchant, type=event_type, identification=identification)
                DeliveryFactory(destination=destination, event=event, status=DeliveryStatus.SUCCEEDED)
    return console_server, merchant, destination, flows


def run_action(page: Page, base: str, destination_pk: int, label: str) -> None:
    page.goto(f"{base}/admin/destinations/destination/")
    page.check(f"input[name=_selected_action][value='{destination_pk}']")
    page.select_option("select[name=action]", label=label)
    page.click("button[name=index]")


def test_backup_flows_dry_run_provision_and_dashboard(page, shop, screenshot):
    base, merchant, destination, flows = shop
    log_in(page, base)

    run_action(page, base, destination.pk, "Dry run: show the backup flow bodies (nothing is created)")
    expect(page.locator("h1")).to_have_text("Backup flows: dry run")
    expect(page.locator("tr.rc-line td.rc-outcome")).to_have_text(["planned", "planned", "planned"])
    expect(page.locator("details.rc-planned")).to_have_count(6)
    expect(page.locator(".rc-body").first).to_contain_text('"editor_type": "CODE"')
    expect(page.locator(".rc-body").nth(1)).to_contain_text('"utm_campaign"')
    screenshot("backup-flows-dry-run")
    assert flows.flows.keys() == {next(iter(flows.flows))}  # only the merchant's own flow

    page.click("input[value='Provision these flows now (as drafts)']")
    expect(page.locator(".messagelist .success")).to_have_count(3)
    expect(page.locator(".messagelist")).to_contain_text("created as a draft")
    screenshot("backup-flows-provisioned")
    ours = {fid: f for fid, f in flows.flows.items() if f["name"].startswith("Recapture backup")}
    assert len(ours) == 3 and {f["status"] for f in ours.values()} == {"draft"}

    measured = {"Browse": (1840, 29, 2315.80), "Cart": (655, 41, 3920.45), "Checkout": (402, 38, 4410.00)}
    for fid, flow in ours.items():
        recipients, conversions, value = next(v for k, v in measured.items() if k in flow["name"])
        flows.record_sends(fid, recipients=recipients, conversions=conversions, value=value)
    run_action(page, base, destination.pk, "Refresh backup flow reports (Klaviyo reporting API)")
    expect(page.locator(".messagelist")).to_contain_text("3 backup flow reports refreshed")

    page.goto(f"{base}/admin/events/merchant/{merchant.pk}/change/")
    table = page.locator("#rc-backup-flows")
    checkout = table.locator("tr.rc-flow[data-kind=abandoned_checkout]")
    expect(checkout.locator("td.rc-recipients")).to_have_text("402")
    expect(checkout.locator("td.rc-conversions")).to_have_text("38")
    expect(checkout.locator("td.rc-flow-revenue")).to_have_text("4410.00")
    expect(checkout.locator("td.rc-flow-lift")).to_contain_text("37 resolved / 52 native")
    expect(table.locator("a.rc-flows-csv")).to_be_visible()
    table.scroll_into_view_if_needed()
    path = screenshot("backup-flows-dashboard-page")
    table.screenshot(path=str(path.with_name("backup-flows-dashboard.png")))
