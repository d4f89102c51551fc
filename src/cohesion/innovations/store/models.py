"""The tables of the Carrefour's relational store, as SQLAlchemy 2 typed declarative models.

One model per table; the migration scripts (``migrations/versions``) create the same
schema, and a test compares the two on SQLite and PostgreSQL. Every instant is an aware
UTC :class:`~datetime.datetime` in Python (:class:`UtcDateTime`); lists and payloads are
JSON (``jsonb`` on PostgreSQL).

Model classes end in ``Row``: the rest of the Carrefour works on the dataclasses the
store returns (:class:`~cohesion.innovations.records.Record`, ``Account``…), never on
rows, so that nothing outside the store holds a database session.

Examples
--------
>>> sorted(Base.metadata.tables)[:4]
['accounts', 'audit_log', 'edit_proposals', 'entities']
>>> iso(datetime(2024, 3, 1, 9, 30, tzinfo=UTC))
'2024-03-01T09:30:00+00:00'
"""

from __future__ import annotations

from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from cohesion.innovations.records import Record

#: Constraint names Alembic can find again (SQLite's batch migrations need named ones).
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

#: JSON everywhere, ``jsonb`` on PostgreSQL (indexable, compact).
JsonType = JSON().with_variant(JSONB(), "postgresql")


def utcnow() -> datetime:
    """The current instant, aware, in UTC (the clock services use by default)."""
    return datetime.now(UTC)


def iso(instant: datetime | None) -> str:
    """``instant`` as the ISO 8601 UTC text records carry (``""`` for None)."""
    return instant.astimezone(UTC).isoformat(timespec="seconds") if instant else ""


def parse_instant(text: str | None) -> datetime | None:
    """The aware UTC instant of an ISO 8601 text; None when empty or unreadable.

    A naive text is taken as UTC (connectors write UTC).

    Examples
    --------
    >>> parse_instant("2024-03-01T10:30:00+01:00")
    datetime.datetime(2024, 3, 1, 9, 30, tzinfo=datetime.timezone.utc)
    >>> parse_instant("hier") is None
    True
    """
    try:
        found = datetime.fromisoformat(text) if text else None
    except ValueError:
        return None
    if found is None:
        return None
    return found.replace(tzinfo=UTC) if found.tzinfo is None else found.astimezone(UTC)


class UtcDateTime(TypeDecorator[datetime]):
    """An aware UTC instant on both backends.

    PostgreSQL keeps ``timestamptz``; SQLite has no time zones, so the instant is
    converted to UTC and stored naive (its text sorts in time order), then given its UTC
    zone back when read. A naive datetime is refused: it would mean local time somewhere.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"instant sans fuseau horaire : {value!r} (UTC attendu)")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None,
                             dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class Base(DeclarativeBase):
    """The declarative base of the Carrefour's tables."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map: ClassVar[dict[Any, Any]] = {
        datetime: UtcDateTime, dict[str, Any]: JsonType, list[str]: JsonType,
        list[dict[str, Any]]: JsonType}


class AccountRow(Base):
    """``accounts``: who may contribute, moderate or administer."""

    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True)
    display_name: Mapped[str] = mapped_column(String(100))
    password_hash: Mapped[str] = mapped_column(Text)
    role: Mapped[str] = mapped_column(String(20))
    created: Mapped[datetime]


class SessionRow(Base):
    """``sessions``: a signed-in browser; only the SHA-256 of its token is kept."""

    __tablename__ = "sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("accounts.id", ondelete="CASCADE"),
                                            index=True)
    created: Mapped[datetime]
    expires: Mapped[datetime]
    revoked: Mapped[datetime | None]


class ThrottleRow(Base):
    """``login_throttle``: failed sign-ins of one account or one client address."""

    __tablename__ = "login_throttle"

    key: Mapped[str] = mapped_column(String(300), primary_key=True)
    failures: Mapped[int] = mapped_column(Integer)
    window_start: Mapped[datetime]
    locked_until: Mapped[datetime | None]


class RecordRow(Base):
    """``records``: one :class:`~cohesion.innovations.records.Record`, harvested or written.

    ``content_hash`` is the digest of what the record's source last said
    (:meth:`Record.content_hash`); ``submitted_by`` the account of a contribution;
    ``status_reason`` why a moderator refused or removed it.
    """

    __tablename__ = "records"
    __table_args__ = (Index("ix_records_source_status", "source", "status"),)

    id: Mapped[str] = mapped_column(Text, primary_key=True)
    source: Mapped[str] = mapped_column(String(100))
    source_key: Mapped[str] = mapped_column(Text)
    title: Mapped[str] = mapped_column(Text)
    summary: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    porteur: Mapped[str | None] = mapped_column(Text)
    siret: Mapped[str | None] = mapped_column(String(14))
    siren: Mapped[str | None] = mapped_column(String(9), index=True)
    address: Mapped[str | None] = mapped_column(Text)
    postcode: Mapped[str | None] = mapped_column(String(10))
    commune: Mapped[str | None] = mapped_column(String(10), index=True)
    commune_name: Mapped[str | None] = mapped_column(Text)
    departement: Mapped[str | None] = mapped_column(String(3), index=True)
    lat: Mapped[float | None] = mapped_column(Float)
    lon: Mapped[float | None] = mapped_column(Float)
    qpv: Mapped[str | None] = mapped_column(String(20))
    territories: Mapped[list[str]]
    domaines: Mapped[list[str]]
    publics: Mapped[list[str]]
    actions: Mapped[list[str]]
    programme: Mapped[str | None] = mapped_column(Text)
    tags: Mapped[list[str]]
    url: Mapped[str | None] = mapped_column(Text)
    source_url: Mapped[str] = mapped_column(Text)
    licence: Mapped[str] = mapped_column(Text)
    first_seen: Mapped[datetime]
    last_seen: Mapped[datetime]
    updated: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(20), index=True)
    raw: Mapped[dict[str, Any]]
    content_hash: Mapped[str] = mapped_column(String(40))
    submitted_by: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    status_reason: Mapped[str | None] = mapped_column(Text)


class HarvestRunRow(Base):
    """``harvest_runs``: every run of every connector, with its counts, failures and alert."""

    __tablename__ = "harvest_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    source: Mapped[str] = mapped_column(String(100), index=True)
    started: Mapped[datetime | None]
    finished: Mapped[datetime | None]
    applied: Mapped[datetime]
    records: Mapped[int] = mapped_column(Integer)
    new: Mapped[int] = mapped_column(Integer)
    updated: Mapped[int] = mapped_column(Integer)
    unchanged: Mapped[int] = mapped_column(Integer)
    gone: Mapped[int] = mapped_column(Integer)
    failed: Mapped[int] = mapped_column(Integer)
    failures: Mapped[list[dict[str, Any]]]
    error: Mapped[str | None] = mapped_column(Text)
    alert: Mapped[str | None] = mapped_column(Text)


class EntityRow(Base):
    """``entities``: one innovation as deduplication sees it, across sources."""

    __tablename__ = "entities"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    created: Mapped[datetime]


class EntityMemberRow(Base):
    """``entity_members``: the entity each record belongs to."""

    __tablename__ = "entity_members"

    record_id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"),
                                           primary_key=True)
    entity_id: Mapped[str] = mapped_column(ForeignKey("entities.id"), index=True)
    since: Mapped[datetime]


class MergeEventRow(Base):
    """``merge_events``: the history of entities (``new``, ``merge``, ``split``).

    ``reviewer_id`` is None when the model decided.
    """

    __tablename__ = "merge_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    kind: Mapped[str] = mapped_column(String(10))
    entity_ids: Mapped[list[str]]
    record_ids: Mapped[list[str]]
    reviewer_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(Text)


class ReviewPairRow(Base):
    """``review_pairs``: two records the model is unsure about, and the reviewer's word.

    ``record_a`` sorts before ``record_b``, so a pair has one row whichever way it came.
    """

    __tablename__ = "review_pairs"
    __table_args__ = (UniqueConstraint("record_a", "record_b", name="uq_review_pairs_a_b"),
                      CheckConstraint("record_a < record_b", name="sorted"))

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_a: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    record_b: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"))
    probability: Mapped[float] = mapped_column(Float)
    status: Mapped[str] = mapped_column(String(10), index=True)
    decision: Mapped[str | None] = mapped_column(String(10))
    reviewer_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"))
    queued: Mapped[datetime]
    decided_at: Mapped[datetime | None]


class ProposalRow(Base):
    """``edit_proposals``: a change to a published record, waiting for a moderator.

    ``changes`` maps each field to ``[before, after]``.
    """

    __tablename__ = "edit_proposals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"),
                                           index=True)
    author_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    created: Mapped[datetime]
    changes: Mapped[dict[str, Any]]
    status: Mapped[str] = mapped_column(String(10), index=True)
    decided_by: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"))
    decided_at: Mapped[datetime | None]
    reason: Mapped[str | None] = mapped_column(Text)


class ReportRow(Base):
    """``reports``: a user's report (signalement) of a record, open until a moderator acts."""

    __tablename__ = "reports"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    record_id: Mapped[str] = mapped_column(ForeignKey("records.id", ondelete="CASCADE"),
                                           index=True)
    reporter_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"))
    reason: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime]
    status: Mapped[str] = mapped_column(String(10))


class AuditRow(Base):
    """``audit_log``: who did what to what, when (``actor_id`` None: the system)."""

    __tablename__ = "audit_log"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(index=True)
    actor_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"))
    action: Mapped[str] = mapped_column(String(40), index=True)
    target: Mapped[str] = mapped_column(Text, index=True)
    details: Mapped[dict[str, Any]]


class ProfileRow(Base):
    """``profiles``: an accompagnant or a porteur, for matching."""

    __tablename__ = "profiles"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(20), index=True)
    name: Mapped[str] = mapped_column(Text)
    description: Mapped[str] = mapped_column(Text)
    domaines: Mapped[list[str]]
    territories: Mapped[list[str]]
    supports: Mapped[list[str]]
    url: Mapped[str | None] = mapped_column(Text)
    account_id: Mapped[int | None] = mapped_column(
        ForeignKey("accounts.id", ondelete="SET NULL"), index=True)
    created: Mapped[datetime]
    updated: Mapped[datetime]


#: The fields of a :class:`Record` that say what it is (the row has the same columns).
CONTENT_FIELDS = tuple(field.name for field in fields(Record)
                       if field.name not in Record.BOOKKEEPING)


def record_values(record: Record) -> dict[str, Any]:
    """The column values of ``record``'s content (bookkeeping left to the caller)."""
    values = {name: getattr(record, name) for name in CONTENT_FIELDS}
    for name in ("territories", "domaines", "publics", "actions", "tags"):
        values[name] = list(values[name])
    values["raw"] = dict(record.raw)
    return values


def row_record(row: RecordRow) -> Record:
    """The :class:`Record` a row holds, its instants as ISO 8601 UTC texts."""
    values = {name: getattr(row, name) for name in CONTENT_FIELDS}
    return Record(**values, first_seen=iso(row.first_seen), last_seen=iso(row.last_seen),
                  updated=iso(row.updated), status=row.status)
