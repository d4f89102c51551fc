"""What users write about records: contributions, edit proposals, reports, statuses.

The workflow and its rules are in :mod:`cohesion.innovations.moderation`; these
functions read and write in the caller's transaction. A status changes only from the
statuses an action allows (:func:`change_status`), checked on the row locked for the
change, so two moderators acting at once cannot both succeed.

Examples
--------
>>> STATUS_LABELS["hidden"]
'masquée'
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from cohesion.errors import ConflictError, NotFoundError
from cohesion.innovations.records import Record
from cohesion.innovations.store.catalogue import CONTRIBUTION_SOURCE
from cohesion.innovations.store.models import (
    ProposalRow,
    RecordRow,
    ReportRow,
    iso,
    record_values,
    row_record,
)

#: The statuses of a record, in words.
STATUS_LABELS = {"published": "publiée", "pending": "en attente de modération",
                 "hidden": "masquée", "gone": "disparue de sa source",
                 "rejected": "refusée ou retirée"}


@dataclass(frozen=True)
class Contribution:
    """A record a user submitted, with the moderator's reason when refused or removed."""

    record: Record
    reason: str | None


@dataclass(frozen=True)
class Proposal:
    """A change to a published record, waiting for (or decided by) a moderator.

    Attributes
    ----------
    id : int
    record_id : str
    author_id : int or None
    created : str
        ISO 8601 UTC instant.
    changes : dict
        Field → ``[before, after]``.
    status : str
        ``pending``, ``accepted`` or ``rejected``.
    decided_by : int or None
    decided_at : str
    reason : str or None
        Why it was refused.
    """

    id: int
    record_id: str
    author_id: int | None
    created: str
    changes: dict[str, list[Any]]
    status: str
    decided_by: int | None
    decided_at: str
    reason: str | None


@dataclass(frozen=True)
class Report:
    """A user's report (signalement) of a record; ``status`` is ``open`` or ``closed``."""

    id: int
    record_id: str
    reporter_id: int | None
    reason: str
    created: str
    status: str


@dataclass(frozen=True)
class ReportedRecord:
    """A record with its open reports, for the moderators' queue."""

    record: Record
    reports: tuple[Report, ...]


def _record_row(session: Session, record_id: str, lock: bool = False) -> RecordRow:
    row = session.get(RecordRow, record_id, with_for_update=lock)
    if row is None:
        raise NotFoundError(f"aucune fiche « {record_id} »")
    return row


def add_record(session: Session, record: Record, submitted_by: int, now: datetime) -> Record:
    """Keep a record a user submitted (its status as given, ``pending``)."""
    row = RecordRow(**record_values(record), first_seen=now, last_seen=now, updated=now,
                    status=record.status, content_hash=record.content_hash(),
                    submitted_by=submitted_by)
    session.add(row)
    session.flush()
    return row_record(row)


def submissions_since(session: Session, account_id: int, since: datetime) -> int:
    """Contributions and edit proposals ``account_id`` made after ``since``."""
    records = session.scalar(select(func.count()).select_from(RecordRow).where(
        RecordRow.submitted_by == account_id, RecordRow.source == CONTRIBUTION_SOURCE,
        RecordRow.first_seen > since)) or 0
    proposals = session.scalar(select(func.count()).select_from(ProposalRow).where(
        ProposalRow.author_id == account_id, ProposalRow.created > since)) or 0
    return records + proposals


def submitted(session: Session, account_id: int) -> list[Contribution]:
    """The contributions of ``account_id``, newest first."""
    rows = session.scalars(select(RecordRow).where(RecordRow.submitted_by == account_id)
                           .order_by(RecordRow.first_seen.desc(), RecordRow.id))
    return [Contribution(row_record(row), row.status_reason) for row in rows]


def with_status(session: Session, status: str, limit: int = 100) -> list[Record]:
    """Records with ``status``, the longest waiting first."""
    rows = session.scalars(select(RecordRow).where(RecordRow.status == status)
                           .order_by(RecordRow.updated, RecordRow.id).limit(limit))
    return [row_record(row) for row in rows]


def change_status(session: Session, record_id: str, allowed: Collection[str], status: str,
                  reason: str | None, now: datetime) -> Record:
    """Move a record from one of ``allowed`` to ``status`` (``updated`` set).

    Raises
    ------
    NotFoundError
        When the record does not exist.
    ConflictError
        When its status is not one of ``allowed`` (already done, or by someone else).
    """
    row = _record_row(session, record_id, lock=True)
    if row.status not in allowed:
        wanted = " ou ".join(STATUS_LABELS[name] for name in allowed)
        raise ConflictError(f"la fiche « {record_id} » est {STATUS_LABELS[row.status]} : "
                            f"cette action demande une fiche {wanted}")
    row.status, row.status_reason, row.updated = status, reason, now
    session.flush()
    return row_record(row)


def apply_changes(session: Session, record_id: str, changes: dict[str, list[Any]],
                  now: datetime) -> Record:
    """Write the ``after`` of each ``[before, after]`` of ``changes`` into the record.

    ``content_hash`` keeps the digest of what the source said, so that a harvest
    overwrites an accepted edit only when the source itself changes.

    Raises
    ------
    ConflictError
        When a field no longer holds its ``before`` (the record changed meanwhile).
    """
    row = _record_row(session, record_id, lock=True)
    for name, (before, after) in changes.items():
        if getattr(row, name) != before:
            raise ConflictError(f"la fiche « {record_id} » a changé depuis la proposition "
                                f"(champ {name}) : refuser la proposition et en demander "
                                "une nouvelle")
        setattr(row, name, after)
    row.updated = now
    session.flush()
    return row_record(row)


def _proposal(row: ProposalRow) -> Proposal:
    return Proposal(row.id, row.record_id, row.author_id, iso(row.created), dict(row.changes),
                    row.status, row.decided_by, iso(row.decided_at), row.reason)


def add_proposal(session: Session, record_id: str, author_id: int,
                 changes: dict[str, list[Any]], now: datetime) -> Proposal:
    """Keep a proposed change of a record."""
    _record_row(session, record_id)
    row = ProposalRow(record_id=record_id, author_id=author_id, created=now, changes=changes,
                      status="pending")
    session.add(row)
    session.flush()
    return _proposal(row)


def proposal(session: Session, proposal_id: int) -> Proposal:
    """The proposal ``proposal_id``.

    Raises
    ------
    NotFoundError
        When there is none.
    """
    row = session.get(ProposalRow, proposal_id)
    if row is None:
        raise NotFoundError(f"aucune proposition numéro {proposal_id}")
    return _proposal(row)


def proposals(session: Session, status: str = "pending", record_id: str | None = None,
              limit: int = 100) -> list[Proposal]:
    """Proposals with ``status`` (of one record if given), the oldest first."""
    query = select(ProposalRow).where(ProposalRow.status == status)
    if record_id is not None:
        query = query.where(ProposalRow.record_id == record_id)
    return [_proposal(row) for row in session.scalars(query.order_by(ProposalRow.id)
                                                      .limit(limit))]


def close_proposal(session: Session, proposal_id: int, status: str, decided_by: int,
                   reason: str | None, now: datetime) -> Proposal:
    """Mark a pending proposal ``accepted`` or ``rejected``.

    Raises
    ------
    ConflictError
        When it was decided already.
    """
    row = session.get(ProposalRow, proposal_id, with_for_update=True)
    if row is None:
        raise NotFoundError(f"aucune proposition numéro {proposal_id}")
    if row.status != "pending":
        raise ConflictError(f"la proposition numéro {proposal_id} a déjà été traitée")
    row.status, row.decided_by, row.decided_at, row.reason = status, decided_by, now, reason
    session.flush()
    return _proposal(row)


def _report(row: ReportRow) -> Report:
    return Report(row.id, row.record_id, row.reporter_id, row.reason, iso(row.created),
                  row.status)


def add_report(session: Session, record_id: str, reporter_id: int, reason: str,
               now: datetime) -> int:
    """Keep a report of a record.

    Returns
    -------
    int
        The number of distinct accounts with an open report of the record, this one
        included.

    Raises
    ------
    ConflictError
        When the account has an open report of the record already.
    """
    _record_row(session, record_id, lock=True)
    reporters = set(session.scalars(select(ReportRow.reporter_id).where(
        ReportRow.record_id == record_id, ReportRow.status == "open")))
    if reporter_id in reporters:
        raise ConflictError("vous avez déjà signalé cette fiche : un modérateur va l'examiner")
    session.add(ReportRow(record_id=record_id, reporter_id=reporter_id, reason=reason,
                          created=now, status="open"))
    session.flush()
    return len(reporters | {reporter_id})


def open_reports(session: Session, record_id: str) -> list[Report]:
    """The open reports of a record, the oldest first."""
    rows = session.scalars(select(ReportRow).where(ReportRow.record_id == record_id,
                                                   ReportRow.status == "open")
                           .order_by(ReportRow.id))
    return [_report(row) for row in rows]


def reported(session: Session) -> list[ReportedRecord]:
    """The records with open reports, the most reported first."""
    grouped: dict[str, list[Report]] = {}
    for row in session.scalars(select(ReportRow).where(ReportRow.status == "open")
                               .order_by(ReportRow.id)):
        grouped.setdefault(row.record_id, []).append(_report(row))
    found = [ReportedRecord(row_record(_record_row(session, record_id)), tuple(reports))
             for record_id, reports in grouped.items()]
    return sorted(found, key=lambda item: (-len(item.reports), item.reports[0].id))


def close_reports(session: Session, record_id: str) -> int:
    """Close the open reports of a record (a moderator acted); how many were open."""
    return session.execute(update(ReportRow).where(ReportRow.record_id == record_id,
                                                   ReportRow.status == "open")
                           .values(status="closed")).rowcount
