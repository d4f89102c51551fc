"""The Carrefour's matching profiles over HTTP: who supports, who seeks support, who fits.

Accompagnants (funders, networks, incubators…) and porteurs de projets declare a
matching profile (:class:`~cohesion.innovations.matching.Profile`): the domaines of the
Carrefour's taxonomy, the territories where they act or where their project is, and the
kinds of support they offer or seek. :func:`install` adds to the application:

- ``GET/POST /innovations/profil`` (signed in): the account's profiles, one per kind
  (saving a kind again replaces it), a server-rendered DSFR form checked at the boundary
  (each invalid field named, the form shown again with what was typed). Below it, for a
  porteur, the accompagnants that fit its profile, with their reasons; for an
  accompagnant, the published innovations of its territories and domaines;
- ``GET``/``PUT /api/innovations/profiles/me``: the same in JSON (the session cookie,
  and the ``X-CSRF-Token`` header to write);
- ``GET /api/innovations/supporters``: public, the accompagnants that cover a territory
  (and a domaine, a kind of support), best first, with their reasons.

Territories are typed as ids (``DEP:33``, ``REG:75``, ``EPCI:200054781``,
``COM:33063``, ``FRA:FR``, or ``LEVEL:CODE@VINTAGE``) or as a name, a code or a postcode
that the référentiel resolves (``Bordeaux``, ``Gironde``, ``33000``); each must be a
territory of the référentiel, and is stored as ``LEVEL:CODE``. Matching a porteur or a
territory places it in every territory that contains it (its EPCI, département,
région…), as the référentiel records them.

Sessions, form tokens and the sign-in redirect are :mod:`cohesion.web.sessions`' guards,
as on the other pages of the Carrefour.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from functools import cache
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import FormData

from cohesion.core import Observatory
from cohesion.core.innovations import CarrefourService
from cohesion.errors import CohesionError, ErrorKind, UnknownTerritoryError
from cohesion.innovations.matching import (
    NATION,
    PROFILE_KINDS,
    SUPPORT_KINDS,
    Match,
    Profile,
    describe,
    rank_for_porteur,
    territory_id,
)
from cohesion.innovations.records import fold
from cohesion.innovations.search import SearchQuery, SearchResult, place_of
from cohesion.innovations.store import Account
from cohesion.innovations.store.profiles import DESCRIPTION_LENGTH, NAME_LENGTH, URL_LENGTH
from cohesion.innovations.store.text import bounded_text, web_address
from cohesion.innovations.taxonomy import Taxonomy
from cohesion.web.errors import status_of
from cohesion.web.pages import render
from cohesion.web.sessions import (
    CSRF_HEADER,
    MAX_FORM_BYTES,
    check_csrf_header,
    install_sessions,
    page_context,
    read_form,
    require_account,
    see_other,
)

PROFILE_PAGE = "/innovations/profil"
#: The kinds of profile in words, with what they cover.
KIND_LABELS = {"accompagnant": "Accompagnant", "porteur": "Porteur de projet"}
KIND_HINTS = {"accompagnant": "financeur, réseau, incubateur, fondation, collectivité…",
              "porteur": "association, collectif, entreprise de l'ESS… qui cherche un appui"}
#: Territories of a profile at most, and the longest text naming one.
MAX_TERRITORIES, TERRITORY_LENGTH = 20, 100
#: The longest text of the territories field of the form.
TERRITORIES_TEXT_LENGTH = 2000
#: Accompagnants listed for a porteur, innovations for an accompagnant.
SUPPORTERS_SHOWN, INNOVATIONS_SHOWN = 20, 10
#: The ids of the form's inputs (``champ-<id>``, stable for browser tests).
INPUT_IDS = {"kind": "type", "name": "nom", "description": "description", "url": "url",
             "territories": "territoires"}
#: Where the error list of the form leads, field by field.
ANCHORS = {name: f"champ-{id_}" for name, id_ in INPUT_IDS.items()} | {
    "domaines": "facette-domaines", "supports": "facette-supports"}
#: Notices of this page after a redirect (``?message=…``): fixed texts.
NOTICES = {"profil": "Votre profil est enregistré : voici ce qui lui correspond."}
#: The form's field separators between territories.
_SEPARATORS = re.compile(r"[,;\n]+")
#: A territory typed as an id: ``LEVEL:CODE`` or ``LEVEL:CODE@VINTAGE``.
_TYPED_ID = re.compile(r"([A-Za-z_]{2,12}):([0-9A-Za-z_-]{1,40})(?:@(\d{4}))?")
#: The reason matching gives for shared domaines (their ids follow).
_SHARED = "domaines en commun : "

Term = Annotated[str, Field(max_length=100)]
TerritoryText = Annotated[str, Field(min_length=1, max_length=TERRITORY_LENGTH)]


class InvalidProfileError(CohesionError):
    """A profile with invalid fields; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ; ".join(errors.values()))
        self.errors = errors


# -- the API's documents --------------------------------------------------------------


class ProfileIn(BaseModel):
    """A matching profile as its account declares it; HTML is removed from every text."""

    model_config = ConfigDict(extra="forbid")

    kind: Literal["accompagnant", "porteur"] = Field(description="accompagnant (financeur, "
                                                     "réseau, incubateur…) ou porteur.")
    name: str = Field(max_length=NAME_LENGTH, description="Nom de la structure, 2 à "
                      f"{NAME_LENGTH} caractères.")
    description: str = Field("", max_length=DESCRIPTION_LENGTH)
    url: str | None = Field(None, max_length=URL_LENGTH, description="http(s):// seulement.")
    territories: list[TerritoryText] = Field(
        max_length=MAX_TERRITORIES, description="Un territoire au moins : identifiants "
        "(DEP:33, REG:75, EPCI:200054781, COM:33063, FRA:FR pour toute la France), ou noms, "
        "codes, codes postaux que le référentiel reconnaît.")
    domaines: list[Term] = Field(default_factory=list, max_length=20, description="Domaines "
                                 "de la taxonomie (solidarite, alimentation…) ; aucun : tous.")
    supports: list[Term] = Field(default_factory=list, max_length=len(SUPPORT_KINDS),
                                 description="Soutiens proposés (accompagnant) ou cherchés "
                                 f"(porteur) : {', '.join(SUPPORT_KINDS)}.")


class ProfileOut(BaseModel):
    """A stored matching profile."""

    id: int
    kind: str
    kind_label: str
    name: str
    description: str
    url: str | None
    territories: list[str] = Field(description="Identifiants NIVEAU:CODE.")
    domaines: list[str]
    supports: list[str]


class SupporterOut(BaseModel):
    """An accompagnant that fits, how well, and why."""

    id: int
    name: str
    description: str
    url: str | None
    territories: list[str]
    domaines: list[str]
    supports: list[str] = Field(description="Tous les soutiens qu'il propose.")
    score: float = Field(description="De 0 à 1 : domaines, territoire et soutiens pondérés.")
    territory: str = Field(description="Son territoire qui couvre la demande (le plus local).")
    shared_domaines: list[str]
    matched_supports: list[str] = Field(description="Les soutiens demandés qu'il propose "
                                        "(tous ceux qu'il propose quand aucun n'est demandé).")
    reasons: list[str] = Field(description="Pourquoi il convient, en clair.")


class InnovationOut(BaseModel):
    """A published innovation of an accompagnant's territories and domaines."""

    id: str
    title: str
    place: str
    link: str


class MyProfileOut(ProfileOut):
    """A profile of the signed-in account, with what fits it."""

    supporters: list[SupporterOut] = Field(description="Porteur : les accompagnants qui "
                                           "conviennent, les meilleurs d'abord.")
    innovations: list[InnovationOut] = Field(description="Accompagnant : des innovations "
                                             "publiées de ses territoires et domaines.")


class InvalidProfile(BaseModel):
    """A profile refused, with the message of each invalid field."""

    error: str
    status: int
    errors: dict[str, str]


# -- the référentiel as profiles need it -----------------------------------------------


class Territories:
    """Territories of the référentiel, named, checked and placed in their containers.

    Parameters
    ----------
    observatory : Observatory
        Its référentiel (the latest vintage, or the vintage a typed id names).
    """

    def __init__(self, observatory: Observatory) -> None:
        self.observatory = observatory

    def resolve(self, text: str) -> str:
        """The id ``LEVEL:CODE`` of the territory ``text`` names.

        ``text`` is an id (``DEP:33``, ``COM:33063``, ``QPV:QN03301M@2024``) or a name,
        a code or a postcode (``Bordeaux``, ``Gironde``, ``33000``).

        Raises
        ------
        UnknownTerritoryError
            When the référentiel has no such territory, or several match a name equally.
        CohesionError
            When ``text`` is empty or too long.
        """
        text = " ".join(text.split())
        if not text:
            raise CohesionError("territoire vide")
        if len(text) > TERRITORY_LENGTH:
            raise CohesionError(f"territoire « {text[:40]}… » : {TERRITORY_LENGTH} caractères "
                                "au plus")
        typed = _TYPED_ID.fullmatch(text)
        found = self._typed(text, typed) if typed else self.observatory.resolve(text)
        try:
            return territory_id(f"{found.level}:{found.code}")
        except CohesionError:
            raise CohesionError(f"« {text} » : ce territoire ne peut pas servir au "
                                "rapprochement (identifiant trop long)") from None

    def _typed(self, text: str, typed: re.Match[str]) -> Any:
        """The territory of a typed id, in its vintage or the newest one that has it."""
        level, code, vintage = typed[1].upper(), typed[2], typed[3]
        latest = self.observatory.latest_vintage()
        if vintage:
            vintages = [int(vintage)]
        else:
            known = next((entry["vintages"] for entry in self.observatory.levels()
                          if entry["id"] == level), None)
            if known is None:
                raise UnknownTerritoryError(f"« {text} » : échelon {level} inconnu du "
                                            "référentiel (attendu COM, EPCI, DEP, REG, QPV, "
                                            "FRA…)")
            vintages = sorted({latest, *(v["vintage"] for v in known)}, reverse=True)
        for year in vintages:
            for spelling in dict.fromkeys((code, code.upper())):
                try:
                    return self.observatory.resolve(f"{level}:{spelling}@{year}")
                except CohesionError as error:  # not of this vintage, or not a code
                    if error.kind not in (ErrorKind.INVALID, ErrorKind.NOT_FOUND):
                        raise
        raise UnknownTerritoryError(f"« {text} » : aucun territoire de ce code dans le "
                                    "référentiel")

    def member_of(self, territory: str) -> list[str]:
        """The ids of the territories that contain ``territory`` (latest vintage).

        Memberships whose code cannot be a matching id (some zonings) are left out.
        """
        level, _, code = territory.partition(":")
        frame = self.observatory.reader().memberships(level, self.observatory.latest_vintage(),
                                                      codes=[code])
        found = []
        for parent_level, parent_code in zip(frame["parent_level"], frame["parent_code"],
                                             strict=True):
            try:
                found.append(territory_id(f"{parent_level}:{parent_code}"))
            except CohesionError:
                continue
        return found

    def name(self, territory: str) -> str:
        """A territory id in words, with its name when the référentiel knows it."""
        if territory == NATION:
            return "toute la France"
        try:
            found = self.observatory.territory(f"{territory}@"
                                               f"{self.observatory.latest_vintage()}")
        except CohesionError:
            return describe(territory)
        return f"{found['name']} ({territory})"


# -- checking at the boundary ------------------------------------------------------------


@cache
def domaine_labels() -> dict[str, str]:
    """The taxonomy's domaines, id → French label (read once)."""
    return dict(Taxonomy.load().facets["domaines"])


def support_slug(kind: str) -> str:
    """A kind of support as a piece of an HTML id.

    Examples
    --------
    >>> support_slug("mise en réseau")
    'mise-en-reseau'
    """
    return fold(kind).replace(" ", "-")


def territory_entries(text: str) -> list[str]:
    r"""The territories of the form's text field, one per comma, semicolon or line.

    Examples
    --------
    >>> territory_entries("DEP:33, Bordeaux ;\n  REG:75,,")
    ['DEP:33', 'Bordeaux', 'REG:75']
    """
    return [entry.strip() for entry in _SEPARATORS.split(text) if entry.strip()]


def form_values(form: FormData) -> dict[str, Any]:
    """The profile fields of a posted form, as typed (texts trimmed, lists)."""
    values: dict[str, Any] = {name: str(form.get(name) or "").replace("\r\n", "\n").strip()
                              for name in INPUT_IDS}
    return values | {name: [str(value) for value in form.getlist(name)]
                     for name in ("domaines", "supports")}


def profile_values(profile: Profile) -> dict[str, Any]:
    """The form filled with a stored profile."""
    return {"kind": profile.kind, "name": profile.name, "description": profile.description,
            "url": profile.url or "", "territories": ", ".join(profile.territories),
            "domaines": list(profile.domaines), "supports": list(profile.supports)}


def _checked(errors: dict[str, str], name: str, check: Any, *arguments: Any) -> Any:
    """``check(*arguments)``, its refusal kept as the message of the field ``name``."""
    try:
        return check(*arguments)
    except CohesionError as error:
        errors[name] = str(error)
        return None


def checked_profile(values: Mapping[str, Any], entries: Sequence[str],
                    territories: Territories, account_id: int | None) -> Profile:
    """The profile ``values`` describe, every field checked.

    Parameters
    ----------
    values : mapping
        ``kind``, ``name``, ``description``, ``url``, ``domaines``, ``supports``.
    entries : sequence of str
        The territories, as typed (ids, names, codes or postcodes).
    territories : Territories
        Resolves them.
    account_id : int or None
        The account that declares the profile.

    Raises
    ------
    InvalidProfileError
        With the message of each invalid field; nothing is stored.
    """
    errors: dict[str, str] = {}
    kind = values.get("kind")
    if kind not in PROFILE_KINDS:
        errors["kind"] = "type de profil : choisissez accompagnant ou porteur de projet"
    name = _checked(errors, "name", bounded_text, values.get("name"), "nom de la structure",
                    NAME_LENGTH, 2)
    description = _checked(errors, "description", bounded_text, values.get("description"),
                           "description", DESCRIPTION_LENGTH)
    url = _checked(errors, "url", web_address, values.get("url") or None, "site web",
                   URL_LENGTH)
    domaines = list(dict.fromkeys(values.get("domaines") or ()))
    unknown = [domaine for domaine in domaines if domaine not in domaine_labels()]
    if unknown:
        errors["domaines"] = (f"domaine inconnu « {str(unknown[0])[:60]} » : cochez des "
                              "domaines de la liste")
    known_supports = {fold(kind): kind for kind in SUPPORT_KINDS}
    supports = list(dict.fromkeys(values.get("supports") or ()))
    unknown = [support for support in supports if fold(str(support)) not in known_supports]
    if unknown:
        errors["supports"] = (f"type de soutien inconnu « {str(unknown[0])[:60]} » (attendu : "
                              f"{', '.join(SUPPORT_KINDS)})")
    ids = _territory_ids(entries, territories, errors)
    if errors:
        raise InvalidProfileError(errors)
    return Profile(name, ids, kind, tuple(domaines),
                   tuple(known_supports[fold(s)] for s in supports), description, url,
                   account_id)


def _territory_ids(entries: Sequence[str], territories: Territories,
                   errors: dict[str, str]) -> tuple[str, ...]:
    """The ids of ``entries``; the refusals go to ``errors["territories"]``."""
    if not entries:
        errors["territories"] = (f"territoires : un au moins (par exemple DEP:33, Bordeaux, "
                                 f"ou {NATION} pour toute la France)")
        return ()
    if len(entries) > MAX_TERRITORIES:
        errors["territories"] = (f"territoires : {MAX_TERRITORIES} au plus ({len(entries)} "
                                 "reçus) ; un département ou une région en couvre beaucoup")
        return ()
    ids, refusals = [], []
    for entry in entries:
        try:
            ids.append(territories.resolve(entry))
        except CohesionError as error:
            refusals.append(str(error))
    if refusals:
        errors["territories"] = "territoire inconnu : " + " ; ".join(refusals[:3])
    return tuple(dict.fromkeys(ids))


# -- what fits a profile -------------------------------------------------------------------


def save_profile(service: CarrefourService, profile: Profile) -> Profile:
    """Store ``profile``: it replaces the account's profile of the same kind, if any."""
    existing = service.store.profiles(profile.kind, profile.account_id) \
        if profile.account_id is not None else []
    if existing:
        profile = replace(profile, id=min(p.id or 0 for p in existing))
    return service.store.save_profile(profile)


def account_profiles(service: CarrefourService, account_id: int) -> dict[str, Profile]:
    """The account's profiles by kind (the oldest one of a kind, should there be two)."""
    found: dict[str, Profile] = {}
    for profile in sorted(service.store.profiles(account_id=account_id),
                          key=lambda p: p.id or 0):
        found.setdefault(profile.kind, profile)
    return found


def supporters_for(service: CarrefourService, porteur: Profile, territories: Territories,
                   limit: int = SUPPORTERS_SHOWN) -> list[Match]:
    """The accompagnants that fit ``porteur`` (not its own account's), best first."""
    others = [p for p in service.store.profiles("accompagnant")
              if porteur.account_id is None or p.account_id != porteur.account_id]
    return rank_for_porteur(porteur, others, territories.member_of)[:limit]


def innovations_for(service: CarrefourService, profile: Profile,
                    limit: int = INNOVATIONS_SHOWN) -> SearchResult:
    """The published innovations of an accompagnant's territories and domaines."""
    filters = {"domaines": list(profile.domaines)} if profile.domaines else {}
    return service.search(SearchQuery(territories=list(profile.territories), filters=filters,
                                      per_page=limit))


def reasons_of(match: Match) -> list[str]:
    """A match's reasons, the shared domaines named by their labels."""
    labels = domaine_labels()
    return [_SHARED + ", ".join(labels.get(d, d) for d in match.shared_domaines)
            if reason.startswith(_SHARED) and match.shared_domaines else reason
            for reason in match.reasons]


def supporter_view(match: Match) -> dict[str, Any]:
    """An accompagnant that fits, as the page lists it."""
    profile = match.profile
    return {"key": f"accompagnant-{profile.id}", "name": profile.name,
            "description": profile.description, "url": profile.url,
            "kinds": ", ".join(match.supports) or "accompagnement",
            "reasons": reasons_of(match)}


def supporter_out(match: Match) -> dict[str, Any]:
    """An accompagnant that fits, as the API answers it."""
    profile = match.profile
    return {"id": profile.id, "name": profile.name, "description": profile.description,
            "url": profile.url, "territories": list(profile.territories),
            "domaines": list(profile.domaines), "supports": list(profile.supports),
            "score": match.score, "territory": match.territory,
            "shared_domaines": list(match.shared_domaines),
            "matched_supports": list(match.supports), "reasons": reasons_of(match)}


def innovation_view(result: SearchResult) -> list[dict[str, Any]]:
    """The innovations found for an accompagnant, as the page and the API list them."""
    return [{"id": hit.id, "title": hit.title, "place": place_of(hit.document),
             "link": f"/innovations/projet/{quote(hit.id, safe='')}"} for hit in result.hits]


def profile_out(profile: Profile) -> dict[str, Any]:
    """A stored profile as the API answers it."""
    return {"id": profile.id, "kind": profile.kind, "kind_label": KIND_LABELS[profile.kind],
            "name": profile.name, "description": profile.description, "url": profile.url,
            "territories": list(profile.territories), "domaines": list(profile.domaines),
            "supports": list(profile.supports)}


def summary_view(profile: Profile, territories: Territories) -> dict[str, Any]:
    """A line of « vos profils »."""
    labels = domaine_labels()
    return {"kind": profile.kind, "kind_label": KIND_LABELS[profile.kind],
            "name": profile.name, "link": f"{PROFILE_PAGE}?type={profile.kind}",
            "territories": ", ".join(map(territories.name, profile.territories)),
            "domaines": ", ".join(labels.get(d, d) for d in profile.domaines)
            or "tous les domaines",
            "supports": ", ".join(profile.supports) or "—"}


def _unknown_values(values: Iterable[str], known: Iterable[str], what: str) -> None:
    known_folded = {fold(value) for value in known}
    unknown = [value for value in values if fold(value) not in known_folded]
    if unknown:
        raise CohesionError(f"{what} inconnu « {unknown[0][:60]} » (attendu : "
                            f"{', '.join(known)})")


# the dependencies of the routes, at module level: FastAPI reads the routes' annotations
# (strings, ``from __future__ import annotations``) in this module's namespace


def api_writer(request: Request) -> Account:
    """The signed-in account writing through the API, its ``X-CSRF-Token`` checked."""
    account = require_account(request)
    check_csrf_header(request)
    return account


#: A posted form, its token checked.
Form = Annotated[FormData, Depends(read_form)]
#: The signed-in account (pages: sent to sign in first; API: 401).
Member = Annotated[Account, Depends(require_account)]
#: The signed-in account writing through the API.
Writer = Annotated[Account, Depends(api_writer)]
#: Which profile of the account the page shows.
KindQuery = Annotated[Literal["accompagnant", "porteur"] | None,
                      Query(alias="type", description="accompagnant ou porteur")]
Domaines = Annotated[list[str] | None, Query(max_length=20, description="Domaines de la "
                                             "taxonomie (solidarite, alimentation…)")]
Supports = Annotated[list[str] | None, Query(max_length=len(SUPPORT_KINDS),
                                             description="Soutiens cherchés : "
                                             + ", ".join(SUPPORT_KINDS))]
TerritoryQuery = Annotated[str, Query(min_length=1, max_length=TERRITORY_LENGTH,
                                      description="DEP:33, COM:33063, REG:75, EPCI:…, ou un "
                                      "nom, un code, un code postal")]


# -- the application --------------------------------------------------------------------


def install(app: FastAPI, observatory: Observatory) -> None:
    """Add the matching profile page and its API to ``app``."""
    install_sessions(app)
    app.state.body_limits.set("/api/innovations/profiles/me", MAX_FORM_BYTES,
                              "un profil décrit en texte seul")
    territories = Territories(observatory)

    def service() -> CarrefourService:
        # opened at the first request that needs it
        return observatory.innovations

    def fits(profile: Profile) -> dict[str, list[dict[str, Any]]]:
        """What fits a stored profile: accompagnants (porteur) or innovations."""
        if profile.kind == "porteur":
            return {"supporters": [supporter_out(m) for m in
                                   supporters_for(service(), profile, territories)],
                    "innovations": []}
        return {"supporters": [],
                "innovations": innovation_view(innovations_for(service(), profile))}

    def profile_page(request: Request, account: Account, kind: str | None,
                     values: Mapping[str, Any] | None = None,
                     error: CohesionError | None = None) -> Response:
        mine = account_profiles(service(), account.id)
        kind = kind or (values or {}).get("kind") or next(iter(mine), "porteur")
        if kind not in PROFILE_KINDS:
            kind = "porteur"
        saved = mine.get(kind)
        if values is None:
            values = profile_values(saved) if saved else {"kind": kind}
        errors = error.errors if isinstance(error, InvalidProfileError) else {}
        context = page_context(request)
        context["notice"] = context["notice"] or NOTICES.get(
            request.query_params.get("message", ""))
        supporters = [supporter_view(m) for m in supporters_for(service(), saved, territories)] \
            if saved and kind == "porteur" else []
        innovations = innovation_view(innovations_for(service(), saved)) \
            if saved and kind == "accompagnant" else []
        return render(
            request, "innovations_profil.html", status_of(error) if error else 200,
            active="innovations", **context, kind=kind, saved=saved is not None,
            values=values, errors=errors, ids=INPUT_IDS, anchors=ANCHORS,
            error=(f"{len(errors)} champ{'s' if len(errors) > 1 else ''} à corriger"
                   if errors else str(error)) if error else None,
            kinds=[{"value": k, "label": KIND_LABELS[k], "hint": KIND_HINTS[k]}
                   for k in PROFILE_KINDS],
            domaines=[{"value": k, "label": v} for k, v in domaine_labels().items()],
            supports=[{"value": s, "label": s.capitalize(), "slug": support_slug(s)}
                      for s in SUPPORT_KINDS],
            profiles=[summary_view(p, territories) for p in mine.values()],
            supporters=supporters, innovations=innovations,
            max_territories=MAX_TERRITORIES, lengths={
                "name": NAME_LENGTH, "description": DESCRIPTION_LENGTH, "url": URL_LENGTH,
                "territories": TERRITORIES_TEXT_LENGTH})

    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @pages.get(PROFILE_PAGE)
    def profile_form(request: Request, account: Member, kind: KindQuery = None) -> Response:
        return profile_page(request, account, kind)

    @pages.post(PROFILE_PAGE)
    def declare(request: Request, form: Form, account: Member) -> Response:
        values = form_values(form)
        try:
            if len(values["territories"]) > TERRITORIES_TEXT_LENGTH:
                raise InvalidProfileError({"territories": "territoires : "
                                           f"{TERRITORIES_TEXT_LENGTH} caractères au plus"})
            profile = checked_profile(values, territory_entries(values["territories"]),
                                      territories, account.id)
            saved = save_profile(service(), profile)
        except CohesionError as error:
            return profile_page(request, account, None, values, error)
        return see_other(f"{PROFILE_PAGE}?type={saved.kind}", "profil")

    app.include_router(pages)

    # -- the API ---------------------------------------------------------------------

    api = APIRouter(prefix="/api/innovations", tags=["carrefour des innovations sociales"])
    refused = {401: {"description": "Pas de session (cookie cohesion_session)."},
               403: {"description": f"En-tête {CSRF_HEADER} absent ou faux."}}

    @api.get("/profiles/me", summary="Mes profils d'accompagnement",
             response_model=list[MyProfileOut], responses=refused)
    def my_profiles(account: Member) -> list[dict[str, Any]]:
        """Les profils du compte (un par type), avec ce qui leur correspond.

        Porteur : les accompagnants qui conviennent ; accompagnant : des innovations
        publiées de ses territoires et domaines.
        """
        return [profile_out(p) | fits(p)
                for p in account_profiles(service(), account.id).values()]

    @api.put("/profiles/me", summary="Déclarer mon profil d'accompagnement",
             response_model=MyProfileOut,
             responses={**refused, 400: {"model": InvalidProfile}})
    def declare_profile(body: ProfileIn, account: Writer) -> Any:
        """Crée ou remplace le profil du compte de ce type ; chaque champ invalide est nommé.

        Les territoires sont des identifiants (DEP:33, COM:33063…) ou des noms que le
        référentiel reconnaît ; ils sont enregistrés en NIVEAU:CODE.
        """
        try:
            profile = checked_profile(body.model_dump(), body.territories, territories,
                                      account.id)
        except InvalidProfileError as error:
            return JSONResponse({"error": str(error), "status": 400, "errors": error.errors},
                                status_code=400)
        saved = save_profile(service(), profile)
        return profile_out(saved) | fits(saved)

    @api.get("/supporters", summary="Les accompagnants d'un territoire",
             response_model=list[SupporterOut])
    def supporters(territory: TerritoryQuery, domaine: Domaines = None,
                   support: Supports = None,
                   limit: Annotated[int, Query(ge=1, le=100)] = 20) -> list[dict[str, Any]]:
        """Les accompagnants dont le territoire couvre celui demandé, les meilleurs d'abord.

        Avec un domaine, ceux qui y travaillent (ou accompagnent tous les domaines) ; avec
        un soutien, ceux qui le proposent. Chacun avec les raisons du rapprochement.
        """
        _unknown_values(domaine or [], domaine_labels(), "domaine")
        _unknown_values(support or [], SUPPORT_KINDS, "type de soutien")
        wanted = Profile("demande", (territories.resolve(territory),), "porteur",
                         tuple(domaine or ()), tuple(support or ()))
        return [supporter_out(m) for m in supporters_for(service(), wanted, territories,
                                                         limit)]

    app.include_router(api)
