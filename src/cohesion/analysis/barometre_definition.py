"""Le baromètre de la cohésion des territoires: its definition, data read from YAML.

The baromètre of the ANCT reads territorial cohesion through six *facteurs*
(solidarité, qualité de vie, coopération entre les territoires, capital social,
capacitation — or capacité de développement —, transition socio-environnementale), each
measured by a few headline indicators with a direction and a policy challenge (*enjeu*).
The definition is data: ``barometre.yaml`` beside this module, loaded and checked by
:func:`load_barometre` (unknown, missing or mistyped keys fail with the indicator's id).

Every indicator names where its values come from (``data``): a table of the 2018
edition published by the CGET (imported with the ``barometre-2018-*.yaml`` mappings of
the generic table importer) or an indicator of our catalogue. Those with neither are
kept in the definition and shown as « source non chargée », never hidden.

The figures computed on it are in :mod:`cohesion.analysis.barometre`, which also
exports every name of this module.

Examples
--------
>>> from cohesion.analysis.barometre_definition import load_barometre
>>> barometre = load_barometre()
>>> [factor.label for factor in barometre.factors][:2]
['Solidarité', 'Qualité de vie']
>>> len(barometre.indicators), len([i for i in barometre.indicators if i.anct_id])
(25, 24)
>>> barometre.indicator("part_neet").direction
'lower_is_better'
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from cohesion.analysis.errors import AnalysisError
from cohesion.indicators.engine import UnknownIndicatorError

__all__ = [
    "BAROMETRE_FILE",
    "DIRECTIONS",
    "Barometre",
    "BarometreDefinitionError",
    "BarometreIndicator",
    "CatalogueSource",
    "Factor",
    "TableSource",
    "UnknownBarometreItemError",
    "load_barometre",
]

#: The definition shipped with the package.
BAROMETRE_FILE = Path(__file__).with_name("barometre.yaml")

#: Directions an indicator may take; ``neutral`` ones are shown and ranked by value but
#: left out of factor scores (no level is better than another).
DIRECTIONS = ("higher_is_better", "lower_is_better", "neutral")


class BarometreDefinitionError(AnalysisError, ValueError):
    """The baromètre definition file is not valid (the message names the item)."""


class UnknownBarometreItemError(UnknownIndicatorError, AnalysisError):
    """A factor or indicator id the baromètre does not define (exit code 4, HTTP 404)."""


@dataclass(frozen=True)
class TableSource:
    """A published table of the 2018 baromètre, imported into the warehouse.

    Attributes
    ----------
    variable : str
        Variable of the warehouse holding the values (at every level it was published).
    level : str
        Level of the map table: ``ZE`` (zones d'emploi 2010), ``EPCI`` or ``DEP``.
    vintage : int or None
        Geography of the codes (2010 for the zones d'emploi, 2017 or 2018 for EPCI).
    file, regional_file, class_file : str or None
        The CGET's file names (``carte_X_Y.csv``, ``histo_X_Y.csv``, ``zau_X_Y.csv``).
    anct_2018_id : str
        Id of the indicator in the 2018 edition (``baro.csv``).
    match : str
        ``same`` (the indicator itself) or ``related`` (the 2018 edition's indicator on
        the same theme, named by ``related_label``).
    related_label : str or None
    """

    variable: str
    level: str
    anct_2018_id: str
    file: str
    regional_file: str | None = None
    class_file: str | None = None
    vintage: int | None = None
    match: str = "same"
    related_label: str | None = None

    kind = "table"


@dataclass(frozen=True)
class CatalogueSource:
    """An indicator of our catalogue (:mod:`cohesion.indicators.catalogue`)."""

    indicator: str

    kind = "catalogue"


@dataclass(frozen=True)
class BarometreIndicator:
    """A headline indicator of the baromètre.

    Attributes
    ----------
    id : str
    anct_id : str or None
        Id in the 2020 specification (``init.json``); None for an indicator of the 2018
        edition only.
    edition : int
        The edition the indicator comes from.
    factor : str
        Id of its factor.
    theme, label, challenge : str
        As the ANCT names them; ``challenge`` is the policy challenge (*enjeu*).
    direction : str
        One of :data:`DIRECTIONS`.
    rationale : str
        Why that direction.
    definition, source, unit : str
    data : tuple of TableSource or CatalogueSource
        Where values come from; empty: « source non chargée ».
    """

    id: str
    anct_id: str | None
    edition: int
    factor: str
    theme: str
    label: str
    challenge: str
    direction: str
    rationale: str
    definition: str
    source: str
    unit: str
    data: tuple[TableSource | CatalogueSource, ...] = ()

    @property
    def table(self) -> TableSource | None:
        """The 2018 published table, if the indicator has one."""
        return next((d for d in self.data if isinstance(d, TableSource)), None)

    @property
    def catalogue(self) -> CatalogueSource | None:
        """The catalogue indicator, if the indicator has one."""
        return next((d for d in self.data if isinstance(d, CatalogueSource)), None)

    @property
    def sign(self) -> int:
        """+1 when higher is better, -1 when lower is better, 0 when neutral."""
        return {"higher_is_better": 1, "lower_is_better": -1}.get(self.direction, 0)

    def describe(self) -> dict[str, Any]:
        """The definition as plain data (for the API and the CLI)."""
        return {
            "id": self.id, "anct_id": self.anct_id, "edition": self.edition,
            "factor": self.factor, "theme": self.theme, "label": self.label,
            "challenge": self.challenge, "direction": self.direction,
            "rationale": self.rationale, "definition": self.definition,
            "source": self.source, "unit": self.unit,
            "data": [{"kind": d.kind, **{k: v for k, v in d.__dict__.items()}}
                     for d in self.data]}


@dataclass(frozen=True)
class Factor:
    """A factor of cohesion and its indicators."""

    id: str
    anct_id: str
    label: str
    cget_2018_label: str
    indicators: tuple[BarometreIndicator, ...]
    also_called: str | None = None

    def describe(self) -> dict[str, Any]:
        """The factor and its indicators as plain data."""
        return {"id": self.id, "anct_id": self.anct_id, "label": self.label,
                "also_called": self.also_called, "cget_2018_label": self.cget_2018_label,
                "indicators": [i.describe() for i in self.indicators]}


@dataclass(frozen=True)
class Barometre:
    """The whole baromètre: its factors, their indicators, where it comes from."""

    edition: int
    producer: str
    specification: str
    data_edition: str
    factors: tuple[Factor, ...]

    @property
    def indicators(self) -> tuple[BarometreIndicator, ...]:
        """Every indicator, factor after factor."""
        return tuple(i for f in self.factors for i in f.indicators)

    def indicator(self, indicator_id: str) -> BarometreIndicator:
        """The indicator ``indicator_id`` (also found by its ANCT id or 2018 id)."""
        for indicator in self.indicators:
            table = indicator.table
            if indicator_id in (indicator.id, indicator.anct_id) or (
                    table is not None and indicator_id in (table.anct_2018_id,
                                                           table.variable)):
                return indicator
        raise UnknownBarometreItemError(
            f"indicateur du baromètre inconnu : {indicator_id!r} ; les indicateurs sont "
            + ", ".join(i.id for i in self.indicators))

    def factor(self, factor_id: str) -> Factor:
        """The factor ``factor_id`` (or its ANCT id)."""
        for factor in self.factors:
            if factor_id in (factor.id, factor.anct_id):
                return factor
        raise UnknownBarometreItemError(
            f"facteur du baromètre inconnu : {factor_id!r} ; les facteurs sont "
            + ", ".join(f.id for f in self.factors))

    def describe(self) -> dict[str, Any]:
        """The definition as plain data."""
        return {"edition": self.edition, "producer": self.producer,
                "specification": self.specification, "data_edition": self.data_edition,
                "factors": [f.describe() for f in self.factors]}


_FACTOR_KEYS = {"id": str, "anct_id": str, "label": str, "cget_2018_label": str,
                "indicators": list}
_FACTOR_OPTIONAL = {"also_called": str}
_INDICATOR_KEYS = {"id": str, "anct_id": (str, type(None)), "theme": str, "label": str,
                   "challenge": str, "direction": str, "rationale": str, "definition": str,
                   "source": str, "unit": str, "data": list}
_INDICATOR_OPTIONAL = {"edition": int}
_TABLE_KEYS = {"table": str, "anct_2018_id": str, "file": str, "level": str}
_TABLE_OPTIONAL = {"regional_file": str, "class_file": str, "vintage": int, "match": str,
                   "related_label": str}


def _checked(item: Any, required: dict[str, Any], optional: dict[str, Any],
             where: str) -> dict[str, Any]:
    """``item`` as a dict whose keys and value types are the expected ones."""
    if not isinstance(item, dict):
        raise BarometreDefinitionError(f"{where} : attendu un ensemble de clés, trouvé "
                                       f"{type(item).__name__}")
    unknown = set(item) - set(required) - set(optional)
    if unknown:
        raise BarometreDefinitionError(
            f"{where} : clé inconnue {sorted(unknown)[0]!r} (clés possibles : "
            f"{', '.join(sorted({*required, *optional}))})")
    missing = [key for key in required if key not in item]
    if missing:
        raise BarometreDefinitionError(f"{where} : clé manquante {missing[0]!r}")
    for key, value in item.items():
        expected = required.get(key, optional.get(key))
        if not isinstance(value, expected) or isinstance(value, bool):
            raise BarometreDefinitionError(
                f"{where} : {key} a le type {type(value).__name__}, attendu "
                f"{getattr(expected, '__name__', 'texte ou null')}")
    return item


def _source(item: Any, where: str) -> TableSource | CatalogueSource:
    if isinstance(item, dict) and "catalogue" in item:
        return CatalogueSource(_checked(item, {"catalogue": str}, {}, where)["catalogue"])
    raw = _checked(item, _TABLE_KEYS, _TABLE_OPTIONAL, where)
    if raw.get("match", "same") not in ("same", "related"):
        raise BarometreDefinitionError(f"{where} : match vaut same ou related, trouvé "
                                       f"{raw['match']!r}")
    if raw.get("match") == "related" and not raw.get("related_label"):
        raise BarometreDefinitionError(f"{where} : un indicateur apparenté (match: related) "
                                       "nomme l'indicateur publié (related_label)")
    return TableSource(variable=raw["table"], **{k: v for k, v in raw.items()
                                                 if k != "table"})


def load_barometre(path: Path | str | None = None) -> Barometre:
    """Read and check a baromètre definition (default: the one shipped, ``barometre.yaml``).

    Parameters
    ----------
    path : Path or str, optional

    Returns
    -------
    Barometre

    Raises
    ------
    BarometreDefinitionError
        Naming the factor or indicator at fault: unknown or missing key, wrong type,
        unknown direction, duplicate id.
    """
    path = Path(path) if path is not None else BAROMETRE_FILE
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise BarometreDefinitionError(f"{path} : illisible ({error})") from None
    top = _checked(raw, {"version": int, "edition": int, "producer": str,
                         "specification": str, "data_edition": str, "factors": list}, {},
                   str(path))
    if top["version"] != 1:
        raise BarometreDefinitionError(f"{path} : version {top['version']} inconnue "
                                       "(attendu 1)")
    factors, seen = [], set()
    for position, raw_factor in enumerate(top["factors"]):
        factor = _checked(raw_factor, _FACTOR_KEYS, _FACTOR_OPTIONAL,
                          f"{path} : facteur n° {position + 1}")
        indicators = []
        for raw_indicator in factor["indicators"]:
            where = f"{path} : facteur {factor['id']}, indicateur " + str(
                raw_indicator.get("id") if isinstance(raw_indicator, dict) else "?")
            item = _checked(raw_indicator, _INDICATOR_KEYS, _INDICATOR_OPTIONAL, where)
            if item["direction"] not in DIRECTIONS:
                raise BarometreDefinitionError(
                    f"{where} : direction {item['direction']!r} inconnue (attendu "
                    f"{', '.join(DIRECTIONS)})")
            if item["id"] in seen:
                raise BarometreDefinitionError(f"{where} : identifiant en double")
            seen.add(item["id"])
            data = tuple(_source(d, f"{where}, données n° {n + 1}")
                         for n, d in enumerate(item["data"]))
            indicators.append(BarometreIndicator(
                factor=factor["id"], edition=item.get("edition", top["edition"]),
                data=data, **{k: v for k, v in item.items() if k not in ("data", "edition")}))
        if factor["id"] in seen:
            raise BarometreDefinitionError(f"{path} : facteur {factor['id']} en double")
        seen.add(factor["id"])
        factors.append(Factor(indicators=tuple(indicators),
                              **{k: v for k, v in factor.items() if k != "indicators"}))
    return Barometre(edition=top["edition"], producer=top["producer"],
                     specification=top["specification"], data_edition=top["data_edition"],
                     factors=tuple(factors))
