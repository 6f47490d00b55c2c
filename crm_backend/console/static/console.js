// ShopCare agents' console: refreshes the queue, shows a banner and a badge for new urgent escalations.
// Everything inserted as text uses textContent; the queue rows come from the server already escaped.
(function () {
  "use strict";
  var body = document.body;
  var pollUrl = body.getAttribute("data-poll");
  if (!pollUrl) return;
  var SEEN_KEY = "shopcare.urgentSeen";
  var rows = document.getElementById("queue-rows");
  var count = document.getElementById("queue-count");
  var badge = document.getElementById("urgent-badge");
  var banner = document.getElementById("urgent-banner");

  function seen() {
    try { return JSON.parse(sessionStorage.getItem(SEEN_KEY) || "null"); } catch (e) { return null; }
  }
  function remember(ids) {
    try { sessionStorage.setItem(SEEN_KEY, JSON.stringify(ids)); } catch (e) { /* private mode: no memory */ }
  }

  function announce(fresh) {
    banner.textContent = "";
    var text = document.createElement("span");
    text.textContent = fresh.length === 1 ? "New urgent escalation: " : "New urgent escalations: ";
    banner.appendChild(text);
    fresh.forEach(function (item, i) {
      var link = document.createElement("a");
      link.href = "/console/escalations/" + encodeURIComponent(item.id);
      link.textContent = "#" + item.id + " (priority " + item.priority + ", " + item.reasons.join(", ") + ")";
      if (i) banner.appendChild(document.createTextNode(" · "));
      banner.appendChild(link);
    });
    banner.hidden = false;
  }

  function update(data) {
    if (rows && typeof data.rows_html === "string") rows.innerHTML = data.rows_html;
    if (count) count.textContent = String(data.count);
    var urgent = data.urgent || [];
    badge.textContent = String(urgent.length);
    badge.hidden = urgent.length === 0;
    var ids = urgent.map(function (u) { return u.id; });
    var before = seen();
    if (before !== null) {
      var fresh = urgent.filter(function (u) { return before.indexOf(u.id) === -1; });
      if (fresh.length) announce(fresh);
    }
    remember(before === null ? ids : Array.from(new Set(before.concat(ids))));
  }

  function poll() {
    var query = rows ? window.location.search : "";
    fetch(pollUrl + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) {
        if (r.status === 401) { window.location.href = "/console/login"; return null; }
        return r.ok ? r.json() : null;
      })
      .then(function (data) { if (data) update(data); })
      .catch(function () { /* offline for a moment: try again at the next tick */ });
  }

  poll();
  window.setInterval(poll, 4000);
})();
