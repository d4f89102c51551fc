"""The ``cohesion`` command line.

One module per command group: :mod:`~cohesion.cli.referentiel` (build, summary,
territory, passage), :mod:`~cohesion.cli.data` (import, data), :mod:`~cohesion.cli.observatory`
(indicators, export, serve), :mod:`~cohesion.cli.analysis`, :mod:`~cohesion.cli.access`,
:mod:`~cohesion.cli.innovations` (the Carrefour des innovations sociales),
:mod:`~cohesion.cli.policies` (funding of the politique de la ville)
and :mod:`~cohesion.cli.qpv`
(whose subcommands, in :mod:`~cohesion.cli.qpv_locate` and :mod:`~cohesion.cli.qpv_addok`,
are imported when used). Commands only parse options, call the core and print; heavy
libraries (pandas, DuckDB, scipy, shapely, pyproj, Dask) are imported by the commands
that use them, so ``cohesion --help`` starts fast (``tests/test_cli_imports.py``).
Long-running commands stop on SIGTERM as on Ctrl-C (:mod:`cohesion.shutdown`).
"""

from cohesion.cli import (
    access,
    analysis,
    data,
    innovations,
    observatory,
    policies,
    qpv,
    referentiel,
)
from cohesion.cli.main import main

__all__ = ["access", "analysis", "data", "innovations", "main", "observatory", "policies",
           "qpv", "referentiel"]
