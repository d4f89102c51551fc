"""The Carrefour des innovations sociales: accounts, contributions, moderation and review.

:func:`install` adds to the application pages (server-rendered DSFR forms that work
without JavaScript, post-redirect-get with a notice) and their HTTP API, each route a
thin layer over :class:`~cohesion.core.innovations.CarrefourService`
(``observatory.innovations``), whose write methods also refresh the search index and
the deduplication:

- ``/innovations/inscription``, ``/innovations/connexion``, ``POST
  /innovations/deconnexion``: create an account (contributeur), sign in, sign out;
- ``/innovations/contribuer``: submit a project (pending until a moderator publishes
  it); ``/innovations/projet/{id}/modifier``: propose an edit to a published record;
  ``POST /innovations/projet/{id}/signaler``: report it;
- ``/innovations/mes-contributions``: the status of each contribution, with the reason
  of a refusal;
- ``/innovations/moderation`` (modérateur): pending contributions, edit proposals (the
  diff), reported records; ``/innovations/doublons``: the review queue of possible
  duplicates; ``/innovations/journal``: the audit trail;
- ``/api/innovations/…``: the same in JSON (session, me, contributions, moderation,
  review), in the OpenAPI document.

Sessions, form tokens (CSRF) and rates are :mod:`cohesion.web.sessions`' guards: every
POST of a page checks its form's ``csrf`` field, every API write its ``X-CSRF-Token``
header; sign-ins and account creations are limited per client address on top of the
store's lockout. Texts that people typed are plain text in the store (HTML removed) and
escaped again by the templates.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from functools import cache
from typing import Annotated, Any, Literal
from urllib.parse import quote
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field
from starlette.datastructures import FormData

from cohesion.core import Observatory
from cohesion.core.innovations import CarrefourService, best_first
from cohesion.errors import CohesionError, ConflictError, NotFoundError, RateLimitedError
from cohesion.innovations.accounts import ROLE_LABELS
from cohesion.innovations.moderation import (
    FIELD_LABELS,
    LIST_FIELDS,
    REASON_LENGTH,
    InvalidSubmissionError,
)
from cohesion.innovations.records import Record
from cohesion.innovations.store import (
    ACTIONS,
    STATUS_LABELS,
    Account,
    AuditEntry,
    Contribution,
    MergeEvent,
    Proposal,
    ReportedRecord,
    ReviewPair,
)
from cohesion.innovations.taxonomy import Taxonomy
from cohesion.web.errors import status_of
from cohesion.web.pages import render
from cohesion.web.sessions import (
    CSRF_HEADER,
    MAX_FORM_BYTES,
    SESSION_COOKIE,
    check_csrf_header,
    check_role,
    clear_session,
    client_address,
    form_token,
    install_sessions,
    limit_rate,
    page_context,
    read_form,
    require_account,
    require_role,
    safe_next,
    see_other,
    set_session,
)

#: A record id at the boundary: the source's slug, a colon, the source's key (no
#: spaces, slashes, quotes or markup characters).
RECORD_ID = r"^[a-z0-9][a-z0-9_-]{0,99}:[^\s/\\?#%<>\"'`]{1,300}$"
#: An innovation's (entity's) id, as its page ``/innovations/projet/{id}`` names it.
ENTITY_ID = r"^E[0-9a-f]{8,64}$"
#: What the project pages' forms name: an innovation, or one of its records.
PROJECT_ID = f"{RECORD_ID}|{ENTITY_ID}"
#: The project form's text fields, in the order of the form, with the ids of their inputs
#: (``champ-<id>``, stable for browser tests).
INPUT_IDS = {"title": "titre", "summary": "resume", "description": "description",
             "porteur": "porteur", "siret": "siret", "address": "adresse", "postcode": "cp",
             "commune_name": "commune", "commune": "code-commune", "url": "url"}
TEXT_INPUTS = tuple(INPUT_IDS)
#: The taxonomy's facets, as the form offers them.
FACET_INPUTS = tuple(LIST_FIELDS)
#: Labels of the fields a proposal may change (the derived ones included).
CHANGE_LABELS = FIELD_LABELS | {"siren": "SIREN", "departement": "département"}
#: Reviewers' answers about a pair, in words.
DECISION_LABELS = {"same": "même innovation", "different": "différentes"}
#: Entities' history, in words.
MERGE_LABELS = {"new": "nouvelle innovation", "created": "nouvelle innovation",
                "merge": "regroupement", "split": "séparation"}
#: Characters of a description shown in lists.
EXCERPT = 300
#: Entries of the audit trail on its page.
JOURNAL_ENTRIES = 200
#: Where dates are shown.
PARIS = ZoneInfo("Europe/Paris")
MINE = "/innovations/mes-contributions"
MODERATION = "/innovations/moderation"
REVIEW = "/innovations/doublons"

RecordIdPath = Annotated[str, PathParam(pattern=RECORD_ID, description="Identifiant de la "
                                        "fiche : source:clé, par exemple contribution:3f2a…")]
RecordIdField = Annotated[str, Field(pattern=RECORD_ID, description="Identifiant de fiche")]
ProjectIdPath = Annotated[str, PathParam(pattern=PROJECT_ID, description="Identifiant de "
                                         "l'innovation (E…) ou de l'une de ses fiches")]
Term = Annotated[str, Field(max_length=100)]
#: Where to go after signing in (a local path; anything else is ignored).
Next = Annotated[str, Query(alias="next", max_length=500)]

_DOM_ID = re.compile(r"[^A-Za-z0-9_-]+")
_RECORD_ID = re.compile(RECORD_ID)


# -- the API's documents --------------------------------------------------------------


class Credentials(BaseModel):
    """An address and a password, to sign in."""

    model_config = ConfigDict(extra="forbid")

    email: str = Field(min_length=3, max_length=254)
    password: str = Field(min_length=1, max_length=256)


class Me(BaseModel):
    """The signed-in account, and the token its writes carry."""

    id: int
    email: str
    display_name: str
    role: str = Field(description="contributeur, moderateur ou administrateur.")
    role_label: str
    created: str
    csrf_token: str = Field(description="À envoyer dans l'en-tête X-CSRF-Token de chaque "
                            "écriture (avec les cookies de session et du navigateur).")


class ProjectIn(BaseModel):
    """A project as a contributor describes it; HTML is removed from every text."""

    model_config = ConfigDict(extra="forbid")

    title: str = Field(min_length=1, max_length=200, description="3 à 200 caractères.")
    summary: str | None = Field(None, max_length=300, description="Vide : la première "
                                "phrase de la description.")
    description: str = Field("", max_length=10_000)
    porteur: str | None = Field(None, max_length=200)
    siret: str | None = Field(None, max_length=20, description="14 chiffres (clé vérifiée).")
    address: str | None = Field(None, max_length=300)
    postcode: str | None = Field(None, max_length=10)
    commune: str | None = Field(None, max_length=10, description="Code INSEE (33063, 2A004).")
    commune_name: str | None = Field(None, max_length=100)
    programme: str | None = Field(None, max_length=100)
    lat: float | None = Field(None, ge=-90, le=90)
    lon: float | None = Field(None, ge=-180, le=180)
    url: str | None = Field(None, max_length=2000, description="http(s):// seulement.")
    domaines: list[Term] = Field(default_factory=list, max_length=20)
    publics: list[Term] = Field(default_factory=list, max_length=20)
    actions: list[Term] = Field(default_factory=list, max_length=20)


class RecordOut(BaseModel):
    """A record of the Carrefour (a contribution or a harvested entry)."""

    id: str
    source: str
    title: str
    summary: str
    description: str
    porteur: str | None
    siret: str | None
    address: str | None
    postcode: str | None
    commune: str | None
    commune_name: str | None
    departement: str | None
    lat: float | None
    lon: float | None
    url: str | None
    programme: str | None
    domaines: list[str]
    publics: list[str]
    actions: list[str]
    licence: str
    status: str = Field(description="pending, published, hidden, gone ou rejected.")
    status_label: str
    first_seen: str
    updated: str


class ContributionOut(BaseModel):
    """A contribution of the signed-in account, and why it was refused if it was."""

    record: RecordOut
    reason: str | None


class Reason(BaseModel):
    """Why a moderator refuses (the contributor reads it)."""

    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=REASON_LENGTH[0], max_length=REASON_LENGTH[1])


class PairOut(BaseModel):
    """Two records the deduplication model is unsure about."""

    record_a: str
    record_b: str
    probability: float = Field(description="Probabilité que ce soit la même innovation.")
    status: str
    decision: str | None
    queued: str


class PairDecision(BaseModel):
    """A reviewer's decision about two records."""

    model_config = ConfigDict(extra="forbid")

    first: RecordIdField
    second: RecordIdField
    decision: Literal["same", "different"] = Field(description="same : la même "
                                                   "innovation ; different : deux.")


class InvalidProject(BaseModel):
    """A project refused, with the message of each invalid field."""

    error: str
    status: int
    errors: dict[str, str]


# -- what pages show ------------------------------------------------------------------


def when(instant: str) -> str:
    """An ISO 8601 instant as a French reader expects it, in Paris time.

    Examples
    --------
    >>> when("2026-03-01T09:30:00+00:00")
    '01/03/2026 à 10:30'
    >>> when("")
    ''
    """
    try:
        moment = datetime.fromisoformat(instant)
    except ValueError:
        return instant
    return moment.astimezone(PARIS).strftime("%d/%m/%Y à %H:%M")


def dom_id(text: str) -> str:
    """A record id as a piece of an HTML id (stable, without CSS-special characters).

    Examples
    --------
    >>> dom_id("contribution:3f2a")
    'contribution-3f2a'
    """
    return _DOM_ID.sub("-", text).strip("-")


def excerpt(text: str, length: int = EXCERPT) -> str:
    """The start of ``text``, cut at a word.

    Examples
    --------
    >>> excerpt("Une épicerie solidaire ouverte à tous", 20)
    'Une épicerie…'
    """
    text = " ".join(text.split())
    return text if len(text) <= length else text[:length - 1].rsplit(" ", 1)[0] + "…"


def project_link(record_id: str) -> str:
    """The address that leads to a record's innovation (``/innovations/fiche/{id}``)."""
    return f"/innovations/fiche/{quote(record_id, safe='')}"


def edit_link(record_id: str) -> str:
    """The address of the form proposing an edit to a record."""
    return f"/innovations/projet/{quote(record_id, safe='')}/modifier"


def shown(value: object) -> str:
    """A field's value as text (lists joined, nothing as a dash)."""
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list | tuple):
        return ", ".join(map(str, value))
    return str(value)


def record_view(record: Record) -> dict[str, Any]:
    """What lists of records show of one."""
    place = " ".join(part for part in (record.postcode, record.commune_name) if part)
    if record.commune:
        place = f"{place} ({record.commune})" if place else f"commune {record.commune}"
    return {"id": record.id, "key": dom_id(record.id), "title": record.title,
            "summary": record.summary, "excerpt": excerpt(record.description),
            "porteur": record.porteur, "place": place, "source": record.source,
            "status": record.status, "status_label": STATUS_LABELS[record.status],
            "submitted": when(record.first_seen), "updated": when(record.updated),
            "link": project_link(record.id), "url": record.url}


def contribution_view(contribution: Contribution) -> dict[str, Any]:
    """A line of « mes contributions »."""
    return record_view(contribution.record) | {"reason": contribution.reason}


def proposal_view(proposal: Proposal, record: Record) -> dict[str, Any]:
    """A proposal with its record and its diff, field by field."""
    return {"id": proposal.id, "key": f"proposition-{proposal.id}",
            "record": record_view(record), "created": when(proposal.created),
            "changes": [{"label": CHANGE_LABELS.get(name, name), "before": shown(before),
                         "after": shown(after)}
                        for name, (before, after) in proposal.changes.items()]}


def reported_view(reported: ReportedRecord) -> dict[str, Any]:
    """A reported record with its open reports."""
    return record_view(reported.record) | {
        "reports": [{"reason": report.reason, "created": when(report.created)}
                    for report in reported.reports]}


def pair_view(pair: ReviewPair, first: Record, second: Record) -> dict[str, Any]:
    """A pair of possible duplicates, side by side."""
    return {"first": record_view(first), "second": record_view(second),
            "key": f"{dom_id(pair.record_a)}--{dom_id(pair.record_b)}",
            "probability": f"{round(100 * pair.probability)} %",
            "queued": when(pair.queued)}


def event_view(event: MergeEvent, names: Mapping[int, str]) -> dict[str, Any]:
    """A change of the entities, in words."""
    return {"kind": MERGE_LABELS.get(event.kind, event.kind), "at": when(event.at),
            "records": ", ".join(event.record_ids), "note": event.note,
            "by": names.get(event.reviewer_id, "—") if event.reviewer_id else "le modèle"}


def audit_view(entry: AuditEntry, names: Mapping[int, str]) -> dict[str, Any]:
    """An entry of the audit trail, in words."""
    kind, _, name = entry.target.partition(":")
    return {"id": entry.id, "at": when(entry.at), "label": ACTIONS.get(entry.action,
                                                                       entry.action),
            "actor": names.get(entry.actor_id, "—") if entry.actor_id else "le système",
            "target": entry.target, "link": project_link(name) if kind == "fiche" else None,
            "details": [{"name": key, "value": shown(value)}
                        for key, value in entry.details.items()]}


@cache
def facets() -> tuple[dict[str, Any], ...]:
    """The taxonomy's facets as the form offers them (read once)."""
    taxonomy = Taxonomy.load()
    return tuple({"name": name, "label": LIST_FIELDS[name].capitalize(),
                  "values": [{"value": key, "label": label}
                             for key, label in taxonomy.facets[name].items()]}
                 for name in FACET_INPUTS)


def form_values(form: FormData) -> dict[str, Any]:
    """The project fields of a posted form: texts trimmed, line breaks unified, lists."""
    values: dict[str, Any] = {name: str(form.get(name) or "").replace("\r\n", "\n").strip()
                              for name in TEXT_INPUTS}
    return values | {name: [str(term) for term in form.getlist(name)]
                     for name in FACET_INPUTS}


def record_values(record: Record) -> dict[str, Any]:
    """The project form filled with a record's fields."""
    values: dict[str, Any] = {name: str(getattr(record, name) or "").strip()
                              for name in TEXT_INPUTS}
    return values | {name: list(getattr(record, name)) for name in FACET_INPUTS}


def changed_fields(posted: Mapping[str, Any], original: Mapping[str, Any]) -> dict[str, Any]:
    """The fields of ``posted`` that differ from the form as it was shown.

    Only what the contributor touched is proposed: a field left as shown is not
    cleaned again (a harvested text, a département without a commune code).
    """
    def same(name: str, value: Any) -> bool:
        before = original.get(name)
        if isinstance(value, list):
            return sorted(value) == sorted(before or [])
        return value == before

    return {name: value for name, value in posted.items() if not same(name, value)}


def checked_record_id(value: object) -> str:
    """A record id sent by a form, checked as the API checks it (:data:`RECORD_ID`).

    Raises
    ------
    CohesionError
        When it is not one.
    """
    text = str(value or "")
    if not _RECORD_ID.fullmatch(text):
        raise CohesionError(f"identifiant de fiche invalide « {text[:60]} » : "
                            "source:clé attendu")
    return text


def actor_names(service: CarrefourService, ids: Iterable[int | None]) -> dict[int, str]:
    """The display names of the accounts ``ids`` (a removed account says so)."""
    names = {}
    for account_id in {i for i in ids if i is not None}:
        try:
            names[account_id] = service.accounts.account(account_id).display_name
        except NotFoundError:
            names[account_id] = f"compte {account_id} supprimé"
    return names


def record_out(record: Record) -> dict[str, Any]:
    """A record as the API answers it."""
    return {name: getattr(record, name) for name in RecordOut.model_fields
            if name != "status_label"} | {"status_label": STATUS_LABELS[record.status]}


def me(request: Request, account: Account, session: str | None = None) -> dict[str, Any]:
    """The signed-in account as the API answers it, with its CSRF token."""
    return {"id": account.id, "email": account.email, "display_name": account.display_name,
            "role": account.role, "role_label": ROLE_LABELS[account.role],
            "created": account.created, "csrf_token": form_token(request, session)}


def api_writer(role: str) -> Callable[[Request], Account]:
    """A dependency: the signed-in account of ``role`` (or above), its write token checked."""
    def dependency(request: Request) -> Account:
        account = check_role(require_account(request), role)
        check_csrf_header(request)
        return account

    return dependency


# the dependencies of the routes, at module level: FastAPI reads the routes' annotations
# (strings, ``from __future__ import annotations``) in this module's namespace
#: A posted form, its token checked.
Form = Annotated[FormData, Depends(read_form)]
#: The signed-in account (pages: sent to sign in first; API: 401).
Contributor = Annotated[Account, Depends(require_account)]
#: The signed-in account, a moderator's.
Moderator = Annotated[Account, Depends(require_role("moderateur"))]
#: The signed-in account writing through the API (its ``X-CSRF-Token`` checked).
Writer = Annotated[Account, Depends(api_writer("contributeur"))]
#: The same, a moderator's.
ModeratorWriter = Annotated[Account, Depends(api_writer("moderateur"))]


def _retry(error: CohesionError) -> dict[str, str] | None:
    if isinstance(error, RateLimitedError):
        return {"Retry-After": str(error.retry_after)}
    return None


# -- the application --------------------------------------------------------------------


def install(app: FastAPI, observatory: Observatory) -> None:
    """Add the Carrefour's account, contribution, moderation and review pages and API."""
    install_sessions(app)
    for path in ("/api/innovations/session", "/api/innovations/contributions",
                 "/api/innovations/review"):
        app.state.body_limits.set(path, MAX_FORM_BYTES, "un projet décrit en texte seul")

    def service() -> CarrefourService:
        # opened at the first request that needs it: an application that never shows
        # the Carrefour never creates its store
        return observatory.innovations

    def secure(request: Request) -> bool:
        return bool(request.app.state.settings.secure_cookies)

    def page(request: Request, template: str, status: int = 200,
             headers: dict[str, str] | None = None, **context: Any) -> Response:
        return render(request, template, status, headers, **(page_context(request) | context))

    # -- accounts ------------------------------------------------------------------

    def account_form(request: Request, register: bool, target: str,
                     values: Mapping[str, str] | None = None, error: CohesionError | None = None
                     ) -> Response:
        return page(request, "innovations_connexion.html",
                    status_of(error) if error else 200, _retry(error) if error else None,
                    register=register, next=target, values=values or {},
                    error=str(error) if error else None,
                    heading="Créer un compte" if register else "Se connecter",
                    button="Créer mon compte" if register else "Se connecter",
                    action="/innovations/inscription" if register else "/innovations/connexion")

    def signed_in(request: Request, account: Account, target: str, notice: str) -> Response:
        # a new session each time (never one a page could have been given before), and
        # the browser's previous one ends
        previous = request.cookies.get(SESSION_COOKIE)
        if previous:
            service().accounts.close_session(previous)
        token = service().accounts.open_session(account)
        response = see_other(target, notice)
        set_session(response, token, secure(request))
        return response

    pages = APIRouter(include_in_schema=False, default_response_class=HTMLResponse)

    @pages.get("/innovations/inscription")
    def sign_up_page(request: Request, target: Next = "") -> Response:
        return account_form(request, True, safe_next(target, ""))

    @pages.post("/innovations/inscription")
    def sign_up(request: Request, form: Form) -> Response:
        target = safe_next(form.get("next"), "/innovations/contribuer")
        values = {"email": str(form.get("email", ""))[:254],
                  "display_name": str(form.get("display_name", ""))[:100]}
        try:
            limit_rate(request, "inscription")
            account = service().accounts.create(values["email"], values["display_name"],
                                                str(form.get("password", "")))
        except CohesionError as error:
            return account_form(request, True, safe_next(form.get("next"), ""), values, error)
        return signed_in(request, account, target, "compte-cree")

    @pages.get("/innovations/connexion")
    def sign_in_page(request: Request, target: Next = "") -> Response:
        return account_form(request, False, safe_next(target, ""))

    @pages.post("/innovations/connexion")
    def sign_in(request: Request, form: Form) -> Response:
        values = {"email": str(form.get("email", ""))[:254]}
        try:
            limit_rate(request, "connexion")
            account = service().accounts.authenticate(values["email"],
                                                      str(form.get("password", "")),
                                                      client=client_address(request))
        except CohesionError as error:
            return account_form(request, False, safe_next(form.get("next"), ""), values,
                                error)
        return signed_in(request, account, safe_next(form.get("next")), "connecte")

    @pages.post("/innovations/deconnexion")
    def sign_out(request: Request, form: Form) -> Response:
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            service().accounts.close_session(token)
        response = see_other("/innovations", "deconnecte")
        clear_session(response, secure(request))
        return response

    # -- contributions -------------------------------------------------------------

    def project_form(request: Request, values: Mapping[str, Any], record: Record | None = None,
                     error: CohesionError | None = None) -> Response:
        errors = error.errors if isinstance(error, InvalidSubmissionError) else {}
        if record is None:
            texts = {"heading": "Proposer une innovation", "action": "/innovations/contribuer",
                     "button": "Envoyer ma proposition",
                     "intro": "Décrivez l'innovation sociale : un modérateur la relit avant "
                              "qu'elle soit publiée dans le Carrefour."}
        else:
            texts = {"heading": f"Proposer une modification : {record.title}",
                     "action": edit_link(record.id),
                     "button": "Proposer cette modification",
                     "intro": "Corrigez ou complétez la fiche : seuls les champs que vous "
                              "changez sont proposés, et un modérateur les relit avant de "
                              "les appliquer."}
        return page(request, "innovations_contribuer.html",
                    status_of(error) if error else 200, _retry(error) if error else None,
                    values=values, errors=errors, taxonomy=facets(), record=record, ids=INPUT_IDS,
                    error=(f"{len(errors)} champ{'s' if len(errors) > 1 else ''} à corriger"
                           if errors else str(error)) if error else None, **texts)

    def published(project_id: str) -> list[Record]:
        """The published records a project page names, the one that speaks for it first.

        The id is a record's (``source:clé``) or an innovation's (``E…``, its page).
        """
        store = service().store
        found = [store.record(project_id)] if ":" in project_id \
            else best_first(store.entity_records(project_id))
        kept = [record for record in found if record.status == "published"]
        if not kept:
            raise ConflictError(f"la fiche « {found[0].title} » est "
                                f"{STATUS_LABELS[found[0].status]} : seule une fiche "
                                "publiée reçoit des propositions et des signalements")
        return kept

    @pages.get("/innovations/contribuer")
    def contribute_page(request: Request, account: Contributor) -> Response:
        return project_form(request, {})

    @pages.post("/innovations/contribuer")
    def contribute(request: Request, form: Form, account: Contributor) -> Response:
        values = form_values(form)
        try:
            service().submit(account, values)
        except CohesionError as error:
            return project_form(request, values, error=error)
        return see_other(MINE, "contribution")

    @pages.get("/innovations/fiche/{record_id}")
    def record_page(record_id: RecordIdPath) -> Response:
        # lists name records; their innovation's page is found when the link is followed
        record = service().store.record(record_id)
        if record.status != "published":
            raise ConflictError(f"la fiche « {record.title} » est "
                                f"{STATUS_LABELS[record.status]} : elle n'a pas de page "
                                "publique")
        entity = service().store.entity_mapping().get(record.id)
        if entity is None:
            raise NotFoundError(f"la fiche « {record.title} » n'est pas encore rattachée à "
                                "une innovation : réessayer dans un instant")
        return see_other(f"/innovations/projet/{quote(entity, safe='')}")

    @pages.get("/innovations/projet/{project_id}/modifier")
    def edit_page(request: Request, project_id: ProjectIdPath, account: Contributor
                  ) -> Response:
        record = published(project_id)[0]
        return project_form(request, record_values(record), record)

    @pages.post("/innovations/projet/{record_id}/modifier")
    def edit(request: Request, record_id: RecordIdPath, form: Form, account: Contributor
             ) -> Response:
        record = service().store.record(record_id)
        values = form_values(form)
        try:
            service().propose_edit(account, record_id,
                                   changed_fields(values, record_values(record)))
        except CohesionError as error:
            return project_form(request, values, record, error)
        return see_other(MINE, "proposition")

    @pages.post("/innovations/projet/{project_id}/signaler")
    def report(request: Request, project_id: ProjectIdPath, form: Form, account: Contributor
               ) -> Response:
        # an innovation's page reports each of its published records; one already
        # reported by this account is no reason to refuse the others
        records, refusals = published(project_id), []
        for record in records:
            try:
                service().report(account, record.id, str(form.get("reason", "")))
            except ConflictError as error:
                refusals.append(error)
        if len(refusals) == len(records):
            raise refusals[0]
        back = f"/innovations/projet/{quote(project_id, safe='')}" if ":" not in project_id \
            else project_link(project_id)
        return see_other(safe_next(form.get("next"), back), "signalement")

    @pages.get(MINE)
    def mine(request: Request, account: Contributor) -> Response:
        found = service().moderation.contributions(account)
        return page(request, "innovations_mes_contributions.html",
                    contributions=[contribution_view(c) for c in found])

    # -- moderation ----------------------------------------------------------------

    record_actions: dict[str, tuple[Callable[[Account, str, str], object], str]] = {
        "publier": (lambda who, record_id, _: service().publish(who, record_id), "publiee"),
        "refuser": (lambda who, record_id, reason: service().reject(who, record_id, reason),
                    "refusee"),
        "retablir": (lambda who, record_id, _: service().restore(who, record_id), "retablie"),
        "retirer": (lambda who, record_id, reason: service().remove(who, record_id, reason),
                    "retiree"),
    }
    proposal_actions: dict[str, tuple[Callable[[Account, int, str], object], str]] = {
        "accepter": (lambda who, number, _: service().accept_proposal(who, number),
                     "proposition-acceptee"),
        "refuser": (lambda who, number, reason: service().reject_proposal(who, number, reason),
                    "proposition-refusee"),
    }

    @pages.get(MODERATION)
    def moderation(request: Request, account: Moderator) -> Response:
        carrefour = service()
        proposals = carrefour.moderation.proposals(account)
        return page(request, "innovations_moderation.html",
                    pending=[record_view(r) for r in carrefour.moderation.pending(account)],
                    proposals=[proposal_view(p, carrefour.store.record(p.record_id))
                               for p in proposals],
                    reported=[reported_view(r) for r in carrefour.moderation.reported(account)],
                    reason_length=REASON_LENGTH)

    @pages.post(MODERATION + "/fiche/{record_id}/{action}")
    def moderate_record(request: Request, record_id: RecordIdPath,
                        action: Literal["publier", "refuser", "retablir", "retirer"],
                        form: Form, account: Moderator) -> Response:
        act, notice = record_actions[action]
        act(account, record_id, str(form.get("reason", "")))
        return see_other(MODERATION, notice)

    @pages.post(MODERATION + "/proposition/{proposal_id}/{action}")
    def moderate_proposal(request: Request,
                          proposal_id: Annotated[int, PathParam(ge=1, le=2**62)],
                          action: Literal["accepter", "refuser"], form: Form,
                          account: Moderator) -> Response:
        act, notice = proposal_actions[action]
        act(account, proposal_id, str(form.get("reason", "")))
        return see_other(MODERATION, notice)

    @pages.get(REVIEW)
    def review(request: Request, account: Moderator) -> Response:
        carrefour = service()
        pairs = [pair_view(p, carrefour.store.record(p.record_a),
                           carrefour.store.record(p.record_b))
                 for p in carrefour.store.review_queue()]
        events = carrefour.store.merge_events(limit=20)
        names = actor_names(carrefour, (e.reviewer_id for e in events))
        return page(request, "innovations_doublons.html", pairs=pairs,
                    events=[event_view(e, names) for e in events], labels=DECISION_LABELS)

    @pages.post(REVIEW)
    def decide(request: Request, form: Form, account: Moderator) -> Response:
        first, second = (checked_record_id(form.get(name)) for name in ("first", "second"))
        decision = str(form.get("decision", ""))
        if decision not in DECISION_LABELS:
            raise CohesionError(f"décision inconnue « {decision[:20]} » (attendu : same ou "
                                "different)")
        service().decide_pair(account, first, second, decision)
        return see_other(REVIEW, "decision")

    @pages.get("/innovations/journal")
    def journal(request: Request, account: Moderator,
                cible: Annotated[str | None, Query(max_length=420)] = None) -> Response:
        carrefour = service()
        entries = carrefour.moderation.audit_trail(account, cible or None,
                                                   limit=JOURNAL_ENTRIES)
        names = actor_names(carrefour, (e.actor_id for e in entries))
        return page(request, "innovations_journal.html", target=cible or "",
                    entries=[audit_view(e, names) for e in entries])

    app.include_router(pages)

    # -- the API ---------------------------------------------------------------------

    api = APIRouter(prefix="/api/innovations", tags=["carrefour des innovations sociales"])
    refused = {401: {"description": "Pas de session (cookie cohesion_session)."},
               403: {"description": f"Rôle insuffisant, ou en-tête {CSRF_HEADER} absent "
                                    "ou faux."}}

    @api.post("/session", summary="Se connecter", response_model=Me,
              responses={401: {"description": "Adresse ou mot de passe incorrect."},
                         429: {"description": "Trop de tentatives (Retry-After)."}})
    def open_session(request: Request, credentials: Credentials) -> JSONResponse:
        """Ouvre une session : pose le cookie de session et donne le jeton d'écriture.

        Dix mots de passe faux en un quart d'heure bloquent le compte un quart d'heure ;
        les tentatives d'une adresse sont aussi limitées (429 avec Retry-After).
        """
        limit_rate(request, "connexion")
        account = service().accounts.authenticate(credentials.email, credentials.password,
                                                  client=client_address(request))
        token = service().accounts.open_session(account)
        response = JSONResponse(me(request, account, token))
        set_session(response, token, secure(request))
        return response

    @api.delete("/session", summary="Se déconnecter", status_code=204,
                response_class=Response, responses=refused)
    def close_session(request: Request) -> Response:
        """Ferme la session du cookie (avec l'en-tête X-CSRF-Token) et efface le cookie."""
        token = request.cookies.get(SESSION_COOKIE)
        if token:
            check_csrf_header(request)
            service().accounts.close_session(token)
        response = Response(status_code=204)
        clear_session(response, secure(request))
        return response

    @api.get("/me", summary="Le compte connecté", response_model=Me, responses=refused)
    def who(request: Request, account: Contributor) -> dict[str, Any]:
        """Le compte de la session et le jeton à envoyer dans l'en-tête X-CSRF-Token."""
        return me(request, account)

    @api.post("/contributions", summary="Proposer une innovation", status_code=201,
              response_model=RecordOut,
              responses={**refused, 400: {"model": InvalidProject}})
    def submit(request: Request, project: ProjectIn, account: Writer) -> Any:
        """La fiche est en attente de modération ; chaque champ invalide est nommé."""
        try:
            record = service().submit(account, project.model_dump(exclude_unset=True))
        except InvalidSubmissionError as error:
            return JSONResponse({"error": str(error), "status": 400, "errors": error.errors},
                                status_code=400)
        return record_out(record)

    @api.get("/contributions", summary="Mes contributions",
             response_model=list[ContributionOut], responses=refused)
    def contributions(account: Contributor) -> list[dict[str, Any]]:
        """Les contributions du compte, les plus récentes d'abord, avec le motif d'un refus."""
        return [{"record": record_out(c.record), "reason": c.reason}
                for c in service().moderation.contributions(account)]

    @api.get("/moderation/pending", summary="Contributions en attente (modérateur)",
             response_model=list[RecordOut], responses=refused)
    def pending(account: Moderator) -> list[dict[str, Any]]:
        """Les contributions à relire, celles qui attendent depuis le plus longtemps d'abord."""
        return [record_out(r) for r in service().moderation.pending(account)]

    @api.post("/moderation/{record_id}/publish", summary="Publier une contribution "
              "(modérateur)", response_model=RecordOut, responses=refused)
    def publish(record_id: RecordIdPath, account: ModeratorWriter) -> dict[str, Any]:
        """La contribution devient cherchable."""
        return record_out(service().publish(account, record_id))

    @api.post("/moderation/{record_id}/reject", summary="Refuser une contribution "
              "(modérateur)", response_model=RecordOut, responses=refused)
    def reject(record_id: RecordIdPath, body: Reason, account: ModeratorWriter
               ) -> dict[str, Any]:
        """Le motif est lu par l'auteur dans ses contributions."""
        return record_out(service().reject(account, record_id, body.reason))

    @api.get("/review", summary="Paires de doublons à revoir (modérateur)",
             response_model=list[PairOut], responses=refused)
    def review_queue(account: Moderator,
                     limit: Annotated[int, Query(ge=1, le=200)] = 50) -> list[dict[str, Any]]:
        """Les paires incertaines, les plus proches de 50 % d'abord."""
        return [{"record_a": p.record_a, "record_b": p.record_b,
                 "probability": p.probability, "status": p.status, "decision": p.decision,
                 "queued": p.queued} for p in service().store.review_queue(limit)]

    @api.post("/review", summary="Décider d'une paire de doublons (modérateur)",
              response_model=PairDecision, responses=refused)
    def review_decision(decision: PairDecision, account: ModeratorWriter) -> PairDecision:
        """La décision l'emporte sur le modèle ; les innovations sont regroupées aussitôt."""
        service().decide_pair(account, decision.first, decision.second, decision.decision)
        return decision

    app.include_router(api)
