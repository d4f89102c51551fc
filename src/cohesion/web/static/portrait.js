// Portrait page: evolution charts (Observable Plot) and the print button.

import { plot } from "./charts.js";
import { formatNumber } from "./format.js";

const figures = JSON.parse(document.getElementById("portrait-figures").textContent);

function chart(figure, width) {
  const points = figure.series.filter((p) => p.value !== null);
  const years = points.every((p) => /^\d{4}$/.test(p.period));
  const data = points.map((p) => ({ ...p, x: years ? Number(p.period) : p.period }));
  return plot({
    width, height: 160, marginLeft: 56, marginRight: 28, marginTop: 30,
    style: { fontFamily: "Marianne, arial, sans-serif", fontSize: "11px" },
    x: years
      ? { label: null, tickFormat: "d", ticks: data.map((d) => d.x), inset: 12 }
      : { label: null, type: "point", padding: 0.3 },
    y: { label: figure.unit || null, grid: true, nice: true, zero: false, inset: 6,
      tickFormat: (v) => formatNumber(v) },
    marks: [
      Plot.lineY(data, { x: "x", y: "value", stroke: "#000091", strokeWidth: 2 }),
      Plot.dot(data, { x: "x", y: "value", fill: "#000091", r: 3.5 }),
      Plot.text(data, { x: "x", y: "value", text: (d) => formatNumber(d.value), dy: -10,
        fill: "#161616" }),
    ],
  });
}

function drawCharts() {
  if (!window.Plot) return;
  for (const figure of figures) {
    const points = figure.series.filter((p) => p.value !== null);
    if (points.length < 2) continue;
    const box = document.querySelector(`.fiche-graphique[data-indicator="${figure.id}"]`);
    if (!box) continue;
    const width = Math.max(240, Math.floor(box.getBoundingClientRect().width));
    box.replaceChildren(chart(figure, width));
    box.querySelector("svg")?.setAttribute("aria-hidden", "true");
  }
  document.body.dataset.chartsReady = "true";
}

document.getElementById("imprimer")?.addEventListener("click", () => window.print());
drawCharts();
