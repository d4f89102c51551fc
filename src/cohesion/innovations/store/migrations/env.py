"""Alembic's environment for the Carrefour's store, configured from code.

:func:`cohesion.innovations.store.schema.migrate` runs Alembic with an open connection
in ``config.attributes["connection"]``: the migration runs inside the caller's
transaction, on SQLite or PostgreSQL alike, and no ``alembic.ini`` is read. On SQLite,
``ALTER TABLE`` is limited: later migrations run in batch mode (copy and move).
"""

from alembic import context

from cohesion.innovations.store.models import Base


def run_migrations() -> None:
    """Run the pending migrations on the connection the caller handed over."""
    connection = context.config.attributes["connection"]
    context.configure(connection=connection, target_metadata=Base.metadata,
                      render_as_batch=connection.dialect.name == "sqlite",
                      compare_type=True)
    with context.begin_transaction():
        context.run_migrations()


# Alembic executes this file once its context is set up; a plain import (pytest
# collecting the package's doctests) must not run anything.
if hasattr(context, "config"):
    run_migrations()
