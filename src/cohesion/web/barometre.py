"""The baromètre de la cohésion des territoires over HTTP: endpoints and pages.

:func:`install` adds to the application

- ``GET /api/barometre``: the definition (six factors, their indicators, direction,
  challenge, definition, source) and whether each source is loaded;
- ``GET /api/barometre/{territory_id}``: a territory's position on every indicator
  (value, France, evolution, rank, percentile, decile) and each factor's score with its
  band of ranks;
- ``GET /api/barometre/fiche/{indicator_id}``: the convergence fact sheet of an
  indicator (interdecile ratios at both dates, contrast between régions, ranking);
- the pages ``/barometre`` (the definition and a territory search),
  ``/barometre/{territory_id}`` (with its CSVs, ``…/barometre.csv`` and ``…/scores.csv``)
  and ``/barometre/fiche/{indicator_id}`` (the fact sheet and the ranking).

The documents are built by the pure functions of :mod:`cohesion.analysis.barometre` on
the values read by :mod:`cohesion.analysis.barometre_data`, and cached per warehouse
version. Every message meant for a user is in French; an unknown territory or indicator
answers 404, a territory of a level the baromètre is not read at 400.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd
from fastapi import APIRouter, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from cohesion.analysis.barometre import (
    Barometre,
    BarometreIndicator,
    DateFigures,
    FactorScore,
    IndicatorFactSheet,
)
from cohesion.analysis.barometre_data import (
    NOT_LOADED,
    IndicatorReading,
    TerritoryBarometre,
)
from cohesion.core import Observatory
from cohesion.errors import NotFoundError
from cohesion.territory.ids import TerritoryId
from cohesion.territory.levels import LEVEL_LABELS, level_noun
from cohesion.web.pages import format_number, render
from cohesion.web.tables import csv_download

#: Rows of the ranking a fact-sheet document holds at most (the CSV of the CLI has all).
RANKING_LIMIT = 2000

DIRECTION_LABELS = {"higher_is_better": "plus élevé = plus favorable",
                    "lower_is_better": "plus bas = plus favorable",
                    "neutral": "sans sens favorable"}
STATUS_LABELS = {"loaded": "chargé", "not_loaded": NOT_LOADED, "no_value": "sans valeur"}


def _number(value: Any) -> float | int | None:
    """A JSON number, None for NaN or a missing value."""
    if value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return None if isinstance(value, float) and not math.isfinite(value) else value
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _producer(indicator: BarometreIndicator, reading: IndicatorReading | None = None) -> str:
    """Who produced the figure: the statistical source, and the CGET for 2018 tables."""
    if reading is not None and reading.series is not None and \
            reading.series.source.find("catalogue") >= 0:
        return indicator.source
    return f"{indicator.source} ; mise en forme : CGET (ANCT), baromètre 2018"


# -- documents --------------------------------------------------------------------------


def definition_document(barometre: Barometre, loaded: dict[str, bool]) -> dict[str, Any]:
    """The baromètre's definition, each indicator with its loading status."""
    document = barometre.describe()
    for factor in document["factors"]:
        for item in factor["indicators"]:
            indicator = barometre.indicator(item["id"])
            available = loaded.get(indicator.id, False)
            item["status"] = "loaded" if available else "not_loaded"
            item["status_label"] = "chargé" if available else NOT_LOADED
            item["direction_label"] = DIRECTION_LABELS[indicator.direction]
    document["indicator_count"] = len(barometre.indicators)
    return document


def _score_document(score: FactorScore) -> dict[str, Any]:
    return {"score": _number(score.score), "rank": score.rank, "n": score.n,
            "rank_low": score.rank_low, "rank_high": score.rank_high,
            "best_rank": score.best_rank, "worst_rank": score.worst_rank,
            "scenarios": score.scenarios, "indicators": list(score.indicators),
            "left_out": score.left_out, "note": score.note}


def _reading_document(reading: IndicatorReading) -> dict[str, Any]:
    indicator = reading.indicator
    document: dict[str, Any] = {
        "id": indicator.id, "anct_id": indicator.anct_id, "edition": indicator.edition,
        "label": indicator.label, "theme": indicator.theme, "challenge": indicator.challenge,
        "direction": indicator.direction,
        "direction_label": DIRECTION_LABELS[indicator.direction],
        "definition": indicator.definition, "unit": indicator.unit,
        "status": reading.status, "status_label": STATUS_LABELS[reading.status],
        "note": reading.note, "source": indicator.source,
        "producer": _producer(indicator, reading)}
    table = indicator.table
    if table is not None and table.match == "related":
        document["related_label"] = table.related_label
    series, position = reading.series, reading.position
    if series is not None and position is not None:
        document.update({
            "level": series.level, "level_label": series.level_label,
            "territory": {"code": position.code, "name": position.name},
            "period": series.second_period, "first_period": series.first_period,
            "value": _number(position.value), "first_value": _number(position.first_value),
            "change": _number(position.change), "france": _number(position.france),
            "france_first": _number(position.france_first),
            "gap_to_france": _number(position.gap_to_france), "rank": position.rank,
            "n": position.n, "percentile": _number(position.percentile),
            "decile": position.decile, "favourable_share": _number(position.favourable_share),
            "first_rank": position.first_rank, "source": series.source})
        for key in ("value", "france", "first_value", "change", "gap_to_france"):
            document[f"{key}_text"] = format_number(document[key], "") if document[
                key] is not None else "—"
    return document


def territory_document(result: TerritoryBarometre) -> dict[str, Any]:
    """A territory's baromètre as JSON-ready data."""
    tid = result.territory
    readings = {r.indicator.id: r for r in result.readings}
    scores = {s.factor.id: s for s in result.scores}
    units = [{"level": level, "code": code, "name": result.unit_names.get(level, code),
              "level_label": LEVEL_LABELS.get(level, level),
              "id": str(TerritoryId(level, code, tid.vintage))}
             for level, code in result.units.items() if level != tid.level]
    return {
        "territory": {"id": str(tid), "level": tid.level, "code": tid.code,
                      "vintage": tid.vintage, "name": result.name,
                      "level_label": LEVEL_LABELS.get(tid.level, tid.level)},
        "units": units, "score_level": result.score_level,
        "score_level_label": level_noun(result.score_level, plural=True),
        "notes": result.notes, "producer": result.barometre.producer,
        "data_edition": result.barometre.data_edition,
        "factors": [{"id": f.id, "label": f.label, "also_called": f.also_called,
                     "score": _score_document(scores[f.id]),
                     "indicators": [_reading_document(readings[i.id])
                                    for i in f.indicators]}
                    for f in result.barometre.factors]}


def _date_document(figures: DateFigures | None) -> dict[str, Any] | None:
    if figures is None:
        return None
    return {"period": figures.period, "n": figures.n, "mean": _number(figures.mean),
            "d1": _number(figures.interdecile.d1), "d9": _number(figures.interdecile.d9),
            "interdecile_ratio": _number(figures.interdecile.ratio),
            "interdecile_gap": _number(figures.interdecile.gap),
            "highest": {"code": str(figures.extremes.highest),
                        "value": _number(figures.extremes.highest_value)},
            "lowest": {"code": str(figures.extremes.lowest),
                       "value": _number(figures.extremes.lowest_value)},
            "gap": _number(figures.extremes.gap), "ratio": _number(figures.extremes.ratio)}


def fact_sheet_document(sheet: IndicatorFactSheet) -> dict[str, Any]:
    """A fact sheet as JSON-ready data (the ranking limited to :data:`RANKING_LIMIT`)."""
    series = sheet.series
    indicator = series.indicator
    regional = None
    if sheet.regional is not None:
        regional = {"first": _date_document(sheet.regional.first),
                    "second": _date_document(sheet.regional.second),
                    "excluded": list(sheet.regional.excluded),
                    "gap_change": _number(sheet.regional.gap_change)}
    convergence = None
    if sheet.convergence is not None:
        beta = sheet.convergence.beta
        convergence = {
            "coefficient_of_variation": [_number(v) for v in
                                         sheet.convergence.sigma.dispersion.to_numpy()],
            "sigma_converging": sheet.convergence.sigma.converging,
            "beta": None if beta is None else {"beta": _number(beta.beta),
                                               "p_value": _number(beta.p_value),
                                               "years": _number(beta.years),
                                               "log": beta.log}}
    ranking = sheet.ranking.head(RANKING_LIMIT)
    return {
        "indicator": {"id": indicator.id, "label": indicator.label, "unit": indicator.unit,
                      "direction": indicator.direction, "source": indicator.source},
        "level": series.level, "level_label": series.level_label,
        "source": series.source, "producer": _producer(indicator),
        "first_period": series.first_period, "second_period": series.second_period,
        "france": {"first": _number(series.france_first),
                   "second": _number(series.france_second)},
        "quantile_method": "interpolation linéaire (type 7 de Hyndman et Fan)",
        "sample": ("territoires ayant une valeur aux deux dates" if sheet.first is not None
                   else "territoires ayant une valeur"),
        "n_dropped": sheet.n_dropped, "first": _date_document(sheet.first),
        "second": _date_document(sheet.second),
        "interdecile_ratio_change": _number(sheet.interdecile_ratio_change),
        "regional": regional, "convergence": convergence,
        "ranking": [{"rank": None if pd.isna(r.rank) else int(r.rank),
                     "code": r.code, "name": r.name, "value": _number(r.value),
                     "first_value": _number(r.first_value), "change": _number(r.change)}
                    for r in ranking.itertuples()],
        "ranking_total": len(sheet.ranking)}


class BarometreDocuments:
    """The baromètre's documents, built from the core's objects and cached."""

    def __init__(self, observatory: Observatory) -> None:
        self.observatory = observatory
        self.service = observatory.barometre

    def _cached(self, key: tuple[Any, ...], build: Any) -> dict[str, Any]:
        return self.observatory.cache.get(("barometre-document", *key,
                                           self.observatory.version()), build)

    def definition(self) -> dict[str, Any]:
        """The definition and the loading status of every indicator."""
        return self._cached(("definition",), lambda: definition_document(
            self.service.barometre, self.service.loaded()))

    def territory(self, territory_id: str) -> dict[str, Any]:
        """A territory's baromètre document."""
        return self._cached(("territory", territory_id), lambda: territory_document(
            self.service.territory(territory_id)))

    def fact_sheet(self, indicator_id: str, level: str | None,
                   exclude: tuple[str, ...]) -> dict[str, Any]:
        """An indicator's fact sheet document."""
        return self._cached(("fiche", indicator_id, level, exclude), lambda:
                            fact_sheet_document(self.service.fact_sheet(indicator_id, level,
                                                                        exclude)))

    def examples(self) -> list[dict[str, str]]:
        """A few territories to start from, with their names."""
        return [{"id": str(tid), "name": self.observatory.names(tid.level,
                                                                tid.vintage)[tid.code],
                 "level_label": LEVEL_LABELS.get(tid.level, tid.level)}
                for tid in self.service.examples()]


def install(app: FastAPI, observatory: Observatory) -> None:
    """Add the baromètre endpoints and the ``/barometre`` pages to ``app``."""
    service = BarometreDocuments(observatory)
    api = APIRouter(prefix="/api/barometre", tags=["baromètre"])

    @api.get("", summary="Définition du baromètre de la cohésion des territoires")
    def definition() -> JSONResponse:
        """Les six facteurs et leurs indicateurs, avec l'état de chargement des sources.

        Sens, enjeu, définition et source de chaque indicateur ; « source non chargée »
        quand ses données ne sont pas dans l'entrepôt.
        """
        return JSONResponse(service.definition())

    @api.get("/fiche/{indicator_id}", summary="Fiche de convergence d'un indicateur")
    def fiche(indicator_id: str,
              level: str | None = Query(None, description="ZE, EPCI, DEP ou REG (défaut : "
                                        "l'échelon du tableau publié)"),
              exclude_region: list[str] = Query(  # noqa: B008 - FastAPI's idiom
                  [], description="Régions laissées de côté dans l'écart entre régions")
              ) -> JSONResponse:
        """Rapports interdéciles D9/D1 aux deux dates et écart entre régions extrêmes.

        Avec la convergence sigma et bêta et le classement des territoires.
        """
        return JSONResponse(service.fact_sheet(indicator_id, level and level.upper(),
                                               tuple(exclude_region)))

    @api.get("/{territory_id}", summary="Baromètre d'un territoire")
    def territoire(territory_id: str) -> JSONResponse:
        """Position du territoire sur chaque indicateur et score de chaque facteur.

        Valeur, France, évolution, rang et décile ; score avec son intervalle de rangs.
        """
        return JSONResponse(service.territory(territory_id))

    app.include_router(api)
    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @pages.get("/barometre")
    def barometre_page(request: Request) -> Response:
        return render(request, "barometre.html", active="barometre",
                      definition=service.definition(),
                      examples=service.examples())

    @pages.get("/barometre/fiche/{indicator_id}")
    def barometre_fiche(request: Request, indicator_id: str,
                        level: str | None = None) -> Response:
        document = service.fact_sheet(indicator_id, level and level.upper(), ())
        return render(request, "barometre_fiche.html", active="barometre", sheet=document)

    @pages.get("/barometre/{territory_id}")
    def barometre_territoire(request: Request, territory_id: str) -> Response:
        document = service.territory(territory_id)
        return render(request, "barometre_territoire.html", active="barometre",
                      view=document)

    @pages.get("/barometre/{territory_id}/{table}.csv", response_class=Response)
    def barometre_csv(request: Request, territory_id: str, table: str) -> Response:
        # the same tables as `cohesion analysis barometre -o … --scores-output …`
        if table not in ("barometre", "scores"):
            raise NotFoundError(f"aucune table « {table} » du baromètre (attendu "
                                "barometre ou scores)")
        result = observatory.barometre.territory(territory_id)
        frame = result.to_frame() if table == "barometre" else result.scores_frame()
        tid = result.territory
        filename = f"{table}_{tid.level}_{tid.code}_{tid.vintage}.csv"
        return csv_download(frame, filename)

    app.include_router(pages)
