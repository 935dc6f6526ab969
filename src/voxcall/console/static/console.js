// voxcall console: the little that moves by itself. Pages work without it.
"use strict";

// The overview's chart: calls per 10 minutes by status, from the element's data-chart.
function drawTimeline(el) {
  const data = JSON.parse(el.dataset.chart);
  const labels = JSON.parse(el.dataset.labels);
  const colours = {
    NORMAL: "#116329", NO_ANSWER: "#7a4d00", USER_BUSY: "#b35900", EXPIRED: "#6e7781",
    ERROR: "#a40e26", UNKNOWN: "#8250df", WAITING: "#0b5cad",
  };
  const names = Object.keys(data.series);
  const length = names.length ? data.series[names[0]].length : 144;
  const xs = Array.from({ length }, (_, i) => data.start + i * data.step);
  // Times on the console's clock, in the page's language (Persian digits and calendar).
  const clock = new Intl.DateTimeFormat(el.dataset.locale, {
    hour: "2-digit", minute: "2-digit", timeZone: el.dataset.zone,
  });
  const count = new Intl.NumberFormat(el.dataset.locale);
  const time = (t) => (t == null ? "-" : clock.format(new Date(t * 1000)));
  const series = [{ label: labels.TIME, value: (u, t) => time(t) }].concat(names.map((name) => ({
    label: labels[name] || name, stroke: colours[name] || "#333", width: 2,
    value: (u, v) => (v == null ? "-" : count.format(v)),
  })));
  const rows = [xs].concat(names.map((name) => data.series[name]));
  const width = Math.max(320, Math.min(el.clientWidth || 900, 1100));
  const axes = [
    { values: (u, ticks) => ticks.map(time) },
    { values: (u, ticks) => ticks.map((v) => count.format(v)) },
  ];
  new uPlot({ width, height: 240, series, axes, scales: { x: { time: true } } }, rows, el);
}

document.addEventListener("DOMContentLoaded", () => {
  const chart = document.getElementById("timeline");
  if (chart && window.uPlot) drawTimeline(chart);

  // Dropping a file on the upload's label fills its file field.
  for (const zone of document.querySelectorAll(".drop")) {
    const input = document.getElementById(zone.htmlFor);
    zone.addEventListener("dragover", (e) => { e.preventDefault(); zone.classList.add("over"); });
    zone.addEventListener("dragleave", () => zone.classList.remove("over"));
    zone.addEventListener("drop", (e) => {
      e.preventDefault();
      zone.classList.remove("over");
      if (input && e.dataTransfer.files.length) input.files = e.dataTransfer.files;
    });
  }
});
