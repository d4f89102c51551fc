"""Geographic levels (échelons) known to Cohésion.

Built-in levels are those of the Code officiel géographique and of the politique de la
ville. Zonings (Action cœur de ville, contrats de ville, grille de densité…) are added
at run time by the zoning importer and live in the warehouse's ``levels`` table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Level:
    """One geographic level.

    Attributes
    ----------
    id : str
        Short identifier used in territory ids (``COM`` in ``COM:93014@2026``).
    label : str
        French label shown to users.
    code_pattern : str
        Regular expression that every code of the level matches.
    """

    id: str
    label: str
    code_pattern: str


COMMUNE = Level("COM", "Commune", r"(\d[\dAB]\d{3})")
ARRONDISSEMENT_MUNICIPAL = Level("ARM", "Arrondissement municipal", r"(\d{5})")
COMMUNE_DELEGUEE = Level("COMD", "Commune déléguée", r"(\d[\dAB]\d{3})")
COMMUNE_ASSOCIEE = Level("COMA", "Commune associée", r"(\d[\dAB]\d{3})")
EPCI = Level("EPCI", "EPCI à fiscalité propre", r"(\d{9})")
EPT = Level("EPT", "Établissement public territorial", r"(\d{9})")
ARRONDISSEMENT = Level("ARR", "Arrondissement", r"(\d[\dAB]\d{1,2})")
DEPARTEMENT = Level("DEP", "Département", r"(\d[\dAB]|\d{3})")
# the collectivités d'outre-mer (Saint-Barthélemy 977, Saint-Martin 978) are their own
# « région » in the référentiel, with a three-digit code
REGION = Level("REG", "Région", r"(\d{2}|97\d)")
FRANCE = Level("FRA", "France", r"(FR)")
# 2015 generation: QP + département on 3 characters + 3 digits (QP093001, QP02A001);
# 2024 generation: QN + département on 3 characters + 2 digits + a letter (QN09301M)
QPV = Level("QPV", "Quartier prioritaire de la politique de la ville",
            r"(Q(?:P(?:\d{3}|02[AB])\d{3}|N(?:\d{3}|02[AB])\d{2}[A-Z]))")

BUILTIN_LEVELS: dict[str, Level] = {
    level.id: level
    for level in (
        COMMUNE,
        ARRONDISSEMENT_MUNICIPAL,
        COMMUNE_DELEGUEE,
        COMMUNE_ASSOCIEE,
        EPCI,
        EPT,
        ARRONDISSEMENT,
        DEPARTEMENT,
        REGION,
        FRANCE,
        QPV,
    )
}

#: Levels that communes aggregate to in every vintage, in display order.
SUPRA_COMMUNAL = ("EPCI", "EPT", "ARR", "DEP", "REG", "FRA")

#: The one territory of level FRA.
FRANCE_CODE = "FR"

#: Short labels of the levels for menus and tables (the definitions' labels, shortened
#: where the long form does not fit).
LEVEL_LABELS: dict[str, str] = {level: found.label for level, found in BUILTIN_LEVELS.items()} \
    | {"EPCI": "EPCI", "QPV": "Quartier prioritaire (QPV)"}

#: Singular and plural nouns of each level, for sentences (« 12e sur 101 départements »),
#: including the baromètre's 2010 zonings.
LEVEL_NOUNS: dict[str, tuple[str, str]] = {
    "COM": ("commune", "communes"),
    "ARM": ("arrondissement municipal", "arrondissements municipaux"),
    "COMD": ("commune déléguée", "communes déléguées"),
    "COMA": ("commune associée", "communes associées"), "EPCI": ("EPCI", "EPCI"),
    "EPT": ("EPT", "EPT"), "ARR": ("arrondissement", "arrondissements"),
    "DEP": ("département", "départements"), "REG": ("région", "régions"),
    "FRA": ("France", "France"), "QPV": ("quartier prioritaire", "quartiers prioritaires"),
    "ZE": ("zone d'emploi 2010", "zones d'emploi 2010"),
    "ZAU": ("catégorie d'aires urbaines 2010", "catégories d'aires urbaines 2010"),
}


def level_noun(level: str, plural: bool = False) -> str:
    """The French noun of a level.

    Examples
    --------
    >>> level_noun("DEP", plural=True), level_noun("ZZ")
    ('départements', 'territoire')
    """
    nouns = LEVEL_NOUNS.get(level, ("territoire", "territoires"))
    return nouns[1] if plural else nouns[0]
