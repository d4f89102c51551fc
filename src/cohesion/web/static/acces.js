// The page « Accès aux services »: the map of the origins of a measure, coloured by the
// time to the nearest équipement, over the outline of the communes; and, for
// administrators, a computation launched through POST /api/access/jobs and followed
// every second through GET /api/access/jobs/{id}.
//
// The page itself (zones, table, provenance) is rendered by the server from the address
// (measure, threshold, level): changing a field submits the form, so that the state
// stays in the address. window.cohesionAccessReady becomes true once the origins are
// drawn (the browser tests wait for it).

import { applyDataStyles } from "./data-styles.js";
import { escapeHtml, formatNumber } from "./format.js";

window.cohesionAccessReady = false;

/** Classes of minutes (upper bound included, as « à moins de n minutes » is counted). */
const CLASSES = [
  { upTo: 5, label: "0 à 5 min", colour: "#fed976" },
  { upTo: 10, label: "5 à 10 min", colour: "#feb24c" },
  { upTo: 15, label: "10 à 15 min", colour: "#fd8d3c" },
  { upTo: 20, label: "15 à 20 min", colour: "#e31a1c" },
  { upTo: Infinity, label: "plus de 20 min", colour: "#800026" },
];
const BEYOND = "#8c8c8c";
const SOURCE = "origines";

function classOf(minutes) {
  if (minutes === null || minutes === undefined) return -1;
  return CLASSES.findIndex((c) => minutes <= c.upTo);
}

function alertBox(kind, title, body) {
  return `<div class="fr-alert fr-alert--${kind} fr-alert--sm">
    ${title ? `<h3 class="fr-alert__title">${escapeHtml(title)}</h3>` : ""}${body}</div>`;
}

// -- the form -------------------------------------------------------------------------

const options = document.getElementById("acces-options");
if (options) {
  options.addEventListener("change", () => options.requestSubmit());
}

// -- the map --------------------------------------------------------------------------

function colourExpression() {
  const minutes = ["get", "minutes"];
  const cases = ["case", ["!=", ["typeof", minutes], "number"], BEYOND];
  for (const c of CLASSES.slice(0, -1)) cases.push(["<=", minutes, c.upTo], c.colour);
  cases.push(CLASSES.at(-1).colour);
  return cases;
}

function renderLegend(legend, config, collection) {
  const population = new Array(CLASSES.length + 1).fill(0);
  const counts = new Array(CLASSES.length + 1).fill(0);
  for (const feature of collection.features) {
    const index = classOf(feature.properties.minutes);
    const slot = index < 0 ? CLASSES.length : index;
    population[slot] += feature.properties.population ?? 0;
    counts[slot] += 1;
  }
  const items = CLASSES.map((c, i) => ({ ...c, population: population[i], count: counts[i] }));
  if (counts[CLASSES.length]) {
    items.push({ label: config.missing, colour: BEYOND, population: population[CLASSES.length],
      count: counts[CLASSES.length] });
  }
  const rows = items.map((item) => `<li data-classe="${escapeHtml(item.label)}">
      <span class="legende-case" data-style-background="${item.colour}"></span>
      <span>${escapeHtml(item.label)}</span>
      <span class="legende-effectif">${formatNumber(Math.round(item.population))} hab.</span></li>`);
  legend.innerHTML = `
    <h2 class="fr-h6 legende-titre" id="legende-titre">Temps jusqu'à l'équipement le plus proche</h2>
    <p class="fr-text--xs legende-meta">${formatNumber(collection.features.length)} carreaux habités ;
      seuil choisi : ${config.threshold} min</p>
    <ul class="legende-classes">${rows.join("")}</ul>
    <p class="fr-text--xs legende-source">Sources : ${escapeHtml(config.attribution)}.</p>`;
  applyDataStyles(legend);
  legend.setAttribute("aria-busy", "false");
}

const MINUTES = new Intl.NumberFormat("fr-FR", { minimumFractionDigits: 1, maximumFractionDigits: 1 });

function describe(config, properties) {
  const minutes = properties.minutes === null || properties.minutes === undefined
    ? escapeHtml(config.missing) : `${MINUTES.format(properties.minutes)}\u00a0min`;
  const commune = properties.commune
    ? `${escapeHtml(config.names[properties.commune] ?? "")} <span class="infobulle-code">${escapeHtml(properties.commune)}</span>`
    : "hors des communes";
  return `<strong>${minutes}</strong><br>${formatNumber(properties.population, "habitants")}<br>
    ${commune}<br><span class="fr-text--xs">${escapeHtml(config.zones[properties.zone] ?? properties.zone)}</span>`;
}

function whenDrawn(map) {
  return new Promise((resolve) => {
    const check = () => {
      if (map.isSourceLoaded(SOURCE) && map.loaded()) resolve();
      else map.once("idle", check);
    };
    map.once("idle", check);
    map.triggerRepaint();
  });
}

async function startMap() {
  const container = document.getElementById("acces-carte");
  const script = document.getElementById("acces-config");
  if (!container || !script) return;
  const config = JSON.parse(script.textContent);
  const legend = document.getElementById("acces-legende");
  const tooltip = document.getElementById("acces-infobulle");
  const response = await fetch(config.origins);
  const collection = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(collection.error ?? `erreur ${response.status}`);
  renderLegend(legend, config, collection);
  const maplibregl = await import(container.dataset.maplibre);
  const sources = {
    [SOURCE]: { type: "geojson", data: collection, attribution: config.attribution },
  };
  const layers = [{ id: "fond", type: "background", paint: { "background-color": "#f4f6f8" } }];
  if (config.tiles) {
    sources.communes = {
      type: "vector", tileSize: 512, minzoom: 0, maxzoom: 12,
      tiles: [location.origin + config.tiles],
    };
    layers.push({
      id: "communes", type: "line", source: "communes", "source-layer": "territoires",
      paint: { "line-color": "#6a6a6a", "line-width": 0.5, "line-opacity": 0.6 },
    });
  }
  layers.push({
    id: SOURCE, type: "circle", source: SOURCE,
    paint: {
      "circle-color": colourExpression(),
      "circle-radius": ["interpolate", ["linear"], ["zoom"], 6, 1.2, 10, 2.5, 13, 6, 16, 16],
      "circle-opacity": 0.9,
      "circle-stroke-color": "rgba(0, 0, 0, 0.35)",
      "circle-stroke-width": ["interpolate", ["linear"], ["zoom"], 8, 0, 11, 0.3, 14, 0.6],
    },
  });
  const [west, south, east, north] = config.bounds ?? [-5.5, 41.2, 9.8, 51.2];
  const map = new maplibregl.Map({
    container, style: { version: 8, sources, layers },
    bounds: [[west, south], [east, north]], fitBoundsOptions: { padding: 30, maxZoom: 14 },
    minZoom: 1.5, maxZoom: 17, dragRotate: false, pitchWithRotate: false,
    renderWorldCopies: false, attributionControl: { compact: false },
    locale: { "NavigationControl.ZoomIn": "Zoomer", "NavigationControl.ZoomOut": "Dézoomer" },
  });
  window.cohesionAccessMap = map; // for the browser tests and the curious
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.touchZoomRotate.disableRotation();
  map.on("error", (event) => {
    document.getElementById("acces-erreur").innerHTML =
      alertBox("error", "", `<p>Carte : ${escapeHtml(event.error?.message ?? "erreur")}</p>`);
  });
  map.on("mousemove", SOURCE, (event) => {
    const feature = event.features?.[0];
    if (!feature) return;
    map.getCanvas().style.cursor = "pointer";
    tooltip.innerHTML = describe(config, feature.properties);
    tooltip.hidden = false;
    const box = container.getBoundingClientRect();
    tooltip.style.left = `${Math.min(event.point.x + 14, box.width - 240)}px`;
    tooltip.style.top = `${Math.max(event.point.y - 12, 0)}px`;
  });
  map.on("mouseleave", SOURCE, () => {
    map.getCanvas().style.cursor = "";
    tooltip.hidden = true;
  });
  await new Promise((resolve) => (map.loaded() ? resolve() : map.once("load", resolve)));
  await whenDrawn(map);
  window.cohesionAccessReady = true;
  document.dispatchEvent(new CustomEvent("cohesion:access-ready"));
}

startMap().catch((error) => {
  const legend = document.getElementById("acces-legende");
  if (legend) {
    legend.innerHTML = alertBox("error", "", `<p>La carte n'a pas pu être dessinée :
      ${escapeHtml(error.message)}</p>`);
    legend.setAttribute("aria-busy", "false");
  }
});

// -- a computation (administrators) ---------------------------------------------------

const jobForm = document.getElementById("calcul-form");
const jobState = document.getElementById("calcul-etat");
const jobButton = document.getElementById("calcul-bouton");
const POLL_MS = 1000;

function numbers(text) {
  return String(text ?? "").split(/[,;\s]+/).filter(Boolean).map(Number);
}

function showSteps(job) {
  const steps = job.steps.map((step, i) => {
    const current = i === job.steps.length - 1 && job.state === "en cours";
    return `<li${current ? ' aria-current="step" class="acces-etape-en-cours"' : ' class="acces-etape-faite"'}>
      ${escapeHtml(step)}${current ? " …" : ""}</li>`;
  }).join("");
  jobState.innerHTML = alertBox("info", "Calcul en cours", `
    <progress class="acces-progression" aria-label="Calcul en cours"></progress>
    <p class="fr-text--sm">Étape ${job.steps.length || 1}${job.step ? ` : ${escapeHtml(job.step)}` : " : démarrage"}</p>
    <ol class="acces-etapes fr-text--sm">${steps}</ol>`);
}

async function refreshMeasures(current) {
  const measures = await (await fetch("/api/access/measures")).json();
  const select = document.getElementById("choix-mesure");
  if (select) {
    const chosen = select.value;
    select.replaceChildren(...measures.map((m) => new Option(
      `${m.equipment_label} — ${m.profile === "voiture" ? "en voiture" : "à pied"} (${
        m.method === "reseau" ? `réseau ${m.network}` : "à vol d'oiseau"}, ${m.period})`,
      m.measure, false, m.measure === chosen)));
  }
  const list = document.getElementById("calcul-mesures");
  if (list) {
    list.innerHTML = `${formatNumber(measures.length)} mesures calculées : ${current.map((key) =>
      `<a href="/acces?measure=${encodeURIComponent(key)}">${escapeHtml(key)}</a>`).join(", ")}`;
  }
}

function showDone(job) {
  const result = job.result ?? {};
  const notes = (result.notes ?? []).map((n) => `<li>${escapeHtml(n)}</li>`).join("");
  const steps = job.steps.map((s) => `<li>${escapeHtml(s)}</li>`).join("");
  jobState.innerHTML = alertBox("success", result.already_computed ? "Déjà calculé" : "Calcul terminé", `
    <p>${result.already_computed ? `Le même calcul est déjà enregistré (jeu n° ${escapeHtml(result.dataset_id)}) : rien n'a changé.`
      : `Jeu n° ${escapeHtml(result.dataset_id)} : ${formatNumber(result.observations)} valeurs enregistrées.`}</p>
    <p id="calcul-mesures">Mesures : ${(result.measures ?? []).map(escapeHtml).join(", ")}</p>
    ${notes ? `<ul class="fr-text--sm">${notes}</ul>` : ""}
    <details class="fr-text--xs"><summary>Étapes</summary><ol class="acces-etapes">${steps}</ol></details>`);
  refreshMeasures(result.measures ?? []).catch(() => {});
}

async function follow(id) {
  let failures = 0;
  for (;;) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    let job;
    try {
      const response = await fetch(`/api/access/jobs/${encodeURIComponent(id)}`);
      job = await response.json();
      if (!response.ok) throw new Error(job.error ?? `erreur ${response.status}`);
    } catch (error) {
      failures += 1;
      if (failures < 5) continue;
      jobState.innerHTML = alertBox("error", "Suivi interrompu", `<p>${escapeHtml(error.message)}</p>`);
      break;
    }
    failures = 0;
    if (job.state === "en cours") {
      showSteps(job);
      continue;
    }
    if (job.state === "terminé") showDone(job);
    else jobState.innerHTML = alertBox("error", "Échec du calcul", `<p>${escapeHtml(job.error ?? "")}</p>`);
    break;
  }
  jobButton.disabled = false;
  window.cohesionAccessJobDone = true;
}

if (jobForm) {
  jobForm.addEventListener("submit", async (event) => {
    event.preventDefault();
    const elements = jobForm.elements;
    const equipment = [...elements.equipment.selectedOptions].map((o) => o.value);
    if (!elements.token.value || !equipment.length) {
      jobState.innerHTML = alertBox("error", "Formulaire incomplet", `<p>${!elements.token.value
        ? "Saisissez le jeton d'administration." : "Choisissez au moins un type d'équipement."}</p>`);
      (elements.token.value ? elements.equipment : elements.token).focus();
      return;
    }
    const body = {
      equipment, profile: elements.profile.value, network: elements.network.value || null,
      departements: String(elements.departements.value).split(/[,;\s]+/).filter(Boolean)
        .map((d) => d.toUpperCase()),
      thresholds: numbers(elements.thresholds.value),
      catchment: Number(elements.catchment.value), limit: Number(elements.limit.value),
    };
    jobButton.disabled = true;
    window.cohesionAccessJobDone = false;
    jobState.innerHTML = alertBox("info", "Envoi de la demande…", "");
    try {
      const response = await fetch("/api/access/jobs", {
        method: "POST", body: JSON.stringify(body),
        headers: { "Content-Type": "application/json", Authorization: `Bearer ${elements.token.value}` },
      });
      const answer = await response.json().catch(() => ({}));
      if (response.status !== 202) {
        jobState.innerHTML = alertBox("error", `Calcul refusé (${response.status})`,
          `<p>${escapeHtml(answer.error ?? response.statusText)}</p>`);
        jobButton.disabled = false;
        return;
      }
      showSteps({ state: "en cours", steps: [], step: null });
      await follow(answer.id);
    } catch (error) {
      jobState.innerHTML = alertBox("error", "Serveur injoignable", `<p>${escapeHtml(error.message)}</p>`);
      jobButton.disabled = false;
    }
  });
}
