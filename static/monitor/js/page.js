// Page-wide controls: theme switch and auto-refresh (both remembered in localStorage).
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

  var refresh = document.getElementById("refresh-toggle");
  var timer = null;
  function schedule() {
    clearTimeout(timer);
    if (load("cw-refresh") === "on") {
      timer = setTimeout(function () {
        if (document.visibilityState === "visible" && !document.body.classList.contains("cw-dragging")) {
          window.location.reload();
        } else {
          schedule();
        }
      }, REFRESH_MS);
    }
  }
  function show() {
    var on = load("cw-refresh") === "on";
    refresh.setAttribute("aria-pressed", on ? "true" : "false");
    refresh.textContent = on ? "Auto-refresh: on (pause)" : "Auto-refresh: paused";
  }
  if (refresh) {
    refresh.addEventListener("click", function () {
      store("cw-refresh", load("cw-refresh") === "on" ? "off" : "on");
      show();
      schedule();
    });
    show();
    schedule();
  }
})();
