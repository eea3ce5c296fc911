// cirahub console: live updates from /events/stream (server-sent events). Pages work without
// this script; with it, the dashboard refreshes itself and the events page grows live.
(function () {
  "use strict";
  var refreshTimer = null;
  var shown = {};  // "hub/spoke" -> progress text, kept across dashboard refreshes
  function refreshSoon() {
    if (refreshTimer || !document.getElementById("hubs") || !window.htmx) { return; }
    refreshTimer = setTimeout(function () {
      refreshTimer = null;
      window.htmx.trigger(document.body, "cirahub-refresh");
    }, 300);
  }
  function cell(text) { var td = document.createElement("td"); td.textContent = text; return td; }
  function showProgress(ev) {
    var rows = document.querySelectorAll("[data-hub][data-spoke]");
    for (var i = 0; i < rows.length; i++) {
      var row = rows[i];
      if (row.getAttribute("data-hub") !== ev.hub || row.getAttribute("data-spoke") !== ev.spoke) { continue; }
      var progress = row.querySelector("[data-role=progress]");
      var state = row.querySelector("[data-role=state]");
      if (ev.kind === "progress" && progress) {
        var c = ev.counts || {};
        state.textContent = "syncing";
        progress.textContent = ev.phase + " (" + (c.pulled || 0) + " pulled, " + (c.pushed || 0) + " pushed)";
      } else if (ev.kind === "run" && progress) {
        if (state) { state.textContent = ev.status === "ok" ? "OK" : (ev.status || ev.phase); }
        progress.textContent = "finished: " + (ev.status || ev.phase);
      }
      if (progress) { shown[ev.hub + "/" + ev.spoke] = progress.textContent; }
    }
  }
  function addEventRow(ev) {
    var list = document.getElementById("event-list");
    if (!list) { return; }
    var tr = document.createElement("tr");
    [String(ev.seq), ev.at, ev.kind, ev.hub, ev.spoke, ev.phase, ev.status, ev.message].forEach(function (t) { tr.appendChild(cell(t || "")); });
    list.insertBefore(tr, list.firstChild);
    while (list.children.length > 200) { list.removeChild(list.lastChild); }
  }
  function connect() {
    if (!window.EventSource || !document.body.getAttribute("data-signed-in")) { return; }
    var source = new EventSource("/events/stream");
    var live = document.getElementById("live-state");
    source.onopen = function () { if (live) { live.textContent = "live"; } document.body.setAttribute("data-live", "1"); };
    source.onerror = function () { if (live) { live.textContent = "reconnecting…"; } };
    source.onmessage = function (msg) {
      var ev;
      try { ev = JSON.parse(msg.data); } catch (e) { return; }
      showProgress(ev);
      addEventRow(ev);
      if (ev.kind === "run" || ev.kind === "state") { refreshSoon(); }
    };
  }
  document.addEventListener("htmx:afterSwap", function () {
    var rows = document.querySelectorAll("[data-hub][data-spoke]");
    for (var i = 0; i < rows.length; i++) {
      var key = rows[i].getAttribute("data-hub") + "/" + rows[i].getAttribute("data-spoke");
      var progress = rows[i].querySelector("[data-role=progress]");
      if (progress && shown[key]) { progress.textContent = shown[key]; }
    }
  });
  document.addEventListener("htmx:configRequest", function (e) {
    e.detail.headers["X-CSRF-Token"] = document.body.getAttribute("data-csrf") || "";
  });
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", connect); } else { connect(); }
})();
