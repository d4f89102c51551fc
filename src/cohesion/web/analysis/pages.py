"""The ``/analyse`` pages: inequality, LISA cluster map, typology (not in the OpenAPI)."""

from __future__ import annotations

import logging
import math
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Request
from fastapi.responses import HTMLResponse, Response

from cohesion.core.analyses import MAX_CLASSES, MAX_INDICATORS, Analyses
from cohesion.errors import CohesionError
from cohesion.indicators.periods import period_key
from cohesion.web.pages import (
    FIRST_VIEW,
    TILES_URL,
    format_number,
    level_noun,
    map_config,
    render,
)

logger = logging.getLogger("cohesion.web")

#: The typology page's indicators when the address names none (the ones loaded).
#: They add up at every level (a median income is published for communes only).
DEFAULT_TYPOLOGY = ("taux_chomage_15_64", "taux_activite_15_64", "part_logements_vacants",
                    "part_residences_secondaires", "evolution_population",
                    "densite_population")
DEFAULT_INEQUALITY = ("revenu_median", "taux_chomage_15_64", "taux_pauvrete", "population")


def figure_text(value: float | None) -> str:
    r"""A figure the French way with four significant digits (Theil indices are small).

    Examples
    --------
    >>> figure_text(0.014103), figure_text(22663.5), figure_text(2.54e-05), figure_text(None)
    ('0,0141', '22\u202f664', '0,0000254', '—')
    """
    if value is None or not math.isfinite(value):
        return "—"
    if float(value).is_integer() or abs(value) >= 1000:
        return format_number(round(value))
    # four significant digits, written out in full (no 2.5e-05 for a small contribution)
    decimals = max(0, 3 - math.floor(math.log10(abs(value))))
    return f"{value:.{decimals}f}".rstrip("0").rstrip(".").replace(".", ",")


def _choice(query: dict[str, str], name: str, allowed: list[str], default: str | None
            ) -> str | None:
    """The query's ``name`` (``default`` when absent or empty).

    Raises
    ------
    CohesionError
        When the value is not one the form offers: a link with a typo answers 400,
        as the API does, instead of showing another analysis than the one asked for.
    """
    value = query.get(name) or None
    if value is None:
        return default
    if value not in allowed:
        shown = ", ".join(allowed[:12]) + (" …" if len(allowed) > 12 else "")
        raise CohesionError(f"paramètre {name} : « {value} » n'est pas proposé ici "
                            f"(attendu : {shown or 'aucun choix possible'})")
    return value


def _options(analyses: Analyses, vintage: int) -> dict[str, Any]:
    """What every analysis form offers: indicators, levels, parent territories."""
    labels = analyses.observatory.level_labels()
    indicators = [{"id": i["id"], "label": i["label"], "unit": i["unit"] or "",
                   "periods": sorted(i["periods"], key=period_key),
                   "source": i["source"]} for i in analyses.catalogue().values()]
    parents = [{"id": f"{level}:{code}@{vintage}", "label": f"{name} ({code})",
                "group": labels.get(level, level)}
               for level in ("REG", "DEP")
               for code, name in sorted(analyses.names(level, vintage).items())]
    return {"indicators": indicators, "parents": parents, "vintage": vintage,
            "levels": [{"id": level, "label": labels.get(level, level)}
                       for level in analyses.levels(vintage)]}


def _map_options(analyses: Analyses) -> dict[str, Any]:
    """Levels with contours and the vector tile address, for the analysis maps."""
    config = map_config(analyses.observatory)
    return {"map_levels": config["levels"], "tiles": TILES_URL, "bounds": list(FIRST_VIEW)}


def install_pages(app: FastAPI, analyses: Analyses) -> None:
    """Add the pages ``/analyse``, ``/analyse/lisa`` and ``/analyse/typologie`` to ``app``.

    They are left out of the OpenAPI document; their scripts call the endpoints of
    :mod:`cohesion.web.analysis.api`.
    """
    router = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)
    observatory = analyses.observatory

    @router.get("/analyse")
    def analyse(request: Request) -> Response:
        query = dict(request.query_params)
        vintage = observatory.latest_vintage()
        options = _options(analyses, vintage)
        ids = [i["id"] for i in options["indicators"]]
        default = next((i for i in DEFAULT_INEQUALITY if i in ids), ids[0] if ids else None)
        for name in ("indicator", "weights"):
            if query.get(name):  # unknown: 404, as in the API and on the command line
                analyses.indicator(query[name])
        level = _choice(query, "level", analyses.levels(vintage), "COM")
        state = {"indicator": _choice(query, "indicator", ids, default), "level": level,
                 "partition": _choice(query, "partition",
                                      analyses.partitions(level, vintage), None),
                 "weights": _choice(query, "weights", ids, None),
                 "parent": _choice(query, "parent", [p["id"] for p in options["parents"]],
                                   None),
                 "metropole": query.get("metropole") in ("true", "1", "on")}
        if "partition" not in query and "REG" in analyses.partitions(level, vintage):
            state["partition"] = "REG"
        periods = next((i["periods"] for i in options["indicators"]
                        if i["id"] == state["indicator"]), [])
        state["period"] = _choice(query, "period", periods, periods[-1] if periods else None)
        result, problem = None, None
        if state["indicator"]:
            try:
                result = analyses.inequality(
                    state["indicator"], level, vintage, state["period"], state["parent"],
                    state["partition"], state["weights"], state["metropole"])
            except CohesionError as error:
                problem = str(error)
        convergence = None
        if result is not None and len(periods) >= 2:
            try:  # how the dispersion changed over the periods loaded
                convergence = analyses.convergence(
                    state["indicator"], level, vintage, None, state["parent"],
                    state["partition"], state["weights"], "cv", state["metropole"])
            except CohesionError as error:
                logger.info("no convergence on the inequality page: %s", error)
        partitions = [{"id": p, "label": observatory.level_labels().get(p, p)}
                      for p in analyses.partitions(level, vintage)]
        api_url = "/api/analysis/inequality?" + urlencode(
            {name: "true" if value is True else value for name, value in state.items()
             if value}, safe=":@")
        return render(request, "analyse.html", 400 if problem else 200, active="analyse",
                      options=options, partitions=partitions, state=state, result=result,
                      problem=problem, figure=figure_text, api_url=api_url,
                      convergence=convergence,
                      level_plural=level_noun(level, plural=True))

    @router.get("/analyse/lisa")
    def analyse_lisa(request: Request) -> Response:
        vintage = observatory.latest_vintage()
        options = _options(analyses, vintage) | _map_options(analyses)
        mapped = [level["id"] for level in options["map_levels"]]
        options["levels"] = [level for level in options["levels"] if level["id"] in mapped]
        return render(request, "analyse-lisa.html", active="analyse", options=options)

    @router.get("/analyse/typologie")
    def analyse_typologie(request: Request) -> Response:
        vintage = observatory.latest_vintage()
        options = _options(analyses, vintage) | _map_options(analyses)
        mapped = [level["id"] for level in options["map_levels"]]
        options["levels"] = [level for level in options["levels"] if level["id"] in mapped]
        ids = {i["id"] for i in options["indicators"]}
        options["defaults"] = [i for i in DEFAULT_TYPOLOGY if i in ids]
        options["max_indicators"] = MAX_INDICATORS
        options["max_classes"] = MAX_CLASSES
        return render(request, "analyse-typologie.html", active="analyse", options=options)

    @router.get("/analyse/typologie-qpv")
    def analyse_typologie_qpv(request: Request) -> Response:
        classes = _whole(request.query_params.get("k") or "4", "k", 2, MAX_CLASSES)
        result, problem = None, None
        try:
            result = analyses.qpv_typology(classes, bootstrap=10)
        except CohesionError as error:
            if error.kind != "invalid":
                raise
            problem = str(error)
        return render(request, "analyse-typologie-qpv.html", 400 if problem else 200,
                      active="analyse", result=result and qpv_typology_view(result),
                      problem=problem, classes=classes, max_classes=MAX_CLASSES,
                      api_url=f"/api/analysis/typology/qpv?k={classes}&bootstrap=10")

    app.include_router(router)


def _whole(text: str, name: str, low: int, high: int) -> int:
    """A whole number of the query between ``low`` and ``high``, or a 400 in French."""
    if not text.isdigit() or not low <= int(text) <= high:
        raise CohesionError(f"{name} : nombre entier entre {low} et {high} attendu, reçu "
                            f"{text[:20]!r}")
    return int(text)


def qpv_typology_view(document: dict[str, Any]) -> dict[str, Any]:
    """The QPV typology as the page shows it: a row per class, a row per QPV."""
    pillars = [p["id"] for p in document["pillars"]]
    means = {(p["class"], p["indicator"]): p for p in document["profiles"]}
    stability = document["stability"] or {"class_jaccard": {}}
    rows = []
    for key, size in document["sizes"].items():
        number = int(key)
        rows.append({"class": number, "size": size,
                     "jaccard": figure_text(stability["class_jaccard"].get(key)),
                     "pillars": [{"value": figure_text(means[(number, p)]["class_mean"]),
                                  "v_test": means[(number, p)]["v_test"] or 0.0}
                                 for p in pillars],
                     "paragons": [p for p in document["paragons"] if p["class"] == number][:3]})
    territories = document["territories"]
    members = sorted(zip(territories["class"], territories["name"], territories["code"],
                         strict=True))
    return {"pillars": document["pillars"], "classes": rows, "n": document["n"],
            "n_excluded": document["n_excluded"], "generation": document["vintage"],
            "rand": figure_text(document["stability"]["mean_adjusted_rand"])
            if document["stability"] else "—",
            "between": figure_text(document["between_inertia_share"]),
            "members": [{"class": c, "name": n, "id": f"QPV:{code}@{document['vintage']}"}
                        for c, n, code in members],
            "notes": document["notes"], "credits": document["credits"]}
