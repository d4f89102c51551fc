"""Entities across sources: the mapping record → entity, its history, the review queue.

Deduplication (:mod:`cohesion.innovations.dedup`) computes, as pure functions, which
records describe the same innovation; the store keeps the result: a stable entity id per
group (a record joining a group does not renumber it), the history of merges and splits,
and the pairs the model is unsure about, queued for a reviewer whose decision wins over
the model at the next run (:func:`decisions`).

Pairs are always stored sorted (``record_a < record_b``), whichever way they come.

Examples
--------
>>> sorted_pair("transiscope:9", "dotations-2019:4")
('dotations-2019:4', 'transiscope:9')
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from cohesion.errors import CohesionError, NotFoundError
from cohesion.innovations.records import Record
from cohesion.innovations.store.audit import write_audit
from cohesion.innovations.store.models import (
    EntityMemberRow,
    EntityRow,
    MergeEventRow,
    RecordRow,
    ReviewPairRow,
    iso,
    row_record,
)

#: Kinds of merge events, as deduplication names them
#: (:class:`cohesion.innovations.dedup.EntityEvent`).
MERGE_KINDS = ("created", "merged", "split", "joined")
#: A reviewer's answers about a pair.
DECISIONS = ("same", "different")
#: Record ids checked per query (well under SQLite's limit of bound parameters).
CHECK_BATCH = 500


@dataclass(frozen=True)
class MergeEvent:
    """One change of the entities, as deduplication reports it.

    Attributes
    ----------
    kind : str
        ``created`` (a new entity), ``merged`` (the records of the second of
        ``entity_ids`` joined the first, which remains), ``split`` (records left the
        first for the second) or ``joined`` (records new to the store joined an entity).
    entity_ids : tuple of str
        The entities concerned.
    record_ids : tuple of str
        The records that moved.
    reviewer_id : int or None
        The reviewer whose decision caused it; None when the model decided.
    note : str
        Free explanation (scores, rule).
    at : str
        ISO 8601 UTC instant, set by the store.
    """

    kind: str
    entity_ids: tuple[str, ...]
    record_ids: tuple[str, ...]
    reviewer_id: int | None = None
    note: str = ""
    at: str = ""


@dataclass(frozen=True)
class ReviewPair:
    """Two records the model is unsure about, and what a reviewer said.

    ``status`` is ``pending`` or ``decided``; ``decision`` ``same`` or ``different``.
    """

    record_a: str
    record_b: str
    probability: float
    status: str
    decision: str | None
    reviewer_id: int | None
    queued: str
    decided_at: str


def sorted_pair(first: str, second: str) -> tuple[str, str]:
    """The two record ids of a pair in the order the store keeps them."""
    return (first, second) if first <= second else (second, first)


def _check_records(session: Session, record_ids: Iterable[str], where: str) -> None:
    """Raise :class:`NotFoundError` naming the ids of ``record_ids`` the store lacks."""
    wanted = sorted(set(record_ids))
    held: set[str] = set()
    for start in range(0, len(wanted), CHECK_BATCH):
        held.update(session.scalars(select(RecordRow.id).where(
            RecordRow.id.in_(wanted[start:start + CHECK_BATCH]))))
    unknown = [record_id for record_id in wanted if record_id not in held]
    if unknown:
        raise NotFoundError(f"{len(unknown)} fiche(s) inconnue(s) dans {where} : "
                            f"{', '.join(unknown[:5])}")


def entity_mapping(session: Session) -> dict[str, str]:
    """The current mapping record id → entity id."""
    return dict(session.execute(select(EntityMemberRow.record_id,
                                       EntityMemberRow.entity_id)).all())


def entity_records(session: Session, entity_id: str) -> list[Record]:
    """The records of entity ``entity_id`` (any status), by id.

    Raises
    ------
    NotFoundError
        When no record belongs to that entity.
    """
    rows = session.scalars(select(RecordRow).join(
        EntityMemberRow, EntityMemberRow.record_id == RecordRow.id)
        .where(EntityMemberRow.entity_id == entity_id).order_by(RecordRow.id)).all()
    if not rows:
        raise NotFoundError(f"aucune innovation « {entity_id} »")
    return [row_record(row) for row in rows]


def save_entity_mapping(session: Session, mapping: Mapping[str, str],
                        events: Iterable[MergeEvent], now: datetime) -> int:
    """Record the entity of each record of ``mapping``, and the events that led there.

    Entities named for the first time are created. Records absent from ``mapping``
    keep their entity.

    Returns
    -------
    int
        The number of records whose entity changed (or that had none).

    Raises
    ------
    NotFoundError
        When ``mapping`` names records the store does not hold.
    CohesionError
        When an event's kind is not one of :data:`MERGE_KINDS`.
    """
    events = list(events)
    for event in events:
        if event.kind not in MERGE_KINDS:
            raise CohesionError(f"événement d'entité inconnu « {event.kind} » (attendu : "
                                f"{', '.join(MERGE_KINDS)})")
    _check_records(session, mapping, "la correspondance des entités")
    existing = set(session.scalars(select(EntityRow.id)))
    session.add_all(EntityRow(id=entity_id, created=now)
                    for entity_id in sorted(set(mapping.values()) - existing))
    session.flush()
    current = entity_mapping(session)
    moved = 0
    for record_id, entity_id in mapping.items():
        if current.get(record_id) == entity_id:
            continue
        moved += 1
        session.merge(EntityMemberRow(record_id=record_id, entity_id=entity_id, since=now))
    session.add_all(MergeEventRow(at=now, kind=event.kind, entity_ids=list(event.entity_ids),
                                  record_ids=list(event.record_ids),
                                  reviewer_id=event.reviewer_id, note=event.note)
                    for event in events)
    session.flush()
    return moved


def merge_events(session: Session, limit: int = 100) -> list[MergeEvent]:
    """The newest changes of the entities, newest first."""
    rows = session.scalars(select(MergeEventRow).order_by(MergeEventRow.id.desc()).limit(limit))
    return [MergeEvent(row.kind, tuple(row.entity_ids), tuple(row.record_ids),
                       row.reviewer_id, row.note, iso(row.at)) for row in rows]


def _pair(row: ReviewPairRow) -> ReviewPair:
    return ReviewPair(row.record_a, row.record_b, row.probability, row.status, row.decision,
                      row.reviewer_id, iso(row.queued), iso(row.decided_at))


def _find_pair(session: Session, first: str, second: str) -> ReviewPairRow | None:
    a, b = sorted_pair(first, second)
    return session.scalars(select(ReviewPairRow).where(ReviewPairRow.record_a == a,
                                                       ReviewPairRow.record_b == b)).first()


def queue_pairs(session: Session, pairs: Iterable[tuple[str, str, float]],
                now: datetime) -> int:
    """Put uncertain pairs ``(record, record, probability)`` in the review queue.

    A pending pair gets the new probability; a decided pair is not queued again (the
    reviewer's word stands); a record paired with itself is ignored.

    Raises
    ------
    NotFoundError
        When a pair names a record the store does not hold.

    Returns
    -------
    int
        The number of pairs newly queued.
    """
    pairs = [(first, second, float(probability)) for first, second, probability in pairs
             if first != second]
    _check_records(session, {record_id for pair in pairs for record_id in pair[:2]},
                   "les paires à revoir")
    held = {(row.record_a, row.record_b): row for row in session.scalars(select(ReviewPairRow))}
    queued = 0
    for first, second, probability in pairs:
        key = sorted_pair(first, second)
        row = held.get(key)
        if row is None:
            held[key] = ReviewPairRow(record_a=key[0], record_b=key[1],
                                      probability=probability, status="pending", queued=now)
            session.add(held[key])
            queued += 1
        elif row.status == "pending":
            row.probability = probability
    session.flush()
    return queued


def review_queue(session: Session, limit: int = 50) -> list[ReviewPair]:
    """The pending pairs, the most uncertain (probability nearest 0.5) first."""
    rows = session.scalars(
        select(ReviewPairRow).where(ReviewPairRow.status == "pending")
        .order_by(func.abs(ReviewPairRow.probability - 0.5), ReviewPairRow.id).limit(limit))
    return [_pair(row) for row in rows]


def decide_pair(session: Session, first: str, second: str, decision: str,
                reviewer_id: int, now: datetime) -> ReviewPair:
    """Record a reviewer's ``decision`` (``same`` or ``different``) about a pair.

    A pair not in the queue is added, decided. The decision replaces an earlier one
    and is written to the audit log.

    Raises
    ------
    CohesionError
        When ``decision`` is neither ``same`` nor ``different``, or both ids are equal.
    NotFoundError
        When a record does not exist.
    """
    if decision not in DECISIONS:
        raise CohesionError(f"décision inconnue « {decision} » (attendu : "
                            f"{' ou '.join(DECISIONS)})")
    if first == second:
        raise CohesionError("une paire réunit deux fiches différentes")
    _check_records(session, (first, second), "la paire")
    row = _find_pair(session, first, second)
    if row is None:
        a, b = sorted_pair(first, second)
        row = ReviewPairRow(record_a=a, record_b=b, probability=0.5, queued=now)
        session.add(row)
    before = row.decision
    row.status, row.decision, row.reviewer_id, row.decided_at = (
        "decided", decision, reviewer_id, now)
    write_audit(session, reviewer_id, "decider_paire", f"paire:{row.record_a}|{row.record_b}",
                {"decision": decision, "avant": before}, now)
    session.flush()
    return _pair(row)


def decisions(session: Session) -> dict[tuple[str, str], str]:
    """Every reviewer's decision: ``{(a, b): "same" | "different"}``, ``a < b``."""
    rows = session.execute(select(ReviewPairRow.record_a, ReviewPairRow.record_b,
                                  ReviewPairRow.decision)
                           .where(ReviewPairRow.status == "decided"))
    return {(a, b): decision for a, b, decision in rows}
