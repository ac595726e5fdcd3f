// Builds every chart on the page from its <canvas data-chart> and the JSON beside it, and again
// whenever page.js swaps in refreshed content ("cw:content"). Labels and series names are data,
// set through Chart.js options and drawn on the canvas (never as HTML).
//
// Data: {"step_seconds", "labels", "series": [{"name", "data", "role"?, "axis"?}], "markers"?}.
// A series with role "previous" is the period before, drawn as a faint dashed line; one with
// axis "right" gets a scale of its own. Markers are a list of {"at", "until", "label", "kind"?}
// drawn as a line (and a band until "until") on every chart that has them. Heatmaps (data-kind
// "heatmap") are {"labels", "bands", "cells": [[x, y, n]], "max"}.
(function () {
  "use strict";
  var COLORS = {
    "1xx": "#868e96", "2xx": "#2f9e44", "3xx": "#1c7ed6", "4xx": "#f08c00", "5xx": "#e03131",
    conflicts: "#ae3ec9", requests: "#4263eb", duplicate: "#f76707", stale_version: "#1098ad",
    lock: "#5f3dc4", idempotency: "#d6336c", concurrent_write: "#e8590c",
    missing_precondition: "#74b816", unknown: "#868e96"
  };
  var PALETTE = ["#4263eb", "#12b886", "#fab005", "#fa5252", "#7950f2", "#15aabf", "#82c91e"];

  function colorFor(name, i) { return COLORS[name] || PALETTE[i % PALETTE.length]; }

  function shortTime(iso, stepSeconds) {
    if (!iso) { return ""; }
    var d = new Date(iso);
    var hhmm = d.toISOString().slice(11, 16);
    return stepSeconds >= 3600 ? d.toISOString().slice(5, 10) + " " + hhmm : hhmm;
  }

  function longTime(iso) {
    return iso ? iso.replace("T", " ").replace("Z", " UTC") : "";
  }

  function dataset(s, i, kind) {
    var previous = s.role === "previous";
    var line = previous || kind === "lines" || s.axis === "right";
    var color = previous ? "rgba(110, 118, 135, 0.75)" : colorFor(s.name, i);
    return {
      label: s.name,
      data: s.data,
      type: line ? "line" : "bar",
      stack: previous ? "previous" : (line ? s.name : "main"),
      yAxisID: s.axis === "right" ? "y1" : "y",
      borderColor: color,
      backgroundColor: color,
      borderWidth: previous ? 1.5 : (line ? 2 : 0),
      borderDash: previous ? [5, 4] : [],
      pointRadius: 0,
      spanGaps: true,
      order: line ? 0 : 1
    };
  }

  // Nothing but zeros (in this period and the one before), or no heatmap cell.
  function isEmpty(data) {
    if (data.cells) { return data.cells.length === 0; }
    return !(data.series || []).some(function (s) {
      return s.data.some(function (v) { return v; });
    });
  }

  // An empty chart is replaced by the figure's sentence saying so; true when it was.
  function showEmpty(canvas, empty) {
    var box = canvas.closest(".chart-box");
    var note = canvas.closest("figure").querySelector(".chart-empty");
    if (!note) { return false; }
    box.hidden = empty;
    note.hidden = !empty;
    return empty;
  }

  function build(canvas) {
    var holder = document.getElementById(canvas.dataset.chart);
    if (!holder || typeof Chart === "undefined") { return; }
    var old = Chart.getChart(canvas);
    if (old) { old.destroy(); }
    var data = JSON.parse(holder.textContent);
    if (showEmpty(canvas, isEmpty(data))) { return; }
    if (canvas.dataset.kind === "heatmap") { buildHeatmap(canvas, data); return; }
    var stacked = canvas.dataset.kind === "stacked";
    var datasets = data.series.map(function (s, i) { return dataset(s, i, canvas.dataset.kind); });
    var right = data.series.some(function (s) { return s.axis === "right"; });
    var scales = {
      x: { stacked: stacked, ticks: { maxTicksLimit: 12, maxRotation: 0,
           callback: function (v) { return shortTime(data.labels[v], data.step_seconds); } } },
      y: { stacked: stacked, beginAtZero: true }
    };
    if (right) {
      scales.y1 = { position: "right", beginAtZero: true, grid: { drawOnChartArea: false } };
    }
    if (stacked) {
      // Stacked charts count requests: their scales tick at whole numbers.
      scales.y.ticks = { precision: 0 };
      if (right) { scales.y1.ticks = { precision: 0 }; }
    }
    var chart = new Chart(canvas, {
      type: "bar",
      plugins: [markerPlugin],
      data: { labels: data.labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: scales,
        plugins: {
          cwMarkers: { markers: data.markers || [] },
          legend: { position: "bottom", labels: { boxWidth: 12 } },
          tooltip: { callbacks: { title: function (items) {
            return items.length ? longTime(data.labels[items[0].dataIndex]) : "";
          } } }
        }
      }
    });
    canvas.chart = chart;
    enableZoom(canvas, chart, data);
  }

  // Time × latency band, drawn by chartjs-chart-matrix: one cell per bucket and band, darker
  // for more requests (on a log scale, so that a few slow requests still show).
  function buildHeatmap(canvas, data) {
    var max = Math.max(1, data.max || 1);
    var nbands = data.bands.length;
    function shade(ctx) {
      var v = ctx.raw ? ctx.raw.v : 0;
      var a = v > 0 ? 0.15 + 0.85 * Math.log(1 + v) / Math.log(1 + max) : 0;
      return "rgba(66, 99, 235, " + a.toFixed(3) + ")";
    }
    var chart = new Chart(canvas, {
      type: "matrix",
      data: { datasets: [{
        label: "requests",
        data: data.cells.map(function (c) {
          return { x: data.labels[c[0]], y: data.bands[c[1]], v: c[2] };
        }),
        backgroundColor: shade,
        borderWidth: 0,
        width: function (ctx) {
          var a = ctx.chart.chartArea;
          return a ? Math.max(1, (a.right - a.left) / Math.max(1, data.labels.length) - 1) : 0;
        },
        height: function (ctx) {
          var a = ctx.chart.chartArea;
          return a ? Math.max(1, (a.bottom - a.top) / Math.max(1, nbands) - 1) : 0;
        }
      }] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        scales: {
          x: { type: "category", labels: data.labels, offset: true, grid: { display: false },
               ticks: { maxTicksLimit: 12, maxRotation: 0, autoSkip: true,
                        callback: function (v) { return shortTime(data.labels[v], data.step_seconds); } } },
          // Fastest band at the bottom.
          y: { type: "category", labels: data.bands.slice().reverse(), offset: true,
               grid: { display: false } }
        },
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: {
            title: function (items) { return items.length ? longTime(items[0].raw.x) : ""; },
            label: function (item) { return item.raw.y + ": " + item.raw.v + " requests"; }
          } }
        }
      }
    });
    canvas.chart = chart;
  }

  // Markers, from the chart's options (plugins.cwMarkers.markers, so they can be read back):
  // an incident is a shaded band from opening to resolution (to the end while firing) and a
  // line with the rule's name at the opening; a deploy is a dashed line with its version at the
  // bottom. Names are drawn on the canvas as text, never as HTML.
  var markerPlugin = {
    id: "cwMarkers",
    afterDatasetsDraw: function (chart) {
      var markers = chart.config.options.plugins.cwMarkers.markers;
      if (!markers.length) { return; }
      var x = chart.scales.x, area = chart.chartArea, ctx = chart.ctx;
      var last = chart.data.labels.length - 1;
      ctx.save();
      ctx.font = "11px sans-serif";
      markers.forEach(function (m) {
        var x0 = x.getPixelForValue(m.at);
        if (m.kind === "deploy") {
          ctx.strokeStyle = ctx.fillStyle = "#1c7ed6";
          ctx.lineWidth = 1.5;
          ctx.setLineDash([4, 3]);
          ctx.beginPath();
          ctx.moveTo(x0, area.top);
          ctx.lineTo(x0, area.bottom);
          ctx.stroke();
          ctx.setLineDash([]);
          ctx.fillText("▲ " + String(m.label).slice(0, 30), x0 + 3, area.bottom - 4);
          return;
        }
        var x1 = x.getPixelForValue(m.until === null ? last : m.until);
        ctx.fillStyle = "rgba(224, 49, 49, 0.10)";
        ctx.fillRect(x0, area.top, Math.max(2, x1 - x0), area.bottom - area.top);
        ctx.strokeStyle = "#e03131";
        ctx.lineWidth = 1.5;
        ctx.beginPath();
        ctx.moveTo(x0, area.top);
        ctx.lineTo(x0, area.bottom);
        ctx.stroke();
        ctx.fillStyle = "#e03131";
        ctx.fillText(String(m.label).slice(0, 40), x0 + 3, area.top + 11);
      });
      ctx.restore();
    }
  };

  // Drag across a chart to show that window: the page reloads with ?from=…&to=….
  function enableZoom(canvas, chart, data) {
    var box = null;
    var startX = null;
    function indexAt(x) {
      var scale = chart.scales.x;
      var i = Math.round(scale.getValueForPixel(x));
      return Math.max(0, Math.min(data.labels.length - 1, i));
    }
    canvas.addEventListener("mousedown", function (ev) {
      startX = ev.offsetX;
      document.body.classList.add("cw-dragging");
      box = document.createElement("div");
      box.className = "zoom-box";
      canvas.parentNode.appendChild(box);
      box.style.left = startX + "px";
      box.style.width = "0px";
    });
    canvas.addEventListener("mousemove", function (ev) {
      if (startX === null || !box) { return; }
      box.style.left = Math.min(startX, ev.offsetX) + "px";
      box.style.width = Math.abs(ev.offsetX - startX) + "px";
    });
    function finish(ev) {
      if (startX === null) { return; }
      var a = indexAt(Math.min(startX, ev.offsetX));
      var b = indexAt(Math.max(startX, ev.offsetX));
      var moved = Math.abs(ev.offsetX - startX) > 5;
      startX = null;
      document.body.classList.remove("cw-dragging");
      if (box) { box.remove(); box = null; }
      if (!moved) { return; }
      var from = new Date(data.labels[a]);
      var to = new Date(new Date(data.labels[b]).getTime() + data.step_seconds * 1000);
      var params = new URLSearchParams(window.location.search);
      params.delete("range");
      params.delete("before");
      params.delete("after");
      params.set("from", from.toISOString().slice(0, 19) + "Z");
      params.set("to", to.toISOString().slice(0, 19) + "Z");
      window.location.search = params.toString();
    }
    canvas.addEventListener("mouseup", finish);
    canvas.addEventListener("mouseleave", function (ev) { if (startX !== null) { finish(ev); } });
  }

  function buildAll(root) {
    (root || document).querySelectorAll("canvas[data-chart]").forEach(build);
  }
  document.addEventListener("cw:content", function (ev) { buildAll(ev.detail && ev.detail.root); });
  buildAll(document);
})();
