"""Key figures of a territory compared with its département, région and France."""

from __future__ import annotations

import pandas as pd

from cohesion.indicators.engine import IndicatorEngine
from cohesion.store.schema import REASON_LABELS
from cohesion.store.warehouse import Warehouse
from cohesion.territory.service import Territory

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
COMPARISON_LEVELS = ("DEP", "REG", "FRA")


def key_figures(warehouse: Warehouse, territory: Territory,
                period: str | None = None) -> pd.DataFrame:
    """Headline indicators for a territory and for the territories containing it.

    Indicators without data in the warehouse are listed with « non chargé » rather
    than hidden, so the user sees what could be shown once the source is imported.

    Returns
    -------
    DataFrame
        ``indicateur, unité, période, <territory>, département, région, France``;
        a missing value shows its reason (« secret statistique », « non agrégeable »…).
    """
    engine = IndicatorEngine(warehouse)
    vintage = territory.id.vintage
    references = {level: territory.parents[level] for level in COMPARISON_LEVELS
                  if level in territory.parents and level != territory.id.level}
    levels = [territory.id.level, *references]
    codes = {territory.id.level: territory.id.code,
             **{level: tid.code for level, tid in references.items()}}
    loaded = [i for i in KEY_INDICATORS if engine.periods(engine.indicator(i))]
    if period is not None:
        loaded = [i for i in loaded if period in engine.periods(engine.indicator(i))]
    results = engine.compute(loaded, levels, vintage, period) if loaded else []
    rows = {indicator_id: {"indicateur": engine.indicator(indicator_id).label,
                           "unité": engine.indicator(indicator_id).unit,
                           "période": "non chargé"} for indicator_id in KEY_INDICATORS}
    for result in results:
        row = rows[result.indicator.id]
        match = result.frame[result.frame["code"] == codes[result.level]]
        missing = match["missing"].iloc[0] if not match.empty else "no_data"
        row[_column(result.level, territory)] = match["value"].iloc[0] if missing is None \
            else REASON_LABELS.get(missing, missing)
        row["période"] = result.period
    columns = ["indicateur", "unité", "période", territory.name,
               *[_column(level, territory) for level in references]]
    return pd.DataFrame(list(rows.values())).reindex(columns=columns)


def sources(warehouse: Warehouse) -> list[str]:
    """Distinct sources of the key indicators, to credit under a portrait."""
    engine = IndicatorEngine(warehouse)
    return sorted({engine.indicator(i).source for i in KEY_INDICATORS})


def _column(level: str, territory: Territory) -> str:
    if level == territory.id.level:
        return territory.name
    return {"DEP": "département", "REG": "région", "FRA": "France"}[level]
