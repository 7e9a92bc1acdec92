"""Each console screen a support agent lives in, at 1440x900 in headless Chromium.

Data is written before the browser starts (the test thread stays off the database while
the browser drives the serial live server). Screenshots go to docs/screenshots/ with
UPDATE_SCREENSHOTS=1 (viewport-sized: what a 1440x900 laptop shows without scrolling).
"""

from __future__ import annotations

import re
import socket

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from tests.admin.conftest import AttemptFactory, DeliveryFactory, DestinationFactory, ProfileFactory
from tests.factories import EventFactory, MerchantFactory

pytestmark = pytest.mark.browser
PASSWORD = "screens-pass-123"


@pytest.fixture
def console(console_server, settings):
    settings.PUBLIC_BASE_URL = console_server
    get_user_model().objects.create_superuser("staff", "staff@example.com", PASSWORD)
    return console_server


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()


def a_busy_store(base: str):
    """A merchant with events in every identification state and deliveries in every delivery state."""
    merchant = MerchantFactory(name="Acme Outdoor", shop_domain="acme-outdoor.myshopify.com", allowed_origins=[base])
    klaviyo = DestinationFactory(merchant=merchant, name="Acme Klaviyo")
    loops = DestinationFactory(merchant=merchant, name="Acme Loops (dry run)", kind="loops", dry_run=True)
    shopper = ProfileFactory(merchant=merchant, email="ann@example.com")
    states = [
        ("native", "succeeded", 1, ""),
        ("resolved", "succeeded", 1, ""),
        ("resolved", "pending", 2, "HTTP 503: Service Unavailable (retry in 3 min)"),
        ("anonymous", "held", 0, ""),
        ("resolved", "dead", 1, "HTTP 400: 'email' is not a valid email address"),
        ("resolved", "pending", 0, ""),
    ]
    for identification, status, attempts, error in states:
        event = EventFactory(
            merchant=merchant,
            type="AddToCart",
            identification=identification,
            profile=None if identification == "anonymous" else shopper,
            properties={"ProductName": "Trail Jacket", "Price": 129.0, "Currency": "USD"},
        )
        DeliveryFactory(event=event, destination=klaviyo, status=status, attempts=attempts, last_error=error)
        dry = DeliveryFactory(event=event, destination=loops, status="succeeded", attempts=1, dry_run=True)
        AttemptFactory(
            delivery=dry,
            url="https://app.loops.so/api/v1/events/send",
            status_code=None,
            dry_run=True,
            request_body={"email": "ann@example.com", "eventName": "Added to Cart", "productName": "Trail Jacket"},
        )
    return merchant, klaviyo, event


def test_dashboard_legends_show_every_count(console, page, screenshot):
    merchant, _, _ = a_busy_store(console)
    log_in(page, console)
    page.goto(f"{console}/admin/events/merchant/{merchant.pk}/change/")
    card = page.locator("[data-window='24h']")
    legend = card.locator("text.rc-legend")
    for label in ("identified 1", "resolved by Recapture 4", "anonymous 1", "processing 0"):
        expect(legend.filter(has_text=label)).to_have_count(1)
    for label in ("succeeded 2", "retrying 1", "pending 1", "held 1", "dead 1", "dry run 6"):
        expect(card.locator(".rc-dest text.rc-legend").filter(has_text=re.compile(f"^{label}$"))).to_have_count(1)
    for text in card.locator("svg.rc-chart").all():  # every legend item inside its chart's box, none clipped
        box = text.bounding_box()
        for item in text.locator("text.rc-legend").all():
            inner = item.bounding_box()
            assert inner["x"] + inner["width"] <= box["x"] + box["width"] + 1
            assert inner["y"] + inner["height"] <= box["y"] + box["height"] + 1
    expect(card.locator(".rc-lift")).to_have_text("4")
    expect(card).to_contain_text("more events with a known shopper, thanks to Recapture")
    expect(card).not_to_contain_text("lift (resolved vs. native)")
    page.locator("#rc-dashboard").scroll_into_view_if_needed()
    screenshot("dashboard-every-state", full_page=False)


def test_lists_show_the_important_columns_at_1440(console, page, screenshot):
    a_busy_store(console)
    log_in(page, console)
    page.goto(f"{console}/admin/events/event/")
    for column in ("Identified", "Deliveries"):
        header = page.locator("#result_list thead th", has_text=re.compile(rf"^\s*{column}\s*$", re.I))
        box = header.bounding_box()
        assert box["x"] + box["width"] <= 1440, column  # on screen, no horizontal scrolling
    expect(page.locator("#result_list tbody tr").first.locator("a.rc-chip").first).to_contain_text("Acme")
    screenshot("events", full_page=False)
    page.goto(f"{console}/admin/destinations/delivery/")
    header = page.locator("#result_list thead th", has_text=re.compile(r"^\s*Last error\s*$", re.I))
    box = header.bounding_box()
    assert box["x"] + box["width"] <= 1440
    expect(page.locator("#result_list")).to_contain_text("'email' is not a valid email address")
    expect(page.locator("#result_list .rc-chip", has_text=re.compile("^retrying$"))).to_have_count(1)
    expect(page.locator("#result_list .rc-chip", has_text=re.compile("^Pending$"))).to_have_count(0)
    screenshot("deliveries-every-state", full_page=False)


def test_dry_run_request_body_is_viewable_and_not_called_succeeded(console, page, screenshot):
    _, _, event = a_busy_store(console)
    log_in(page, console)
    page.goto(f"{console}/admin/events/event/{event.pk}/change/")
    block = page.locator(".rc-delivery", has_text="Acme Loops (dry run)")
    expect(block.locator(".rc-chip").first).to_have_text("dry run")
    block.locator("details.rc-request-body summary").click()
    expect(block.locator("details.rc-request-body pre")).to_contain_text('"eventName": "Added to Cart"')
    block.scroll_into_view_if_needed()
    screenshot("event-dry-run-body", full_page=False)


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]  # closed again when we return: connections are refused


def test_test_button_unreachable_platform_keeps_edits_and_says_unverified(console, page, settings, screenshot):
    settings.KLAVIYO_API_URL = f"http://127.0.0.1:{_closed_port()}"
    merchant, klaviyo, _ = a_busy_store(console)
    log_in(page, console)
    page.goto(f"{console}/admin/events/merchant/{merchant.pk}/change/")
    page.fill("#id_name", "Acme Outdoor (edited, not saved)")
    inline = page.locator(".inline-related", has=page.locator(f"button[data-destination='{klaviyo.pk}']"))
    inline.locator("button.rc-test-destination").click()
    result = inline.locator(".rc-test-result")
    expect(result).to_have_text("Couldn't reach Klaviyo (connection refused); the key was not checked.")
    expect(inline.locator(".rc-health .rc-chip")).to_have_text("unverified")
    expect(page.locator("#id_name")).to_have_value("Acme Outdoor (edited, not saved)")
    assert "/test/" not in page.url  # no navigation
    inline.scroll_into_view_if_needed()
    screenshot("destination-test-unreachable", full_page=False)


def test_rotating_the_write_key_asks_first_and_reminds_to_reinstall(console, page):
    merchant, _, _ = a_busy_store(console)
    old_key = merchant.write_key
    log_in(page, console)
    page.goto(f"{console}/admin/events/merchant/")
    page.check(f"input.action-select[value='{merchant.pk}']")
    page.select_option("select[name=action]", "rotate_write_key")
    page.click("button[name=index]")
    expect(page.locator("#rc-confirm")).to_contain_text("The current write key is refused at once")
    page.click("text=No, take me back")
    expect(page.locator("#result_list")).to_contain_text(old_key[-4:])  # nothing rotated
    page.check(f"input.action-select[value='{merchant.pk}']")
    page.select_option("select[name=action]", "rotate_write_key")
    page.click("button[name=index]")
    page.click("#rc-confirm-yes")
    expect(page.locator(".messagelist")).to_contain_text(
        "re-install the pixel snippet and the Shopify Custom Pixel code"
    )
    expect(page.locator("#result_list")).not_to_contain_text(old_key[-4:])


def test_ingest_problems_from_a_refused_origin_and_an_unknown_type(console, page, settings, screenshot):
    settings.INGEST_PROBLEMS_FLUSH_SECONDS = 0  # each refusal written at once (the 1 s tally has its own test)
    merchant, _, _ = a_busy_store(console)
    key = merchant.write_key
    log_in(page, console)
    api = page.context.request
    event = {"event_id": "e1", "type": "AddToKart", "anonymous_id": "a1", "properties": {"Price": 5}}
    accepted = api.post(f"{console}/api/v1/events", data=event, headers={"X-Write-Key": key, "Origin": console})
    assert accepted.status == 202 and accepted.json()["warnings"][0]["code"] == "unknown_event_type"
    for i in range(3):
        refused = api.post(
            f"{console}/api/v1/events",
            data={**event, "event_id": f"x{i}", "type": "AddToCart"},
            headers={"X-Write-Key": key, "Origin": "https://acme-outdoor.com"},
        )
        assert refused.status == 403
    page.goto(f"{console}/admin/events/merchant/{merchant.pk}/change/")
    page.click("#rc-problems-link")
    rows = page.locator("tr.rc-problem")
    expect(rows).to_have_count(2)
    origin_row = page.locator("tr.rc-problem[data-reason='origin']")
    expect(origin_row.locator(".rc-count")).to_have_text("3")
    expect(origin_row.locator(".rc-origins")).to_contain_text("https://acme-outdoor.com 3")
    expect(origin_row.locator(".rc-sample")).not_to_contain_text(key)
    expect(page.locator("tr.rc-problem[data-reason='unknown_type']")).to_contain_text("did you mean AddToCart?")
    screenshot("ingest-problems", full_page=False)


def test_home_links_the_live_stream_and_dashboards_root_and_favicon(console, page, screenshot):
    merchant, _, _ = a_busy_store(console)
    page.goto(f"{console}/")
    expect(page).to_have_url(re.compile(r"/admin/login/"))  # not a debug 404
    log_in(page, console)
    page.goto(f"{console}/")
    expect(page.locator("#rc-console-home a", has_text="Live event stream")).to_have_attribute(
        "href", "/admin/events/event/live/"
    )
    row = page.locator("tr.rc-home-merchant", has_text="Acme Outdoor")
    expect(row.locator("a", has_text="Dashboard")).to_have_attribute(
        "href", f"/admin/events/merchant/{merchant.pk}/change/#rc-dashboard"
    )
    expect(row.locator("a", has_text="Ingest problems")).to_be_visible()
    icon = page.context.request.get(f"{console}/favicon.ico")
    assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg")
    screenshot("console-home", full_page=False)


def test_api_docs_render_offline(console, page, screenshot):
    outside: list[str] = []

    def offline(route):
        if route.request.url.startswith(console):
            return route.continue_()
        outside.append(route.request.url)
        return route.abort()

    page.route("**/*", offline)
    page.goto(f"{console}/api/docs/")
    expect(page.locator("h1", has_text="Recapture API")).to_be_visible()
    assert outside == []  # nothing asked of a CDN or a font service
    screenshot("api-docs", full_page=False)
