"""What a portrait of a territory shows: its key indicators and its references.

A commune, an EPCI, a département… is compared with its département, région and
France (:meth:`cohesion.core.Observatory.portrait`). A quartier prioritaire (QPV) is
compared the way the ONPV does (« 26,4 % de chômage dans les QPV contre 10,1 % en
dehors »): :func:`qpv_portrait` sets each statistic published for the QPV beside

- the same statistic for its commune(s), where INSEE publishes it for communes under
  the same definition (the mapping of the QPV table keeps the observatory's id then);
- its EPCI **outside its QPV**, only where the sums allow it: for a count, the EPCI's
  sum minus the sum over its QPV (:func:`outside_qpv`), at the same period, every QPV
  of the EPCI having a value and lying in it only; a rate, median or decile published
  without numerator nor denominator has no « hors QPV », and the portrait says why;
- its département, région and France where the statistic exists there.

A comparison read at another period than the QPV's says so (``period`` and ``note``):
sources are never mixed silently.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cohesion.indicators.api import Count, Published, producers
from cohesion.indicators.periods import period_key
from cohesion.indicators.variables import BY_ID
from cohesion.store.schema import REASON_LABELS

if TYPE_CHECKING:
    from cohesion.core.observatory import Observatory
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
#: The territories a portrait compares with: the territory's département, région and France.
COMPARISON_LEVELS = ("DEP", "REG", "FRA")

#: The territories a QPV's portrait links to, in display order, with their labels.
QPV_LINKS = (("COM", "Commune(s)"), ("EPCI", "EPCI"), ("CV", "Contrat(s) de ville"),
             ("DEP", "Département(s)"), ("REG", "Région"))
#: Sections of a QPV's portrait: the statistics of the QPV tables, by theme (ONPV's order).
QPV_SECTIONS: dict[str, tuple[str, ...]] = {
    "Démographie": ("population", "indice_jeunesse", "part_etrangers", "part_femmes",
                    "part_etrangeres_parmi_femmes", "population_communes_englobantes",
                    "population_qpv_communes_englobantes"),
    "Revenus et pauvreté": ("taux_pauvrete_60", "revenu_median", "premier_decile",
                            "neuvieme_decile", "revenu_declare_median", "revenu_declare_d1",
                            "revenu_declare_d9", "part_menages_imposes",
                            "part_menages_revenu_principal_chomage"),
    "Prestations sociales": ("taux_bas_revenus_caf", "personnes_couvertes_caf",
                             "allocataires_caf"),
    "Emploi et demandeurs d'emploi": (
        "taux_emploi_15_64", "taux_emploi_femmes_15_64", "taux_emploi_etrangers_15_64",
        "part_emploi_precaire", "part_emploi_precaire_femmes",
        "part_emploi_precaire_etrangers", "demandeurs_emploi_abcde",
        "demandeurs_emploi_abcde_femmes", "demandeurs_emploi_abcde_hommes",
        "demandeurs_emploi_abc_cap_bep", "demandeurs_emploi_abc_bac",
        "demandeurs_emploi_abc_superieur_bac"),
    "Éducation": ("ecoles_maternelles_100m", "ecoles_elementaires_100m",
                  "ecoles_elementaires_privees_100m", "colleges_300m", "colleges_prives_300m"),
    "Établissements": ("nombre_etablissements", "etablissements_services",
                       "etablissements_services_particuliers",
                       "etablissements_enseignement_sante_social",
                       "creations_auto_entrepreneurs"),
}
OTHER_SECTION = "Autres statistiques du QPV"
#: Counts a QPV table publishes for the QPV's commune(s) as a whole and for all their QPV
#: together: their difference is the commune(s) outside QPV, from one file and period.
COMMUNES_OUTSIDE_QPV = {"population": ("population_communes_englobantes",
                                       "population_qpv_communes_englobantes")}
QPV_CREDITS = ("Statistiques des QPV : INSEE (données par thématique des QPV), CNAF, "
               "Pôle emploi, DARES, Éducation nationale ; contours des QPV : ANCT ; "
               "communes : INSEE, IGN ; Licence Ouverte / Etalab 2.0")
#: Why a statistic published as a rate, median or decile has no value outside the QPV.
PUBLISHED_ONLY = ("non calculable : statistique publiée pour le QPV (taux, médiane, décile "
                  "ou indice) sans son numérateur ni son dénominateur ; la retrancher de "
                  "celle de l'EPCI serait faux")


def outside_qpv(total: float, qpv_values: Sequence[float]) -> float:
    """A count outside the QPV of a territory: its total minus the sum over its QPV.

    The numerator of the ONPV's « hors QPV » ratio (:func:`outside_qpv_ratio`).

    Examples
    --------
    >>> outside_qpv(795_000, [2938, 5047])
    787015.0
    """
    return float(total) - float(np.sum(qpv_values))


def outside_qpv_ratio(numerator: float, denominator: float,
                      qpv_numerators: Sequence[float], qpv_denominators: Sequence[float],
                      scale: float = 1.0) -> float | None:
    """A ratio outside the QPV: (Σ numerator − Σ QPV numerators) / (Σ denominator − Σ QPV ones).

    None when nothing is left in the denominator (every inhabitant lives in a QPV).

    Examples
    --------
    >>> round(outside_qpv_ratio(1_000, 10_000, [300], [1_500], scale=100), 2)
    8.24
    """
    rest = outside_qpv(denominator, qpv_denominators)
    if rest <= 0:
        return None
    return scale * outside_qpv(numerator, qpv_numerators) / rest


def qpv_portrait(observatory: Observatory, found: Territory) -> dict[str, Any]:
    """The portrait of a QPV: its statistics against its communes, EPCI outside QPV, France.

    Parameters
    ----------
    observatory : Observatory
    found : Territory
        The QPV (its vintage is its generation: 2015 or 2024).

    Returns
    -------
    dict
        ``territory`` (its parents: the first commune, EPCI, contrat de ville,
        département and région of its communes), ``links`` (every one of them, by
        level), ``figures`` (one per statistic published for the QPV: ``section``,
        ``value``, ``period``, ``communes``, ``communes_outside_qpv`` (where the
        table gives it), ``outside_qpv``, ``comparisons``), the
        ``vintage`` of the communes compared and the ``credits``.
    """
    vintage = observatory.latest_vintage()
    links = qpv_links(observatory, found.id.code, found.id.vintage, vintage)
    published = observatory.reader().level_observations("QPV", found.id.vintage)
    own = published[published["code"] == found.id.code]
    comparisons = {level: links[level][0] for level in COMPARISON_LEVELS
                   if len(links.get(level, [])) == 1}
    if "FRA" not in comparisons:
        comparisons["FRA"] = {"id": f"FRA:FR@{vintage}", "level": "FRA", "code": "FR",
                              "name": "France"}
    epci = links["EPCI"][0] if len(links.get("EPCI", [])) == 1 else None
    figures = []
    for row in _ordered(own).itertuples(index=False):
        figure = _qpv_figure(observatory, row, published, links, comparisons, epci,
                             found.id.vintage, vintage)
        figures.append(figure)
    record = {"id": str(found.id), "level": "QPV", "code": found.id.code,
              "vintage": found.id.vintage, "name": found.name, "population": None,
              "area_km2": found.area_km2, "kind": found.kind,
              "parents": [{"id": links[level][0]["id"], "level": level,
                           "name": links[level][0]["name"]}
                          for level, _ in QPV_LINKS if links.get(level)]}
    return {"territory": record, "generation": found.id.vintage, "vintage": vintage,
            "links": {level: links.get(level, []) for level, _ in QPV_LINKS},
            "figures": figures, "credits": QPV_CREDITS}


def qpv_links(observatory: Observatory, code: str, generation: int,
              vintage: int) -> dict[str, list[dict[str, Any]]]:
    """The communes of a QPV in ``vintage``, and their EPCI, contrat(s) de ville, département.

    The QPV's communes are those of its generation (arrondissements municipaux and
    communes since merged become their commune of ``vintage``).
    """
    reader = observatory.reader()
    listed = reader.memberships("QPV", generation, ["COM", "ARM"], codes=[code])
    communes = sorted(reader.communes_in_vintage(listed["parent_code"], vintage))
    links: dict[str, list[dict[str, Any]]] = {"COM": _named(observatory, "COM", communes,
                                                            vintage)}
    parents = reader.memberships("COM", vintage, [level for level, _ in QPV_LINKS],
                                 codes=communes)
    for level, _ in QPV_LINKS[1:]:
        codes = sorted(set(parents.loc[parents["parent_level"] == level, "parent_code"]))
        links[level] = _named(observatory, level, codes, vintage)
    return links


def qpv_of(observatory: Observatory, generation: int, level: str, code: str,
           vintage: int) -> tuple[list[str], list[str]]:
    """The QPV lying in a territory, and those lying partly in it (in another one too).

    Both through the communes of each QPV of ``generation`` and those of the territory
    in ``vintage``.
    """
    return observatory.cache.get(
        ("qpv-of", generation, level, code, vintage, observatory.version()),
        lambda: _qpv_of(observatory, generation, level, code, vintage))


def _qpv_of(observatory: Observatory, generation: int, level: str, code: str,
            vintage: int) -> tuple[list[str], list[str]]:
    reader = observatory.reader()
    listed = reader.memberships("QPV", generation, ["COM", "ARM"])
    parents = reader.memberships("COM", vintage, [level])
    target = parents.set_index("code")["parent_code"]
    in_vintage = {c: next(iter(reader.communes_in_vintage([c], vintage)), None)
                  for c in set(listed["parent_code"]) - set(target.index)}
    commune = listed["parent_code"].map(lambda c: c if c in target.index else in_vintage[c])
    found = pd.DataFrame({"qpv": listed["code"], "target": commune.map(target)})
    touching = set(found.loc[found["target"] == code, "qpv"])
    inside = {q for q in touching
              if (found.loc[found["qpv"] == q, "target"] == code).all()}
    return sorted(inside), sorted(touching - inside)


# -- one figure -----------------------------------------------------------------------


def _qpv_figure(observatory: Observatory, row: Any, published: pd.DataFrame,
                links: dict[str, list[dict[str, Any]]], comparisons: dict[str, dict[str, Any]],
                epci: dict[str, Any] | None, generation: int, vintage: int) -> dict[str, Any]:
    """One statistic of the QPV with its comparisons (see :func:`qpv_portrait`)."""
    indicator = _same_definition(observatory, row.variable)
    unit = row.unit if isinstance(row.unit, str) else ""
    value = None if pd.isna(row.value) else float(row.value)
    missing = None if value is not None else (row.missing or "no_data")
    figure: dict[str, Any] = {
        "indicator": row.variable, "label": row.label if isinstance(row.label, str)
        else row.variable, "unit": unit, "source": row.source, "producer":
        producers(row.source), "direction": "neutral", "loaded": True,
        "section": row.section, "period": row.period, "value": value, "missing": missing,
        "missing_label": None if missing is None else REASON_LABELS.get(missing, missing),
        "series": [{"period": row.period, "value": value, "missing": missing,
                    "missing_label": None if missing is None
                    else REASON_LABELS.get(missing, missing)}],
        "compared_as": None if indicator is None else indicator.id}
    figure["communes_outside_qpv"] = _communes_outside(row, published)
    if indicator is None:
        note = "statistique propre aux QPV : pas de définition commune avec les communes"
        figure["communes"] = [{"id": c["id"], "name": c["name"], "value": None,
                               "note": note} for c in links["COM"]]
        figure["comparisons"] = {level: {"id": parent["id"], "name": parent["name"],
                                         **_unknown(note)}
                                 for level, parent in comparisons.items()}
        figure["outside_qpv"] = _outside(None, note, epci)
        return figure
    figure["communes"] = [{"id": c["id"], "name": c["name"],
                           **_compared(observatory, indicator.id, "COM", c["code"], vintage,
                                       row.period)} for c in links["COM"]]
    figure["comparisons"] = {
        level: {"id": parent["id"], "name": parent["name"],
                **_same_period(_compared(observatory, indicator.id, level, parent["code"],
                                         vintage, row.period), row.period)}
        for level, parent in comparisons.items()}
    figure["outside_qpv"] = _outside_epci(observatory, indicator, row, published, epci,
                                          links, generation, vintage)
    return figure


def _communes_outside(row: Any, published: pd.DataFrame) -> dict[str, Any] | None:
    """The QPV's commune(s) outside all their QPV, where the QPV table gives both counts."""
    if row.variable not in COMMUNES_OUTSIDE_QPV:
        return None
    whole, in_qpv = COMMUNES_OUTSIDE_QPV[row.variable]
    mine = published[(published["code"] == row.code) & (published["period"] == row.period)]
    values = mine.set_index("variable")["value"]
    if pd.isna(values.get(whole, np.nan)) or pd.isna(values.get(in_qpv, np.nan)):
        return None
    return {"value": outside_qpv(values[whole], [values[in_qpv]]), "period": row.period,
            "note": f"commune(s) englobante(s) moins tous leurs QPV, {row.period} "
                    "(même table)"}


def _same_definition(observatory: Observatory, variable: str) -> type | None:
    """The indicator reading ``variable`` alone, as published or summed, if any.

    Only a variable of the observatory's own catalogue (:data:`~cohesion.indicators.
    variables.BY_ID`) has a definition shared with the communes: a QPV table keeps
    such an id only for the same definition; its other variables are its own.
    """
    if variable not in BY_ID:
        return None
    engine = observatory.engine()
    for indicator in engine.indicators.values():
        if issubclass(indicator, (Published, Count)) and indicator.variables() == [variable]:
            return indicator
    return None


def _compared(observatory: Observatory, indicator: str, level: str, code: str,
              vintage: int, period: str) -> dict[str, Any]:
    """The value of a territory at ``period``, else at its nearest period, which it says."""
    periods = sorted(observatory.periods(indicator),
                     key=lambda p: (p != period, abs(_year(p) - _year(period)),
                                    -_year(p)))
    for candidate in periods:
        frame = observatory.values(indicator, level, vintage, candidate).frame
        if code in frame.index and pd.notna(frame.at[code, "value"]):
            found = {"value": float(frame.at[code, "value"]), "period": candidate,
                     "missing": None, "missing_label": None, "note": None}
            if candidate != period:
                found["note"] = f"valeur de {candidate}, le QPV est en {period}"
            return found
    return _unknown(f"pas de valeur publiée à l'échelon {level}")


def _same_period(compared: dict[str, Any], period: str) -> dict[str, Any]:
    """A comparison whose ``value`` is only ever of the QPV's period.

    Readers of any portrait (the CLI's table, the CSV) take ``value`` as of the
    figure's period: a value of another period moves to ``other_value`` and is said in
    ``missing_label``.
    """
    if compared["value"] is None or compared["period"] == period:
        return compared
    said = f"{_french(compared['value'])} en {compared['period']} (QPV : {period})"
    return {**compared, "value": None, "other_value": compared["value"],
            "missing": "other_period", "missing_label": said}


def _unknown(note: str) -> dict[str, Any]:
    """A comparison without a value, and why (``missing_label`` as every portrait says)."""
    return {"value": None, "period": None, "missing": "no_data", "missing_label": note,
            "note": note}


def _outside_epci(observatory: Observatory, indicator: type, row: Any,
                  published: pd.DataFrame, epci: dict[str, Any] | None,
                  links: dict[str, list[dict[str, Any]]], generation: int,
                  vintage: int) -> dict[str, Any]:
    """The statistic in the QPV's EPCI outside its QPV, or why it cannot be computed."""
    if epci is None:
        return _outside(None, "non calculable : les communes du QPV sont dans "
                              f"{len(links.get('EPCI', []))} EPCI")
    if not issubclass(indicator, Count):
        return _outside(None, PUBLISHED_ONLY, epci)
    result = observatory.values(indicator.id, "EPCI", vintage, row.period)
    frame = result.frame
    total = frame.at[epci["code"], "value"] if epci["code"] in frame.index else np.nan
    if pd.isna(total):
        held = [p for p in observatory.periods(indicator.id) if p != row.period]
        return _outside(None, f"non calculable : « {indicator.label} » n'est pas connu en "
                              f"{row.period} pour les communes de l'EPCI (la même période "
                              "est requise" + (f" ; autres périodes : {', '.join(held)})"
                                               if held else ")"), epci)
    if frame.at[epci["code"], "coverage"] < 1:
        return _outside(None, "non calculable : des communes de l'EPCI n'ont pas de valeur "
                              f"en {row.period}", epci)
    inside, partly = qpv_of(observatory, generation, "EPCI", epci["code"], vintage)
    if partly:
        return _outside(None, f"non calculable : le QPV {partly[0]} est à cheval sur "
                              "l'EPCI et un autre", epci)
    values = published[(published["variable"] == row.variable)
                       & (published["period"] == row.period)].set_index("code")["value"]
    lacking = [q for q in inside if pd.isna(values.get(q, np.nan))]
    if lacking:
        return _outside(None, f"non calculable : pas de valeur pour le QPV {lacking[0]}",
                        epci)
    departements = {d["code"] for d in links.get("DEP", [])}
    covered = observatory.reader().qpv_coverage(generation)
    if "*" not in covered and not departements <= covered:
        return _outside(None, "non calculable : les QPV de l'EPCI ne sont pas tous "
                              "chargés", epci)
    return _outside(outside_qpv(total, values.reindex(inside).to_numpy()),
                    f"{indicator.label} de l'EPCI ({_plain(total)}) moins celle de ses "
                    f"{len(inside)} QPV", epci, len(inside))


def _outside(value: float | None, note: str, epci: dict[str, Any] | None = None,
             qpv_count: int | None = None) -> dict[str, Any]:
    return {"id": None if epci is None else epci["id"],
            "name": None if epci is None else epci["name"],
            "value": value, "qpv": qpv_count, "note": note}


# -- helpers --------------------------------------------------------------------------


def _named(observatory: Observatory, level: str, codes: list[str],
           vintage: int) -> list[dict[str, Any]]:
    names = observatory.names(level, vintage)
    return [{"id": f"{level}:{code}@{vintage}", "level": level, "code": code,
             "name": names.get(code, code)} for code in codes]


def _ordered(rows: pd.DataFrame) -> pd.DataFrame:
    """The QPV's statistics in the order of :data:`QPV_SECTIONS`, the others after."""
    position = {variable: (rank, index) for rank, variables in
                enumerate(QPV_SECTIONS.values()) for index, variable in enumerate(variables)}
    section = {variable: name for name, variables in QPV_SECTIONS.items()
               for variable in variables}
    order = rows["variable"].map(lambda v: position.get(v, (len(QPV_SECTIONS), 0)))
    ranked = rows.assign(section=rows["variable"].map(lambda v: section.get(v, OTHER_SECTION)),
                         _order=order)
    return ranked.sort_values(["_order", "variable", "period"]).drop(columns="_order")


def _year(period: str) -> int:
    return period_key(period)[0]


def _french(value: float) -> str:
    """A figure for a sentence: whole numbers grouped, others with one decimal."""
    if float(value).is_integer():
        return _plain(value)
    return f"{value:,.1f}".replace(",", "\u202f").replace(".", ",")


def _plain(value: float) -> str:
    return f"{value:,.0f}".replace(",", "\u202f") if math.isfinite(value) else "?"
