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
from cohesion.errors import CohesionError, NotFoundError
from cohesion.indicators.api import Ratio
from cohesion.indicators.engine import IndicatorValues
from cohesion.indicators.periods import nearest_period, period_key
from cohesion.policies.contrats import contrat_passage
from cohesion.policies.funding import DISPOSITIFS, PROGRAMMES
from cohesion.policies.indicators import DENOMINATORS, funding_indicator_ids
from cohesion.policies.needs import NeedsFunding, needs_vs_funding

if TYPE_CHECKING:
    from cohesion.core.observatory import Observatory
    from cohesion.store import Warehouse

#: The denominator of the ratios a territory's money by dispositif shows: inhabitants.
PER_INHABITANT = DENOMINATORS[0]
#: Beneficiaries listed by default.
TOP_BENEFICIARIES = 20
#: The programme zonings a page each is given, when imported (``cohesion import zonage``).
PROGRAMME_ZONINGS = ("ACV", "PVD", "FS", "TI")
#: Ratios of sums compared inside and outside a zoning or the QPV of a contrat de ville.
COMPARED_INDICATORS = ("taux_chomage_15_64", "taux_activite_15_64", "part_personnes_pauvres",
                       "part_logements_vacants")


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
        if int(self._year(start)) > int(self._year(end)):
            raise CohesionError(f"période invalide : {start} est après {end}")
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

    def series(self, indicator: str, territory: str, start: int | str = 2020,
               end: int | str = 2025) -> pd.DataFrame:
        """A funding indicator of one territory, year by year from ``start`` to ``end``.

        Returns
        -------
        DataFrame
            ``annee, valeur`` (NaN for a year loaded without a value for the
            territory; years without any value loaded are left out); ``attrs`` holds
            the territory, the indicator's label and unit.
        """
        found = self.observatory.territory(territory)
        first, last = int(self._year(start)), int(self._year(end))
        if first > last:
            raise CohesionError(f"période invalide : {start} est après {end}")
        loaded = set(self.observatory.periods(indicator))
        rows = []
        for year in range(first, last + 1):
            if str(year) not in loaded:
                continue
            frame = self.observatory.values(indicator, found["level"], found["vintage"],
                                            str(year)).frame
            value = _at(frame, found["code"], "value")
            rows.append({"annee": str(year), "valeur": np.nan if value is None else value})
        definition = self.observatory.engine().indicator(indicator)
        table = pd.DataFrame(rows, columns=["annee", "valeur"])
        table.attrs = {"territory": found["id"], "name": found["name"], "indicator": indicator,
                       "label": definition.label, "unit": definition.unit}
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

    # -- a contrat de ville ---------------------------------------------------------

    def contrat_de_ville(self, territory: str, year: int | None = None,
                         limit: int = TOP_BENEFICIARIES) -> dict[str, Any]:
        """A contrat de ville: its money (:meth:`territory_summary`), QPV, EPCI and communes.

        Returns
        -------
        dict
            :meth:`territory_summary`'s keys, then ``qpv`` (:meth:`contrat_qpv`),
            ``epci`` (the EPCI sharing its communes, with the population shared),
            ``communes`` (code, name, legal population), ``population`` and
            ``comparison``: its QPV against the rest of its territory
            (:meth:`qpv_comparison`).
        """
        summary = self.territory_summary(territory, year, limit)
        found = summary["territory"]
        if found["level"] != "CV":
            raise CohesionError(f"{found['id']} n'est pas un contrat de ville (CV:…)")
        communes = self.contrat_communes(found["id"])
        overlap = self.observatory.reader().population_overlap(
            "CV", "EPCI", found["vintage"], [found["code"]])
        names = self.observatory.names("EPCI", found["vintage"])
        epci = [{"code": row.other_code, "nom": names.get(row.other_code),
                 "id": f"EPCI:{row.other_code}@{found['vintage']}",
                 "population_commune": float(row.population)}
                for row in overlap.itertuples()]
        return {**summary, "epci": epci, "communes": json_records(communes),
                "population": float(communes["population"].sum()),
                "qpv": json_records(self.contrat_qpv(found["id"])),
                "comparison": json_records(self.qpv_comparison(found["id"]))}

    def contrat_communes(self, territory: str) -> pd.DataFrame:
        """The communes of a territory: ``code, nom, population`` (legal population)."""
        members = pd.DataFrame(self.observatory.members(territory, "COM"),
                               columns=["level", "code", "name", "population"])
        return pd.DataFrame({"code": members["code"], "nom": members["name"],
                             "population": members["population"].astype("float64")})

    def contrat_qpv(self, territory: str) -> pd.DataFrame:
        """The QPV lying in the communes of a territory, of every generation loaded.

        Returns
        -------
        DataFrame
            ``id, code, nom, generation, communes`` (its communes in the territory),
            the newest generation first,
            ``population`` (the QPV's own, where loaded, else NaN) and
            ``periode_population``.
        """
        communes = set(self.contrat_communes(territory)["code"])
        reader = self.observatory.reader()
        rows = []
        for generation in sorted(self.observatory.qpv.generations(), reverse=True):
            links = reader.memberships("QPV", generation, ["COM"])
            links = links[links["parent_code"].isin(communes)]
            if links.empty:
                continue
            names = self.observatory.names("QPV", generation)
            population = self._qpv_population(generation)
            for code, own in links.groupby("code", sort=True):
                rows.append({"id": f"QPV:{code}@{generation}", "code": code,
                             "nom": names.get(code), "generation": generation,
                             "communes": ", ".join(sorted(own["parent_code"])),
                             "population": population["value"].get(code, np.nan),
                             "periode_population": population.attrs.get("period")})
        return pd.DataFrame(rows, columns=["id", "code", "nom", "generation", "communes",
                                           "population", "periode_population"])

    def _qpv_population(self, generation: int) -> pd.DataFrame:
        """The newest population of the QPV of a generation, by code (empty when none)."""
        found = self.observatory.reader().observations("population", "QPV")
        found = found[found["vintage"] == generation]
        if found.empty:
            return pd.DataFrame({"value": pd.Series(dtype="float64")})
        latest = max(found["period"], key=period_key)
        table = found[found["period"] == latest].set_index("code")[["value"]]
        table.attrs = {"period": latest}
        return table

    def qpv_comparison(self, territory: str, indicators: tuple[str, ...] = (
            "population", *COMPARED_INDICATORS)) -> pd.DataFrame:
        """Each compared indicator inside the territory's QPV and outside, where computable.

        A value inside the QPV is a ratio of sums over the QPV (their numerator and
        denominator as loaded for QPV); outside, the same ratio over the territory's
        communes minus the QPV. Both are read at the newest period for which the
        QPV's numerator and denominator are loaded (the row's ``periode``); when no
        period has them, the row says why.

        Returns
        -------
        DataFrame
            ``indicateur, libelle, unite, periode, territoire, qpv, hors_qpv, raison``
            (``raison`` empty when computed).
        """
        found = self.observatory.territory(territory)
        qpv = self.contrat_qpv(found["id"])
        reader = self.observatory.reader()
        rows = []
        for ident in indicators:
            definition = self.observatory.engine().indicator(ident)
            row: dict[str, Any] = {"indicateur": ident, "libelle": definition.label,
                                   "unite": definition.unit, "periode": None,
                                   "territoire": None, "qpv": None, "hors_qpv": None,
                                   "raison": ""}
            rows.append(row)
            if not self.observatory.periods(ident):
                row["raison"] = "indicateur non chargé pour les communes"
                continue
            newest = self.observatory.values(ident, found["level"], found["vintage"])
            row["periode"] = newest.period
            row["territoire"] = _at(newest.frame, found["code"], "value")
            if qpv.empty:
                row["raison"] = "aucun QPV chargé dans les communes de ce territoire"
                continue
            # the newest period whose numerator and denominator are loaded for every QPV
            # (QPV populations of the 2013 census meet the communes' of 2013, not 2018)
            reason = ""
            for period in sorted(self.observatory.periods(ident), key=period_key,
                                 reverse=True):
                result = self.observatory.values(ident, found["level"], found["vintage"],
                                                 period)
                sums, missing = _qpv_sums(reader, result.frame, qpv["code"])
                if not missing:
                    break
                reason = reason or missing
            else:
                row["raison"] = reason
                continue
            row["periode"] = result.period
            row["territoire"] = _at(result.frame, found["code"], "value")
            whole = result.frame.set_index("code").loc[found["code"]]
            inside = {c.split("@")[0]: np.array([v]) for c, v in sums.items()}
            outside = {c.split("@")[0]: np.array([whole[c] - v]) for c, v in sums.items()}
            row["qpv"] = _scalar(definition.compute(inside))
            row["hors_qpv"] = _scalar(definition.compute(outside))
        table = pd.DataFrame(rows)
        table.attrs = {"territory": found["id"], "qpv": len(qpv)}
        return table

    # -- programme zonings ----------------------------------------------------------

    def zonings(self) -> list[dict[str, Any]]:
        """The programme zonings imported (:data:`PROGRAMME_ZONINGS`): id, label, vintage."""
        found = {level["id"]: level for level in self.observatory.levels()}
        return [{"id": ident, "label": found[ident]["label"],
                 "description": found[ident]["description"],
                 "vintage": max(v["vintage"] for v in found[ident]["vintages"]),
                 "zones": max(found[ident]["vintages"],
                              key=lambda v: v["vintage"])["territories"]}
                for ident in PROGRAMME_ZONINGS if ident in found]

    def zoning_communes(self, level: str) -> pd.DataFrame:
        """The communes of a programme zoning: ``code, nom, zones, population``.

        ``zones`` names the zones of the commune (several France Services in one
        town), those of its arrondissements municipaux included; ``population`` is the
        référentiel's legal population of the commune.
        """
        vintage = self._zoning_vintage(level)
        reader = self.observatory.reader()
        links = reader.memberships("COM", vintage, [level])
        # a zone placed in an arrondissement municipal (a France Services of Marseille)
        # is linked to the arrondissement only: its commune is in the zoning too
        in_arrondissements = reader.memberships("ARM", vintage, [level])
        if not in_arrondissements.empty:
            communes_of = reader.memberships("ARM", vintage, ["COM"]).set_index("code")[
                "parent_code"]
            links = pd.concat([links, in_arrondissements.assign(
                code=in_arrondissements["code"].map(communes_of)).dropna(subset=["code"])])
        zones = self.observatory.names(level, vintage)
        communes = self.observatory.names("COM", vintage)
        population = reader.legal_populations("COM", vintage)
        grouped = links.groupby("code", sort=True)["parent_code"].agg(
            lambda codes: " ; ".join(sorted({zones.get(c, c) for c in codes})))
        table = pd.DataFrame({"code": grouped.index, "nom": grouped.index.map(communes),
                              "zones": grouped.to_numpy(),
                              "population": population.reindex(grouped.index).to_numpy()})
        table.attrs = {"level": level, "vintage": vintage}
        return table

    def zoning_summary(self, level: str) -> dict[str, Any]:
        """A programme zoning: its communes, population, share of France, indicators.

        The population is the sum of the legal populations of its communes (each
        counted once), its share that of France's (the ``FRA`` territory of the
        référentiel). Each indicator of :data:`COMPARED_INDICATORS` is a ratio of sums
        over the zoning's communes and over the rest of France (:meth:`zone_comparison`).
        """
        communes = self.zoning_communes(level)
        vintage = communes.attrs["vintage"]
        about = next(z for z in self.zonings() if z["id"] == level)
        france = float(self.observatory.reader().legal_populations("FRA", vintage).iloc[0])
        population = float(communes["population"].sum())
        return {**about, "vintage": vintage, "communes": len(communes),
                "population": population, "population_france": france,
                "part_population": population / france,
                "comparison": json_records(self.zone_comparison(level))}

    def contrats_passage(self) -> pd.DataFrame:
        """The passage from the contrats de ville 2015 (``CV2015``) to those of 2024 (``CV``).

        Each contrat 2015 passes to the contrats 2024 sharing its communes, weighted by
        the legal population of the shared communes (:func:`~cohesion.policies.contrats.
        contrat_passage`): ``from_code, from_name, to_code, to_name, population,
        weight``; a contrat 2015 without successor has no ``to_code``. Money counted by
        contrat 2015 (the posts of 2020-2023) is followed in the contrats 2024 with
        these weights.
        """
        levels = {level["id"]: level for level in self.observatory.levels()}
        missing = [level for level in ("CV2015", "CV") if level not in levels]
        if missing:
            raise NotFoundError("contrats de ville non importés : " + ", ".join(missing)
                                + " (cohesion import contrats-ville-2015 / zonage)")
        vintage = max({v["vintage"] for v in levels["CV2015"]["vintages"]}
                      & {v["vintage"] for v in levels["CV"]["vintages"]}, default=None)
        if vintage is None:
            raise NotFoundError("les contrats de ville 2015 et 2024 ne sont pas importés "
                                "dans une même géographie")
        names_2015 = self.observatory.names("CV2015", vintage)
        names_2024 = self.observatory.names("CV", vintage)
        passage = contrat_passage(
            self.observatory.reader().population_overlap("CV2015", "CV", vintage),
            list(names_2015))
        table = passage.assign(from_name=passage["from_code"].map(names_2015),
                               to_name=passage["to_code"].map(names_2024))[
            ["from_code", "from_name", "to_code", "to_name", "population", "weight"]]
        table.attrs = {"vintage": vintage}
        return table

    def zone_comparison(self, level: str,
                        indicators: tuple[str, ...] = COMPARED_INDICATORS) -> pd.DataFrame:
        """Each compared indicator over a zoning's communes and over the rest of France.

        A ratio of sums of the engine's commune inputs (the indicator's own formula
        applied to the sums), over the communes having both inputs: the others (Mayotte
        and the collectivités d'outre-mer outside the census…) are counted in
        ``communes_sans_donnees``.

        Returns
        -------
        DataFrame
            ``indicateur, libelle, unite, periode, zonage, reste_france,
            communes_sans_donnees_zonage, communes_sans_donnees_reste``.
        """
        communes = set(self.zoning_communes(level)["code"])
        vintage = self._zoning_vintage(level)
        rows = []
        for ident in indicators:
            if not self.observatory.periods(ident):
                continue
            result = self.observatory.values(ident, "COM", vintage)
            frame = result.frame
            inputs = [c for c in frame.columns if "@" in c]
            complete = frame[inputs].notna().all(axis=1)
            inside = frame["code"].isin(communes)
            definition = result.indicator
            values = {}
            for name, chosen in (("zonage", inside), ("reste_france", ~inside)):
                sums = frame.loc[chosen & complete, inputs].sum()
                values[name] = _scalar(definition.compute(
                    {c.split("@")[0]: np.array([sums[c]]) for c in inputs}))
            rows.append({"indicateur": ident, "libelle": definition.label,
                         "unite": definition.unit, "periode": result.period, **values,
                         "communes_sans_donnees_zonage": int((inside & ~complete).sum()),
                         "communes_sans_donnees_reste": int((~inside & ~complete).sum())})
        return pd.DataFrame(rows, columns=[
            "indicateur", "libelle", "unite", "periode", "zonage", "reste_france",
            "communes_sans_donnees_zonage", "communes_sans_donnees_reste"])

    def _zoning_vintage(self, level: str) -> int:
        found = next((z for z in self.zonings() if z["id"] == level), None)
        if found is None:
            known = ", ".join(PROGRAMME_ZONINGS)
            raise NotFoundError(f"zonage de programme {level!r} non importé (connus : {known} ;"
                                " cohesion import zonage <fichier>)")
        return int(found["vintage"])

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


def _qpv_sums(reader: Warehouse, frame: pd.DataFrame,
              qpv: pd.Series) -> tuple[dict[str, float], str]:
    """The sums over ``qpv`` of each ``variable@period`` column of an indicator's frame.

    Returns the sums, and why they cannot be made (empty when they can): a variable
    not loaded, at that period, for some of the QPV.
    """
    sums: dict[str, float] = {}
    for column in (c for c in frame.columns if "@" in c):
        variable, period = column.split("@")
        loaded = reader.observations(variable, "QPV")
        held = loaded[loaded["period"] == period].set_index("code")["value"]
        missing = sorted(set(qpv) - set(held.dropna().index))
        if missing:
            periods = sorted(set(loaded["period"]))
            return sums, (f"{variable} en {period} n'est pas chargé pour {len(missing)} "
                          f"des {len(qpv)} QPV du territoire"
                          + (f" (chargé pour les QPV : {', '.join(periods)})"
                             if periods else ""))
        sums[column] = float(held.reindex(qpv).sum())
    return sums, ""


def _scalar(values: np.ndarray) -> float | None:
    """The one value of a computed array (None when missing)."""
    value = float(values[0])
    return None if np.isnan(value) else value


def _at(frame: pd.DataFrame, code: str, column: str | None) -> float | None:
    """The value of ``column`` for ``code`` (None when absent or missing)."""
    if column is None or column not in frame.columns:
        return None
    found = frame.loc[frame["code"] == code, column]
    return None if found.empty or pd.isna(found.iloc[0]) else float(found.iloc[0])
