"""Contributions and moderation: from a submitted project to a published record.

The workflow:

1. a contributor submits a project (:meth:`Moderation.submit`): a record of source
   ``contribution``, id ``contribution:<uuid>``, status ``pending``, listed in « mes
   contributions »;
2. a moderator publishes it or refuses it with a reason;
3. an edit to a published record is a proposal (the diff is kept) that a moderator
   accepts or refuses;
4. users report records; after :data:`REPORTS_TO_HIDE` distinct reporters the record is
   ``hidden`` pending review; a moderator restores it or removes it.

Every action is written to the audit trail in the same transaction. What users type
is checked at the boundary (:func:`clean_project`): known fields only, lengths, SIRET
(14 digits, Luhn key), postcode, commune code, coordinates, web address; HTML is removed
from every text. Submissions and proposals are limited to :data:`SUBMISSIONS_PER_HOUR`
per account.

Examples
--------
>>> clean_project({"title": "Jardin <b>partagé</b><script>alert(1)</script>",
...                "siret": "730 282 932 00074", "commune": "33063"})["title"]
Traceback (most recent call last):
...
cohesion.innovations.moderation.InvalidSubmissionError: SIRET invalide « 73028293200074 » : ...
>>> fields = clean_project({"title": "Jardin <b>partagé</b><script>alert(1)</script>",
...                         "siret": "732 829 320 00074", "commune": "33063"})
>>> fields["title"], fields["siren"], fields["departement"]
('Jardin partagé', '732829320', '33')
"""

from __future__ import annotations

import math
import re
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from cohesion.errors import CohesionError, ConflictError, RateLimitedError
from cohesion.innovations.accounts import require_role
from cohesion.innovations.matching import departement_of
from cohesion.innovations.records import Record
from cohesion.innovations.store import (
    CONTRIBUTION_SOURCE,
    STATUS_LABELS,
    Account,
    AuditEntry,
    CarrefourStore,
    Contribution,
    Proposal,
    ReportedRecord,
    ReviewPair,
    audit,
    catalogue,
    contributions,
    entities,
)
from cohesion.innovations.store.audit import write_audit
from cohesion.innovations.store.text import bounded_text, web_address

#: Distinct accounts whose reports hide a record until a moderator looks at it.
REPORTS_TO_HIDE = 3
#: Contributions and edit proposals one account may make per :data:`RATE_WINDOW`.
SUBMISSIONS_PER_HOUR = 20
#: The span of the submission limit.
RATE_WINDOW = timedelta(hours=1)
#: The licence under which contributions are published.
CONTRIBUTION_LICENCE = "Licence Ouverte 2.0"
#: Text fields: label and longest text.
TEXT_FIELDS = {"title": ("titre", 200), "summary": ("résumé", 300),
               "description": ("description", 10_000), "porteur": ("porteur", 200),
               "address": ("adresse", 300), "commune_name": ("commune", 100),
               "programme": ("programme", 100)}
#: List fields (taxonomy facets): label.
LIST_FIELDS = {"domaines": "domaines", "publics": "publics", "actions": "types d'action"}
#: Every field a contributor may fill, with its label.
FIELD_LABELS = ({name: label for name, (label, _) in TEXT_FIELDS.items()} | LIST_FIELDS
                | {"siret": "SIRET", "postcode": "code postal", "commune": "code commune",
                   "lat": "latitude", "lon": "longitude", "url": "site web"})
#: Shortest title.
MIN_TITLE_LENGTH = 3
#: Most terms in a list field, and the longest term.
MAX_LIST_ITEMS, LIST_ITEM_LENGTH = 20, 100
#: Bounds of coordinates (WGS 84, degrees).
COORDINATE_BOUNDS = {"lat": (-90.0, 90.0), "lon": (-180.0, 180.0)}
#: Shortest and longest reason of a refusal, removal or report.
REASON_LENGTH = (3, 1000)
#: La Poste's establishments share one SIREN and a key of their own: the digits of the
#: SIRET add up to a multiple of 5 (INSEE's exception to the Luhn key).
LA_POSTE_SIREN = "356000000"
#: Text fields of a record that are never None (the others are None when empty).
_ALWAYS_TEXT = ("title", "summary", "description")
_COMMUNE = re.compile(r"\d{5}|2[AB]\d{3}")


class InvalidSubmissionError(CohesionError):
    """A form with invalid fields; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__(" ; ".join(errors.values()))
        self.errors = errors


class RateLimitError(RateLimitedError):
    """Too many submissions lately: the same request will succeed later."""


def luhn_valid(digits: str) -> bool:
    """Whether ``digits`` pass the Luhn check (SIREN and SIRET keys).

    Examples
    --------
    >>> luhn_valid("73282932000074"), luhn_valid("73282932000075")
    (True, False)
    """
    total = 0
    for position, character in enumerate(reversed(digits)):
        value = int(character) * (2 if position % 2 else 1)
        total += value - 9 if value > 9 else value
    return total % 10 == 0


def check_siret(value: object) -> str:
    """The SIRET ``value``, spaces and dots removed, checked.

    Raises
    ------
    CohesionError
        When it is not 14 digits or its key is wrong.

    Examples
    --------
    >>> check_siret("130 026 032 00016")
    '13002603200016'
    """
    digits = re.sub(r"[\s.]", "", str(value))
    if not re.fullmatch(r"\d{14}", digits):
        raise CohesionError(f"SIRET invalide « {str(value)[:40]} » : 14 chiffres attendus")
    la_poste = digits.startswith(LA_POSTE_SIREN) and sum(map(int, digits)) % 5 == 0
    if not (luhn_valid(digits) or la_poste):
        raise CohesionError(f"SIRET invalide « {digits} » : la clé de contrôle (formule de "
                            "Luhn) ne correspond pas ; vérifier le numéro sur "
                            "annuaire-entreprises.data.gouv.fr")
    return digits


def _coordinate(value: object, name: str) -> float | None:
    label = FIELD_LABELS[name]
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    try:
        number = float(value.replace(",", ".") if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise CohesionError(f"{label} : nombre attendu (reçu « {str(value)[:40]} »)") from None
    low, high = COORDINATE_BOUNDS[name]
    if not low <= number <= high:  # NaN fails too
        raise CohesionError(f"{label} : entre {low:g} et {high:g} degrés attendu "
                            f"(reçu {value})")
    return number


def _terms(value: object, label: str) -> list[str]:
    if value is None:
        return []
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        raise CohesionError(f"{label} : liste de termes attendue")
    terms = list(dict.fromkeys(term for item in items
                               if (term := bounded_text(item, label, LIST_ITEM_LENGTH))))
    if len(terms) > MAX_LIST_ITEMS:
        raise CohesionError(f"{label} : {MAX_LIST_ITEMS} termes au plus ({len(terms)} reçus)")
    return terms


def _field(name: str, value: object) -> dict[str, Any]:
    """The cleaned value of one field, with the fields derived from it."""
    empty = value is None or (isinstance(value, str) and not value.strip())
    if name in TEXT_FIELDS:
        label, longest = TEXT_FIELDS[name]
        text = bounded_text(value, label, longest,
                            MIN_TITLE_LENGTH if name == "title" else 0)
        return {name: text if text or name in _ALWAYS_TEXT else None}
    if name in LIST_FIELDS:
        return {name: _terms(value, LIST_FIELDS[name])}
    if name in COORDINATE_BOUNDS:
        return {name: _coordinate(value, name)}
    if name == "url":
        return {"url": web_address(value)}
    if name == "siret":
        siret = None if empty else check_siret(value)
        return {"siret": siret, "siren": siret[:9] if siret else None}
    code = None if empty else str(value).strip().upper()
    if name == "postcode" and code is not None and not re.fullmatch(r"\d{5}", code):
        raise CohesionError(f"code postal invalide « {code[:20]} » : 5 chiffres attendus")
    if name == "commune":
        if code is not None and not _COMMUNE.fullmatch(code):
            raise CohesionError(f"code commune invalide « {code[:20]} » : code INSEE de 5 "
                                "caractères attendu (33063, 2A004)")
        return {"commune": code, "departement": departement_of(code) if code else None}
    return {name: code}


def clean_project(fields: Mapping[str, object], partial: bool = False) -> dict[str, Any]:
    """The fields of a submitted project, checked and cleaned.

    Parameters
    ----------
    fields : mapping
        What the form sent, by field name (:data:`FIELD_LABELS`). Lists may be given
        as lists or as comma-separated text; coordinates as numbers or text.
    partial : bool
        True for an edit proposal: only the fields given are checked and returned.

    Returns
    -------
    dict
        The cleaned fields, with ``siren`` and ``departement`` derived from ``siret``
        and ``commune``.

    Raises
    ------
    InvalidSubmissionError
        With every invalid field and its message (unknown fields included).
    """
    errors = {name: f"champ inconnu « {name} » (champs acceptés : "
                    f"{', '.join(FIELD_LABELS)})" for name in fields if name not in FIELD_LABELS}
    cleaned: dict[str, Any] = {}
    for name in FIELD_LABELS:
        if partial and name not in fields:
            continue
        try:
            cleaned |= _field(name, fields.get(name))
        except CohesionError as error:
            errors[name] = str(error)
    if ("lat" in cleaned and "lon" in cleaned
            and (cleaned["lat"] is None) != (cleaned["lon"] is None)) \
            or (partial and ("lat" in fields) != ("lon" in fields)):
        errors.setdefault("lat", "latitude et longitude vont ensemble : donner les deux "
                                 "ou aucune")
    if errors:
        raise InvalidSubmissionError(errors)
    return cleaned


def first_sentence(text: str, longest: int = TEXT_FIELDS["summary"][1]) -> str:
    """The first sentence of ``text``, cut at a word to ``longest`` characters.

    Examples
    --------
    >>> first_sentence("Une épicerie. Ouverte à tous.")
    'Une épicerie.'
    """
    sentence = re.split(r"(?<=[.!?])\s", text.strip(), maxsplit=1)[0]
    if len(sentence) <= longest:
        return sentence
    return sentence[:longest - 1].rsplit(" ", 1)[0] + "…"


def _reason(reason: object) -> str:
    return bounded_text(reason, "motif", REASON_LENGTH[1], REASON_LENGTH[0])


class Moderation:
    """Submit, publish, refuse, propose, report and review, on one store.

    Every method takes the acting :class:`~cohesion.innovations.store.Account` first
    and checks its role (read again in the transaction).

    Parameters
    ----------
    store : CarrefourStore
    clock : callable, optional
        The current aware UTC instant; the store's clock by default.
    """

    def __init__(self, store: CarrefourStore,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.store = store
        self.clock = clock or store.clock

    def _check_rate(self, session: Session, account: Account, now: datetime) -> None:
        done = contributions.submissions_since(session, account.id, now - RATE_WINDOW)
        if done >= SUBMISSIONS_PER_HOUR:
            minutes = math.ceil(RATE_WINDOW.total_seconds() / 60)
            raise RateLimitError(f"{done} contributions ou propositions en moins de "
                                 f"{minutes} minutes : c'est le maximum "
                                 f"({SUBMISSIONS_PER_HOUR}), réessayez plus tard")

    # -- contributions ------------------------------------------------------------

    def submit(self, author: Account, fields: Mapping[str, object]) -> Record:
        """Submit a project: a ``pending`` record ``contribution:<uuid>`` of ``author``.

        Raises
        ------
        InvalidSubmissionError
            When a field is invalid (every invalid field is listed).
        RateLimitError
            After :data:`SUBMISSIONS_PER_HOUR` submissions within an hour.
        """
        values = clean_project(fields)
        values["summary"] = values["summary"] or first_sentence(values["description"])
        key = uuid.uuid4().hex
        record = Record(id=f"{CONTRIBUTION_SOURCE}:{key}", source=CONTRIBUTION_SOURCE,
                        source_key=key, licence=CONTRIBUTION_LICENCE, status="pending",
                        raw=dict(values), **values)
        now = self.clock()
        with self.store.transaction() as session:
            require_role(session, author, "contributeur", "proposer un projet")
            self._check_rate(session, author, now)
            stored = contributions.add_record(session, record, author.id, now)
            write_audit(session, author.id, "soumettre", f"fiche:{record.id}",
                        {"titre": record.title}, now)
        return stored

    def contributions(self, author: Account) -> list[Contribution]:
        """« Mes contributions »: the projects ``author`` submitted, newest first."""
        with self.store.transaction() as session:
            return contributions.submitted(session, author.id)

    def pending(self, moderator: Account, limit: int = 100) -> list[Record]:
        """The contributions waiting for a moderator, the longest waiting first."""
        with self.store.transaction() as session:
            require_role(session, moderator, "moderateur", "voir les contributions en attente")
            return contributions.with_status(session, "pending", limit)

    def _decide(self, moderator: Account, record_id: str, allowed: tuple[str, ...],
                status: str, action: str, reason: str | None = None) -> Record:
        now = self.clock()
        with self.store.transaction() as session:
            require_role(session, moderator, "moderateur", "modérer une fiche")
            record = contributions.change_status(session, record_id, allowed, status, reason,
                                                 now)
            closed = contributions.close_reports(session, record_id) \
                if action in ("retablir", "retirer") else 0
            details: dict[str, Any] = {"statut": status}
            if reason:
                details["motif"] = reason
            if closed:
                details["signalements_clos"] = closed
            write_audit(session, moderator.id, action, f"fiche:{record_id}", details, now)
        return record

    def publish(self, moderator: Account, record_id: str) -> Record:
        """Publish a pending contribution."""
        return self._decide(moderator, record_id, ("pending",), "published", "publier")

    def reject(self, moderator: Account, record_id: str, reason: str) -> Record:
        """Refuse a pending contribution, saying why (the contributor sees the reason)."""
        return self._decide(moderator, record_id, ("pending",), "rejected", "refuser",
                            _reason(reason))

    # -- edit proposals -----------------------------------------------------------

    def propose_edit(self, author: Account, record_id: str,
                     fields: Mapping[str, object]) -> Proposal:
        """Propose changes to a published record; the diff waits for a moderator.

        Raises
        ------
        InvalidSubmissionError
            When a field is invalid.
        ConflictError
            When the record is not published.
        CohesionError
            When nothing would change.
        RateLimitError
            After :data:`SUBMISSIONS_PER_HOUR` submissions within an hour.
        """
        values = clean_project(fields, partial=True)
        now = self.clock()
        with self.store.transaction() as session:
            require_role(session, author, "contributeur", "proposer une modification")
            record = catalogue.record(session, record_id)
            if record.status != "published":
                raise ConflictError(f"la fiche « {record_id} » est "
                                    f"{STATUS_LABELS[record.status]} : seule une fiche "
                                    "publiée reçoit des propositions de modification")
            changes = {name: [getattr(record, name), value] for name, value in values.items()
                       if getattr(record, name) != value}
            if not changes:
                raise CohesionError("la proposition ne change rien à la fiche")
            self._check_rate(session, author, now)
            proposal = contributions.add_proposal(session, record_id, author.id, changes, now)
            write_audit(session, author.id, "proposer", f"fiche:{record_id}",
                        {"proposition": proposal.id, "champs": sorted(changes)}, now)
        return proposal

    def proposals(self, moderator: Account, status: str = "pending",
                  record_id: str | None = None) -> list[Proposal]:
        """Proposals with ``status`` (of one record if given), the oldest first."""
        with self.store.transaction() as session:
            require_role(session, moderator, "moderateur", "voir les propositions")
            return contributions.proposals(session, status, record_id)

    def accept_proposal(self, moderator: Account, proposal_id: int) -> Record:
        """Apply a pending proposal to its record.

        Raises
        ------
        ConflictError
            When it was decided already, or the record changed since.
        """
        now = self.clock()
        with self.store.transaction() as session:
            require_role(session, moderator, "moderateur", "accepter une proposition")
            proposal = contributions.close_proposal(session, proposal_id, "accepted",
                                                    moderator.id, None, now)
            record = contributions.apply_changes(session, proposal.record_id,
                                                 proposal.changes, now)
            write_audit(session, moderator.id, "accepter_proposition",
                        f"proposition:{proposal_id}",
                        {"fiche": proposal.record_id, "champs": sorted(proposal.changes)}, now)
        return record

    def reject_proposal(self, moderator: Account, proposal_id: int, reason: str) -> Proposal:
        """Refuse a pending proposal, saying why."""
        reason = _reason(reason)
        now = self.clock()
        with self.store.transaction() as session:
            require_role(session, moderator, "moderateur", "refuser une proposition")
            proposal = contributions.close_proposal(session, proposal_id, "rejected",
                                                    moderator.id, reason, now)
            write_audit(session, moderator.id, "refuser_proposition",
                        f"proposition:{proposal_id}",
                        {"fiche": proposal.record_id, "motif": reason}, now)
        return proposal

    # -- reports ------------------------------------------------------------------

    def report(self, reporter: Account, record_id: str, reason: str) -> Record:
        """Report a published record; the :data:`REPORTS_TO_HIDE`-th reporter hides it.

        Returns
        -------
        Record
            The record, ``hidden`` when this report reached the threshold.

        Raises
        ------
        ConflictError
            When the record is not published, or ``reporter`` reported it already.
        """
        reason = _reason(reason)
        now = self.clock()
        target = f"fiche:{record_id}"
        with self.store.transaction() as session:
            require_role(session, reporter, "contributeur", "signaler une fiche")
            record = catalogue.record(session, record_id)
            if record.status != "published":
                raise ConflictError(f"la fiche « {record_id} » est "
                                    f"{STATUS_LABELS[record.status]} : seule une fiche "
                                    "publiée peut être signalée")
            reporters = contributions.add_report(session, record_id, reporter.id, reason, now)
            write_audit(session, reporter.id, "signaler", target, {"motif": reason}, now)
            if reporters >= REPORTS_TO_HIDE:
                record = contributions.change_status(session, record_id, ("published",),
                                                     "hidden", None, now)
                write_audit(session, None, "masquer", target, {"signalements": reporters},
                            now)
        return record

    def reported(self, moderator: Account) -> list[ReportedRecord]:
        """The records with open reports (hidden or not), the most reported first."""
        with self.store.transaction() as session:
            require_role(session, moderator, "moderateur", "voir les signalements")
            return contributions.reported(session)

    def restore(self, moderator: Account, record_id: str) -> Record:
        """Publish a hidden record again; its open reports are closed."""
        return self._decide(moderator, record_id, ("hidden",), "published", "retablir")

    def remove(self, moderator: Account, record_id: str, reason: str) -> Record:
        """Withdraw a hidden or published record (kept, ``rejected``), saying why."""
        return self._decide(moderator, record_id, ("hidden", "published"), "rejected",
                            "retirer", _reason(reason))

    # -- duplicates and trail -----------------------------------------------------

    def decide_pair(self, reviewer: Account, first: str, second: str,
                    decision: str) -> ReviewPair:
        """A moderator's decision on a pair of possible duplicates (``same``/``different``)."""
        now = self.clock()
        with self.store.transaction() as session:
            require_role(session, reviewer, "moderateur", "décider d'une paire de doublons")
            return entities.decide_pair(session, first, second, decision, reviewer.id, now)

    def audit_trail(self, moderator: Account, target: str | None = None,
                    limit: int = 100) -> list[AuditEntry]:
        """The newest entries of the audit trail (of one target if given)."""
        with self.store.transaction() as session:
            require_role(session, moderator, "moderateur", "consulter le journal")
            return audit.audit_trail(session, target, limit=limit)
