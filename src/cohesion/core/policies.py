"""Politique de la ville and the money of public policies, for every interface.

:class:`PoliciesService` hangs from the observatory (``observatory.policies``), like
:class:`~cohesion.core.access.AccessService`. It answers with DataFrames and JSON-ready
dicts: the funding indicators of a level and a year (computed by the indicator engine,
as declared in :mod:`cohesion.policies.indicators`), a territory's money by dispositif
and year, its main beneficiaries (the funding lines), where the money goes against
where the needs are (:mod:`cohesion.policies.needs`) and the totals per year and
département that check the imports.

Examples
--------
>>> from cohesion.core import Observatory
>>> from cohesion.core.policies import PoliciesService
>>> policies = PoliciesService(Observatory("var/cohesion.duckdb"))        # doctest: +SKIP
>>> policies.funding_indicators("DEP", 2024).loc[0, "montant_fonjep_par_habitant"]
... # doctest: +SKIP
0.1503
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from cohesion.core.exports import json_records
from cohesion.errors import CohesionError
from cohesion.indicators.api import Ratio
from cohesion.indicators.engine import IndicatorValues
from cohesion.indicators.periods import nearest_period, period_key
from cohesion.policies.funding import DISPOSITIFS, PROGRAMMES
from cohesion.policies.indicators import DENOMINATORS, funding_indicator_ids
from cohesion.policies.needs import NeedsFunding, needs_vs_funding

if TYPE_CHECKING:
    from cohesion.core.observatory import Observatory

#: The denominator of the ratios a territory's money by dispositif shows: inhabitants.
PER_INHABITANT = DENOMINATORS[0]
#: Beneficiaries listed by default.
TOP_BENEFICIARIES = 20


class PoliciesService:
    """The money of public policies in one observatory.

    Parameters
    ----------
    observatory : Observatory
    """

    def __init__(self, observatory: Observatory) -> None:
        self.observatory = observatory

    # -- indicators -----------------------------------------------------------------

    def year_or_latest(self, year: int | str | None) -> str:
        """``year``, else the latest year with funding.

        Raises
        ------
        CohesionError
            When no funding is loaded.
        """
        if year is not None:
            return str(year)
        years = self.years()
        if not years:
            raise CohesionError("aucun financement n'est chargé : importez les postes de la "
                                "politique de la ville (cohesion import postes-politique-ville)")
        return years[-1]

    def territory_summary(self, territory: str, year: int | None = None,
                          limit: int = 20) -> dict[str, Any]:
        """A territory's money by dispositif, its beneficiaries and its funding indicators.

        Parameters
        ----------
        territory : str
            A territory id (``DEP:13``, ``CV:CN…``, ``EPCI:…``), the latest vintage when it
            names none.
        year : int, optional
            Year of the beneficiaries and indicators (default: :meth:`year_or_latest`).
        limit : int
            Beneficiaries listed, the largest amounts first.
        """
        observatory = self.observatory
        found = observatory.territory(territory if "@" in territory
                                      else f"{territory}@{observatory.latest_vintage()}")
        chosen = self.year_or_latest(year)
        beneficiaries = self.beneficiaries(found["id"], chosen, limit)
        indicators = self.funding_indicators(found["level"], chosen, found["vintage"])
        row = json_records(indicators[indicators["code"] == found["code"]])
        described = indicators.attrs["indicators"]
        return {"territory": {k: found[k] for k in ("id", "level", "code", "name", "vintage")},
                "year": chosen,
                "dispositifs": json_records(self.funding_by_dispositif(found["id"])),
                "beneficiaries": {**beneficiaries.attrs, "rows": json_records(beneficiaries)},
                "indicators": [{"id": ident, **described[ident],
                                "value": row[0][ident] if row else None}
                               for ident in described]}

    def years(self) -> list[str]:
        """The years some funding indicator has values for, oldest first."""
        found = {p for ident in funding_indicator_ids() for p in self.observatory.periods(ident)}
        return sorted(found, key=period_key)

    def funding_indicators(self, level: str, year: int | str,
                           vintage: int | None = None) -> pd.DataFrame:
        """Every funding indicator of ``year`` for the territories of ``level``.

        Parameters
        ----------
        level : str
            ``CV``, ``EPCI``, ``DEP``, ``REG``, ``FRA`` (any level the engine knows).
        year : int or str
        vintage : int, optional
            Geography vintage (default: the latest).

        Returns
        -------
        DataFrame
            ``code, nom``, then one column per funding indicator having values in
            ``year`` (the totals, per inhabitant, per QPV inhabitant, per poor person).
            ``attrs`` holds ``level, vintage, year`` and, by indicator, its label,
            unit, the input columns read (``population@2018``: the population period
            used) and the notes.
        """
        vintage = vintage or self.observatory.latest_vintage()
        period = self._year(year)
        key = ("policies-indicators", level, vintage, period, self.observatory.version())
        return self.observatory.cache.get(
            key, lambda: self._indicator_table(level, vintage, period)).copy()

    def _indicator_table(self, level: str, vintage: int, period: str) -> pd.DataFrame:
        ids = [i for i in funding_indicator_ids() if period in self.observatory.periods(i)]
        results = self.observatory.engine().compute(ids, [level], vintage, period)
        names = pd.Series(self.observatory.names(level, vintage), dtype=object)
        table = pd.DataFrame({"code": results[0].frame["code"]}) if results else \
            pd.DataFrame({"code": names.index})
        table.insert(1, "nom", table["code"].map(names))
        described = {}
        for result in results:
            table[result.indicator.id] = result.frame.set_index("code")["value"].reindex(
                table["code"]).to_numpy()
            described[result.indicator.id] = _described(result)
        table.attrs = {"level": level, "vintage": vintage, "year": period,
                       "indicators": described}
        return table

    def evolution(self, indicator: str, level: str, start: int | str = 2020,
                  end: int | str = 2025, vintage: int | None = None) -> pd.DataFrame:
        """How a funding indicator changed between two years, territory by territory.

        Returns
        -------
        DataFrame
            ``code, nom, debut, fin, evolution`` (``fin - debut``) and
            ``evolution_pct`` (NaN where ``debut`` is 0 or missing); ``attrs`` holds
            the years and the notes of both.
        """
        first = self.observatory.values(indicator, level, vintage, self._year(start))
        last = self.observatory.values(indicator, level, vintage, self._year(end))
        before = first.frame["value"]
        after = last.frame["value"].reindex(before.index)
        with np.errstate(divide="ignore", invalid="ignore"):
            percent = np.where(before > 0, 100 * (after - before) / before, np.nan)
        table = pd.DataFrame({"code": first.frame["code"].to_numpy(),
                              "nom": first.frame["name"].to_numpy(),
                              "debut": before.to_numpy(), "fin": after.to_numpy(),
                              "evolution": (after - before).to_numpy(),
                              "evolution_pct": percent})
        table.attrs = {"indicator": indicator, "level": level, "start": first.period,
                       "end": last.period, "notes": list(dict.fromkeys(
                           first.notes + last.notes))}
        return table

    # -- one territory --------------------------------------------------------------

    def funding_by_dispositif(self, territory: str,
                              years: list[int | str] | None = None) -> pd.DataFrame:
        """A territory's money and posts by dispositif and year.

        Parameters
        ----------
        territory : str
            A territory id (``DEP:93@2026``, ``CV:CN09301M@2026``…).
        years : list, optional
            Default: every year with funding.

        Returns
        -------
        DataFrame
            ``dispositif, libelle, programme, annee, montant, postes,
            montant_par_habitant, postes_pour_1000_habitants, population,
            periode_population``, one row per dispositif and year with money (years
            without a value for the territory are left out).
        """
        found = self.observatory.territory(territory)
        level, vintage = found["level"], found["vintage"]
        wanted = [self._year(y) for y in years] if years is not None else self.years()
        rows = []
        for dispositif in DISPOSITIFS.values():
            amount = dispositif.amount_variable
            for period in wanted:
                if period not in self.observatory.periods(amount):
                    continue
                value = self._value(amount, level, vintage, period, found["code"])
                if value is None:
                    continue
                ratio = self.observatory.values(f"{amount}_par_{PER_INHABITANT.suffix}",
                                                level, vintage, period)
                population = next((c for c in ratio.frame.columns
                                   if c.startswith(f"{PER_INHABITANT.variable}@")), None)
                row = {"dispositif": dispositif.id, "libelle": dispositif.label,
                       "programme": dispositif.programme, "annee": period,
                       "montant": value, "postes": None,
                       "montant_par_habitant": _at(ratio.frame, found["code"], "value"),
                       "postes_pour_1000_habitants": None,
                       "population": _at(ratio.frame, found["code"], population),
                       "periode_population": population.split("@")[1] if population else None}
                if dispositif.posts_variable is not None:
                    row["postes"] = self._value(dispositif.posts_variable, level, vintage,
                                                period, found["code"])
                    row["postes_pour_1000_habitants"] = self._value(
                        f"{dispositif.posts_variable}_pour_1000_{PER_INHABITANT.plural}",
                        level, vintage, period, found["code"])
                rows.append(row)
        return pd.DataFrame(rows, columns=[
            "dispositif", "libelle", "programme", "annee", "montant", "postes",
            "montant_par_habitant", "postes_pour_1000_habitants", "population",
            "periode_population"])

    def beneficiaries(self, territory: str, year: int | str,
                      limit: int = TOP_BENEFICIARIES) -> pd.DataFrame:
        """The beneficiaries that got the most money in a territory in ``year``.

        A line counts for the territory when it is attached to it: its département or
        région; for a contrat de ville, its code or a commune of the contrat; for an
        EPCI, one of its contrats de ville, one of its communes, or the EPCI itself (its
        SIREN); for France, every line.

        Returns
        -------
        DataFrame
            ``beneficiaire, siret, siren, dispositifs, montant, postes, lignes, part``
            (its share of the territory's money), largest first; ``attrs`` holds the
            territory's total and its number of lines and beneficiaries.
        """
        found = self.observatory.territory(territory)
        lines = self.observatory.reader().funding_lines(
            [int(self._year(year))], **self._attachments(found))
        lines = lines.assign(
            beneficiaire=lines["beneficiary"].fillna("(non renseigné)"),
            who=lines["siret"].fillna(lines["siren"]).fillna(lines["beneficiary"]).fillna(""))
        grouped = lines.groupby("who", sort=False).agg(
            beneficiaire=("beneficiaire", "first"), siret=("siret", "first"),
            siren=("siren", "first"),
            dispositifs=("dispositif", lambda d: ", ".join(
                sorted({DISPOSITIFS[k].label for k in d}))),
            montant=("amount", "sum"), postes=("posts", lambda p: p.sum(min_count=1)),
            lignes=("line_key", "size"))
        total = float(lines["amount"].sum())
        grouped["part"] = grouped["montant"] / total if total > 0 else np.nan
        table = grouped.sort_values(["montant", "beneficiaire"], ascending=[False, True])
        table = table.head(limit).reset_index(drop=True)
        table.attrs = {"territory": found["id"], "year": self._year(year), "total": total,
                       "lines": len(lines), "beneficiaries": len(grouped)}
        return table

    def _attachments(self, found: dict[str, Any]) -> dict[str, list[str]]:
        """How the funding lines of a territory are found (see :meth:`beneficiaries`)."""
        level, code, vintage = found["level"], found["code"], found["vintage"]
        if level == "FRA":
            return {}
        if level == "DEP":
            return {"departements": [code]}
        if level == "REG":
            return {"regions": [code]}
        if level == "COM":
            return {"communes": [code]}
        engine = self.observatory.engine()
        attached = {"communes": engine.members((level, code), "COM", vintage)}
        if level == "CV":
            attached["contrats"] = [code]
        elif level == "EPCI":
            attached["contrats"] = engine.members((level, code), "CV", vintage)
            attached["sirens"] = [code]
        return attached

    # -- needs and funding ----------------------------------------------------------

    def needs_vs_funding(self, year: int | str, level: str, need: str, funding: str,
                         vintage: int | None = None, need_threshold: float | None = None,
                         funding_threshold: float | None = None) -> dict[str, Any]:
        """Where the money goes against where the needs are, as JSON-ready data.

        Parameters
        ----------
        year : int or str
            The year of the funding; the need is read at its nearest period loaded.
        level : str
        need : str
            An indicator that aggregates at ``level`` (``part_personnes_pauvres``,
            ``taux_chomage_15_64``…).
        funding : str
            A ratio (``montant_adultes_relais_par_habitant``…): its denominator weighs
            the territories.
        need_threshold, funding_threshold : float, optional
            Declared thresholds of the quadrants (default: the medians).

        Returns
        -------
        dict
            Context (indicators, periods, level), ``concentration_index``, ``curve``,
            ``thresholds``, ``quadrants`` (counts adding up to the territories) and
            ``territories`` (see :class:`~cohesion.policies.needs.NeedsFunding`).
        """
        return self._needs(year, level, need, funding, vintage, need_threshold,
                           funding_threshold).to_dict()

    def needs_vs_funding_table(self, year: int | str, level: str, need: str, funding: str,
                               vintage: int | None = None,
                               need_threshold: float | None = None,
                               funding_threshold: float | None = None) -> pd.DataFrame:
        """The territories of :meth:`needs_vs_funding` with their quadrant: the CSV."""
        result = self._needs(year, level, need, funding, vintage, need_threshold,
                             funding_threshold)
        table = result.territories.copy()
        table.attrs = dict(result.context)
        return table

    def _needs(self, year: int | str, level: str, need: str, funding: str,
               vintage: int | None, need_threshold: float | None,
               funding_threshold: float | None) -> NeedsFunding:
        key = ("policies-needs", self._year(year), level, need, funding, vintage,
               need_threshold, funding_threshold, self.observatory.version())
        return self.observatory.cache.get(key, lambda: self._compute_needs(
            self._year(year), level, need, funding, vintage, need_threshold,
            funding_threshold))

    def _compute_needs(self, period: str, level: str, need: str, funding: str,
                       vintage: int | None, need_threshold: float | None,
                       funding_threshold: float | None) -> NeedsFunding:
        definition = self.observatory.engine().indicator(funding)
        if not issubclass(definition, Ratio):
            raise CohesionError(f"{funding} n'est pas un rapport : choisissez un financement "
                                "par habitant (par exemple montant_adultes_relais_par_habitant)")
        money = self.observatory.values(funding, level, vintage, period)
        need_period = nearest_period(period, self.observatory.periods(need))
        if need_period is None:
            raise CohesionError(f"aucune donnée chargée pour le besoin {need}")
        needs = self.observatory.values(need, level, vintage, need_period)
        weight = next(c for c in money.frame.columns
                      if c.startswith(f"{definition.denominator}@"))
        frame = money.frame.set_index("code")
        context = {"year": period, "level": level, "vintage": money.vintage,
                   "need": {**self.observatory.indicator_summary(needs),
                            "period": needs.period},
                   "funding": {**self.observatory.indicator_summary(money),
                               "period": money.period},
                   "weight": {"variable": definition.denominator,
                              "period": weight.split("@")[1]},
                   "notes": list(dict.fromkeys(money.notes + needs.notes))}
        return needs_vs_funding(
            needs.frame.set_index("code")["value"].reindex(frame.index), frame["value"],
            frame[weight], names=frame["name"], need_threshold=need_threshold,
            funding_threshold=funding_threshold, context=context)

    # -- checks ---------------------------------------------------------------------

    def totals_by_year_and_departement(self) -> pd.DataFrame:
        """Amount, posts and lines of each dispositif, year and département.

        Returns
        -------
        DataFrame
            ``dispositif, libelle, programme, programme_libelle, annee, departement,
            montant, postes, lignes``, from the funding lines (a line without
            département has ``departement`` None): the figures to compare with the raw
            files.
        """
        totals = self.observatory.reader().funding_totals()
        return pd.DataFrame({
            "dispositif": totals["dispositif"],
            "libelle": totals["dispositif"].map(lambda k: DISPOSITIFS[k].label),
            "programme": totals["dispositif"].map(lambda k: DISPOSITIFS[k].programme),
            "programme_libelle": totals["dispositif"].map(
                lambda k: PROGRAMMES[DISPOSITIFS[k].programme].label),
            "annee": totals["year"], "departement": totals["departement"],
            "montant": totals["amount"], "postes": totals["posts"],
            "lignes": totals["lines"]})

    # -- helpers --------------------------------------------------------------------

    def _year(self, year: int | str) -> str:
        """A year as the period text of the funding indicators, checked."""
        text = str(year).strip()
        if not (text.isdigit() and len(text) == 4):
            raise CohesionError(f"année invalide {year!r} : attendu une année comme 2024")
        return text

    def _value(self, indicator: str, level: str, vintage: int, period: str,
               code: str) -> float | None:
        if period not in self.observatory.periods(indicator):
            return None
        frame = self.observatory.values(indicator, level, vintage, period).frame
        return _at(frame, code, "value")


def _described(result: IndicatorValues) -> dict[str, Any]:
    """Label, unit, period, input columns and notes of one indicator's result."""
    indicator = result.indicator
    return {"label": indicator.label, "unit": indicator.unit, "period": result.period,
            "inputs": [c for c in result.frame.columns if "@" in c],
            "notes": list(result.notes)}


def _at(frame: pd.DataFrame, code: str, column: str | None) -> float | None:
    """The value of ``column`` for ``code`` (None when absent or missing)."""
    if column is None or column not in frame.columns:
        return None
    found = frame.loc[frame["code"] == code, column]
    return None if found.empty or pd.isna(found.iloc[0]) else float(found.iloc[0])
