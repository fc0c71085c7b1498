/* Pelapak dashboard: sortable tables, the broadcast form's segment fields, and the charts. */
(function () {
  "use strict";

  function sortValue(cell) {
    var raw = cell.getAttribute("data-sort");
    if (raw === null) return cell.textContent.trim().toLowerCase();
    var number = Number(raw);
    return raw !== "" && !isNaN(number) ? number : raw;
  }

  document.querySelectorAll("table.sortable").forEach(function (table) {
    table.querySelectorAll("thead th").forEach(function (th, index) {
      th.setAttribute("tabindex", "0");
      function sort() {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        table.querySelectorAll("thead th").forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows).filter(function (r) { return r.cells.length > index; });
        rows.sort(function (a, b) {
          var x = sortValue(a.cells[index]), y = sortValue(b.cells[index]);
          if (x < y) return ascending ? -1 : 1;
          if (x > y) return ascending ? 1 : -1;
          return 0;
        });
        rows.forEach(function (row) { body.appendChild(row); });
      }
      th.addEventListener("click", sort);
      th.addEventListener("keydown", function (e) { if (e.key === "Enter" || e.key === " ") { e.preventDefault(); sort(); } });
    });
  });

  var segment = document.getElementById("segment");
  if (segment) {
    var show = function () {
      document.querySelectorAll("#broadcast-form [data-for]").forEach(function (label) {
        label.hidden = label.getAttribute("data-for") !== segment.value;
      });
    };
    segment.addEventListener("change", show);
    show();
  }

  var data = document.getElementById("chart-data");
  if (!data || typeof window.Chart === "undefined") return;
  var charts = JSON.parse(data.textContent);
  var words = JSON.parse(document.getElementById("chart-labels").textContent);
  var green = "#0b7a5a", orange = "#d9682b";
  window.Chart.defaults.font.family = getComputedStyle(document.body).fontFamily;
  window.Chart.defaults.animation = false;

  new window.Chart(document.getElementById("chart-funnel"), {
    type: "bar",
    data: { labels: words.stages, datasets: [{ data: charts.funnel.values, backgroundColor: green }] },
    options: { indexAxis: "y", maintainAspectRatio: false, plugins: { legend: { display: false } },
      scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } }
  });
  new window.Chart(document.getElementById("chart-daily"), {
    type: "line",
    data: { labels: charts.daily.labels, datasets: [
      { label: words.registrations, data: charts.daily.registrations, borderColor: green, backgroundColor: green, pointRadius: 0, tension: 0 },
      { label: words.live, data: charts.daily.live, borderColor: orange, backgroundColor: orange, pointRadius: 0, tension: 0 }
    ] },
    options: { maintainAspectRatio: false, interaction: { mode: "index", intersect: false },
      scales: { y: { beginAtZero: true, ticks: { precision: 0 } }, x: { ticks: { maxTicksLimit: 8 } } } }
  });
  var coverage = document.getElementById("chart-coverage");
  if (coverage && charts.coverage.labels.length) {
    new window.Chart(coverage, {
      type: "bar",
      data: { labels: charts.coverage.labels, datasets: [{ label: words.coverage + " (%)", data: charts.coverage.values, backgroundColor: green }] },
      options: { indexAxis: "y", maintainAspectRatio: false, plugins: { legend: { display: false } },
        scales: { x: { beginAtZero: true, suggestedMax: 100 }, y: { ticks: { autoSkip: false, font: { size: 11 } } } } }
    });
  }
})();
