"""Where Cohésion finds its inputs and keeps its warehouse.

Settings come from environment variables so that the CLI, the tests and (later) the web
application read the same place:

``COHESION_WAREHOUSE``
    Path of the DuckDB warehouse file (default ``var/cohesion.duckdb``).
``COHESION_NODE_MODULES``
    Folder holding the ``cog-YYYY`` npm packages (default: the project's
    ``node_modules``, found by walking up from the current directory or this package).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_WAREHOUSE = Path("var/cohesion.duckdb")


def warehouse_path() -> Path:
    """Return the warehouse file path from the environment or the default."""
    return Path(os.environ.get("COHESION_WAREHOUSE", DEFAULT_WAREHOUSE))


def node_modules() -> Path:
    """Return the folder that holds the ``cog-YYYY`` packages."""
    configured = os.environ.get("COHESION_NODE_MODULES")
    if configured:
        return Path(configured)
    for start in (Path.cwd(), Path(__file__).resolve()):
        for folder in (start, *start.parents):
            candidate = folder / "node_modules"
            if (candidate / "cog-2026").is_dir():
                return candidate
    return Path.cwd() / "node_modules"
