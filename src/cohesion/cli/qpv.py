"""``cohesion qpv``: locate the points of a file in the QPV; a local addok geocoder.

The subcommands (:mod:`~cohesion.cli.qpv_locate`, :mod:`~cohesion.cli.qpv_addok`) are
imported when used: they need shapely, pyproj and pandas, which ``cohesion --help``
does without.
"""

from __future__ import annotations

from cohesion.cli.main import LazyGroup, main


@main.group(cls=LazyGroup, lazy_commands={"locate": "cohesion.cli.qpv_locate:locate",
                                          "addok": "cohesion.cli.qpv_addok:addok"})
def qpv() -> None:
    """Géoréférencer des points dans les quartiers prioritaires (QPV)."""
