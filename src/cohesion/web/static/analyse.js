// Inequality page: the Lorenz curve (Observable Plot) and the form's period list.
//
// The figures are rendered by the server; this script only draws the chart from the
// points embedded in the page (#analyse-lorenz) and keeps the period list in step with
// the chosen indicator. document.body.dataset.chartsReady becomes "true" once drawn.

import { plot } from "./charts.js";

const form = document.getElementById("analyse-formulaire");
const indicatorSelect = document.getElementById("choix-indicateur");
const periodSelect = document.getElementById("choix-periode");

function fillPeriods() {
  const chosen = indicatorSelect.selectedOptions[0];
  const periods = (chosen?.dataset.periods ?? "").split(",").filter(Boolean).reverse();
  const current = periodSelect.value;
  periodSelect.replaceChildren(...periods.map((p) => new Option(p, p, false, p === current)));
  if (!periods.includes(current) && periods.length) periodSelect.value = periods[0];
}

function percent(value) {
  return `${Math.round(value * 100)} %`;
}

function drawLorenz() {
  const data = document.getElementById("analyse-lorenz");
  const box = document.getElementById("lorenz");
  if (!data || !box || !window.Plot) return;
  const { lorenz, weighted, label } = JSON.parse(data.textContent);
  if (!lorenz.population_share.length) return;
  const points = lorenz.population_share.map((x, i) => ({ x, y: lorenz.value_share[i] }));
  const width = Math.max(280, Math.min(560, Math.floor(box.getBoundingClientRect().width)));
  const chart = plot({
    width, height: width, marginLeft: 52, marginBottom: 44,
    style: { fontFamily: "Marianne, arial, sans-serif", fontSize: "12px" },
    x: { domain: [0, 1], label: weighted ? "Part cumulée de la population →"
      : "Part cumulée des territoires →", tickFormat: percent, grid: true },
    y: { domain: [0, 1], label: `↑ Part cumulée — ${label}`, tickFormat: percent, grid: true },
    marks: [
      Plot.areaY(points, { x: "x", y1: "y", y2: "x", fill: "#000091", fillOpacity: 0.08 }),
      Plot.line([{ x: 0, y: 0 }, { x: 1, y: 1 }], { x: "x", y: "y", stroke: "#666",
        strokeDasharray: "4 3" }),
      Plot.line(points, { x: "x", y: "y", stroke: "#000091", strokeWidth: 2.5 }),
      Plot.text([{ x: 0.62, y: 0.7 }], { x: "x", y: "y", text: () => "égalité parfaite",
        rotate: -45, fill: "#666", dy: -6 }),
    ],
  });
  chart.classList.add("courbe-lorenz");
  chart.setAttribute("aria-hidden", "true");
  box.replaceChildren(chart);
  document.body.dataset.chartsReady = "true";
}

indicatorSelect?.addEventListener("change", fillPeriods);
form?.elements.level?.addEventListener("change", () => {
  // the partitions depend on the level: let the server list them again
  form.elements.partition.value = "";
});
drawLorenz();
