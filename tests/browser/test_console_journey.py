"""The support journey in a real browser: onboard, configure Klaviyo, see events flow, replay.

Headless Chromium (Playwright) against a live server on 127.0.0.1; Klaviyo is a local
fake on 127.0.0.1. Tasks run inline (Q_SYNC), so deliveries happen in the server
thread. Every wait is a Playwright expectation (polled with a deadline); the test
thread never reads the database while the browser drives the server.
"""

from __future__ import annotations

import json
import re

import pytest
from django.contrib.auth import get_user_model
from playwright.sync_api import Page, expect

from events.demo import DEMO_DOMAIN

pytestmark = pytest.mark.browser

PASSWORD = "browser-pass-123"
API_KEY = "pk_browser_test_key_7777"


@pytest.fixture
def console(console_server, settings, fake_klaviyo):
    settings.PUBLIC_BASE_URL = console_server
    settings.KLAVIYO_API_URL = fake_klaviyo.url
    settings.DEMO_STORE_ENABLED = True
    get_user_model().objects.create_superuser("staff", "staff@example.com", PASSWORD)
    return console_server


def log_in(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/login/")
    page.fill("#id_username", "staff")
    page.fill("#id_password", PASSWORD)
    page.click("input[type=submit]")
    expect(page.locator("#site-name")).to_be_visible()


def create_merchant(page: Page, base: str) -> None:
    page.goto(f"{base}/admin/events/merchant/add/")
    page.fill("#id_name", "Demo Store")
    page.fill("#id_shop_domain", DEMO_DOMAIN)
    page.fill("#id_allowed_origins", base)  # one origin per line, no JSON
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist code.rc-secret")).to_have_text(re.compile(r"^whsec_\S{20,}$"))
    expect(page.locator("#rc-pixel-snippet")).to_contain_text("pixel.js?key=wk_")
    expect(page.locator("#rc-shopify-pixel")).to_contain_text("analytics.subscribe")
    page.reload()  # the secret is shown once
    expect(page.locator("code.rc-secret")).to_have_count(0)


def add_klaviyo_and_test(page: Page, fake, screenshot) -> None:
    page.click("#destinations-group .add-row a")
    page.fill("#id_destinations-0-name", "Klaviyo")
    page.select_option("#id_destinations-0-kind", "klaviyo")
    page.fill("#id_destinations-0-api_key", API_KEY)
    page.click("input[name=_continue]")
    expect(page.locator(".messagelist")).to_contain_text("was changed successfully")
    expect(page.locator("#destinations-group")).to_contain_text("7777")
    assert API_KEY not in page.content()
    expect(page.locator("#id_destinations-0-api_key")).to_have_value("")
    page.fill("#id_destinations-0-metric_suffix", " - Recapture")  # an unsaved edit
    page.click("button.rc-test-destination")
    expect(page.locator(".rc-test-result")).to_contain_text("Klaviyo accepted the key (HTTP 200)")
    expect(page.locator("#destinations-group .rc-health .rc-chip")).to_have_text("verified")
    expect(page.locator("#id_destinations-0-metric_suffix")).to_have_value(" - Recapture")  # the edit is still there
    # the platform answered the Test button's reads, and nothing was written to it
    assert fake.paths()[0] == "/api/accounts" and fake.methods() == {"GET"}
    screenshot("merchant-onboarding")
    page.fill("#id_destinations-0-metric_suffix", "")


def row(page: Page, event_type: str):
    return page.locator("tr.rc-live-row", has=page.locator("td.rc-type", has_text=re.compile(f"^{event_type}$")))


def shop_and_watch(store: Page, live: Page, base: str, fake, screenshot) -> None:
    live.goto(f"{base}/admin/events/event/live/")
    store.goto(f"{base}/demo/store/")
    store.wait_for_function("window.recapture && window.recapture._loaded === true")
    store.click("#view-product")
    store.click("#add-to-cart")
    store.fill("#email", "alex@demo-shopper.com")
    store.click("#start-checkout")
    expect(row(live, "InitiateCheckout").locator(".rc-deliveries")).to_contain_text("Klaviyo: succeeded")
    expect(row(live, "InitiateCheckout").locator(".rc-profile")).to_have_text("alex@demo-shopper.com")
    # the earlier anonymous events were resolved to the shopper and forwarded too
    expect(row(live, "AddToCart").locator(".rc-identification")).to_have_text("resolved")
    expect(row(live, "AddToCart").locator(".rc-deliveries")).to_contain_text("Klaviyo: succeeded")
    chip = row(live, "AddToCart").locator(".rc-deliveries a.rc-chip").first  # named after the destination, a link
    expect(chip).to_have_attribute("href", re.compile(r"^/admin/destinations/delivery/\d+/change/$"))

    fake.fail_status = 400  # Klaviyo rejects the order: its delivery is dead at once
    store.click("#buy")
    expect(row(live, "Purchase").locator(".rc-deliveries")).to_contain_text("Klaviyo: dead")
    fake.fail_status = None

    live.select_option("select[name=delivery_status]", "dead")
    expect(live.locator("tr.rc-live-row")).to_have_count(1)
    live.select_option("select[name=delivery_status]", "")
    expect(row(live, "ViewContent")).to_have_count(1)
    screenshot("live-stream", page=live)


def open_dead_event(live: Page, screenshot) -> None:
    row(live, "Purchase").locator("a").first.click()
    expect(live.locator(".rc-delivery")).to_contain_text("Fake rejection for the test")
    expect(live.locator(".rc-status-code").first).to_have_text("400")
    screenshot("event-detail", page=live)


def replay_dead(page: Page, base: str, screenshot) -> None:
    page.goto(f"{base}/admin/destinations/delivery/")
    page.click("a.rc-dead-letters")
    expect(page.locator("#result_list tbody tr")).to_have_count(1)
    page.check("#action-toggle")
    page.select_option("select[name=action]", "replay")
    page.click("button[name=index]")
    expect(page.locator(".messagelist")).to_contain_text("1 deliveries queued for replay.")
    page.goto(f"{base}/admin/destinations/delivery/?state=dead")
    expect(page.locator("#result_list tbody tr")).to_have_count(0)
    page.goto(f"{base}/admin/destinations/delivery/")
    expect(page.locator("#result_list")).not_to_contain_text("dead")
    screenshot("deliveries")


def test_support_journey_from_onboarding_to_replay(console, page, fake_klaviyo, screenshot):
    log_in(page, console)
    create_merchant(page, console)
    add_klaviyo_and_test(page, fake_klaviyo.fake, screenshot)
    merchant_url = page.url
    live = page.context.new_page()
    shop_and_watch(page, live, console, fake_klaviyo.fake, screenshot)
    open_dead_event(live, screenshot)
    live.close()
    replay_dead(page, console, screenshot)

    events = [json.loads(r.body) for r in fake_klaviyo.fake.requests if r.path == "/api/events" and r.body]
    metrics = [b["data"]["attributes"]["metric"]["data"]["attributes"]["name"] for b in events]
    assert {"Viewed Product", "Added to Cart", "Started Checkout"} <= set(metrics)
    assert metrics.count("Placed Order") == 2  # rejected once, then replayed
    page.goto(merchant_url)
    expect(page.locator("[data-window='24h'] .rc-total-events")).not_to_have_text("0")
    expect(page.locator("[data-window='24h'] .rc-dest").first).to_contain_text("Klaviyo")
    screenshot("merchant-dashboard")
