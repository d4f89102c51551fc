"""The ``/api/analysis/*`` endpoints and the declarations of their parameters."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Query

from cohesion.analysis.convergence import SIGMA_MEASURES
from cohesion.core.analyses import MAX_BOOTSTRAP, MAX_CLASSES, MAX_INDICATORS, Analyses

LEVEL = Query(pattern=r"^[A-Z][A-Z0-9_]{1,15}$", description="Échelon : COM, EPCI, DEP…")
VINTAGE = Query(ge=1900, le=2100, description="Millésime du COG (défaut : le plus récent)")
PERIOD = Query(pattern=r"^[0-9][0-9-]{3,20}$", description="Période (défaut : la dernière)")
PARENT = Query(pattern=r"^[A-Z][A-Z0-9_]{1,15}:[0-9A-Za-z]{1,12}@\d{4}$",
               description="Seulement dans ce territoire, par exemple DEP:29@2026")
INDICATOR = Query(pattern=r"^[a-z0-9_]{1,80}$", description="Identifiant d'indicateur")
PARTITION = Query(pattern=r"^[A-Z][A-Z0-9_]{1,15}$",
                  description="Regrouper par cet échelon (REG, DEP) ou zonage (DENS…)")
WEIGHTS = Query(pattern=r"^[a-z0-9_]{1,80}$",
                description="Pondérer par cet indicateur (population…)")
WEIGHT_PERIOD = Query(pattern=r"^[0-9][0-9-]{3,20}$",
                      description="Période de la pondération (défaut : celle de la valeur, "
                      "sinon la plus proche qui la précède)")
METROPOLE = Query(description="Seulement la France métropolitaine")
INDICATOR_LIST = r"^[a-z0-9_]{1,80}(:[0-9][0-9-]{3,20})?(,[a-z0-9_]{1,80}(:[0-9][0-9-]{3,20})?)*$"


def parse_indicator_list(text: str) -> list[tuple[str, str | None]]:
    """``revenu_median:2019,taux_chomage_15_64`` → ``[("revenu_median", "2019"), …]``."""
    parsed = []
    for item in text.split(","):
        indicator, _, period = item.strip().partition(":")
        parsed.append((indicator, period or None))
    return parsed


def install_api(app: FastAPI, analyses: Analyses) -> None:
    """Add the ``/api/analysis/*`` endpoints (tag ``analyses``).

    Parameters
    ----------
    app : FastAPI
        The endpoints appear in its OpenAPI document.
    analyses : Analyses
        What the endpoints answer from.
    """
    api = APIRouter(prefix="/api/analysis", tags=["analyses"])

    @api.get("/inequality", summary="Inégalités entre territoires et courbe de Lorenz")
    def inequality(indicator: Annotated[str, INDICATOR],
                   level: Annotated[str, LEVEL] = "COM",
                   vintage: Annotated[int | None, VINTAGE] = None,
                   period: Annotated[str | None, PERIOD] = None,
                   parent: Annotated[str | None, PARENT] = None,
                   partition: Annotated[str | None, PARTITION] = None,
                   weights: Annotated[str | None, WEIGHTS] = None,
                   weight_period: Annotated[str | None, WEIGHT_PERIOD] = None,
                   metropole: Annotated[bool, METROPOLE] = False) -> dict[str, Any]:
        """Toutes les mesures d'inégalité et la courbe de Lorenz.

        Rapport interdécile, coefficient de variation, Gini, Theil T et L (décomposés
        entre et dans les groupes de la partition), Atkinson, max/min, et les points de
        la courbe de Lorenz.
        """
        return analyses.inequality(indicator, level, vintage, period, parent, partition,
                                   weights, metropole, weight_period)

    @api.get("/convergence", summary="Convergence sigma et bêta entre périodes")
    def convergence(indicator: Annotated[str, INDICATOR],
                    level: Annotated[str, LEVEL] = "DEP",
                    vintage: Annotated[int | None, VINTAGE] = None,
                    periods: Annotated[str | None, Query(
                        pattern=r"^[0-9][0-9-]{3,20}(,[0-9][0-9-]{3,20}){1,19}$",
                        description="Périodes séparées par des virgules (défaut : toutes)")
                    ] = None,
                    parent: Annotated[str | None, PARENT] = None,
                    partition: Annotated[str | None, PARTITION] = None,
                    weights: Annotated[str | None, WEIGHTS] = None,
                    measure: Annotated[str, Query(
                        pattern="^(" + "|".join(SIGMA_MEASURES) + ")$",
                        description="Mesure de dispersion de la convergence sigma")] = "cv",
                    metropole: Annotated[bool, METROPOLE] = False) -> dict[str, Any]:
        """Convergence des territoires entre périodes.

        Dispersion à chaque période (sigma), régression de la croissance sur le niveau
        initial (bêta), contraste entre la première et la dernière période (moyennes,
        extrêmes, rapport interdécile) et, avec une partition, l'évolution de chaque
        groupe.
        """
        return analyses.convergence(indicator, level, vintage,
                                    periods.split(",") if periods else None, parent,
                                    partition, weights, measure, metropole)

    @api.get("/lisa", summary="Autocorrélation spatiale : I de Moran et groupes LISA")
    def lisa(indicator: Annotated[str, INDICATOR],
             level: Annotated[str, LEVEL] = "COM",
             vintage: Annotated[int | None, VINTAGE] = None,
             period: Annotated[str | None, PERIOD] = None,
             parent: Annotated[str | None, PARENT] = None,
             contiguity: Annotated[str, Query(pattern="^(queen|rook)$")] = "queen",
             permutations: Annotated[int, Query(ge=99, le=9999)] = 999,
             alpha: Annotated[float, Query(gt=0, le=0.2)] = 0.05,
             seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
             metropole: Annotated[bool, METROPOLE] = False) -> dict[str, Any]:
        """I de Moran global et groupes LISA de chaque territoire.

        I de Moran global (p-valeurs analytique et par permutations) et, pour chaque
        territoire, son groupe LISA après correction des fausses découvertes : HH, LL,
        HL, LH, non significatif, sans voisin, valeur manquante, contour absent.
        Territoires × permutations sont limités à 36 millions.
        """
        return analyses.lisa(indicator, level, vintage, period, parent, contiguity,
                             permutations, alpha, seed, metropole)

    @api.get("/typology", summary="Typologie (ACP, Ward, k-means) : classes et profils")
    def typology_route(indicators: Annotated[str, Query(
                           max_length=1000, pattern=INDICATOR_LIST,
                           description="2 à 10 indicateurs séparés par des virgules, "
                           "chacun suivi de :période si besoin (revenu_median:2019)")],
                       k: Annotated[int, Query(ge=2, le=MAX_CLASSES)] = 5,
                       level: Annotated[str, LEVEL] = "COM",
                       vintage: Annotated[int | None, VINTAGE] = None,
                       parent: Annotated[str | None, PARENT] = None,
                       bootstrap: Annotated[int, Query(ge=0, le=MAX_BOOTSTRAP)] = 10,
                       seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0,
                       components: Annotated[int | None, Query(ge=1, le=MAX_INDICATORS)
                                             ] = None,
                       metropole: Annotated[bool, METROPOLE] = False) -> dict[str, Any]:
        """Typologie HCPC des territoires.

        Classes de chaque territoire, profils des classes (valeurs-test), parangons et
        stabilité par rééchantillonnage (indice de Rand ajusté, Jaccard par classe).
        """
        return analyses.typology(parse_indicator_list(indicators), k, level, vintage,
                                 parent, bootstrap, seed, components, metropole)

    @api.get("/typology/qpv",
             summary="Typologie des QPV sur les trois piliers des contrats de ville")
    def qpv_typology_route(k: Annotated[int, Query(ge=2, le=MAX_CLASSES)] = 4,
                           generation: Annotated[int | None, Query(ge=2015, le=2100)] = None,
                           bootstrap: Annotated[int, Query(ge=0, le=MAX_BOOTSTRAP)] = 10,
                           seed: Annotated[int, Query(ge=0, le=2**32 - 1)] = 0
                           ) -> dict[str, Any]:
        """Typologie des quartiers prioritaires à la manière de l'ONPV.

        Un indice par pilier (cohésion sociale, cadre de vie, emploi et développement
        économique) tiré des statistiques importées pour les QPV, puis les mêmes
        classes, profils, parangons et stabilité que ``/typology`` ; en plus, les
        piliers déclarés (``pillars``) et les profils sur chaque indicateur
        (``indicator_profiles``).
        """
        return analyses.qpv_typology(k, generation, bootstrap, seed)

    app.include_router(api)
