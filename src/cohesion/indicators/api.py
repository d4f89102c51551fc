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
from enum import StrEnum
from typing import Any, ClassVar

import numpy as np

from cohesion.errors import CohesionError


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
    def periods_needed(cls, period: str) -> dict[str, str]:
        """Variable → period to read, to compute the indicator at ``period``."""
        return dict.fromkeys(cls.variables(), period)

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
    """``scale × numerator / denominator``, aggregated as a ratio of sums."""

    abstract = True
    required: ClassVar[dict[str, type]] = {**Indicator.required, "numerator": str,
                                           "denominator": str}
    optional: ClassVar[dict[str, type]] = {**Indicator.optional, "scale": float}
    aggregation = "rapport des sommes (numérateur et dénominateur sommés sur les communes)"
    numerator: ClassVar[str]
    denominator: ClassVar[str]
    scale: ClassVar[float] = 1

    @classmethod
    def variables(cls) -> list[str]:
        return [cls.numerator, cls.denominator]

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
    def periods_needed(cls, period: str) -> dict[str, str]:
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


__all__ = ["AREA", "DECLARABLE", "HIGHER_IS_BETTER", "LOWER_IS_BETTER", "NEUTRAL",
           "AnnualGrowth", "Count", "Direction", "Indicator", "Published", "Ratio",
           "declared_indicator"]
