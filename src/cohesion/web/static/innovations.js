// The Carrefour des innovations sociales: the clustered map of a search's results.
//
// The page itself (query, facets, results, pagination) is rendered by the server from the
// address, so that it works without scripts and the state stays in the address. This
// script draws the innovations that match — all of them, not only the page shown — from
// GET /api/innovations/points?<the same query>, grouped in clusters that open on click;
// a point opens its project page. « Chercher dans cette zone » sends the map's bounds
// as the bbox filter. window.cohesionInnovationsReady becomes true once the points are
// drawn (the browser tests wait for it).

import { escapeHtml, formatNumber } from "./format.js";

window.cohesionInnovationsReady = false;

const SOURCE = "innovations";

function clusterLayers() {
  return [
    {
      id: "grappes", type: "circle", source: SOURCE, filter: ["has", "point_count"],
      paint: {
        "circle-color": ["step", ["get", "point_count"], "#6a6af4", 20, "#000091", 100, "#1b1b35"],
        "circle-radius": ["step", ["get", "point_count"], 14, 20, 19, 100, 25],
        "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5,
      },
    },
    {
      id: "projets", type: "circle", source: SOURCE, filter: ["!", ["has", "point_count"]],
      paint: {
        "circle-color": "#e1000f", "circle-radius": 6,
        "circle-stroke-color": "#ffffff", "circle-stroke-width": 1.5,
      },
    },
  ];
}

// The counts of the clusters are HTML markers: a text layer would need a glyph server,
// and the application serves no fonts for the map (it works offline).
function showClusterCounts(maplibregl, map) {
  const shown = new Map();
  const update = () => {
    const seen = new Set();
    for (const feature of map.querySourceFeatures(SOURCE)) {
      const p = feature.properties;
      if (!p.cluster || seen.has(p.cluster_id)) continue;
      seen.add(p.cluster_id);
      if (!shown.has(p.cluster_id)) {
        const label = document.createElement("span");
        label.className = "innovations-grappe";
        label.textContent = p.point_count_abbreviated;
        shown.set(p.cluster_id, new maplibregl.Marker({ element: label })
          .setLngLat(feature.geometry.coordinates).addTo(map));
      }
    }
    for (const [id, marker] of shown) {
      if (!seen.has(id)) {
        marker.remove();
        shown.delete(id);
      }
    }
  };
  map.on("render", () => { if (map.isSourceLoaded(SOURCE)) update(); });
}

async function startMap() {
  const container = document.getElementById("innovations-carte");
  const script = document.getElementById("innovations-config");
  if (!container || !script) return;
  const config = JSON.parse(script.textContent);
  const status = document.getElementById("innovations-carte-etat");
  const response = await fetch(config.points);
  const collection = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(collection.error ?? `erreur ${response.status}`);
  const drawn = collection.features.length;
  window.cohesionInnovationsDrawn = drawn; // for the browser tests
  status.textContent = drawn === collection.total
    ? `${formatNumber(drawn)} innovation${drawn > 1 ? "s" : ""} localisée${drawn > 1 ? "s" : ""} sur la carte`
    : `${formatNumber(drawn)} innovations localisées sur la carte (sur ${formatNumber(collection.total)} trouvées)`;
  const maplibregl = await import(container.dataset.maplibre);
  const sources = {
    [SOURCE]: {
      type: "geojson", data: collection, cluster: true, clusterRadius: 45,
      clusterMaxZoom: 13, attribution: config.attribution,
    },
  };
  const layers = [{ id: "fond", type: "background", paint: { "background-color": "#f4f6f8" } }];
  if (config.tiles) {
    sources.contours = {
      type: "vector", tileSize: 512, minzoom: 0, maxzoom: 12,
      tiles: [location.origin + config.tiles],
    };
    layers.push({
      id: "contours", type: "line", source: "contours", "source-layer": "territoires",
      paint: { "line-color": "#6a6a6a", "line-width": 0.6, "line-opacity": 0.7 },
    });
  }
  layers.push(...clusterLayers());
  const [west, south, east, north] = collection.bounds ?? config.bounds;
  const map = new maplibregl.Map({
    container, style: { version: 8, sources, layers },
    bounds: [[west, south], [east, north]], fitBoundsOptions: { padding: 40, maxZoom: 12 },
    minZoom: 1.5, maxZoom: 17, dragRotate: false, pitchWithRotate: false,
    renderWorldCopies: false, attributionControl: { compact: false },
    locale: { "NavigationControl.ZoomIn": "Zoomer", "NavigationControl.ZoomOut": "Dézoomer" },
  });
  window.cohesionInnovationsMap = map; // for the browser tests and the curious
  map.addControl(new maplibregl.NavigationControl({ showCompass: false }), "top-right");
  map.touchZoomRotate.disableRotation();
  showClusterCounts(maplibregl, map);
  map.on("click", "grappes", async (event) => {
    const feature = event.features[0];
    const zoom = await map.getSource(SOURCE).getClusterExpansionZoom(feature.properties.cluster_id);
    map.easeTo({ center: feature.geometry.coordinates, zoom });
  });
  map.on("click", "projets", (event) => {
    location.assign(`/innovations/projet/${encodeURIComponent(event.features[0].properties.id)}`);
  });
  const tooltip = document.getElementById("innovations-infobulle");
  for (const layer of ["grappes", "projets"]) {
    map.on("mouseenter", layer, () => { map.getCanvas().style.cursor = "pointer"; });
    map.on("mouseleave", layer, () => {
      map.getCanvas().style.cursor = "";
      tooltip.hidden = true;
    });
  }
  map.on("mousemove", "projets", (event) => {
    const p = event.features[0].properties;
    tooltip.innerHTML = `<strong>${escapeHtml(p.title)}</strong><br>${escapeHtml(p.place ?? "")}`;
    tooltip.hidden = false;
    tooltip.style.left = `${event.point.x + 14}px`;
    tooltip.style.top = `${Math.max(event.point.y - 12, 0)}px`;
  });
  const zone = document.getElementById("innovations-zone");
  if (zone) {
    zone.hidden = false;
    zone.addEventListener("click", () => {
      const b = map.getBounds();
      const bbox = [b.getWest(), b.getSouth(), b.getEast(), b.getNorth()]
        .map((v) => v.toFixed(4)).join(",");
      const url = new URL(location.href);
      url.searchParams.set("bbox", bbox);
      url.searchParams.delete("page");
      location.assign(url);
    });
  }
  await new Promise((resolve) => (map.loaded() ? resolve() : map.once("load", resolve)));
  // the map may have become idle before this line: ask for one more frame, then wait
  await new Promise((resolve) => {
    map.once("idle", resolve);
    map.triggerRepaint();
  });
  window.cohesionInnovationsReady = true;
  document.dispatchEvent(new CustomEvent("cohesion:innovations-ready"));
}

startMap().catch((error) => {
  const status = document.getElementById("innovations-carte-etat");
  if (status) status.textContent = `La carte n'a pas pu être dessinée : ${error.message}`;
});

// Facets: a change of a checkbox or select submits the search form (the state stays in
// the address).
const form = document.getElementById("innovations-recherche");
if (form) {
  for (const input of form.querySelectorAll("[data-auto-submit]")) {
    input.addEventListener("change", () => {
      const page = form.querySelector("input[name=page]");
      if (page) page.remove();
      form.requestSubmit();
    });
  }
}
