// Recapture: paste into Shopify admin > Settings > Customer events > Add custom pixel.
// Each standard event object is forwarded as-is, with the visitor's consent; Recapture
// normalises it server-side. Errors and UI noise (alert_displayed, ui_extension_errored,
// clicks and form inputs) are not subscribed to.
// The pixel sandbox may send "Origin: null": add null to the merchant's allowed origins if so.
const RECAPTURE_URL = {{ ingest_url_js }};
const RECAPTURE_WRITE_KEY = {{ write_key_js }};
const RECAPTURE_CONSENT_POLICY = {{ consent_policy_js }};

// init.customerPrivacy: the consent when the page rendered; visitorConsentCollected: each change.
function recaptureConsentOf(status) {
  const out = {};
  if (!status) return out;
  [["analyticsProcessingAllowed", "analytics"], ["marketingAllowed", "marketing"],
   ["preferencesProcessingAllowed", "preferences"], ["saleOfDataAllowed", "sale_of_data"]]
    .forEach(function (pair) { if (typeof status[pair[0]] === "boolean") out[pair[1]] = status[pair[0]]; });
  return out;
}
let recaptureConsent = recaptureConsentOf(typeof init !== "undefined" && init && init.customerPrivacy);
if (typeof customerPrivacy !== "undefined" && customerPrivacy && customerPrivacy.subscribe) {
  customerPrivacy.subscribe("visitorConsentCollected", function (event) {
    recaptureConsent = recaptureConsentOf(event && event.customerPrivacy);
  });
}

function recaptureSend(event) {
  if (RECAPTURE_CONSENT_POLICY === "drop" && recaptureConsent.analytics === false) return;
  const body = JSON.stringify(Object.assign({ writeKey: RECAPTURE_WRITE_KEY }, event, { consent: recaptureConsent }));
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
analytics.subscribe("collection_viewed", recaptureSend);
analytics.subscribe("search_submitted", recaptureSend);
analytics.subscribe("cart_viewed", recaptureSend);
analytics.subscribe("product_added_to_cart", recaptureSend);
analytics.subscribe("product_removed_from_cart", recaptureSend);
analytics.subscribe("checkout_started", recaptureSend);
analytics.subscribe("checkout_contact_info_submitted", recaptureSend);
analytics.subscribe("checkout_address_info_submitted", recaptureSend);
analytics.subscribe("checkout_shipping_info_submitted", recaptureSend);
analytics.subscribe("payment_info_submitted", recaptureSend);
analytics.subscribe("checkout_completed", recaptureSend);
analytics.subscribe("all_custom_events", recaptureSend);
