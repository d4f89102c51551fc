"""A typology of the QPV on the three pillars of the contrats de ville, the ONPV's way.

The declaration is data: ``qpv_typology.yaml`` beside this module names, for each pillar
(cohésion sociale, cadre de vie, emploi et développement économique), the statistics
published for the QPV that feed it: a variable as published, or a ratio of two
variables of the same QPV. :func:`indicator_table` reads them from the QPV's
observations, :func:`pillar_indices` sums each pillar up (the z-scores of its
indicators, turned so that higher is better, averaged: the composite-index engine of
:mod:`cohesion.analysis.composite`), and the typology engine
(:func:`cohesion.analysis.typology.typology`) classes the QPV on the three indices:
:meth:`cohesion.core.analyses.Analyses.qpv_typology` does the reading and the calling.

Examples
--------
>>> declaration = load_declaration()
>>> [pillar.label for pillar in declaration.pillars]
['Cohésion sociale', 'Cadre de vie', 'Emploi et développement économique']
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from cohesion.analysis.composite import normalise
from cohesion.errors import InputFileError
from cohesion.yaml_files import parse_yaml

DECLARATION_FILE = Path(__file__).with_name("qpv_typology.yaml")
DIRECTIONS = {"higher_is_better": 1, "lower_is_better": -1}


@dataclass(frozen=True)
class PillarIndicator:
    """One statistic feeding a pillar: a published variable or a ratio of two.

    ``numerator`` lists the variables summed above the ``denominator`` (both of the
    same QPV); a published variable has ``variable`` and no ratio.
    """

    id: str
    direction: int
    variable: str | None = None
    numerator: tuple[str, ...] = ()
    denominator: str | None = None
    scale: float = 1.0
    label: str | None = None
    unit: str | None = None

    @property
    def variables(self) -> tuple[str, ...]:
        """The published variables this indicator reads."""
        if self.variable is not None:
            return (self.variable,)
        return (*self.numerator, self.denominator or "")


@dataclass(frozen=True)
class Pillar:
    """A pillar of the contrats de ville and the indicators it sums up."""

    id: str
    label: str
    indicators: tuple[PillarIndicator, ...]


@dataclass(frozen=True)
class QpvTypologyDeclaration:
    """The declared typology: the QPV generation it reads and its three pillars."""

    generation: int
    pillars: tuple[Pillar, ...]

    @property
    def indicators(self) -> tuple[PillarIndicator, ...]:
        return tuple(i for pillar in self.pillars for i in pillar.indicators)


def load_declaration(path: Path | str = DECLARATION_FILE) -> QpvTypologyDeclaration:
    """Read and check a declaration (default: the one shipped, ``qpv_typology.yaml``).

    Raises
    ------
    InputFileError
        A missing key, an unknown direction, an indicator without a variable nor a
        ratio, or an id given twice (with the line of the problem).
    """
    path = Path(path)
    data, lines = parse_yaml(path, path.read_text(encoding="utf-8"))

    def fail(message: str, *where: object) -> InputFileError:
        return InputFileError(path, message, lines.get(tuple(where)))

    if not isinstance(data, dict) or not isinstance(data.get("pillars"), list):
        raise fail("attendu : generation et une liste pillars")
    pillars, seen = [], set()
    for p, raw in enumerate(data["pillars"]):
        if not isinstance(raw, dict) or not {"id", "label", "indicators"} <= set(raw):
            raise fail("un pilier a id, label et indicators", "pillars", p)
        indicators = []
        for i, item in enumerate(raw["indicators"]):
            where = ("pillars", p, "indicators", i)
            if not isinstance(item, dict) or "id" not in item:
                raise fail("un indicateur a un id", *where)
            if item.get("direction") not in DIRECTIONS:
                raise fail(f"direction attendue : {' ou '.join(DIRECTIONS)}, trouvé "
                           f"{item.get('direction')!r}", *where)
            if ("variable" in item) == ("numerator" in item and "denominator" in item):
                raise fail("un indicateur a soit variable, soit numerator et denominator",
                           *where)
            if item["id"] in seen:
                raise fail(f"indicateur déclaré deux fois : {item['id']}", *where)
            seen.add(item["id"])
            indicators.append(PillarIndicator(
                id=str(item["id"]), direction=DIRECTIONS[item["direction"]],
                variable=item.get("variable"),
                numerator=tuple(item.get("numerator") or ()),
                denominator=item.get("denominator"), scale=float(item.get("scale", 1)),
                label=item.get("label"), unit=item.get("unit")))
        pillars.append(Pillar(str(raw["id"]), str(raw["label"]), tuple(indicators)))
    return QpvTypologyDeclaration(int(data.get("generation", 2015)), tuple(pillars))


def indicator_table(observations: pd.DataFrame,
                    declaration: QpvTypologyDeclaration) -> tuple[pd.DataFrame, dict[str, str]]:
    """The declared indicators of each QPV, and the period each variable was read at.

    Parameters
    ----------
    observations : DataFrame
        ``code, variable, period, value``: what is published for the QPV (one period
        per variable; the latest is kept when there are several).

    Returns
    -------
    DataFrame
        One row per QPV (index: code), one column per declared indicator; NaN where
        a variable is missing or a denominator is zero.
    dict
        Variable → period read.

    Raises
    ------
    KeyError
        No value at all for a declared variable (the caller says which).
    """
    wanted = {v for indicator in declaration.indicators for v in indicator.variables}
    rows = observations[observations["variable"].isin(wanted)]
    latest = rows.sort_values("period").groupby("variable")["period"].last()
    missing = sorted(wanted - set(latest.index))
    if missing:
        raise KeyError(", ".join(missing))
    rows = rows[rows["period"] == rows["variable"].map(latest)]
    wide = rows.pivot(index="code", columns="variable", values="value").astype(float)
    table = pd.DataFrame(index=wide.index)
    for indicator in declaration.indicators:
        if indicator.variable is not None:
            table[indicator.id] = wide[indicator.variable]
            continue
        numerator = wide[list(indicator.numerator)].sum(axis=1, min_count=len(
            indicator.numerator))
        denominator = wide[indicator.denominator]
        with np.errstate(divide="ignore", invalid="ignore"):
            table[indicator.id] = np.where(denominator > 0,
                                           indicator.scale * numerator / denominator, np.nan)
    return table.sort_index(), latest.to_dict()


def pillar_indices(table: pd.DataFrame,
                   declaration: QpvTypologyDeclaration) -> pd.DataFrame:
    """The index of each pillar: the mean of its indicators' z-scores, higher is better.

    0 is the average QPV of the table; +1 is one standard deviation more favourable.
    A QPV lacking one of a pillar's indicators has no index for that pillar.

    Examples
    --------
    >>> from cohesion.policies.qpv_typology import load_declaration
    >>> declaration = load_declaration()
    >>> table = pd.DataFrame({i.id: [1.0, 2.0, 3.0] for i in declaration.indicators},
    ...                      index=["QP1", "QP2", "QP3"])
    >>> pillar_indices(table, declaration)["cohesion_sociale"].round(3).tolist()
    [0.408, 0.0, -0.408]
    """
    directions = {i.id: i.direction for i in declaration.indicators}
    scores = normalise(table[list(directions)], "z-score", directions=directions)
    return pd.DataFrame({
        pillar.id: scores[[i.id for i in pillar.indicators]].mean(axis=1, skipna=False)
        for pillar in declaration.pillars}, index=table.index)
