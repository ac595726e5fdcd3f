// The live tail: every few seconds, fetch the rows stored since the cursor (an HTML fragment
// the server rendered and escaped) and put the ones not shown yet on top. Pause stops polling;
// the table keeps at most MAX_ROWS rows.
(function () {
  "use strict";
  var MAX_ROWS = 500;
  var table = document.getElementById("tail-rows");
  if (!table || table.dataset.stopped) { return; }
  var body = table.tBodies[0];
  var button = document.getElementById("tail-pause");
  var state = document.getElementById("tail-state");
  var more = document.getElementById("tail-more");
  var empty = document.getElementById("tail-empty");
  var cursor = table.dataset.cursor;
  var every = Math.max(1, Number(table.dataset.poll) || 2) * 1000;
  var paused = false;
  var timer = null;
  var failures = 0;

  function shown() {
    var ids = {};
    Array.prototype.forEach.call(body.rows, function (tr) { ids[tr.dataset.id] = true; });
    return ids;
  }

  function url() {
    var u = new URL(table.dataset.url, window.location.href);
    u.searchParams.set("cursor", cursor);
    return u.toString();
  }

  function add(fragment) {
    var doc = new DOMParser().parseFromString(fragment, "text/html");
    var fresh = doc.getElementById("tail-fresh");
    if (!fresh) { return; }
    cursor = fresh.dataset.cursor || cursor;
    more.hidden = fresh.dataset.more !== "1";
    var seen = shown();
    var rows = Array.prototype.filter.call(fresh.rows, function (tr) { return !seen[tr.dataset.id]; });
    // The fragment is newest first: insert from the oldest so the newest ends on top.
    rows.reverse().forEach(function (tr) {
      var row = document.importNode(tr, true);
      row.classList.add("fresh");
      body.insertBefore(row, body.firstChild);
    });
    while (body.rows.length > MAX_ROWS) { body.deleteRow(body.rows.length - 1); }
    if (body.rows.length) { empty.hidden = true; }
  }

  function poll() {
    if (paused) { return; }
    fetch(url(), { credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) { throw new Error("the server answered " + response.status); }
        return response.text();
      })
      .then(function (html) {
        failures = 0;
        add(html);
        state.textContent = "Following: last checked " + new Date().toISOString().slice(11, 19) + " UTC.";
      }, function (err) {
        failures += 1;
        state.textContent = "Could not fetch new requests (" + err.message + "); retrying.";
      })
      .then(function () {
        if (!paused) { timer = setTimeout(poll, every * Math.min(8, 1 + failures)); }
      });
  }

  button.addEventListener("click", function () {
    paused = !paused;
    clearTimeout(timer);
    button.setAttribute("aria-pressed", paused ? "true" : "false");
    button.querySelector(".label").textContent = paused ? "Resume" : "Pause";
    button.querySelector(".live-dot").classList.toggle("paused", paused);
    state.textContent = paused ? "Paused: new requests are not fetched." : "Following again.";
    if (!paused) { poll(); }
  });

  timer = setTimeout(poll, every);
})();
