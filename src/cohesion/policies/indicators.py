"""Indicators of the money of public policies: totals, per inhabitant, per QPV inhabitant, per poor.

They are indicator definitions like those of the catalogue (:mod:`cohesion.indicators.
catalogue`), generated for every dispositif of :data:`~cohesion.policies.funding.
DISPOSITIFS`, so that the map, the comparator, the exports and the portraits show them
like any other indicator. Each is a ratio of sums:

- the **numerator** is a :class:`~cohesion.indicators.api.Total`: the money (or the
  posts) of the funding lines, as the importers publish it per département, per
  contrat de ville 2024 and, for grants to communes, per commune, summed up to the
  level asked for (:data:`POST_SOURCES`, :data:`GRANT_SOURCES`);
- the **denominator** is the population of the territory, the inhabitants of its QPV
  (where QPV populations are loaded) or its poor (Filosofi's poverty rate × the persons
  of its ménages fiscaux, :data:`~cohesion.indicators.variables.DERIVED`), read at the
  **nearest period loaded** (:data:`~cohesion.indicators.api.NEAREST_PERIOD`): the money
  runs from 2019 to 2025, the censuses and Filosofi files loaded are of other years; the
  period used is in each result's notes and in its input columns (``population@2018``).

Examples
--------
>>> FUNDING_INDICATORS["montant_adultes_relais_par_habitant"].sources["REG"]
'DEP'
>>> FUNDING_INDICATORS["postes_fonjep_pour_1000_habitants_qpv"].denominator_level
'QPV'
>>> len(FUNDING_INDICATORS)
28
"""

from __future__ import annotations

from dataclasses import dataclass

from cohesion.indicators.api import (
    COMMUNES,
    LOWER_IS_BETTER,
    NEAREST_PERIOD,
    NEUTRAL,
    Indicator,
    Ratio,
    Total,
    TotalRatio,
)
from cohesion.policies.funding import DISPOSITIFS, Dispositif

__all__ = ["DENOMINATORS", "FUNDING_INDICATORS", "GRANT_SOURCES", "NEED_INDICATORS",
           "POLICY_INDICATORS", "POST_SOURCES", "Denominator", "funding_indicator_ids",
           "part_personnes_pauvres"]

RP = "INSEE, recensement de la population (Comparateur de territoires)"
FILOSOFI = "INSEE, Filosofi (revenus, pauvreté et niveau de vie)"
QPV_DATA = "INSEE, données des quartiers prioritaires (population municipale)"
PRODUCERS = {"147": "ANCT, postes de la politique de la ville (adultes-relais, FONJEP)",
             "119": "DGCL, dotations d'investissement (traitement ANCT)"}

#: Where the posts' totals come from, by level: the département's own figure, summed
#: per région and for France; the contrat de ville's (2024 contrats, ``CN…``), summed
#: per EPCI; the 2015 contrat's (``CV…``, level ``CV2015``) for that level. The posts
#: attached to a 2015 contrat or to none count in their département and at ``CV2015``.
POST_SOURCES = {"DEP": "DEP", "REG": "DEP", "FRA": "DEP", "CV": "CV", "EPCI": "CV",
                "CV2015": "CV2015"}
#: Where the grants' totals come from: every grant of the département (to its
#: communes, EPCI and the département itself), summed per région and for France; the
#: EPCI's own total (the grants to its communes and to itself, published by the
#: importer); at the other levels, the grants to their communes.
GRANT_SOURCES = {"DEP": "DEP", "REG": "DEP", "FRA": "DEP", "EPCI": "EPCI"}


@dataclass(frozen=True)
class Denominator:
    """What money is rapported to.

    Attributes
    ----------
    suffix, plural : str
        End of the ids of the amounts (``montant_fonjep_par_habitant``) and of the posts
        (``postes_fonjep_pour_1000_habitants``).
    variable : str
        The denominator variable.
    level : str
        The level it is read at (``COM``: summed over the communes).
    amount_unit, posts_unit : str
        Units of the amount per unit, and of the posts per 1,000 units.
    label, posts_label : str
        « par habitant », « pour 1 000 habitants »…, for the labels.
    source : str
        Its producer and file.
    note : str
        What users should know about it.
    """

    suffix: str
    plural: str
    variable: str
    level: str
    amount_unit: str
    posts_unit: str
    label: str
    posts_label: str
    source: str
    note: str


DENOMINATORS = (
    Denominator("habitant", "habitants", "population", COMMUNES, "€ par hab.",
                "pour 1 000 hab.", "par habitant", "pour 1 000 habitants", RP,
                "population municipale des communes du territoire"),
    Denominator("habitant_qpv", "habitants_qpv", "population", "QPV", "€ par hab. de QPV",
                "pour 1 000 hab. de QPV", "par habitant des quartiers prioritaires",
                "pour 1 000 habitants des quartiers prioritaires", QPV_DATA,
                "habitants des QPV du territoire, seulement là où les contours des QPV de "
                "chacun de ses départements et la population de chacun de ses QPV sont "
                "chargés ; le montant est celui de tout le territoire"),
    Denominator("personne_pauvre", "personnes_pauvres", "personnes_pauvres", COMMUNES,
                "€ par personne pauvre", "pour 1 000 personnes pauvres", "par personne pauvre",
                "pour 1 000 personnes pauvres", FILOSOFI,
                "taux de pauvreté au seuil de 60 % × personnes des ménages fiscaux, dans les "
                "communes où Filosofi publie le taux (environ 4 300 communes, 72 % de la "
                "population) : là où il est secret, les pauvres ne sont pas comptés et la "
                "valeur est majorée ; la couverture donne la part des communes comptées"),
)

#: The rule stated in every definition (the notes of a result name the period used).
PERIOD_RULE = ("Le dénominateur est celui de la période chargée la plus proche de l'année "
               "du financement : la dernière qui ne la suit pas, sinon la première après "
               "(les notes et la colonne du dénominateur, par exemple population@2018, "
               "disent laquelle).")


def _sources_text(found: Dispositif) -> str:
    if found.counts_posts:
        return ("Montants et postes publiés par département (sommés par région et pour la "
                "France) et par contrat de ville 2024 (sommés par EPCI : les postes rattachés "
                "à un contrat de ville 2015 ou à aucun n'y sont pas comptés).")
    return ("Montants de toutes les subventions du département (sommés par région et pour la "
            "France) ; par EPCI, les subventions à ses communes et à l'EPCI lui-même ; aux "
            "autres échelons, les subventions à leurs communes (pas celles aux EPCI ni aux "
            "départements).")


def _total(found: Dispositif, variable: str, unit: str, what: str) -> type[Indicator]:
    """The total of a dispositif (its amount or its posts) at every level."""
    return type(variable, (Total,), {
        "label": f"{found.label} : {what}", "unit": unit, "variable": variable,
        "sources": POST_SOURCES if found.counts_posts else GRANT_SOURCES,
        "direction": NEUTRAL, "source": PRODUCERS[found.programme],
        "description": _sources_text(found)})


def _ratio(found: Dispositif, variable: str, denominator: Denominator,
           posts: bool) -> type[Indicator]:
    """A dispositif's amount per unit of ``denominator``, or its posts per 1,000."""
    name = (f"{variable}_pour_1000_{denominator.plural}" if posts
            else f"{variable}_par_{denominator.suffix}")
    what = f"postes {denominator.posts_label}" if posts else f"montant {denominator.label}"
    attributes = {
        "label": f"{found.label} : {what}",
        "unit": denominator.posts_unit if posts else denominator.amount_unit,
        "numerator": variable, "denominator": denominator.variable,
        "sources": POST_SOURCES if found.counts_posts else GRANT_SOURCES,
        "denominator_period": NEAREST_PERIOD, "direction": NEUTRAL,
        "source": f"{PRODUCERS[found.programme]} ; {denominator.source}",
        "description": f"{_sources_text(found)} Dénominateur : {denominator.note}. "
                       f"{PERIOD_RULE}"}
    if posts:
        attributes["scale"] = 1000.0
    if denominator.level != COMMUNES:
        attributes["denominator_level"] = denominator.level
    return type(name, (TotalRatio,), attributes)


def _funding_indicators() -> dict[str, type[Indicator]]:
    found: dict[str, type[Indicator]] = {}
    for dispositif in DISPOSITIFS.values():
        measures = [(dispositif.amount_variable, False)]
        if dispositif.posts_variable is not None:
            measures.append((dispositif.posts_variable, True))
        for variable, posts in measures:
            total = _total(dispositif, variable, "postes" if posts else "€",
                           "nombre de postes" if posts else "montant")
            found[total.id] = total
            for denominator in DENOMINATORS:
                ratio = _ratio(dispositif, variable, denominator, posts)
                found[ratio.id] = ratio
    return found


#: Every funding indicator, by id: for each dispositif, its total amount (and posts),
#: and those per inhabitant, per QPV inhabitant and per poor person.
FUNDING_INDICATORS: dict[str, type[Indicator]] = _funding_indicators()


class part_personnes_pauvres(Ratio):
    """The poverty rate of any territory, from its communes (a need indicator)."""

    label = "Part des personnes pauvres (communes où le taux de pauvreté est publié)"
    unit = "%"
    numerator = "personnes_pauvres"
    denominator = "personnes_menages_fiscaux"
    scale = 100
    direction = LOWER_IS_BETTER
    source = FILOSOFI
    description = ("Taux de pauvreté au seuil de 60 % d'un territoire, estimé comme le "
                   "rapport des sommes (taux × personnes des ménages fiscaux) / personnes, sur "
                   "les communes où Filosofi publie le taux : il s'agrège à tout échelon, "
                   "contrairement au taux publié ; la couverture donne la part des communes "
                   "comptées.")


#: Needs the funding is compared with, besides the catalogue's aggregable rates.
NEED_INDICATORS: dict[str, type[Indicator]] = {part_personnes_pauvres.id: part_personnes_pauvres}

#: Every indicator this domain declares (registered in the built-in catalogue).
POLICY_INDICATORS: dict[str, type[Indicator]] = {**FUNDING_INDICATORS, **NEED_INDICATORS}


def funding_indicator_ids(ratios_only: bool = False) -> list[str]:
    """The ids of the funding indicators, in declaration order.

    Examples
    --------
    >>> funding_indicator_ids(ratios_only=True)[:2]
    ['montant_adultes_relais_par_habitant', 'montant_adultes_relais_par_habitant_qpv']
    """
    return [ident for ident, indicator in FUNDING_INDICATORS.items()
            if not ratios_only or issubclass(indicator, TotalRatio)]
