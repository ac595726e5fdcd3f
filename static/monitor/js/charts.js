// Builds every chart on the page from its <canvas data-chart> and the JSON beside it.
// Labels and series names are data, set through Chart.js options (never as HTML).
(function () {
  "use strict";
  var COLORS = {
    "1xx": "#868e96", "2xx": "#2f9e44", "3xx": "#1c7ed6", "4xx": "#f08c00", "5xx": "#e03131",
    conflicts: "#ae3ec9", duplicate: "#f76707", stale_version: "#1098ad", lock: "#5f3dc4",
    idempotency: "#d6336c", concurrent_write: "#e8590c", missing_precondition: "#74b816",
    unknown: "#868e96"
  };
  var PALETTE = ["#4263eb", "#12b886", "#fab005", "#fa5252", "#7950f2", "#15aabf", "#82c91e"];

  function colorFor(name, i) { return COLORS[name] || PALETTE[i % PALETTE.length]; }

  function shortTime(iso, stepSeconds) {
    var d = new Date(iso);
    var hhmm = d.toISOString().slice(11, 16);
    return stepSeconds >= 3600 ? d.toISOString().slice(5, 10) + " " + hhmm : hhmm;
  }

  function build(canvas) {
    var holder = document.getElementById(canvas.dataset.chart);
    if (!holder || typeof Chart === "undefined") { return; }
    var data = JSON.parse(holder.textContent);
    var stacked = canvas.dataset.kind === "stacked";
    var datasets = data.series.map(function (s, i) {
      var line = s.name === "conflicts";
      return {
        label: s.name,
        data: s.data,
        type: line ? "line" : "bar",
        stack: line ? "conflicts" : "traffic",
        borderColor: colorFor(s.name, i),
        backgroundColor: colorFor(s.name, i),
        borderWidth: line ? 2 : 0,
        pointRadius: 0,
        order: line ? 0 : 1
      };
    });
    var chart = new Chart(canvas, {
      type: "bar",
      data: { labels: data.labels, datasets: datasets },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        interaction: { mode: "index", intersect: false },
        scales: {
          x: { stacked: stacked, ticks: { maxTicksLimit: 12,
               callback: function (v) { return shortTime(data.labels[v], data.step_seconds); } } },
          y: { stacked: stacked, beginAtZero: true }
        },
        plugins: { legend: { position: "bottom" },
                   tooltip: { callbacks: { title: function (items) {
                     return items.length ? data.labels[items[0].dataIndex].replace("T", " ").replace("Z", " UTC") : "";
                   } } } }
      }
    });
    canvas.chart = chart;
  }

  document.querySelectorAll("canvas[data-chart]").forEach(build);
})();
