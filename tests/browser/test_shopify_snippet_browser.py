"""The Shopify Custom Pixel code run in Chromium against stand-in `analytics`, `init`,
`customerPrivacy` and `fetch`.

Checks that the generated code is valid JavaScript, subscribes to every standard event (and
all_custom_events, and no error/UI event), forwards each event object as-is plus writeKey and
the visitor's consent with keepalive, follows consent changes published through
``customerPrivacy.subscribe('visitorConsentCollected', ...)`` (Web Pixels API: "Use the
customerPrivacy Standard API to subscribe to consent collected events and update the status"),
and that what it sends is accepted and normalised by the ingest endpoint.
"""

from __future__ import annotations

import json

import pytest

from events.models import Event
from events.selectors import get_shopify_custom_pixel_code
from tests.events import shopify_payloads as p

pytestmark = pytest.mark.browser

GRANTED = {
    "analyticsProcessingAllowed": True,
    "marketingAllowed": True,
    "preferencesProcessingAllowed": True,
    "saleOfDataAllowed": False,
}
HARNESS = """
window.__handlers = {}; window.__sent = []; window.__privacy = [];
window.analytics = {subscribe: function (name, fn) { window.__handlers[name] = fn; }};
window.init = {customerPrivacy: %s};
window.customerPrivacy = {subscribe: function (name, fn) {
  window.__privacy.push([name, fn]); return Promise.resolve();
}};
window.fetch = function (url, init) { window.__sent.push({url: url, init: init}); return Promise.resolve({}); };
window.__consentChanges = function (status) {
  window.__privacy.forEach(function (s) { if (s[0] === "visitorConsentCollected") s[1]({customerPrivacy: status}); });
};
"""
CONSENT = {"analytics": True, "marketing": True, "preferences": True, "sale_of_data": False}


def _page(browser, merchant, initial=GRANTED):
    page = browser.new_page()
    page.set_content("<html><body></body></html>")
    page.add_script_tag(content=HARNESS % json.dumps(initial))
    page.add_script_tag(content=get_shopify_custom_pixel_code(merchant))
    return page


@pytest.mark.django_db
def test_shopify_custom_pixel_forwards_each_standard_event_as_is(browser, merchant, client, settings):
    settings.PUBLIC_BASE_URL = "https://rc.example.com"
    page = _page(browser, merchant)
    try:
        handlers = page.evaluate("Object.keys(window.__handlers)")
        assert sorted(handlers) == sorted([*p.STANDARD_EVENTS, "all_custom_events"])
        for name, build in p.STANDARD_EVENTS.items():
            page.evaluate("([name, event]) => window.__handlers[name](event)", [name, build()])
        page.evaluate("(event) => window.__handlers['all_custom_events'](event)", p.custom_event())
        sent = page.evaluate("window.__sent")
    finally:
        page.close()

    expected = [*p.STANDARD_EVENTS.values(), p.custom_event]
    assert len(sent) == len(expected)
    for call, build in zip(sent, expected, strict=True):
        assert call["url"] == "https://rc.example.com/api/v1/events"
        init = call["init"]
        assert (init["method"], init["keepalive"], init["headers"]) == ("POST", True, {"Content-Type": "text/plain"})
        assert json.loads(init["body"]) == {"writeKey": merchant.write_key, **build(), "consent": CONSENT}
        response = client.post("/api/v1/events", data=init["body"], content_type="text/plain")
        assert response.status_code == 202, response.content
    types = dict(Event.objects.filter(merchant=merchant).values_list("raw__name", "type"))
    assert types == {
        "page_viewed": "PageView",
        "product_viewed": "ViewContent",
        "collection_viewed": "ViewCollection",
        "search_submitted": "Search",
        "cart_viewed": "ViewCart",
        "product_added_to_cart": "AddToCart",
        "product_removed_from_cart": "RemoveFromCart",
        "checkout_started": "InitiateCheckout",
        "checkout_contact_info_submitted": "Identify",
        "checkout_address_info_submitted": "AddShippingAddress",
        "checkout_shipping_info_submitted": "AddShippingMethod",
        "payment_info_submitted": "AddPaymentInfo",
        "checkout_completed": "Purchase",
        "wishlist_added": "wishlist_added",
    }
    assert all(e.context["consent"] == CONSENT for e in Event.objects.filter(merchant=merchant))


@pytest.mark.django_db
def test_shopify_custom_pixel_follows_consent_changes(browser, merchant, client, settings):
    """Declined on load, granted in the banner, then withdrawn: each event carries the consent of its moment."""
    declined = {**GRANTED, "analyticsProcessingAllowed": False, "marketingAllowed": False}
    page = _page(browser, merchant, initial=declined)
    try:
        subscribed = page.evaluate("window.__privacy.map(function (s) { return s[0]; })")
        assert subscribed == ["visitorConsentCollected"]
        fire = "(event) => window.__handlers['page_viewed'](event)"
        page.evaluate(fire, p.event("page_viewed", event_id="pv-1"))
        page.evaluate("(s) => window.__consentChanges(s)", GRANTED)
        page.evaluate(fire, p.event("page_viewed", event_id="pv-2"))
        page.evaluate("(s) => window.__consentChanges(s)", {**GRANTED, "marketingAllowed": False})
        page.evaluate(fire, p.event("page_viewed", event_id="pv-3"))
        sent = [json.loads(c["init"]["body"]) for c in page.evaluate("window.__sent")]
    finally:
        page.close()
    assert [s["consent"]["analytics"] for s in sent] == [False, True, True]
    assert [s["consent"]["marketing"] for s in sent] == [False, True, False]
    for body in sent:
        assert client.post("/api/v1/events", data=json.dumps(body), content_type="text/plain").status_code == 202
    first, second, _third = (Event.objects.get(event_id=f"pv-{n}") for n in (1, 2, 3))
    assert (first.anonymous_id, first.identifiers) == ("", {})  # stored with nothing identifying
    assert second.anonymous_id == p.CLIENT_ID and second.identifiers["kx"] == "kx_token.ABC123"


@pytest.mark.django_db
def test_shopify_custom_pixel_with_drop_policy_sends_nothing_without_analytics_consent(browser, merchant):
    merchant.consent_policy = "drop"
    merchant.save()
    declined = {**GRANTED, "analyticsProcessingAllowed": False}
    page = _page(browser, merchant, initial=declined)
    try:
        page.evaluate("(e) => window.__handlers['page_viewed'](e)", p.page_viewed())
        assert page.evaluate("window.__sent.length") == 0
        page.evaluate("(s) => window.__consentChanges(s)", GRANTED)
        page.evaluate("(e) => window.__handlers['page_viewed'](e)", p.page_viewed())
        assert page.evaluate("window.__sent.length") == 1
    finally:
        page.close()
