"""The catalogue of records: harvests applied, runs kept, sources' health, records read.

:func:`apply_harvest` upserts the records of one run of one connector by their stable
ids, in the caller's transaction, and keeps the run with its counts and failures. A run
that looks broken raises an alert (:func:`health_alert`) and then marks nothing
``gone``: a source's hiccup never loses what was published.

Every function takes an open :class:`~sqlalchemy.orm.Session` inside a transaction
(:meth:`CarrefourStore.transaction <cohesion.innovations.store.CarrefourStore.transaction>`);
:class:`~cohesion.innovations.store.CarrefourStore` offers each one as a method.

Examples
--------
>>> from cohesion.innovations.records import Harvest
>>> health_alert(Harvest("rss-demo"), records=0, previous=12)
"la source n'a donné aucune fiche"
>>> health_alert(Harvest("rss-demo"), records=5, previous=12)
'chute du nombre de fiches : 5 contre 12 à la dernière récolte réussie (moins de 50 %)'
>>> health_alert(Harvest("rss-demo"), records=11, previous=12) is None
True
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, insert, select, update
from sqlalchemy.orm import Session

from cohesion.errors import CohesionError, NotFoundError
from cohesion.innovations.records import Harvest, Record, RowFailure
from cohesion.innovations.store.models import (
    HarvestRunRow,
    RecordRow,
    iso,
    parse_instant,
    record_values,
    row_record,
)

#: A run yielding fewer records than this share of the last healthy run raises an alert.
DROP_ALERT_RATIO = 0.5
#: Records written per statement (and between two progress calls).
WRITE_BATCH = 1000
#: The source of what users submit: no connector may use it.
CONTRIBUTION_SOURCE = "contribution"


@dataclass(frozen=True)
class RunReport:
    """What one run of a connector changed in the store.

    Attributes
    ----------
    run_id : int
        Number of the run in ``harvest_runs``.
    source : str
    started, finished, applied : str
        ISO 8601 UTC instants: the run's own (empty when the connector gave none), and
        when the store took it.
    records : int
        Records accepted (the connector's records, minus those refused here).
    new, updated, unchanged, gone : int
        Records first seen; changed (or back after being ``gone``); the same; published
        before and absent now (their status became ``gone``, nothing deleted).
    failures : tuple of RowFailure
        Entries refused, each with its reason (the connector's, then the store's).
    error : str or None
        Why the whole run failed, as the connector said.
    alert : str or None
        Why the run looks broken (:func:`health_alert`); None when it looks healthy.
    changed_ids, gone_ids : tuple of str
        Ids of the records new or updated, and of those gone (what a search index must
        refresh); only known to the report :func:`apply_harvest` returns.
    """

    run_id: int
    source: str
    started: str
    finished: str
    applied: str
    records: int
    new: int
    updated: int
    unchanged: int
    gone: int
    failures: tuple[RowFailure, ...]
    error: str | None
    alert: str | None
    changed_ids: tuple[str, ...] = field(default=(), repr=False)
    gone_ids: tuple[str, ...] = field(default=(), repr=False)

    @property
    def failed(self) -> int:
        """Number of entries refused."""
        return len(self.failures)

    def document(self) -> dict[str, Any]:
        """The report as JSON-ready values (for the API and the CLI's ``--json``)."""
        return {"run_id": self.run_id, "source": self.source, "started": self.started,
                "finished": self.finished, "applied": self.applied,
                "records": self.records, "new": self.new, "updated": self.updated,
                "unchanged": self.unchanged, "gone": self.gone, "failed": self.failed,
                "failures": [{"where": f.where, "reason": f.reason} for f in self.failures],
                "error": self.error, "alert": self.alert}


@dataclass(frozen=True)
class SourceHealth:
    """A source as the « santé des sources » page shows it.

    Attributes
    ----------
    source : str
    last_run : RunReport
        Its newest run.
    last_success : str
        When its newest run without alert was applied (ISO 8601; empty: never).
    counts : dict of str to int
        Its records by status (``published``, ``gone``, ``hidden``…).
    """

    source: str
    last_run: RunReport
    last_success: str
    counts: dict[str, int]

    @property
    def alert(self) -> str | None:
        """The newest run's alert, if any."""
        return self.last_run.alert

    @property
    def status(self) -> str:
        """``alerte`` when the newest run raised an alert, else ``ok``."""
        return "alerte" if self.alert else "ok"


def health_alert(harvest: Harvest, records: int, previous: int | None) -> str | None:
    """Why a run looks broken, in French; None when it looks healthy.

    Parameters
    ----------
    harvest : Harvest
        The run.
    records : int
        Records it yields.
    previous : int or None
        Records of the source's last healthy run (None: its first run).

    Returns
    -------
    str or None
        The connector's error, a run without records, a drop below
        :data:`DROP_ALERT_RATIO` of the last healthy run, or more entries refused than
        read (a layout that changed under the connector).
    """
    if harvest.error:
        return f"la récolte a échoué : {harvest.error}"
    if records == 0:
        return "la source n'a donné aucune fiche"
    if previous and records < previous * DROP_ALERT_RATIO:
        return (f"chute du nombre de fiches : {records} contre {previous} à la dernière "
                f"récolte réussie (moins de {DROP_ALERT_RATIO * 100:.0f} %)")
    if len(harvest.failures) >= records:
        return (f"plus d'entrées refusées ({len(harvest.failures)}) que de fiches lues "
                f"({records}) : la présentation de la source a-t-elle changé ?")
    return None


def _accepted(harvest: Harvest) -> tuple[dict[str, Record], list[RowFailure]]:
    """The records of ``harvest`` the store takes, and the failures, its own added."""
    accepted: dict[str, Record] = {}
    failures = list(harvest.failures)
    for record in harvest.records:
        where = f"{harvest.source}, fiche {record.id}"
        if record.source != harvest.source:
            failures.append(RowFailure(where, f"fiche de la source « {record.source} » dans "
                                              f"la récolte de « {harvest.source} »"))
        elif not record.id.startswith(f"{harvest.source}:"):
            failures.append(RowFailure(where, f"identifiant hors de la source : il doit "
                                              f"commencer par « {harvest.source}: »"))
        elif record.id in accepted:
            failures.append(RowFailure(where, "identifiant en double dans la récolte : "
                                              "seule la première fiche est gardée"))
        else:
            accepted[record.id] = record
    return accepted, failures


def _last_healthy_count(session: Session, source: str) -> int | None:
    return session.scalar(
        select(HarvestRunRow.records)
        .where(HarvestRunRow.source == source, HarvestRunRow.alert.is_(None))
        .order_by(HarvestRunRow.id.desc()).limit(1))


def apply_harvest(session: Session, harvest: Harvest, now: datetime,
                  progress: Callable[[int, int], None] | None = None) -> RunReport:
    """Upsert the records of ``harvest`` by stable id and keep the run.

    A record first seen is inserted (``published``); one whose content hash changed is
    rewritten (``updated`` set, ``first_seen`` kept); one unchanged only gets its
    ``last_seen``. A harvested record a moderator hid or removed keeps that status. A
    ``published`` record of the source absent from the run becomes ``gone`` (kept),
    unless the run raised an alert; a ``gone`` record seen again is published again
    and counted as updated.

    Parameters
    ----------
    session : Session
        In a transaction: the caller commits, or rolls everything back on error.
    harvest : Harvest
        One run of one connector.
    now : datetime
        The instant written as ``first_seen``, ``last_seen``, ``updated``.
    progress : callable, optional
        Called as ``progress(done, total)`` after each batch of records is written.

    Returns
    -------
    RunReport

    Raises
    ------
    CohesionError
        When the harvest claims the source of contributions.
    """
    if harvest.source == CONTRIBUTION_SOURCE:
        raise CohesionError(f"la source « {CONTRIBUTION_SOURCE} » est réservée aux "
                            "contributions : aucun connecteur ne peut l'utiliser")
    accepted, failures = _accepted(harvest)
    alert = health_alert(harvest, len(accepted), _last_healthy_count(session, harvest.source))
    known = {row.id: (row.content_hash, row.status) for row in session.execute(
        select(RecordRow.id, RecordRow.content_hash, RecordRow.status)
        .where(RecordRow.source == harvest.source))}
    new: list[str] = []
    changed: list[str] = []
    unchanged = 0
    records = list(accepted.values())
    for start in range(0, len(records), WRITE_BATCH):
        inserts: list[dict[str, Any]] = []
        updates: list[dict[str, Any]] = []
        seen: list[dict[str, Any]] = []
        for record in records[start:start + WRITE_BATCH]:
            digest = record.content_hash()
            before = known.get(record.id)
            if before is None:
                new.append(record.id)
                inserts.append(record_values(record) | {
                    "first_seen": now, "last_seen": now, "updated": now,
                    "status": "published", "content_hash": digest})
            elif before[0] != digest or before[1] == "gone":
                changed.append(record.id)
                values = record_values(record) | {"last_seen": now, "updated": now,
                                                  "content_hash": digest}
                if before[1] == "gone":
                    values["status"] = "published"
                updates.append(values)
            else:
                unchanged += 1
                seen.append({"id": record.id, "last_seen": now})
        for statement, rows in ((update(RecordRow), updates), (update(RecordRow), seen),
                                (insert(RecordRow), inserts)):
            if rows:
                session.execute(statement, rows)
        if progress:
            progress(min(start + WRITE_BATCH, len(records)), len(records))
    gone = [] if alert else sorted(record_id for record_id, (_, status) in known.items()
                                   if status == "published" and record_id not in accepted)
    for start in range(0, len(gone), WRITE_BATCH):
        session.execute(update(RecordRow), [{"id": record_id, "status": "gone",
                                             "updated": now}
                                            for record_id in gone[start:start + WRITE_BATCH]])
    run = HarvestRunRow(
        source=harvest.source, started=parse_instant(harvest.started),
        finished=parse_instant(harvest.finished), applied=now, records=len(accepted),
        new=len(new), updated=len(changed), unchanged=unchanged, gone=len(gone),
        failed=len(failures), error=harvest.error, alert=alert,
        failures=[{"where": f.where, "reason": f.reason} for f in failures])
    session.add(run)
    session.flush()
    return _report(run, changed_ids=tuple(new + changed), gone_ids=tuple(gone))


def _report(row: HarvestRunRow, changed_ids: tuple[str, ...] = (),
            gone_ids: tuple[str, ...] = ()) -> RunReport:
    return RunReport(
        run_id=row.id, source=row.source, started=iso(row.started), finished=iso(row.finished),
        applied=iso(row.applied), records=row.records, new=row.new, updated=row.updated,
        unchanged=row.unchanged, gone=row.gone,
        failures=tuple(RowFailure(f["where"], f["reason"]) for f in row.failures),
        error=row.error, alert=row.alert, changed_ids=changed_ids, gone_ids=gone_ids)


def runs(session: Session, source: str | None = None, limit: int = 20) -> list[RunReport]:
    """The newest runs, of one source or of all, newest first."""
    query = select(HarvestRunRow).order_by(HarvestRunRow.id.desc()).limit(limit)
    if source is not None:
        query = query.where(HarvestRunRow.source == source)
    return [_report(row) for row in session.scalars(query)]


def source_health(session: Session) -> list[SourceHealth]:
    """Every harvested source with its newest run, its alert and its records by status."""
    newest = select(func.max(HarvestRunRow.id)).group_by(HarvestRunRow.source)
    healthy = dict(session.execute(
        select(HarvestRunRow.source, func.max(HarvestRunRow.applied))
        .where(HarvestRunRow.alert.is_(None)).group_by(HarvestRunRow.source)).all())
    counts: dict[str, dict[str, int]] = {}
    for source, status, count in session.execute(
            select(RecordRow.source, RecordRow.status, func.count())
            .group_by(RecordRow.source, RecordRow.status)):
        counts.setdefault(source, {})[status] = count
    return [SourceHealth(row.source, _report(row), iso(healthy.get(row.source)),
                         counts.get(row.source, {}))
            for row in session.scalars(select(HarvestRunRow)
                                       .where(HarvestRunRow.id.in_(newest))
                                       .order_by(HarvestRunRow.source))]


def record(session: Session, record_id: str) -> Record:
    """The record ``record_id``.

    Raises
    ------
    NotFoundError
        When no record has that id.
    """
    row = session.get(RecordRow, record_id)
    if row is None:
        raise NotFoundError(f"aucune fiche « {record_id} »")
    return row_record(row)


def records(session: Session, source: str | None = None,
            statuses: Sequence[str] = ("published",)) -> Iterator[Record]:
    """The records of ``source`` (or of all sources) with one of ``statuses``, by id.

    Read in batches, so that an index of 100,000 records does not hold them all.
    """
    query = select(RecordRow).where(RecordRow.status.in_(statuses)).order_by(RecordRow.id)
    if source is not None:
        query = query.where(RecordRow.source == source)
    for row in session.scalars(query.execution_options(yield_per=WRITE_BATCH)):
        yield row_record(row)
