"""What a portrait of a territory shows: its key indicators and its references."""

from __future__ import annotations

#: Headline indicators of a portrait, in display order.
KEY_INDICATORS = (
    "population",
    "evolution_population",
    "densite_population",
    "part_65_ans_et_plus",
    "taux_chomage_15_64",
    "taux_activite_15_64",
    "revenu_median",
    "taux_pauvrete",
    "part_logements_vacants",
    "equipements_pour_1000",
    "equipements_sante_action_sociale_pour_1000",
)
#: The territories a portrait compares with: the territory's département, région and France.
COMPARISON_LEVELS = ("DEP", "REG", "FRA")
