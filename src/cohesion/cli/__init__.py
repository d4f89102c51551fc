"""The ``cohesion`` command line.

One module per command group: :mod:`~cohesion.cli.referentiel` (build, summary,
territory, passage), :mod:`~cohesion.cli.data` (import, data), :mod:`~cohesion.cli.observatory`
(indicators, export, serve), :mod:`~cohesion.cli.analysis` and :mod:`~cohesion.cli.qpv`.
Commands only parse options, call the core and print; heavy libraries (scipy, shapely,
Dask) are imported by the commands that use them, so ``cohesion --help`` starts fast.
"""

from cohesion.cli import analysis, data, observatory, qpv, referentiel
from cohesion.cli.main import main

__all__ = ["analysis", "data", "main", "observatory", "qpv", "referentiel"]
