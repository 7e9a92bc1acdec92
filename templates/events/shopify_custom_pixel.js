// Recapture: paste into Shopify admin > Settings > Customer events > Add custom pixel.
// Each standard event object is forwarded as-is; Recapture normalises it server-side.
// The pixel sandbox may send "Origin: null": add null to the merchant's allowed origins if so.
const RECAPTURE_URL = {{ ingest_url_js }};
const RECAPTURE_WRITE_KEY = {{ write_key_js }};

function recaptureSend(event) {
  const body = JSON.stringify(Object.assign({ writeKey: RECAPTURE_WRITE_KEY }, event));
  fetch(RECAPTURE_URL, {
    method: "POST",
    body: body,
    keepalive: true,
    credentials: "omit",
    headers: { "Content-Type": "text/plain" },
  }).catch(function () {});
}

analytics.subscribe("page_viewed", recaptureSend);
analytics.subscribe("product_viewed", recaptureSend);
analytics.subscribe("product_added_to_cart", recaptureSend);
analytics.subscribe("checkout_started", recaptureSend);
analytics.subscribe("checkout_contact_info_submitted", recaptureSend);
analytics.subscribe("checkout_completed", recaptureSend);
