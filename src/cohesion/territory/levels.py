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
REGION = Level("REG", "Région", r"(\d{2})")
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
