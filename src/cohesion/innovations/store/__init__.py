"""The relational store of the Carrefour des innovations sociales.

What users write (contributions, accounts, reviews, moderation, audit) and the harvested
records live here: a SQLite file by default, PostgreSQL in server mode, one SQLAlchemy
address, the same code, the schema migrated by Alembic. Never in the DuckDB warehouse.

Modules: :mod:`~.models` (the tables), :mod:`~.schema` (engine, migrations),
:mod:`~.catalogue` (harvests, runs, records), :mod:`~.entities` (deduplication's
entities and review queue), :mod:`~.people` (accounts, sessions, failed sign-ins),
:mod:`~.contributions` (contributions, proposals, reports), :mod:`~.profiles`
(matching), :mod:`~.audit` (the audit trail), :mod:`~.text` (plain text only) and
:mod:`~.repository` (:class:`CarrefourStore`). See ``docs/innovations-store.md``.
"""

from cohesion.innovations.store.audit import ACTIONS, AuditEntry
from cohesion.innovations.store.catalogue import (
    CONTRIBUTION_SOURCE,
    DROP_ALERT_RATIO,
    RunReport,
    SourceHealth,
    health_alert,
)
from cohesion.innovations.store.contributions import (
    STATUS_LABELS,
    Contribution,
    Proposal,
    Report,
    ReportedRecord,
)
from cohesion.innovations.store.entities import MergeEvent, ReviewPair, sorted_pair
from cohesion.innovations.store.people import Account
from cohesion.innovations.store.repository import CarrefourStore
from cohesion.innovations.store.schema import DEFAULT_URL, head_revision, store_url

__all__ = [
    "ACTIONS",
    "CONTRIBUTION_SOURCE",
    "DEFAULT_URL",
    "DROP_ALERT_RATIO",
    "STATUS_LABELS",
    "Account",
    "AuditEntry",
    "CarrefourStore",
    "Contribution",
    "MergeEvent",
    "Proposal",
    "Report",
    "ReportedRecord",
    "ReviewPair",
    "RunReport",
    "SourceHealth",
    "head_revision",
    "health_alert",
    "sorted_pair",
    "store_url",
]
