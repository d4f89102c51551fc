"""Partitions of territories read from the référentiel, and the French names of the figures.

What the ``cohesion analysis`` commands and the web analyses
(:mod:`cohesion.web.analysis`) share when they decompose an inequality between and
within groups: :func:`read_partition` reads the group (département, région, zoning) of
each territory from the warehouse, and :data:`MEASURE_LABELS` and :data:`GROUP_COLUMNS`
name the figures and the group table in French. Like
:mod:`cohesion.analysis.commands`, this module sits at the edge: the pure functions of
:mod:`cohesion.analysis` take the partition as an argument and never read it.
"""

from __future__ import annotations

import pandas as pd

from cohesion.errors import CohesionError
from cohesion.store.warehouse import Warehouse

__all__ = ["GROUP_COLUMNS", "MEASURE_LABELS", "read_partition"]

#: French labels of the figures of :meth:`InequalitySummary.to_frame`.
MEASURE_LABELS = {
    "n": "Territoires",
    "n_missing": "Territoires sans valeur",
    "mean": "Moyenne",
    "std": "Écart type",
    "minimum": "Minimum",
    "maximum": "Maximum",
    "max_min_ratio": "Rapport max / min",
    "d1": "1er décile (D1)",
    "d9": "9e décile (D9)",
    "interdecile_ratio": "Rapport interdécile D9 / D1",
    "coefficient_of_variation": "Coefficient de variation",
    "gini": "Indice de Gini",
    "theil_t": "Indice de Theil T",
    "theil_t_between": "Theil T entre groupes",
    "theil_t_within": "Theil T dans les groupes",
    "theil_t_between_share": "Theil T : part entre groupes",
    "theil_l": "Indice de Theil L (écart logarithmique moyen)",
    "theil_l_between": "Theil L entre groupes",
    "theil_l_within": "Theil L dans les groupes",
    "theil_l_between_share": "Theil L : part entre groupes",
}

#: French column names of the Theil decomposition's group table.
GROUP_COLUMNS = {"group": "code", "n": "territoires", "population_share": "part_population",
                 "value_share": "part_valeur", "mean": "moyenne", "index": "theil_t",
                 "within_contribution": "contribution_intra"}


def read_partition(warehouse: Warehouse, level: str, partition_level: str,
                   vintage: int) -> tuple[pd.Series, str | None]:
    """The territory of ``partition_level`` each territory of ``level`` belongs to.

    Read from the memberships when the référentiel records them (communes in their
    département, départements in their région); otherwise through the communes: a
    territory spanning several (an EPCI over two départements) goes to the one holding
    most of its population, and the returned note says how many did.

    Parameters
    ----------
    warehouse : Warehouse
        An opened warehouse holding the référentiel of ``vintage``.
    level : str
        The level of the territories to group (``COM``, ``EPCI``…).
    partition_level : str
        The level or zoning of the groups (``DEP``, ``REG``, ``DENS``…).
    vintage : int
        The millésime of the référentiel.

    Returns
    -------
    Series
        The group's code, indexed by territory code; a territory with no group is
        absent.
    str or None
        In French, how many territories spanned several groups, if any did.

    Raises
    ------
    CohesionError
        When no membership links the two levels in that référentiel.

    See Also
    --------
    cohesion.analysis.inequality.inequality_summary : takes the result as ``partition``.
    """
    direct = warehouse.memberships(level, vintage, [partition_level])
    if not direct.empty:
        return direct.set_index("code")["parent_code"], None
    shared = warehouse.population_overlap(level, partition_level, vintage)
    if shared.empty:
        raise CohesionError(f"aucune appartenance ne relie les territoires {level} aux "
                            f"{partition_level} dans le référentiel {vintage}")
    spanning = int((shared.groupby("code")["other_code"].nunique() > 1).sum())
    # the overlap lists the most populated part of each territory first
    parts = shared.drop_duplicates("code").set_index("code")["other_code"]
    note = (f"{spanning} territoires s'étendent sur plusieurs {partition_level} : chacun est "
            "rattaché à celui qui porte le plus d'habitants") if spanning else None
    return parts, note
