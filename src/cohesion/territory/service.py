"""Look up territories: by id, code, name (accent- and case-insensitive) or postcode."""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass, field

import pandas as pd

from cohesion.errors import UnknownTerritoryError
from cohesion.store.warehouse import Warehouse
from cohesion.territory.ids import TerritoryId
from cohesion.territory.names import search_key

#: Order in which levels are proposed when a code or name is ambiguous.
LEVEL_ORDER = ["COM", "ARM", "EPCI", "EPT", "DEP", "REG", "FRA", "ARR", "QPV", "COMD", "COMA"]
_POSTCODE = re.compile(r"^\d{5}$")


@dataclass
class Territory:
    """One territory of the référentiel, with its parents.

    Attributes
    ----------
    id : TerritoryId
    name : str
    population : int or None
        Legal population (population municipale) of the vintage.
    parents : dict
        Level → TerritoryId of the territories containing it (EPCI, DEP, REG, FRA…).
    area_km2 : float or None
    """

    id: TerritoryId
    name: str
    population: int | None = None
    area_km2: float | None = None
    kind: str | None = None
    parents: dict[str, TerritoryId] = field(default_factory=dict)
    parent_names: dict[str, str] = field(default_factory=dict)


class Referentiel:
    """Territory lookups over one warehouse."""

    def __init__(self, warehouse: Warehouse) -> None:
        self.warehouse = warehouse

    def latest_vintage(self) -> int:
        """The most recent vintage built in the warehouse."""
        vintages = self.warehouse.vintages()
        if not vintages:
            raise UnknownTerritoryError("le référentiel est vide : lancez `cohesion build`")
        return vintages[-1]

    def get(self, territory: TerritoryId | str) -> Territory:
        """The territory named by ``territory`` (a :class:`TerritoryId` or its text)."""
        tid = TerritoryId.parse(territory) if isinstance(territory, str) else territory
        if tid.level != "QPV":  # a QPV's vintage is its generation (2015, 2024), not a COG
            self.warehouse.require_vintage(tid.vintage)
        found = self.warehouse.query(
            """SELECT t.name, t.population, t.kind, g.area_km2 FROM territories t
               LEFT JOIN geometries g USING (level, code, vintage)
               WHERE t.level = ? AND t.code = ? AND t.vintage = ?""",
            [tid.level, tid.code, tid.vintage])
        if found.empty:
            raise UnknownTerritoryError(self._unknown_message(tid))
        row = found.iloc[0]
        parents = self.warehouse.query(
            """SELECT m.parent_level, m.parent_code, t.name FROM memberships m
               JOIN territories t ON t.level = m.parent_level AND t.code = m.parent_code
                    AND t.vintage = m.vintage
               WHERE m.vintage = ? AND m.level = ? AND m.code = ?""",
            [tid.vintage, tid.level, tid.code])
        return Territory(
            tid, row["name"],
            None if pd.isna(row["population"]) else int(row["population"]),
            None if pd.isna(row["area_km2"]) else float(row["area_km2"]),
            None if pd.isna(row["kind"]) else row["kind"],
            {r.parent_level: TerritoryId(r.parent_level, r.parent_code, tid.vintage)
             for r in parents.itertuples()},
            {r.parent_level: r.name for r in parents.itertuples()})

    def _unknown_message(self, tid: TerritoryId) -> str:
        elsewhere = self.warehouse.query(
            "SELECT vintage FROM territories WHERE level = ? AND code = ? ORDER BY vintage",
            [tid.level, tid.code])["vintage"].tolist()
        if elsewhere:
            return (f"{tid} : pas de {tid.level} {tid.code} dans la géographie {tid.vintage} (il "
                    f"existe en {', '.join(map(str, elsewhere))} ; convertissez ses valeurs avec "
                    "les tables de passage)")
        same_code = self.warehouse.query(
            "SELECT DISTINCT level FROM territories WHERE code = ? AND vintage = ?",
            [tid.code, tid.vintage])["level"].tolist()
        hint = f" (le code {tid.code} est un {', '.join(same_code)})" if same_code else ""
        return f"{tid} : territoire inconnu{hint}"

    def search(self, text: str, vintage: int | None = None,
               levels: list[str] | None = None, limit: int = 10) -> pd.DataFrame:
        """Find territories by code, postcode or name.

        Names match without accents, case or punctuation (``saint`` = ``st``); exact
        names come first, then names that start with the text, then names containing
        it, larger populations first within each group.

        Returns
        -------
        DataFrame
            ``id, level, code, vintage, name, population, match`` (``code``,
            ``postcode`` or ``name``), ``departement`` and ``departement_name`` (the
            département containing the territory, to tell namesakes apart; empty
            for départements and broader levels).
        """
        vintage = vintage or self.latest_vintage()
        text = text.strip()
        if not text:
            return pd.DataFrame(columns=["id", "level", "code", "vintage", "name",
                                         "population", "match", "departement",
                                         "departement_name"])
        levels = levels or LEVEL_ORDER
        key = search_key(text)
        found = self.warehouse.query(
            """WITH candidates AS (
                 SELECT t.*, 'code' AS match, 0 AS rank FROM territories t
                 WHERE upper(t.code) = upper($1)
                 UNION ALL
                 SELECT t.*, 'postcode' AS match, 1 AS rank FROM territories t
                 JOIN postcodes p USING (level, code, vintage) WHERE p.postcode = $1
                 UNION ALL
                 SELECT t.*, 'name' AS match,
                        CASE WHEN t.search_name = $2 THEN 2
                             WHEN starts_with(t.search_name, $2) THEN 3 ELSE 4 END AS rank
                 FROM territories t WHERE contains(t.search_name, $2) AND length($2) > 1)
               , best AS (
                 SELECT level, code, vintage, name, population,
                        arg_min(match, rank) AS match, min(rank) AS rank,
                        list_position($4, level) AS level_rank
                 FROM candidates WHERE vintage = $3 AND list_contains($4, level)
                 GROUP BY level, code, vintage, name, population
                 ORDER BY rank, level_rank, population DESC NULLS LAST, name
                 LIMIT $5)
               SELECT b.*, m.parent_code AS departement, d.name AS departement_name
               FROM best b
               LEFT JOIN memberships m ON m.vintage = b.vintage AND m.level = b.level
                    AND m.code = b.code AND m.parent_level = 'DEP'
               LEFT JOIN territories d ON d.vintage = b.vintage AND d.level = 'DEP'
                    AND d.code = m.parent_code
               ORDER BY b.rank, b.level_rank, b.population DESC NULLS LAST, b.name""",
            [text, key, vintage, levels, limit])
        found.insert(0, "id", [str(TerritoryId(r.level, r.code, r.vintage))
                               for r in found.itertuples()])
        return found.drop(columns=["rank", "level_rank"])

    def resolve(self, text: str, vintage: int | None = None,
                level: str | None = None) -> Territory:
        """One territory from an id, a code, a postcode or a name; raise if none or unclear.

        Examples of accepted text: ``COM:93014@2026``, ``93014``, ``93390``,
        ``clichy sous bois``.
        """
        if ":" in text:
            return self.get(text)
        found = self.search(text, vintage, [level] if level else None, limit=20)
        if found.empty:
            names = self.warehouse.query(
                "SELECT DISTINCT search_name FROM territories WHERE vintage = ?",
                [vintage or self.latest_vintage()])["search_name"]
            close = difflib.get_close_matches(search_key(text), names.tolist(), n=3)
            hint = f" (vouliez-vous dire {', '.join(close)} ?)" if close else ""
            raise UnknownTerritoryError(f"aucun territoire ne correspond à {text!r}{hint}")
        best = found.iloc[0]
        exact = found[found["match"].isin(["code", "postcode"]) |
                      (found["name"].map(search_key) == search_key(text))]
        if len(exact) > 1 and not (exact["match"] == "code").any() and \
                len(set(exact["level"])) == 1 and exact["match"].iloc[0] == "name":
            choices = "; ".join(f"{r.id} {r.name}" for r in exact.head(5).itertuples())
            raise UnknownTerritoryError(f"{text!r} est ambigu : {choices}")
        return self.get(best["id"])

    def members(self, territory: TerritoryId | str, level: str = "COM") -> pd.DataFrame:
        """Territories of ``level`` inside ``territory`` (communes of an EPCI…)."""
        tid = TerritoryId.parse(territory) if isinstance(territory, str) else territory
        self.get(tid)
        return self.warehouse.query(
            """SELECT t.level, t.code, t.name, t.population FROM memberships m
               JOIN territories t ON t.level = m.level AND t.code = m.code
                    AND t.vintage = m.vintage
               WHERE m.vintage = ? AND m.parent_level = ? AND m.parent_code = ?
                 AND m.level = ? ORDER BY t.population DESC NULLS LAST, t.code""",
            [tid.vintage, tid.level, tid.code, level])
