"""Everything an indicator definition needs, in one import.

Indicators are declared as classes, in the manner of OpenFisca variables: the class
name is the indicator id, attributes describe it, and the base class says how it is
computed and how it aggregates. Definitions are checked when the class is created, so a
missing or misspelt attribute fails at import time with the indicator's name::

    from cohesion.indicators.api import Ratio, LOWER_IS_BETTER

    class taux_chomage_15_64(Ratio):
        label = "Taux de chômage des 15-64 ans"
        unit = "%"
        numerator = "chomeurs_15_64"
        denominator = "actifs_15_64"
        scale = 100
        direction = LOWER_IS_BETTER
        source = "INSEE, recensement de la population"
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np

from cohesion.errors import CohesionError
from cohesion.indicators.periods import nearest_period


class Direction(StrEnum):
    """Whether a higher value of an indicator is better, worse, or neither."""

    HIGHER_IS_BETTER = "higher_is_better"
    LOWER_IS_BETTER = "lower_is_better"
    NEUTRAL = "neutral"


HIGHER_IS_BETTER = Direction.HIGHER_IS_BETTER
LOWER_IS_BETTER = Direction.LOWER_IS_BETTER
NEUTRAL = Direction.NEUTRAL

#: Variable holding the area of each territory (from its geometry, in km²).
AREA = "superficie_km2"

#: The level whose values are summed over the territories by default.
COMMUNES = "COM"

#: Periods of a variable held at a level: ``(variable, level) → periods`` (the engine's).
PeriodLookup = Callable[[str, str], Sequence[str]]

#: Rules choosing the period a ratio's denominator is read at (``denominator_period``).
SAME_PERIOD = "meme_periode"
NEAREST_PERIOD = "periode_la_plus_proche"
DENOMINATOR_PERIODS = {
    SAME_PERIOD: "dénominateur de la même période que le numérateur",
    NEAREST_PERIOD: "dénominateur de la période chargée la plus proche : la dernière qui ne "
                    "suit pas celle du numérateur, sinon la première après",
}


def producers(source: str | None) -> str:
    """Producers named in a source text (``INSEE, recensement… ; IGN (…)`` → INSEE, IGN).

    A source that does not start with an acronym gives « non précisé ».
    """
    found: list[str] = []
    for part in (source or "").split(";"):
        head = re.split(r"[,(]", part.strip(), maxsplit=1)[0].strip()
        if head and re.fullmatch(r"[A-Z][A-Za-z\-]{1,11}", head) and head not in found \
                and head.upper()[:2] == head[:2]:
            found.append(head)
    return ", ".join(found) or "non précisé"


class Indicator:
    """Base class of indicator definitions (use a subclass: Count, Ratio…).

    Attributes
    ----------
    label : str
        French label.
    unit : str
        Unit of values (``%``, ``hab./km²``, ``€``…).
    direction : Direction
        Whether higher is better.
    source : str
        Producer and source file(s).
    description : str
        Optional longer definition.
    """

    #: attributes every definition must set, and their type
    required: ClassVar[dict[str, type]] = {"label": str, "unit": str, "direction": Direction,
                                           "source": str}
    optional: ClassVar[dict[str, type]] = {"description": str}
    #: how the indicator aggregates, shown to users
    aggregation: ClassVar[str] = ""
    abstract: ClassVar[bool] = True

    id: ClassVar[str]
    label: ClassVar[str]
    unit: ClassVar[str]
    direction: ClassVar[Direction]
    source: ClassVar[str]
    description: ClassVar[str] = ""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.__dict__.get("abstract", False):
            return
        declared = {k for k in cls.__dict__ if not k.startswith("_")}
        cls.abstract = False
        cls.id = cls.__name__
        allowed = set(cls.required) | set(cls.optional)
        unknown = sorted(declared - allowed)
        if unknown:
            raise CohesionError(
                f"indicator {cls.id}: unknown attribute {unknown[0]!r} "
                f"(expected some of {', '.join(sorted(allowed))})")
        for name, kind in cls.required.items():
            if not hasattr(cls, name):
                raise CohesionError(f"indicator {cls.id}: missing attribute {name!r}")
            if not isinstance(getattr(cls, name), kind):
                raise CohesionError(
                    f"indicator {cls.id}: attribute {name!r} should be a {kind.__name__}, "
                    f"got {getattr(cls, name)!r}")

    @classmethod
    def variables(cls) -> list[str]:
        """Base variables needed to compute the indicator."""
        raise NotImplementedError

    @classmethod
    def periods_needed(cls, period: str,
                       available: PeriodLookup | None = None) -> dict[str, str]:
        """Input key → period to read, to compute the indicator at ``period``.

        ``available`` gives the periods a variable has at a level, for the indicators
        whose declared rules choose the period of an input (:data:`NEAREST_PERIOD`).
        """
        return dict.fromkeys(cls.variables(), period)

    @classmethod
    def period_variables(cls) -> list[str]:
        """The variables whose common periods are the indicator's periods.

        Every variable by default; a ratio whose denominator period is chosen by a rule
        has the periods of its numerator.
        """
        return cls.variables()

    @classmethod
    def period_note(cls, period: str, needed: dict[str, str]) -> str | None:
        """What users should know about the periods read for ``period`` (None: nothing)."""
        return None

    @classmethod
    def compute(cls, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Compute values from the (summed) inputs, keyed as :meth:`input_keys`."""
        raise NotImplementedError

    @classmethod
    def is_additive(cls) -> bool:
        """True if the indicator can be aggregated exactly from communes."""
        return True

    @classmethod
    def describe(cls) -> dict[str, Any]:
        """The definition as a plain dict (for the CLI, the API and the docs)."""
        return {"id": cls.id, "label": cls.label, "unit": cls.unit,
                "direction": cls.direction.value, "source": cls.source,
                "producer": producers(cls.source),
                "kind": next(base.__name__ for base in cls.__mro__[1:]
                             if not base.__name__.startswith("_")),
                "variables": cls.variables(),
                "aggregation": cls.aggregation, "description": cls.description}


class _OneVariable(Indicator):
    """An indicator computed from a single base variable (its ``variable``)."""

    abstract = True
    required: ClassVar[dict[str, type]] = {**Indicator.required, "variable": str}
    variable: ClassVar[str]

    @classmethod
    def variables(cls) -> list[str]:
        return [cls.variable]

    @classmethod
    def compute(cls, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return inputs[cls.variable]


class Count(_OneVariable):
    """A count, summed over territories."""

    abstract = True
    aggregation = "somme des communes"


class Ratio(Indicator):
    """``scale × numerator / denominator``, aggregated as a ratio of sums.

    ``denominator_period`` declares which period the denominator is read at:
    :data:`SAME_PERIOD` (default) or :data:`NEAREST_PERIOD`, the loaded period nearest to
    the numerator's (money of 2021 per inhabitant of 2018 when 2018 is the latest census
    loaded); the period used is in the result's notes and in its input columns
    (``population@2018``).
    """

    abstract = True
    required: ClassVar[dict[str, type]] = {**Indicator.required, "numerator": str,
                                           "denominator": str}
    optional: ClassVar[dict[str, type]] = {**Indicator.optional, "scale": float,
                                           "denominator_period": str}
    aggregation = "rapport des sommes (numérateur et dénominateur sommés sur les communes)"
    numerator: ClassVar[str]
    denominator: ClassVar[str]
    scale: ClassVar[float] = 1
    denominator_period: ClassVar[str] = SAME_PERIOD
    #: the level the denominator is read at (its periods are those of that level)
    denominator_level: ClassVar[str] = COMMUNES

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if cls.denominator_period not in DENOMINATOR_PERIODS:
            raise CohesionError(
                f"indicator {cls.__name__}: denominator_period should be one of "
                f"{', '.join(DENOMINATOR_PERIODS)}, got {cls.denominator_period!r}")

    @classmethod
    def variables(cls) -> list[str]:
        return [cls.numerator, cls.denominator]

    @classmethod
    def periods_needed(cls, period: str,
                       available: PeriodLookup | None = None) -> dict[str, str]:
        if cls.denominator_period == SAME_PERIOD or available is None:
            return {cls.numerator: period, cls.denominator: period}
        chosen = nearest_period(period, available(cls.denominator, cls.denominator_level))
        return {cls.numerator: period, cls.denominator: chosen or period}

    @classmethod
    def period_variables(cls) -> list[str]:
        return [cls.numerator] if cls.denominator_period == NEAREST_PERIOD else cls.variables()

    @classmethod
    def period_note(cls, period: str, needed: dict[str, str]) -> str | None:
        used = needed.get(cls.denominator, period)
        if cls.denominator_period == SAME_PERIOD or used == period:
            return None
        return (f"{cls.denominator} de {used} pour {cls.numerator} de {period} "
                f"({DENOMINATOR_PERIODS[cls.denominator_period]})")

    @classmethod
    def compute(cls, inputs: dict[str, np.ndarray]) -> np.ndarray:
        numerator, denominator = inputs[cls.numerator], inputs[cls.denominator]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(denominator > 0, cls.scale * numerator / denominator, np.nan)


class AnnualGrowth(_OneVariable):
    """Average annual growth rate (%) of a count between two periods ``start-end``.

    Computed from the summed counts of each period, so it aggregates exactly.
    """

    abstract = True
    aggregation = "taux calculé sur les sommes de chaque date"

    @classmethod
    def periods_needed(cls, period: str,
                       available: PeriodLookup | None = None) -> dict[str, str]:
        start, end = _span(cls.id, period)
        return {f"{cls.variable}@start": start, f"{cls.variable}@end": end}

    @classmethod
    def compute(cls, inputs: dict[str, np.ndarray]) -> np.ndarray:
        start, end = inputs[f"{cls.variable}@start"], inputs[f"{cls.variable}@end"]
        years = inputs["@years"]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(start > 0, 100 * ((end / start) ** (1 / years) - 1), np.nan)


class Published(_OneVariable):
    """A non-additive statistic (median, rate, decile) taken as the producer published it.

    It is never summed nor averaged: at a level where the producer did not publish it,
    the value is missing with the reason ``not_aggregable``.
    """

    abstract = True
    aggregation = "non agrégeable : valeur publiée à chaque échelon uniquement"

    @classmethod
    def is_additive(cls) -> bool:
        return False


class Total(Count):
    """A total published for the territories of some levels, summed up to the others.

    The money of a dispositif is the sum of its funding lines, attached to a
    département, a contrat de ville or a commune rather than spread over communes.
    ``sources`` declares, for each level, the level whose published totals make its
    value: ``{"REG": "DEP"}`` sums the départements lying in each région (all of whose
    communes are in it), ``{"DEP": "DEP"}`` takes the département's own figure. At a
    level not listed, the totals published for communes are summed. The sums count
    what the files list: a territory of the source level without a value is left out
    (and named in the notes: the 2024 adultes-relais file lists no post in
    Seine-Saint-Denis), a territory none of whose parts has a value has none; a
    territory of the source level over several territories of the level leaves them
    without a value, since its total cannot be split.
    """

    abstract = True
    required: ClassVar[dict[str, type]] = {**Count.required, "sources": dict}
    aggregation = ("somme des totaux publiés (départements, contrats de ville ou communes) "
                   "situés dans le territoire")
    sources: ClassVar[dict[str, str]]

    @classmethod
    def source_level(cls, variable: str, level: str) -> str:
        """The level ``variable`` is read at for a value at ``level``."""
        return cls.sources.get(level, COMMUNES)

    @classmethod
    def flows(cls) -> set[str]:
        """The inputs that are totals: their sums count the parts that have a value."""
        return {cls.variable}


class TotalRatio(Ratio):
    """A :class:`Total` over a denominator: money per inhabitant, posts per 1,000.

    The numerator is summed as a :class:`Total` (``sources``), the denominator over the
    communes of the territory that have it, or over the territories of
    ``denominator_level`` lying in it (``QPV``: the inhabitants of its QPV, a value only
    where the QPV contours of every one of its départements are loaded and each of its
    QPV has one). ``coverage`` is the share of the communes that have the denominator.
    """

    abstract = True
    required: ClassVar[dict[str, type]] = {**Ratio.required, "sources": dict}
    optional: ClassVar[dict[str, type]] = {**Ratio.optional, "denominator_level": str}
    aggregation = ("total publié (départements, contrats de ville ou communes) rapporté à la "
                   "somme du dénominateur sur le territoire")
    sources: ClassVar[dict[str, str]]

    @classmethod
    def source_level(cls, variable: str, level: str) -> str:
        """The level ``variable`` is read at for a value at ``level``."""
        if variable == cls.numerator:
            return cls.sources.get(level, COMMUNES)
        return cls.denominator_level

    @classmethod
    def flows(cls) -> set[str]:
        """The inputs that are totals: their sums count the parts that have a value."""
        return {cls.numerator}


#: The kinds whose inputs are read at declared levels (see :class:`Total`).
SOURCED = (Total, TotalRatio)


#: The kinds of indicator a dataset may declare (``indicator_definitions.kind``).
DECLARABLE: dict[str, type[Indicator]] = {"Ratio": Ratio, "Count": Count,
                                          "Published": Published}


def declared_indicator(row: dict[str, Any]) -> type[Indicator]:
    """The class of an indicator a dataset declared (a row of ``indicator_definitions``).

    A computation that stores its results as variables (the accessibility measures)
    declares its indicators as data; they are then checked and computed exactly like
    the classes of the catalogue.

    Examples
    --------
    >>> share = declared_indicator({
    ...     "indicator": "acces_d201_marche_15min", "kind": "Ratio",
    ...     "label": "Part de la population à moins de 15 min", "unit": "%",
    ...     "numerator": "pop_acces_d201_marche_15min", "denominator": "pop_acces_d201_marche",
    ...     "scale": 100.0, "direction": "higher_is_better", "source": "INSEE ; OSM"})
    >>> share.compute({"pop_acces_d201_marche_15min": np.array([30.0]),
    ...                "pop_acces_d201_marche": np.array([40.0])})
    array([75.])
    """
    kind = DECLARABLE.get(str(row["kind"]))
    if kind is None:
        raise CohesionError(f"indicateur {row['indicator']} : type {row['kind']!r} inconnu "
                            f"(attendu {', '.join(DECLARABLE)})")
    names = ["label", "unit", "source", "description", "numerator", "denominator",
             "variable"]
    attributes: dict[str, Any] = {name: row[name] for name in names
                                  if isinstance(row.get(name), str)
                                  and (name in kind.required or name in kind.optional)}
    attributes["direction"] = Direction(row.get("direction") or NEUTRAL)
    attributes.setdefault("unit", "")
    scale = row.get("scale")
    if "scale" in kind.optional and scale is not None and not np.isnan(scale):
        attributes["scale"] = float(scale)
    return type(str(row["indicator"]), (kind,), attributes)


def _span(indicator: str, period: str) -> tuple[str, str]:
    parts = period.split("-")
    if len(parts) != 2 or not all(p.isdigit() and len(p) == 4 for p in parts):
        raise CohesionError(
            f"l'indicateur {indicator} est une évolution entre deux dates : attendu une période "
            f"comme 2013-2018, reçu {period!r}")
    return parts[0], parts[1]


__all__ = ["AREA", "COMMUNES", "DECLARABLE", "DENOMINATOR_PERIODS", "HIGHER_IS_BETTER",
           "LOWER_IS_BETTER", "NEAREST_PERIOD", "NEUTRAL", "SAME_PERIOD", "SOURCED",
           "AnnualGrowth", "Count", "Direction", "Indicator", "PeriodLookup", "Published",
           "Ratio", "Total", "TotalRatio", "declared_indicator"]
