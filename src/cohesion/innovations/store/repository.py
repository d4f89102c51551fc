"""The Carrefour's relational store: one object for the CLI, the web and Python alike.

:class:`CarrefourStore` opens the store at a SQLAlchemy address (a SQLite file by
default, PostgreSQL in server mode), migrates it, and offers the reads and writes of the
catalogue (harvests, runs, sources' health, records), of the entities (deduplication's
mapping, history and review queue), of the profiles (matching) and of the audit trail;
each method is one transaction. The accounts and the moderation workflow are services
over the same store (:class:`~cohesion.innovations.accounts.Accounts`,
:class:`~cohesion.innovations.moderation.Moderation`) that compose the functions of
the store's modules inside :meth:`CarrefourStore.transaction`.

Examples
--------
>>> from cohesion.innovations.records import Harvest, Record
>>> store = CarrefourStore("sqlite://")            # in memory; a file: sqlite:///chemin
>>> store.migrate()
>>> harvest = Harvest("rss-demo", [Record("rss-demo:1", "rss-demo", "1", "Jardin partagé")])
>>> report = store.apply_harvest(harvest)
>>> report.new, report.alert
(1, None)
>>> store.apply_harvest(harvest).unchanged
1
>>> store.record("rss-demo:1").status
'published'
>>> store.close()
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from types import TracebackType

from sqlalchemy import URL
from sqlalchemy.orm import Session, sessionmaker

from cohesion.errors import ConflictError
from cohesion.innovations.matching import Profile
from cohesion.innovations.records import Harvest, Record
from cohesion.innovations.store import audit, catalogue, entities, profiles
from cohesion.innovations.store.audit import AuditEntry
from cohesion.innovations.store.catalogue import RunReport, SourceHealth
from cohesion.innovations.store.entities import MergeEvent, ReviewPair
from cohesion.innovations.store.models import utcnow
from cohesion.innovations.store.schema import (
    DEFAULT_URL,
    create_store_engine,
    head_revision,
    migrate,
    schema_revision,
)


class CarrefourStore:
    """The relational store of the Carrefour at ``url``.

    Parameters
    ----------
    url : str or URL
        SQLAlchemy address: ``sqlite:///var/carrefour.sqlite`` (default) or
        ``postgresql+psycopg://user@host/base``.
    clock : callable
        Returns the current aware UTC instant (tests pass a fake clock).

    Notes
    -----
    Nothing is created before :meth:`migrate`, which the CLI and the web run at start.
    """

    def __init__(self, url: str | URL = DEFAULT_URL,
                 clock: Callable[[], datetime] = utcnow) -> None:
        self.engine = create_store_engine(url)
        self.clock = clock
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    def __repr__(self) -> str:
        return f"CarrefourStore({self.engine.url.render_as_string(hide_password=True)!r})"

    def __enter__(self) -> CarrefourStore:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

    def close(self) -> None:
        """Close the connections of the store."""
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session in one transaction: committed at the end, rolled back on error."""
        with self._sessions.begin() as session:
            yield session

    # -- schema -------------------------------------------------------------------

    def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to ``revision`` (the newest by default); idempotent."""
        migrate(self.engine, revision)

    def revision(self) -> str | None:
        """The schema revision of the store; None when it was never migrated."""
        return schema_revision(self.engine)

    def check(self) -> None:
        """Make sure the schema is the newest one (a web server checks at start).

        Raises
        ------
        ConflictError
            When the store was not migrated to the newest revision.
        """
        current, head = self.revision(), head_revision()
        if current != head:
            raise ConflictError(f"le schéma de la base du Carrefour est en version "
                                f"{current or 'vide'}, attendu {head} : lancer la "
                                "migration (CarrefourStore.migrate)")

    # -- catalogue ----------------------------------------------------------------

    def apply_harvest(self, harvest: Harvest,
                      progress: Callable[[int, int], None] | None = None) -> RunReport:
        """Upsert a connector's run and keep it, in one transaction.

        See :func:`cohesion.innovations.store.catalogue.apply_harvest`.
        """
        with self.transaction() as session:
            return catalogue.apply_harvest(session, harvest, self.clock(), progress)

    def runs(self, source: str | None = None, limit: int = 20) -> list[RunReport]:
        """The newest runs, of one source or of all, newest first."""
        with self.transaction() as session:
            return catalogue.runs(session, source, limit)

    def source_health(self) -> list[SourceHealth]:
        """Every harvested source with its newest run, its alert, its records by status."""
        with self.transaction() as session:
            return catalogue.source_health(session)

    def record(self, record_id: str) -> Record:
        """The record ``record_id`` (:class:`~cohesion.errors.NotFoundError` if none)."""
        with self.transaction() as session:
            return catalogue.record(session, record_id)

    def records(self, source: str | None = None,
                statuses: Sequence[str] = ("published",)) -> Iterator[Record]:
        """The records with one of ``statuses`` (of ``source`` if given), by id, streamed."""
        with self.transaction() as session:
            yield from catalogue.records(session, source, statuses)

    # -- entities -----------------------------------------------------------------

    def entity_mapping(self) -> dict[str, str]:
        """The current mapping record id → entity id."""
        with self.transaction() as session:
            return entities.entity_mapping(session)

    def entity_records(self, entity_id: str) -> list[Record]:
        """The records of an entity, any status (:class:`NotFoundError` when none)."""
        with self.transaction() as session:
            return entities.entity_records(session, entity_id)

    def save_entity_mapping(self, mapping: Mapping[str, str],
                            events: Iterable[MergeEvent] = ()) -> int:
        """Record records' entities and the events that led there; records moved.

        See :func:`cohesion.innovations.store.entities.save_entity_mapping`.
        """
        with self.transaction() as session:
            return entities.save_entity_mapping(session, mapping, events, self.clock())

    def merge_events(self, limit: int = 100) -> list[MergeEvent]:
        """The newest changes of the entities, newest first."""
        with self.transaction() as session:
            return entities.merge_events(session, limit)

    def queue_pairs(self, pairs: Iterable[tuple[str, str, float]]) -> int:
        """Queue uncertain pairs for review (decided pairs are not queued again)."""
        with self.transaction() as session:
            return entities.queue_pairs(session, pairs, self.clock())

    def review_queue(self, limit: int = 50) -> list[ReviewPair]:
        """The pending pairs, the most uncertain first."""
        with self.transaction() as session:
            return entities.review_queue(session, limit)

    def record_decision(self, first: str, second: str, decision: str,
                        reviewer_id: int) -> ReviewPair:
        """Keep a reviewer's decision (``same`` or ``different``), audit-logged.

        The role of the reviewer is checked by
        :meth:`Moderation.decide_pair <cohesion.innovations.moderation.Moderation.decide_pair>`,
        which pages should call.
        """
        with self.transaction() as session:
            return entities.decide_pair(session, first, second, decision, reviewer_id,
                                        self.clock())

    def decisions(self) -> dict[tuple[str, str], str]:
        """Every reviewer's decision, ``{(a, b): "same" | "different"}`` with ``a < b``."""
        with self.transaction() as session:
            return entities.decisions(session)

    # -- profiles -----------------------------------------------------------------

    def save_profile(self, profile: Profile) -> Profile:
        """Create or replace a matching profile; return it as stored (with its id)."""
        with self.transaction() as session:
            return profiles.save_profile(session, profile, self.clock())

    def profile(self, profile_id: int) -> Profile:
        """The profile ``profile_id``."""
        with self.transaction() as session:
            return profiles.profile(session, profile_id)

    def profiles(self, kind: str | None = None,
                 account_id: int | None = None) -> list[Profile]:
        """The profiles of one kind (``accompagnant``, ``porteur``) or account, by name."""
        with self.transaction() as session:
            return profiles.profiles(session, kind, account_id)

    # -- audit ----------------------------------------------------------------------

    def audit_trail(self, target: str | None = None, actor_id: int | None = None,
                    limit: int = 100) -> list[AuditEntry]:
        """The newest entries of the audit trail, of one target or actor if given."""
        with self.transaction() as session:
            return audit.audit_trail(session, target, actor_id, limit)
