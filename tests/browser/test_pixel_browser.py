"""pixel.js in headless Chromium: cookie, click ids/UTMs kept for the session, sendBeacon to ingest.

The storefront is a tiny HTTP server on 127.0.0.1 (ephemeral port, a different origin
from the Recapture live server), so the beacons are real cross-origin requests checked
against the merchant's allowed origins. Every wait is a Playwright expectation.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from events.models import Event
from tests.factories import MerchantFactory

pytestmark = pytest.mark.browser

STORE_PAGE = """<!doctype html><html><head><title>Store</title>
<script>
window.recapture = [["track", "AddToCart", {"ProductID": "8266836345064", "Price": 59, "Quantity": 1}]];
</script>
<script src="%(pixel)s"></script></head>
<body><button id="identify" onclick="recapture.identify('ada@example.com', {first_name: 'Ada'}); recapture.flush();">
Sign up</button></body></html>"""


class _StoreHandler(BaseHTTPRequestHandler):
    pixel_url = ""

    def do_GET(self):
        body = (STORE_PAGE % {"pixel": self.pixel_url}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        return


@pytest.fixture
def store():
    server = ThreadingHTTPServer(("127.0.0.1", 0), _StoreHandler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield server, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def _is_ingest(request) -> bool:
    return request.url.endswith("/api/v1/events") and request.method == "POST"


def _wait_until(page, condition, deadline_ms: int = 10_000) -> None:
    """Poll with a deadline (Playwright cannot read sendBeacon bodies, so requests are counted)."""
    waited = 0
    while not condition() and waited < deadline_ms:
        page.wait_for_timeout(50)
        waited += 50
    assert condition()


def test_pixel_in_browser_sends_beacons_with_cookie_click_ids_and_utms(browser, console_server, store, settings):
    _server, store_url = store
    settings.PUBLIC_BASE_URL = console_server
    merchant = MerchantFactory(allowed_origins=[store_url])
    _StoreHandler.pixel_url = f"{console_server}/pixel.js?key={merchant.write_key}"
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    sent, done, statuses = [], [], []
    page.on("request", lambda r: _is_ingest(r) and sent.append(r))
    page.on("requestfinished", lambda r: _is_ingest(r) and (done.append(r), statuses.append(r.response().status)))
    try:
        page.clock.install()  # the pixel's 1 s batching timer fires only when the test says so
        landing = f"{store_url}/products/linen-shirt?gclid=G-123&_kx=KX.abc&utm_source=google&utm_campaign=spring"
        page.goto(landing)
        assert sent == []  # PageView + the queued AddToCart wait for the batch timer
        page.clock.run_for(1000)
        _wait_until(page, lambda: len(sent) == 1 and len(done) == 1)
        page.goto(f"{store_url}/cart")
        page.click("#identify")  # identify() then flush(): PageView, AddToCart and Identify in one beacon
        _wait_until(page, lambda: len(sent) == 2 and len(done) == 2)
        cookies = {c["name"]: c for c in context.cookies(store_url)}
    finally:
        context.close()

    assert statuses and set(statuses) == {202}
    aid = cookies["_rc_aid"]
    assert aid["sameSite"] == "Lax" and aid["expires"] > 0
    events = list(Event.objects.filter(merchant=merchant).order_by("id"))
    types = [e.type for e in events]
    assert types.count("PageView") == 2 and types.count("AddToCart") == 2 and types.count("Identify") == 1
    assert {e.anonymous_id for e in events} == {aid["value"]}
    assert all(e.source == "pixel" for e in events)
    for event in events:  # kept for the session, also on /cart which has no query string
        assert event.identifiers["gclid"] == "G-123" and event.identifiers["kx"] == "KX.abc"
        assert event.context["utm"] == {"source": "google", "campaign": "spring"}
    identify = next(e for e in events if e.type == "Identify")
    assert identify.identifiers["email"] == "ada@example.com"
    assert identify.traits == {"first_name": "Ada"}
    assert identify.context["url"] == f"{store_url}/cart"
    add = next(e for e in events if e.type == "AddToCart")
    assert add.properties == {"ProductID": "8266836345064", "Price": 59, "Quantity": 1}
