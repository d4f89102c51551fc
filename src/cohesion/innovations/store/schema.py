"""Opening the Carrefour's store and migrating its schema, on SQLite or PostgreSQL.

One SQLAlchemy address says where the store is: a SQLite file by default
(:data:`DEFAULT_URL`), a PostgreSQL database in server mode
(``postgresql+psycopg://user@host/base``; ``postgresql://`` is read as psycopg 3).
The schema is upgraded by Alembic, configured from code: the migration scripts ship
inside the package (:data:`MIGRATIONS`), so an installed wheel migrates without an
``alembic.ini``.

Examples
--------
>>> store_url("sqlite:///var/carrefour.sqlite").drivername
'sqlite'
>>> store_url("postgresql://cohesion@127.0.0.1/carrefour").drivername
'postgresql+psycopg'
"""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Connection, Engine, create_engine, event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from cohesion.errors import CohesionError

#: Where the store is when nothing says otherwise (a file beside the warehouse).
DEFAULT_URL = "sqlite:///var/carrefour.sqlite"
#: The Alembic scripts, as a package resource (found in a wheel as in the source tree).
MIGRATIONS = "cohesion.innovations.store:migrations"
#: Seconds a SQLite writer waits for another one before giving up.
SQLITE_BUSY_TIMEOUT = 30.0
#: The drivers the store is tested with.
DRIVERS = ("sqlite", "postgresql+psycopg")


def store_url(url: str | URL) -> URL:
    """The SQLAlchemy address ``url``, checked, with psycopg 3 for PostgreSQL.

    Raises
    ------
    CohesionError
        When ``url`` is not an address or names a database the store does not support.
    """
    try:
        parsed = make_url(url)
    except ArgumentError as error:
        raise CohesionError(f"adresse de base de données illisible {str(url)!r} : "
                            "attendu sqlite:///chemin.sqlite ou "
                            "postgresql+psycopg://utilisateur@hôte/base") from error
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    if parsed.drivername == "sqlite+pysqlite":
        parsed = parsed.set(drivername="sqlite")
    if parsed.drivername not in DRIVERS:
        raise CohesionError(f"base de données non prise en charge « {parsed.drivername} » : "
                            f"attendu {' ou '.join(DRIVERS)}")
    return parsed


def _sqlite_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    # SQLAlchemy emits BEGIN itself (_sqlite_begin): the driver's own transaction
    # handling leaves reads and DDL outside transactions.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    # readers go on while a harvest writes
    cursor.execute("PRAGMA journal_mode = WAL")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN")


def create_store_engine(url: str | URL) -> Engine:
    """An engine on the store at ``url`` (a SQLite file's folder is created).

    On SQLite, foreign keys are enforced, transactions cover reads and DDL (so that a
    failed migration or harvest leaves nothing behind) and the journal is a write-ahead
    log, so that the web keeps reading while a harvest writes.
    """
    address = store_url(url)
    if address.drivername != "sqlite":
        return create_engine(address, pool_pre_ping=True)
    database = address.database or ""
    if database and database != ":memory:" and not database.startswith("file:"):
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(address, connect_args={"timeout": SQLITE_BUSY_TIMEOUT})
    event.listen(engine, "connect", _sqlite_connect)
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def alembic_config(connection: Connection | None = None) -> Config:
    """The Alembic configuration of the store, built in code (no ``alembic.ini``)."""
    config = Config()
    config.set_main_option("script_location", MIGRATIONS)
    config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision of the migration scripts."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None  # the package ships its scripts
    return head


def schema_revision(engine: Engine) -> str | None:
    """The revision the store at ``engine`` is at; None for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def migrate(engine: Engine, revision: str = "head") -> None:
    """Upgrade the store to ``revision`` (the newest by default), in one transaction.

    Running it again at the newest revision does nothing.
    """
    with engine.begin() as connection:
        command.upgrade(alembic_config(connection), revision)
