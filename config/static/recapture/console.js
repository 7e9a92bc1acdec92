/* Recapture console: small behaviours shared by admin pages (no framework, no CDN). */
(function () {
  "use strict";

  function csrfToken() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    if (input) return input.value;
    var match = document.cookie.match(/(?:^|; )csrftoken=([^;]+)/);
    return match ? decodeURIComponent(match[1]) : "";
  }

  // The destination Test button: runs in place, so unsaved edits on the page stay where they are.
  document.addEventListener("click", function (ev) {
    var button = ev.target.closest && ev.target.closest("button.rc-test-destination");
    if (!button) return;
    ev.preventDefault();
    var id = button.dataset.destination;
    var out = document.querySelector(".rc-test-result[data-destination='" + id + "']");
    var badge = document.querySelector(".rc-health[data-destination='" + id + "']");
    button.disabled = true;
    out.className = "rc-test-result";
    out.textContent = "Testing…";
    fetch(button.dataset.url, {
      method: "POST",
      credentials: "same-origin",
      headers: {"Accept": "application/json", "X-CSRFToken": csrfToken()}
    })
      .then(function (r) {
        if (!r.ok) throw new Error("HTTP " + r.status);
        return r.json();
      })
      .then(function (data) {
        out.innerHTML = data.html;  // server-rendered and escaped (format_html)
        out.className = "rc-test-result " + (data.ok ? "rc-test-ok" : "rc-test-failed");
        if (badge) badge.innerHTML = data.badge_html;
      })
      .catch(function (err) {
        out.textContent = "The test could not run (" + err.message + "); reload the page and try again.";
        out.className = "rc-test-result rc-test-failed";
      })
      .finally(function () { button.disabled = false; });
  });
})();
