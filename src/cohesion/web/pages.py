"""The web application: HTML pages over the observatory, and the front-end assets.

:func:`install_pages` adds to the API application

- the vendored front-end libraries, served from the project's ``node_modules`` under
  ``/static/vendor/`` (only the files the pages use: the French State design system
  DSFR, MapLibre GL JS, Observable Plot and d3), so that the application works offline;
- its own scripts and styles under ``/static/`` (``src/cohesion/web/static``);
- the pages (Jinja2 templates in ``src/cohesion/web/templates``): the map (``/`` and
  ``/carte``), the territory search (``/recherche``), the portrait
  (``/territoire/{id}``, with a CSV of its figures), the comparator (``/comparer``) and
  the datasets (``/donnees``).

Pages are rendered from the same :class:`~cohesion.web.observatory.Observatory` calls as
the HTTP API, so that what a page shows is what the API answers; the browser scripts
then call the API (map values, search, upload). The interface speaks French.
"""

from __future__ import annotations

import csv
import functools
import gzip
import io
import json
import logging
import math
import mimetypes
from concurrent.futures import ThreadPoolExecutor
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.routing import Mount
from starlette.types import Scope

from cohesion.core import Observatory
from cohesion.core.caching import accepts_gzip
from cohesion.core.portrait import QPV_LINKS
from cohesion.errors import CohesionError
from cohesion.geo.tiles import tiles_covering
from cohesion.indicators.engine import OWN_LEVELS
from cohesion.indicators.periods import period_key
from cohesion.spreadsheet import neutralise_text
from cohesion.store.schema import REASON_LABELS
from cohesion.territory.ids import TerritoryId
from cohesion.territory.levels import LEVEL_LABELS, level_noun
from cohesion.web.tables import csv_download

logger = logging.getLogger("cohesion.web")

HERE = Path(__file__).resolve().parent
TEMPLATES = HERE / "templates"
STATIC = HERE / "static"

#: Vendored assets: URL folder under /static/vendor → (folder in node_modules, the only
#: files served from it, as glob patterns relative to that folder).
VENDOR: dict[str, tuple[str, tuple[str, ...]]] = {
    "dsfr": ("@gouvfr/dsfr/dist", (
        "dsfr.min.css", "dsfr.module.min.js", "fonts/*.woff2", "fonts/*.woff",
        "icons/*/*.svg", "utility/icons/icons.min.css", "favicon/*")),
    "maplibre": ("maplibre-gl/dist", (
        "maplibre-gl.mjs", "maplibre-gl-worker.mjs", "maplibre-gl.css")),
    "plot": ("@observablehq/plot/dist", ("plot.umd.min.js",)),
    "d3": ("d3/dist", ("d3.min.js",)),
}
VENDOR_PACKAGES = {"dsfr": "@gouvfr/dsfr", "maplibre": "maplibre-gl",
                   "plot": "@observablehq/plot", "d3": "d3"}

#: Levels the map offers, from the finest to the broadest (QPV when contours are loaded).
MAP_LEVELS = ("COM", "EPCI", "DEP", "REG", "QPV")
#: Zoom and extent of the map's first view, metropolitan France: its tiles are made as
#: the application starts (see :func:`install_pages`).
FIRST_ZOOM = 5
FIRST_VIEW = (-5.5, 41.2, 9.8, 51.2)
#: The map's indicator when the address names none (the first one loaded).
DEFAULT_INDICATORS = ("taux_chomage_15_64", "taux_pauvrete", "population")
METHODS = ("quantiles", "jenks", "equal")
#: The files of the map page (mount path, file), compressed as the application starts.
MAP_ASSETS = (("/static/vendor/maplibre", "maplibre-gl.mjs"),
              ("/static/vendor/maplibre", "maplibre-gl-worker.mjs"),
              ("/static/vendor/maplibre", "maplibre-gl.css"),
              ("/static/vendor/dsfr", "dsfr.min.css"),
              ("/static/vendor/dsfr", "dsfr.module.min.js"),
              ("/static/vendor/dsfr", "utility/icons/icons.min.css"),
              *(("/static", name) for name in (
                  "carte.js", "api.js", "classify.js", "format.js", "data-styles.js",
                  "search.js", "cohesion.css")))
#: Address of the contours' vector tiles (see the API's ``/api/tiles``).
TILES_URL = "/api/tiles/{level}/{vintage}/{z}/{x}/{y}.pbf"

#: The comparison levels of a portrait, in the order shown.
COMPARISONS = (("DEP", "Département"), ("REG", "Région"), ("FRA", "France"))
#: Members listed on a portrait: the territory's level → levels listed (in order).
MEMBERS = {"FRA": ("REG",), "REG": ("DEP",), "DEP": ("EPCI", "COM"), "EPCI": ("COM",),
           "EPT": ("COM",), "ARR": ("COM",)}
#: Above this many members, a list stays folded until the reader opens it.
FOLDED_MEMBERS = 60
#: Largest list of members rendered in a page (the rest is in the CSV of values).
MAX_MEMBERS = 2000

CSV_COLUMNS = ["territoire", "nom", "niveau", "millesime", "indicateur", "libelle", "unite",
               "periode", "valeur", "manquant", "rang", "nombre", "percentile",
               "departement", "region", "france", "source"]

#: Media types that not every system's table knows (a module script needs its own).
MEDIA_TYPES = {".mjs": "text/javascript", ".js": "text/javascript", ".woff2": "font/woff2",
               ".woff": "font/woff", ".svg": "image/svg+xml",
               ".webmanifest": "application/manifest+json"}
for _suffix, _type in MEDIA_TYPES.items():
    mimetypes.add_type(_type, _suffix)


# -- assets ---------------------------------------------------------------------------


class AllowedFiles(StaticFiles):
    """Static files from one folder, restricted to a list of glob patterns.

    Parameters
    ----------
    directory : Path
        The folder served.
    patterns : tuple of str
        Relative paths (``fnmatch`` patterns, ``/``-separated) that may be served;
        anything else answers 404.
    cache_control : str
        ``Cache-Control`` header of the answers.
    """

    def __init__(self, directory: Path, patterns: tuple[str, ...],
                 cache_control: str) -> None:
        super().__init__(directory=directory, check_dir=False)
        self.patterns = patterns
        self.cache_control = cache_control

    async def get_response(self, path: str, scope: Scope) -> Response:
        relative = path.replace("\\", "/").lstrip("/")
        if ".." in relative.split("/") or not any(fnmatch(relative, p)
                                                  for p in self.patterns):
            raise HTTPException(status_code=404)
        response = await super().get_response(path, scope)
        response.headers["Cache-Control"] = self.cache_control
        if response.status_code == 200 and relative.endswith(COMPRESSIBLE) and \
                accepts_gzip(Headers(scope=scope).get("accept-encoding")):
            full_path, found = self.lookup_path(path)
            body = await run_in_threadpool(_gzipped, full_path, found.st_mtime_ns, found.st_size)
            headers = {name: value for name, value in response.headers.items()
                       if name not in ("content-length", "etag")}
            return Response(body, status_code=200, headers=headers | {
                "Content-Encoding": "gzip", "Vary": "Accept-Encoding"})
        return response

    def compress(self, relative: str) -> None:
        """Compress a served file now, so that its first visitor does not wait for it."""
        full_path, found = self.lookup_path(relative)
        if found is not None and relative.endswith(COMPRESSIBLE):
            _gzipped(full_path, found.st_mtime_ns, found.st_size)


#: Text assets sent gzip-compressed (MapLibre and the DSFR styles weigh 2 MB as text).
COMPRESSIBLE = (".js", ".mjs", ".css", ".svg", ".webmanifest")


@functools.lru_cache(maxsize=64)
def _gzipped(path: str, modified_ns: int, size: int) -> bytes:
    """The file compressed once per version (its modification time and size)."""
    return gzip.compress(Path(path).read_bytes(), compresslevel=9)


def _package_version(folder: Path, package: str) -> str:
    try:
        return json.loads((folder / package / "package.json").read_text())["version"]
    except (OSError, ValueError, KeyError):
        return "0"


def mount_assets(app: FastAPI, modules: Path) -> dict[str, str]:
    """Mount the vendored libraries and Cohésion's own static files.

    Returns
    -------
    dict
        Version of each vendored package (``dsfr``, ``maplibre``…), used in asset URLs
        so that browsers may keep the files for a week and still see an upgrade.
    """
    if not (modules / "@gouvfr" / "dsfr").is_dir():
        logger.warning("front-end packages missing in %s: run `npm ci` (the pages will "
                       "have no styles, maps or charts)", modules)
    versions = {}
    for name, (folder, patterns) in VENDOR.items():
        app.mount(f"/static/vendor/{name}",
                  AllowedFiles(modules / folder, patterns, "public, max-age=604800"),
                  name=f"vendor-{name}")
        versions[name] = _package_version(modules, VENDOR_PACKAGES[name])
    app.mount("/static", AllowedFiles(STATIC, ("*.js", "*.css", "*.svg"), "no-cache"),
              name="static")
    return versions


# -- formatting -----------------------------------------------------------------------


def format_number(value: float | None, unit: str = "") -> str:
    r"""A number the French way: thin spaces between thousands, a decimal comma.

    Integers and numbers of 1,000 and more have no decimals, numbers of 10 and more one,
    smaller ones two. The unit follows after a non-breaking space.

    Examples
    --------
    >>> format_number(28992.0, "habitants")
    '28\u202f992\xa0habitants'
    >>> format_number(20.1297, "%")
    '20,1\xa0%'
    >>> format_number(None)
    '—'
    """
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    magnitude = abs(value)
    digits = 0 if float(value).is_integer() or magnitude >= 1000 else 1 if magnitude >= 10 \
        else 2
    text = f"{value:,.{digits}f}".replace(",", "\u202f").replace(".", ",")
    return f"{text}\xa0{unit}" if unit else text


def ordinal(rank: int) -> str:
    """French ordinal (``1er``, ``2e``…)."""
    return "1er" if rank == 1 else f"{format_number(rank)}e"


# -- view models ----------------------------------------------------------------------


def map_config(observatory: Observatory) -> dict[str, Any]:
    """What the map page needs at once: indicators, levels with contours, reasons.

    Kept per warehouse content (:meth:`Observatory.version`): each visit of the map
    asks for it, and the periods of every indicator in each QPV generation take a query
    each (90 ms for the 44 indicators, before the page could be sent). A shallow copy is
    returned, which the caller may complete.
    """
    return dict(observatory.cache.get(("map_config", observatory.version()),
                                      lambda: _map_config(observatory)))


def _map_config(observatory: Observatory) -> dict[str, Any]:
    own_levels = [level for level in MAP_LEVELS if level in OWN_LEVELS]
    indicators = [
        {"id": i["id"], "label": i["label"], "unit": i["unit"] or "",
         "source": i["source"], "direction": i["direction"], "periods": i["periods"],
         "aggregation": i["aggregation"],
         # a QPV's values are its own, in its generation: periods by generation
         "own": {level: {str(g): periods for g, periods in
                         observatory.own_generations(i["id"], level).items()}
                 for level in own_levels}}
        for i in observatory.indicators() if i["periods"]]

    with_contours = {level["id"]: [v["vintage"] for v in level["vintages"]
                                   if v["with_contours"]]
                     for level in observatory.levels()}
    levels = [{"id": level, "label": LEVEL_LABELS.get(level, level),
               "vintages": with_contours[level]}
              for level in MAP_LEVELS if with_contours.get(level)]
    return {"indicators": indicators, "levels": levels,
            "vintages": observatory.vintages(), "latest": observatory.latest_vintage(),
            "own_levels": own_levels,
            "own_extents": {level: {str(g): observatory.extent(level, g, with_values=True)
                                    for g in with_contours[level]}
                            for level in own_levels if with_contours.get(level)},
            "reasons": REASON_LABELS}


def map_state(config: dict[str, Any], query: dict[str, str]) -> dict[str, Any]:
    """The map's state from its address, checked and completed with defaults.

    The page hands it to the script, and names the values it will ask for first in a
    ``preload`` link, so that the browser fetches them while the map library loads.
    """
    indicators = {i["id"]: i for i in config["indicators"]}
    levels = {level["id"]: level for level in config["levels"]}
    if not indicators or not levels:
        return {}
    level = query.get("level", "")
    if level not in levels:
        level = "DEP" if "DEP" in levels else next(iter(levels))
    # at a QPV level, only the indicators its own values give (another is not offered)
    offered = {i: found for i, found in indicators.items()
               if level not in config["own_levels"]
               or any(found["own"][level].get(str(v)) for v in levels[level]["vintages"])}
    if not offered:
        level = "DEP" if "DEP" in levels else next(iter(levels))
        offered = indicators
    indicator = query.get("indicator", "")
    if indicator not in offered:
        indicator = next((i for i in DEFAULT_INDICATORS if i in offered), next(iter(offered)))
    asked = query.get("vintage", "")
    if level in config["own_levels"]:
        # the generations holding the indicator, and the chosen one's periods
        own = indicators[indicator]["own"][level]
        vintages = [v for v in levels[level]["vintages"] if own.get(str(v))]
        vintage = int(asked) if asked.isdigit() and int(asked) in vintages else vintages[-1]
        periods = sorted(own[str(vintage)], key=period_key)
    else:
        vintages = levels[level]["vintages"]
        vintage = int(asked) if asked.isdigit() and int(asked) in vintages else \
            config["latest"] if config["latest"] in vintages else vintages[-1]
        periods = sorted(indicators[indicator]["periods"], key=period_key)
    period = query.get("period") if query.get("period") in periods else periods[-1]
    method = query.get("method") if query.get("method") in METHODS else "quantiles"
    classes = query.get("classes", "")
    state = {"indicator": indicator, "level": level, "period": period, "vintage": vintage,
             "method": method,
             "classes": min(9, max(3, int(classes))) if classes.isdigit() else 5}
    state["values_url"] = "/api/values?" + urlencode(
        {"indicator": indicator, "level": level, "vintage": vintage, "period": period,
         "format": "columns"})
    return state


def _position(figure: dict[str, Any], level: str) -> dict[str, Any] | None:
    """Rank and percentile of a figure, as sentences and a strip position."""
    if figure.get("rank") is None:
        return None
    deciles = figure.get("deciles") or []
    unit = figure.get("unit") or ""
    return {
        "rank_number": figure["rank"], "count": figure["count"],
        "rank": f"{ordinal(figure['rank'])} valeur la plus élevée sur "
                f"{format_number(figure['count'])} {level_noun(level, plural=True)}",
        "percentile": round(figure["percentile"], 1),
        "above": f"supérieure ou égale à celle de {math.floor(figure['percentile']):d} % des "
                 f"{level_noun(level, plural=True)}",
        "deciles": [{"label": label, "value": format_number(deciles[index], unit)}
                    for label, index in (("1er décile", 1), ("médiane", 5),
                                         ("9e décile", 9))] if len(deciles) == 11 else [],
    }


def portrait_view(observatory: Observatory, territory_id: str) -> dict[str, Any]:
    """The portrait of a territory, ready to display (texts) and to chart (series)."""
    portrait = observatory.portrait(territory_id)
    territory = portrait["territory"]
    parents = {p["level"]: p for p in territory["parents"]}
    figures, missing_sources = [], []
    for figure in portrait["figures"]:
        unit = figure.get("unit") or ""
        if not figure["loaded"]:
            missing_sources.append({"label": figure["label"], "source": figure["source"]})
            continue
        comparisons = []
        for level, noun in COMPARISONS:
            other = figure.get("comparisons", {}).get(level)
            if other is None:
                continue
            comparisons.append({
                "level": noun, "name": parents.get(level, {}).get("name", noun),
                "id": other["id"], "value": other["value"],
                "text": format_number(other["value"], unit),
                "missing": other.get("missing_label")})
        figures.append({
            **({} if "communes" not in figure else _qpv_columns(figure, unit)),
            "id": figure["indicator"], "label": figure["label"], "unit": unit,
            "source": figure["source"], "producer": figure["producer"],
            "period": figure.get("period"), "text": format_number(figure.get("value"), unit),
            "missing": figure.get("missing_label"), "comparisons": comparisons,
            "position": _position(figure, territory["level"]),
            "series": [{"period": s["period"], "value": s["value"],
                        "missing": s.get("missing_label")} for s in figure.get("series", [])],
        })
    labels = observatory.level_labels()
    members = []
    for level in MEMBERS.get(territory["level"], ()):
        found = observatory.members(territory["id"], level)
        if not found:  # an EPCI may straddle départements: none is inside one
            continue
        members.append({
            "level": level, "noun": level_noun(level, plural=True), "count": len(found),
            "folded": len(found) > FOLDED_MEMBERS, "truncated": len(found) > MAX_MEMBERS,
            "csv": "/api/values?" + urlencode({
                "indicator": "population", "level": level, "within": territory["id"],
                "vintage": territory["vintage"], "format": "csv"}),
            "rows": [{"id": f"{level}:{m['code']}@{territory['vintage']}", "code": m["code"],
                      "name": m["name"], "population": format_number(m["population"])
                      if m.get("population") is not None else None}
                     for m in found[:MAX_MEMBERS]]})
    qpv = None
    if territory["level"] == "QPV":
        sections: dict[str, list[dict[str, Any]]] = {}
        for item in figures:
            sections.setdefault(item["section"], []).append(item)
        qpv = {"sections": sections, "vintage": portrait["vintage"],
               "links": [{"label": label, "territories": portrait["links"][level]}
                         for level, label in QPV_LINKS if portrait["links"].get(level)]}
    return {"territory": territory, "qpv": qpv,
            "level_label": LEVEL_LABELS.get(territory["level"], territory["level"]),
            "level_plural": level_noun(territory["level"], plural=True),
            "breadcrumb": [p for level in ("REG", "DEP") for p in territory["parents"]
                           if p["level"] == level],
            "parents": [p | {"label": labels.get(p["level"], p["level"])}
                        for p in territory["parents"] if p["level"] != "FRA"],
            "figures": figures, "missing_sources": missing_sources, "members": members,
            "credits": portrait["credits"],
            "population": format_number(territory.get("population"), "habitants"),
            "area": format_number(territory.get("area_km2"), "km²")}


def _qpv_columns(figure: dict[str, Any], unit: str) -> dict[str, Any]:
    """A QPV's figure: its section, its communes and its EPCI outside QPV, as texts."""
    outside = figure["outside_qpv"]
    rest = figure.get("communes_outside_qpv")
    return {"section": figure["section"],
            "communes_outside": None if rest is None else {
                "text": format_number(rest["value"], unit), "note": rest["note"]},
            "communes": [{"id": c["id"], "name": c["name"],
                          "text": format_number(c["value"], unit) if c["value"] is not None
                          else None, "note": c["note"]} for c in figure["communes"]],
            "outside": {"id": outside["id"], "name": outside["name"],
                        "text": format_number(outside["value"], unit)
                        if outside["value"] is not None else None, "note": outside["note"]}}


def portrait_csv(view: dict[str, Any]) -> str:
    """The figures of a portrait as CSV: one row per indicator and period.

    Text cells that a spreadsheet would run as a formula (a territory or indicator name
    starting with ``=``…) are neutralised (:func:`cohesion.spreadsheet.neutralise_text`).
    """
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    territory = view["territory"]
    for figure in view["figures"]:
        for point in figure["series"]:
            main = point["period"] == figure["period"]
            position = figure["position"] if main else None
            compared = {c["level"]: c for c in figure["comparisons"]} if main else {}
            writer.writerow(map(neutralise_text, [
                territory["id"], territory["name"], territory["level"], territory["vintage"],
                figure["id"], figure["label"], figure["unit"], point["period"],
                "" if point["value"] is None else repr(point["value"]),
                point["missing"] or "",
                *((position["rank_number"], position["count"], position["percentile"])
                  if position else ("", "", "")),
                *(_plain(compared.get(noun)) for _, noun in COMPARISONS),
                figure["source"]]))
    return buffer.getvalue()


def _plain(compared: dict[str, Any] | None) -> str:
    """A comparison value as plain CSV text (empty when missing)."""
    if not compared or compared["value"] is None:
        return ""
    return repr(compared["value"])


def compare_view(observatory: Observatory, ids: list[str]) -> dict[str, Any]:
    """N territories side by side: rows of indicators, a column per territory."""
    comparison = observatory.compare(ids)
    territories = comparison["territories"]
    rows = []
    for indicator in comparison["indicators"]:
        unit = indicator["unit"] or ""
        values = [indicator["values"][t["id"]] for t in territories]
        largest = max((abs(v["value"]) for v in values if v["value"] is not None), default=0)
        rows.append({
            "id": indicator["indicator"], "label": indicator["label"], "unit": unit,
            "period": indicator.get("period"), "source": indicator["source"],
            "producer": indicator["producer"],
            "cells": [{"text": format_number(v["value"], unit), "missing": v["missing_label"],
                       "bar": round(100 * abs(v["value"]) / largest, 1)
                       if v["value"] is not None and largest else 0,
                       "negative": v["value"] is not None and v["value"] < 0}
                      for v in values]})
    columns = []
    for territory in territories:
        others = [i for i in ids if i != territory["id"]]
        columns.append(territory | {
            "level_label": LEVEL_LABELS.get(territory["level"], territory["level"]),
            "remove": "/comparer" + ("?" + urlencode({"ids": ",".join(others)}, safe=":@,")
                                     if others else "")})
    return {"columns": columns, "rows": rows, "credits": comparison["credits"]}


def datasets_view(observatory: Observatory) -> list[dict[str, Any]]:
    """The imported datasets with readable sizes, dates and periods."""
    rows = []
    for dataset in observatory.datasets():
        periods = sorted((p for p in dataset.get("periods") or [] if p != "*"), key=period_key)
        rows.append(dataset | {
            "period_text": "—" if not periods else periods[0] if len(periods) == 1
            else f"{periods[0]} à {periods[-1]} ({len(periods)} périodes)",
            "size_text": format_number((dataset.get("size") or 0) / 2**20, "Mo"),
            "rows_text": format_number(dataset.get("rows")),
            "imported_text": (dataset.get("imported_at") or "")[:16].replace("T", " à "),
        })
    return rows


def _split_ids(ids: str | None) -> list[str]:
    return [i.strip() for i in (ids or "").split(",") if i.strip()]


# -- pages ----------------------------------------------------------------------------


def render(request: Request, name: str, status: int = 200,
           headers: dict[str, str] | None = None, **context: Any) -> Response:
    """Render the template ``name`` (which extends ``base.html``) as an HTML answer.

    Other parts of the web application (the QPV and analysis pages) render through this
    function, so that every page shares the same assets, header and credits.
    """
    return request.app.state.templates.TemplateResponse(request, name, context,
                                                        status_code=status, headers=headers)


def install_pages(app: FastAPI, observatory: Observatory, prepare: bool = True) -> None:
    """Serve the web application's pages and assets from ``app``.

    Parameters
    ----------
    app : FastAPI
        The application built by :func:`cohesion.web.app.create_app`; the pages are
        added after the API routes and are left out of the OpenAPI document.
    observatory : Observatory
        The observatory the pages read.
    prepare : bool
        Compile the page templates and prepare the map of each level (default
        indicator's values, first view's tiles) before this returns, so that the server
        only answers once the first visitor's map can be drawn at once (a map asked for
        later, with another indicator, is prepared in a background thread while the
        browser loads the page).
    """
    versions = mount_assets(app, observatory.settings.npm_folder())
    templates = Jinja2Templates(directory=TEMPLATES)
    templates.env.globals.update(
        vendor=lambda path: f"/static/vendor/{path}?v={versions[path.split('/')[0]]}",
        format_number=format_number, level_labels=LEVEL_LABELS)
    app.state.templates = templates
    router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
    page = render

    preparing = ThreadPoolExecutor(max_workers=1, thread_name_prefix="cohesion-map")

    def prepare_map(state: dict[str, Any]) -> None:
        """Make the first view's tiles and the values of a map state before it is asked."""
        try:
            observatory.values_json(state["indicator"], state["level"], state["vintage"],
                                    state["period"], columns=True)
            for x, y in tiles_covering(*FIRST_VIEW, FIRST_ZOOM):
                observatory.tile(state["level"], state["vintage"], FIRST_ZOOM, x, y)
        except Exception:  # the requests themselves will report it
            logger.debug("map %s not prepared", state, exc_info=True)

    if prepare:
        # compiled now, not by the first visitor of each page (15 ms for the map's)
        for name in templates.env.list_templates(extensions=["html"]):
            templates.env.get_template(name)
        config = map_config(observatory)
        states = [map_state(config, {"level": level["id"]}) for level in config["levels"]]
        # two threads: shapely and DuckDB release the GIL for most of the work
        with ThreadPoolExecutor(max_workers=2, thread_name_prefix="cohesion-map") as start:
            list(start.map(prepare_map, [state for state in states if state]))
        mounted = {route.path: route.app for route in app.routes if isinstance(route, Mount)}
        for mount, name in MAP_ASSETS:
            if isinstance(mounted.get(mount), AllowedFiles):
                mounted[mount].compress(name)

    @router.get("/")
    @router.get("/carte")
    def carte(request: Request) -> Response:
        config = map_config(observatory)
        config["initial"] = state = map_state(config, dict(request.query_params))
        config["first_view"] = FIRST_VIEW
        config["tiles"] = TILES_URL
        if state:
            preparing.submit(prepare_map, state)
        return page(request, "carte.html", active="carte", config=config)

    @router.get("/recherche")
    def recherche(request: Request, q: str = "") -> Response:
        text = q.strip()[:100]
        found = observatory.search(text, limit=30) if text else []
        for item in found:
            item["level_label"] = LEVEL_LABELS.get(item["level"], item["level"])
        return page(request, "recherche.html", q=text, results=found)

    @router.get("/territoire/{territory_id}")
    def territoire(request: Request, territory_id: str) -> Response:
        return page(request, "portrait.html", **portrait_view(observatory, territory_id))

    @router.get("/territoire/{territory_id}/chiffres.csv", response_class=Response)
    def territoire_csv(request: Request, territory_id: str) -> Response:
        view = portrait_view(observatory, territory_id)
        tid = TerritoryId.parse(view["territory"]["id"])
        filename = f"portrait_{tid.level}_{tid.code}_{tid.vintage}.csv"
        return csv_download(portrait_csv(view), filename)

    @router.get("/comparer")
    def comparer(request: Request, ids: str = "") -> Response:
        chosen = list(dict.fromkeys(_split_ids(ids)))[:20]
        view, problem = None, None
        if chosen:
            try:
                view = compare_view(observatory, chosen)
            except CohesionError as error:
                problem = str(error)
        return page(request, "comparer.html", 400 if problem else 200, active="comparer",
                    ids=chosen, view=view, problem=problem,
                    latest=observatory.latest_vintage())

    @router.get("/donnees")
    def donnees(request: Request) -> Response:
        return page(request, "donnees.html", active="donnees",
                    datasets=datasets_view(observatory), importers=observatory.importers(),
                    vintages=observatory.vintages())

    app.include_router(router)
