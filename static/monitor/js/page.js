// Page-wide controls: theme switch, auto-refresh and "Copy link".
//
// Auto-refresh is on by default on a live range (a preset such as "last 1h") and off on a fixed
// one; pausing it is remembered (localStorage). A refresh fetches the same URL and swaps the
// page's <main> in place, then announces "cw:content" so that charts are drawn again: no
// flash, the scroll position stays, and nothing is lost while someone types in a form or drags
// across a chart (the refresh waits).
(function () {
  "use strict";
  var REFRESH_MS = 30000;

  function store(key, value) {
    try { localStorage.setItem(key, value); } catch (e) { /* ignore */ }
  }
  function load(key) {
    try { return localStorage.getItem(key); } catch (e) { return null; }
  }

  var theme = document.getElementById("theme-toggle");
  if (theme) {
    theme.addEventListener("click", function () {
      var root = document.documentElement;
      var current = root.getAttribute("data-theme") ||
        (window.matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light");
      var next = current === "dark" ? "light" : "dark";
      root.setAttribute("data-theme", next);
      store("cw-theme", next);
      document.dispatchEvent(new CustomEvent("cw:theme"));
    });
  }

  // -- auto-refresh -------------------------------------------------------------------------
  var refresh = document.getElementById("refresh-toggle");
  var timer = null;
  var live = refresh && refresh.dataset.live === "1";

  function paused() { return load("cw-refresh") === "off"; }

  function busy() {
    var el = document.activeElement;
    var typing = el && el.closest && el.closest("main") && /^(INPUT|SELECT|TEXTAREA)$/.test(el.tagName);
    var selecting = String(window.getSelection ? window.getSelection() : "").length > 0;
    var open = document.querySelector("main details[open]");
    return typing || selecting || open || document.body.classList.contains("cw-dragging") ||
      document.visibilityState !== "visible";
  }

  function swap() {
    return fetch(window.location.href, { credentials: "same-origin", headers: { "X-CW-Refresh": "1" } })
      .then(function (response) {
        if (!response.ok) { throw new Error("refresh answered " + response.status); }
        return response.text();
      })
      .then(function (html) {
        var fresh = new DOMParser().parseFromString(html, "text/html").querySelector("main");
        var main = document.querySelector("main");
        if (!fresh || !main) { return; }
        main.replaceChildren.apply(main, Array.prototype.slice.call(fresh.childNodes));
        document.dispatchEvent(new CustomEvent("cw:content", { detail: { root: main } }));
        document.body.dataset.refreshedAt = new Date().toISOString();
      });
  }

  function schedule() {
    clearTimeout(timer);
    if (!live || paused()) { return; }
    timer = setTimeout(function () {
      if (busy()) { schedule(); return; }
      swap().then(schedule, function () { schedule(); });
    }, REFRESH_MS);
  }

  function show() {
    if (!live) {
      refresh.setAttribute("aria-pressed", "false");
      refresh.disabled = true;
      refresh.textContent = "Auto-refresh: off";
      refresh.title = "A fixed time range does not change: pick a preset such as 1h to follow it live";
      return;
    }
    var on = !paused();
    refresh.setAttribute("aria-pressed", on ? "true" : "false");
    refresh.textContent = on ? "Auto-refresh: on" : "Auto-refresh: paused";
    refresh.title = on ? "Updates every 30 seconds; click to pause" : "Click to update every 30 seconds";
  }

  // "cw:refresh" refreshes at once (whatever the timer), e.g. from another script.
  document.addEventListener("cw:refresh", function () { swap().then(schedule, schedule); });

  if (refresh) {
    refresh.addEventListener("click", function () {
      store("cw-refresh", paused() ? "on" : "off");
      show();
      schedule();
    });
    show();
    schedule();
  }

  // -- copy link ----------------------------------------------------------------------------
  var share = document.getElementById("copy-link");
  function selectIn(input) { input.hidden = false; input.focus(); input.select(); }
  if (share) {
    share.addEventListener("click", function () {
      // The query sits in <main>, so that it follows the window a refresh moved to.
      var holder = document.getElementById("share-query");
      var url = window.location.origin + window.location.pathname + (holder ? holder.dataset.query : "");
      var field = document.getElementById("copy-link-text");
      field.value = url;
      function done(label) {
        share.textContent = label;
        setTimeout(function () { share.textContent = "Copy link"; }, 2000);
      }
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(url).then(function () { done("Link copied"); },
          function () { selectIn(field); done("Press Ctrl+C"); });
      } else {
        selectIn(field);
        done("Press Ctrl+C");
      }
    });
  }
})();
