"""Base variables: the quantities official files publish, under stable names.

INSEE names its columns with a stem and a year (``P18_POP``, ``MED19``, ``NAIS1318``).
Cohésion stores each value under a *variable* (``population``) and a *period*
(``2018``), so that the 2019 and 2020 Filosofi files fill the same series. Stems that
are not listed here are kept under their lower-cased stem (``p_rsecocc``), so nothing
a file holds is lost.

``additive`` says whether a variable can be summed over territories (counts) or not
(medians, rates, deciles): a non-additive variable is never summed nor averaged.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Variable:
    """A base variable.

    Attributes
    ----------
    id : str
        Stable identifier (French domain term, ASCII).
    label : str
        French label.
    unit : str
        Unit of a value.
    additive : bool
        True for counts that can be summed over territories.
    insee_stems : tuple of str
        INSEE column stems (year removed, see :func:`split_insee_column`).
    """

    id: str
    label: str
    unit: str
    additive: bool
    insee_stems: tuple[str, ...] = ()


VARIABLES: tuple[Variable, ...] = (
    Variable("population", "Population municipale", "habitants", True, ("P_POP",)),
    Variable("population_15_64", "Population de 15 à 64 ans", "habitants", True,
             ("P_POP1564",)),
    Variable("population_65_plus", "Population de 65 ans et plus", "habitants", True,
             ("P_POP65P",)),
    Variable("chomeurs_15_64", "Chômeurs de 15 à 64 ans", "personnes", True, ("P_CHOM1564",)),
    Variable("actifs_15_64", "Actifs de 15 à 64 ans", "personnes", True, ("P_ACT1564",)),
    Variable("menages", "Ménages", "ménages", True, ("P_MEN",)),
    Variable("logements", "Logements", "logements", True, ("P_LOG",)),
    Variable("residences_principales", "Résidences principales", "logements", True, ("P_RP",)),
    Variable("residences_secondaires", "Résidences secondaires et logements occasionnels",
             "logements", True, ("P_RSECOCC",)),
    Variable("logements_vacants", "Logements vacants", "logements", True, ("P_LOGVAC",)),
    Variable("emplois", "Emplois au lieu de travail", "emplois", True, ("P_EMPLT",)),
    Variable("superficie", "Superficie", "km²", True, ("SUPERF",)),
    Variable("naissances", "Naissances", "naissances", True, ("NAIS", "NAISD")),
    Variable("deces", "Décès", "décès", True, ("DECE", "DECESD")),
    Variable("menages_fiscaux", "Ménages fiscaux", "ménages", True, ("NBMENFISC",)),
    Variable("personnes_menages_fiscaux", "Personnes des ménages fiscaux", "personnes", True,
             ("NBPERSMENFISC",)),
    Variable("revenu_median", "Médiane du revenu disponible par unité de consommation",
             "€", False, ("MED",)),
    Variable("taux_pauvrete_60", "Taux de pauvreté au seuil de 60 %", "%", False,
             ("TP60",)),
    Variable("premier_decile", "1er décile du revenu disponible par UC", "€", False,
             ("D1",)),
    Variable("neuvieme_decile", "9e décile du revenu disponible par UC", "€", False,
             ("D9",)),
    Variable("rapport_interdecile", "Rapport interdécile D9/D1 du revenu disponible", "",
             False, ("RD",)),
    Variable("part_menages_imposes", "Part des ménages fiscaux imposés", "%", False,
             ("PIMP",)),
    Variable("etablissements", "Établissements actifs", "établissements", True,
             ("ETTOT",)),
)
BY_ID = {variable.id: variable for variable in VARIABLES}


@dataclass(frozen=True)
class Derived:
    """A count computed for each commune from a rate and a count the files publish.

    The engine reads both at commune level, converts each to the geography asked for
    (the rate only to unchanged communes), multiplies them, and sums the product like
    any count. The product exists only where the rate is published (a secret rate
    leaves the commune out, which the ``coverage`` of a result shows).

    Attributes
    ----------
    id, label, unit : str
    rate : str
        A rate variable (%), non-additive.
    count : str
        The count the rate applies to.
    """

    id: str
    label: str
    unit: str
    rate: str
    count: str

    @property
    def factors(self) -> tuple[str, str]:
        """The variables read to compute it."""
        return (self.rate, self.count)


#: Derived counts, by id. Filosofi's poverty rate is the share of the persons of the
#: ménages fiscaux below the threshold: their number is the rate × those persons.
DERIVED: dict[str, Derived] = {derived.id: derived for derived in (
    Derived("personnes_pauvres", "Personnes pauvres (au seuil de 60 %)", "personnes",
            "taux_pauvrete_60", "personnes_menages_fiscaux"),
)}
BY_STEM = {stem: variable for variable in VARIABLES for stem in variable.insee_stems}

# P18_POP, C18_ACT1564: prefix letter, 2-digit year, underscore, stem
_PREFIXED = re.compile(r"^(?P<prefix>[A-Z]{1,3})(?P<year>\d{2})_(?P<stem>[A-Z0-9_]+)$")
# NAIS1318: a flow between two dates (only for the stems INSEE uses that way)
_SPAN = re.compile(r"^(?P<stem>NAIS|DECE)(?P<start>\d{2})(?P<end>\d{2})$")
# MED19, TP6019, D119, ETTOT18: stem followed by a 2-digit year
_SUFFIXED = re.compile(r"^(?P<stem>[A-Z][A-Z0-9_]*?)(?P<year>\d{2})$")


def full_year(two_digits: str) -> int:
    """Expand a two-digit year: ``68``-``99`` are 19xx, others 20xx (RP starts in 1968)."""
    year = int(two_digits)
    return 1900 + year if year >= 68 else 2000 + year


def split_insee_column(column: str) -> tuple[str, str] | None:
    """Split an INSEE column name into (stem, period), or None if it has no year.

    Examples
    --------
    >>> split_insee_column("P18_POP")
    ('P_POP', '2018')
    >>> split_insee_column("TP6019")
    ('TP60', '2019')
    >>> split_insee_column("NAIS1318")
    ('NAIS', '2013-2018')
    >>> split_insee_column("ETTEFP1018")
    ('ETTEFP10', '2018')
    >>> split_insee_column("CODGEO") is None
    True
    """
    name = column.strip().upper()
    if match := _PREFIXED.match(name):
        return f"{match['prefix']}_{match['stem']}", str(full_year(match["year"]))
    if match := _SPAN.match(name):
        return match["stem"], f"{full_year(match['start'])}-{full_year(match['end'])}"
    if match := _SUFFIXED.match(name):
        return match["stem"], str(full_year(match["year"]))
    return None


def variable_for_stem(stem: str) -> tuple[str, bool]:
    """Return the variable id for an INSEE stem and whether it is additive.

    Unknown stems keep their lower-cased name. The census's ``P_``/``C_`` columns and
    the establishment counts ``ET…`` are counts; any other unknown stem is treated as
    non-additive, so it is never summed by mistake.

    Examples
    --------
    >>> variable_for_stem("P_POP"), variable_for_stem("P_RP_PROP"), variable_for_stem("PPSOC")
    (('population', True), ('p_rp_prop', True), ('ppsoc', False))
    """
    known = BY_STEM.get(stem)
    if known is not None:
        return known.id, known.additive
    return stem.lower(), stem.startswith(("P_", "C_", "ET"))
