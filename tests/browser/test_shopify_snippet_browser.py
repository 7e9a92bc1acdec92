"""The Shopify Custom Pixel code run in Chromium with a stand-in `analytics` bus and `fetch`.

Checks that the generated code is valid JavaScript, subscribes to every standard event
and forwards each event object as-is (plus writeKey) with keepalive, and that what it
sends is accepted and normalised by the ingest endpoint.
"""

from __future__ import annotations

import json

import pytest

from events.models import Event
from events.selectors import get_shopify_custom_pixel_code
from tests.events import shopify_payloads as p

pytestmark = pytest.mark.browser

HARNESS = """
window.__handlers = {}; window.__sent = [];
window.analytics = {subscribe: function (name, fn) { window.__handlers[name] = fn; }};
window.fetch = function (url, init) { window.__sent.push({url: url, init: init}); return Promise.resolve({}); };
"""

PAYLOADS = {
    "page_viewed": p.page_viewed,
    "product_viewed": p.product_viewed,
    "product_added_to_cart": p.product_added_to_cart,
    "checkout_started": p.checkout_started,
    "checkout_contact_info_submitted": p.checkout_contact_info_submitted,
    "checkout_completed": p.checkout_completed,
}


@pytest.mark.django_db
def test_shopify_custom_pixel_forwards_each_standard_event_as_is(browser, merchant, client, settings):
    settings.PUBLIC_BASE_URL = "https://rc.example.com"
    page = browser.new_page()
    try:
        page.set_content("<html><body></body></html>")
        page.add_script_tag(content=HARNESS)
        page.add_script_tag(content=get_shopify_custom_pixel_code(merchant))
        assert sorted(page.evaluate("Object.keys(window.__handlers)")) == sorted(PAYLOADS)
        for name, build in PAYLOADS.items():
            page.evaluate("([name, event]) => window.__handlers[name](event)", [name, build()])
        sent = page.evaluate("window.__sent")
    finally:
        page.close()

    assert len(sent) == len(PAYLOADS)
    for call, (name, build) in zip(sent, PAYLOADS.items(), strict=True):
        assert call["url"] == "https://rc.example.com/api/v1/events"
        init = call["init"]
        assert (init["method"], init["keepalive"], init["headers"]) == ("POST", True, {"Content-Type": "text/plain"})
        assert json.loads(init["body"]) == {"writeKey": merchant.write_key, **build()}, name
        response = client.post("/api/v1/events", data=init["body"], content_type="text/plain")
        assert response.status_code == 202, response.content
    types = dict(Event.objects.filter(merchant=merchant).values_list("raw__name", "type"))
    assert types == {
        "page_viewed": "PageView",
        "product_viewed": "ViewContent",
        "product_added_to_cart": "AddToCart",
        "checkout_started": "InitiateCheckout",
        "checkout_contact_info_submitted": "Identify",
        "checkout_completed": "Purchase",
    }
