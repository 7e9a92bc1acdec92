/* Recapture pixel: first-party anonymous id, click ids and UTMs, batched sendBeacon. */
(function (w, d) {
  "use strict";
  var KEY = {{ write_key_js }};
  var URL_ = {{ ingest_url_js }};
  var POLICY = {{ consent_policy_js }};
  var COOKIE = "_rc_aid", SESSION = "_rc_attr", MAX_BATCH = 20, FLUSH_MS = 1000;
  var CLICK_IDS = ["fbclid", "gclid", "gbraid", "wbraid", "ttclid", "msclkid"];
  var UTMS = ["source", "medium", "campaign", "term", "content"];
  if (w.recapture && w.recapture._loaded) return;
  var queue = [], timer = null;

  function uuid() {
    if (w.crypto && w.crypto.randomUUID) return w.crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = (Math.random() * 16) | 0;
      return (c === "x" ? r : (r & 3) | 8).toString(16);
    });
  }
  function readCookie(name) {
    var m = d.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return m ? decodeURIComponent(m[1]) : null;
  }
  function anonymousId() {
    var id = readCookie(COOKIE);
    if (!id) id = uuid();
    d.cookie = COOKIE + "=" + encodeURIComponent(id) + "; path=/; max-age=31536000; SameSite=Lax" +
      (w.location.protocol === "https:" ? "; Secure" : "");
    return id;
  }
  // Shopify's Customer Privacy API, where the theme has it: the Allowed methods already answer
  // "is consent required here, and was it given"; visitorConsentCollected reports each change.
  var CONSENT_METHODS = [["analyticsProcessingAllowed", "analytics"], ["marketingAllowed", "marketing"],
    ["preferencesProcessingAllowed", "preferences"], ["saleOfDataAllowed", "sale_of_data"]];
  var CONSENT_DETAIL = { analyticsAllowed: "analytics", marketingAllowed: "marketing",
    preferencesAllowed: "preferences", saleOfDataAllowed: "sale_of_data" };
  function readConsent() {
    var api = w.Shopify && w.Shopify.customerPrivacy, out = {};
    if (!api) return out;
    CONSENT_METHODS.forEach(function (m) {
      try { if (typeof api[m[0]] === "function") out[m[1]] = !!api[m[0]](); } catch (e) { /* not loaded */ }
    });
    return out;
  }
  var consent = readConsent();
  d.addEventListener("visitorConsentCollected", function (e) {
    var detail = (e && e.detail) || {}, k;
    for (k in CONSENT_DETAIL) if (typeof detail[k] === "boolean") consent[CONSENT_DETAIL[k]] = detail[k];
  });
  function storage() {
    try { return w.sessionStorage; } catch (e) { return null; }
  }
  function attribution() {
    var s = storage(), saved = {};
    try { saved = JSON.parse((s && s.getItem(SESSION)) || "{}") || {}; } catch (e) { saved = {}; }
    var params = new URLSearchParams(w.location.search), ids = saved.identifiers || {}, utm = saved.utm || {};
    CLICK_IDS.forEach(function (k) { if (params.get(k)) ids[k] = params.get(k); });
    if (params.get("_kx")) ids.kx = params.get("_kx");
    UTMS.forEach(function (k) { if (params.get("utm_" + k)) utm[k] = params.get("utm_" + k); });
    saved = { identifiers: ids, utm: utm };
    try { if (s) s.setItem(SESSION, JSON.stringify(saved)); } catch (e) { /* storage full or blocked */ }
    return saved;
  }

  var aid = anonymousId(), attr = attribution();

  function send(batch) {
    var body = JSON.stringify({ writeKey: KEY, batch: batch });
    var ok = false;
    try {
      ok = !!(w.navigator.sendBeacon && w.navigator.sendBeacon(URL_, new Blob([body], { type: "text/plain" })));
    } catch (e) { ok = false; }
    if (!ok && w.fetch) {
      w.fetch(URL_, { method: "POST", body: body, keepalive: true, credentials: "omit",
        headers: { "Content-Type": "text/plain" } }).catch(function () {});
    }
  }
  function flush() {
    if (timer) { clearTimeout(timer); timer = null; }
    while (queue.length) send(queue.splice(0, MAX_BATCH));
  }
  function enqueue(type, properties, extra) {
    if (consent.analytics === false && POLICY === "drop") return;
    var identifiers = {}, k;
    for (k in attr.identifiers) identifiers[k] = attr.identifiers[k];
    var fbp = readCookie("_fbp");
    if (fbp) identifiers.fbp = fbp;
    extra = extra || {};
    for (k in extra.identifiers || {}) identifiers[k] = extra.identifiers[k];
    queue.push({
      event_id: uuid(), type: String(type), anonymous_id: aid, timestamp: new Date().toISOString(),
      context: { url: w.location.href, referrer: d.referrer || null, user_agent: w.navigator.userAgent, utm: attr.utm,
        consent: consent },
      identifiers: identifiers, traits: extra.traits || {}, properties: properties || {}
    });
    if (queue.length >= MAX_BATCH) flush();
    else if (!timer) timer = setTimeout(flush, FLUSH_MS);
  }

  var api = {
    _loaded: true,
    anonymousId: function () { return aid; },
    track: function (type, properties) { enqueue(type, properties); },
    identify: function (email, traits) {
      enqueue("Identify", {}, { identifiers: email ? { email: String(email) } : {}, traits: traits || {} });
    },
    flush: flush
  };
  var pending = Array.isArray(w.recapture) ? w.recapture : [];
  w.recapture = api;
  d.addEventListener("visibilitychange", function () { if (d.visibilityState === "hidden") flush(); });
  w.addEventListener("pagehide", flush);
  api.track("PageView", {});
  pending.forEach(function (call) { if (call && api[call[0]]) api[call[0]].apply(api, call.slice(1)); });
})(window, document);
