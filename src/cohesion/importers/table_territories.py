"""Territories of an indicator table: the level and vintage of its codes, checked.

Codes are checked against the référentiel (communes, EPCI, départements, régions…) or
against the territories of a level already in the warehouse (a zoning); a level the
warehouse does not know yet (zones d'emploi ``ZE``) is registered, its codes checked for
their format only, and ``name_column`` may name its territories.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from cohesion.importers.base import closest_vintage, score_vintages
from cohesion.importers.reading import Table
from cohesion.importers.table_mapping import TableMapping
from cohesion.importers.table_reading import find_column
from cohesion.store.warehouse import Warehouse
from cohesion.territory.levels import BUILTIN_LEVELS

#: Levels that may be registered on the fly, with their French label and code format.
KNOWN_LEVELS: dict[str, tuple[str, str]] = {
    "ZE": ("Zone d'emploi", r"\d{4}"),
    "BV": ("Bassin de vie", r"\d[\dAB]\d{3}"),
    "UU": ("Unité urbaine", r"[\dAB]{5}"),
    "AAV": ("Aire d'attraction des villes", r"[\dAB]{3}"),
}

#: Référentiel levels tried, in this order, when the mapping does not name the level.
AUTO_LEVELS = ("COM", "EPCI", "DEP", "REG")


@dataclass
class Territories:
    """The level, vintage and per-row level of a table's codes."""

    level: str
    vintage: int
    row_levels: np.ndarray
    keep: np.ndarray
    new_level: pd.DataFrame | None = None


def resolve_territories(table: Table, column: str, codes: pd.Series, mapping: TableMapping,
                        warehouse: Warehouse, notes: list[str]) -> Territories:
    """Find the level and vintage of the codes and check every code.

    Raises
    ------
    InputFileError
        At the first unknown code (in the vintage that knows the most codes), unless
        ``unknown_codes`` is ``drop``; when the level cannot be told from the codes.
    """
    values = codes.to_numpy(dtype=object)
    level = mapping.level
    if level is None:
        level = _guess_level(table, column, codes, warehouse)
        notes.append(f"échelon {level} reconnu d'après les codes")
    family = ["COM", "ARM"] if level == "COM" else [level]
    vintages = [int(v) for v in warehouse.query(
        "SELECT DISTINCT vintage FROM territories WHERE list_contains(?, level) ORDER BY 1",
        [family])["vintage"]]
    new_level = None
    known_level = not warehouse.query("SELECT 1 FROM levels WHERE level = ?", [level]).empty
    if not known_level:
        if level not in KNOWN_LEVELS and mapping.level_label is None:
            raise table.error(f"échelon inconnu {level!r}", row=-1, column=column,
                              expected="un échelon de l'entrepôt (COM, EPCI, DEP, REG, un "
                              f"zonage…), l'un de {', '.join(KNOWN_LEVELS)}, ou un nouvel "
                              "échelon avec son level_label", found=level)
        label = mapping.level_label or KNOWN_LEVELS[level][0]
        new_level = pd.DataFrame({"level": [level], "label": [label], "kind": ["zoning"],
                                  "description": [None]})
    pattern = BUILTIN_LEVELS[level].code_pattern if level in BUILTIN_LEVELS else (
        KNOWN_LEVELS[level][1] if level in KNOWN_LEVELS else r"\S+")
    keep = np.ones(len(values), dtype=bool)
    if not vintages or (mapping.vintage is not None and mapping.vintage not in vintages):
        if vintages and mapping.check_codes:
            raise table.error(
                f"l'entrepôt n'a pas de territoires d'échelon {level} en {mapping.vintage} "
                f"(il a {', '.join(map(str, vintages))}) : pour charger sans vérification des "
                "codes d'une autre géographie, indiquez check_codes: false", row=-1, column=column,
                expected=f"vintage {' ou '.join(map(str, vintages))}",
                found=str(mapping.vintage))
        if mapping.vintage is None:
            raise table.error(
                f"l'entrepôt n'a pas de territoires d'échelon {level} : indiquez la géographie "
                "des codes avec la clé vintage (par exemple 2020 pour les "
                "zones d'emploi 2020)", row=-1, column=column, expected="vintage: ANNÉE")
        bad = ~codes.str.fullmatch(pattern).to_numpy()
        if bad.any():
            row = int(np.argmax(bad))
            raise table.error(f"code d'échelon {level} mal formé", row=row, column=column,
                              expected=f"des codes de la forme {pattern}", found=values[row])
        notes.append(f"codes d'échelon {level} ({mapping.vintage}) vérifiés sur leur format "
                     "seulement : l'entrepôt n'a pas de territoires pour les contrôler")
        row_levels = np.full(len(values), level, dtype=object)
        return Territories(level, mapping.vintage, row_levels, keep, new_level)

    candidates = [mapping.vintage] if mapping.vintage is not None else vintages
    vintage = closest_vintage(score_vintages(warehouse, values, family, candidates))
    known = warehouse.query(
        "SELECT code, level FROM territories WHERE vintage = ? AND list_contains(?, level)",
        [vintage, family])
    known = known.sort_values("level", key=lambda s: s.map(family.index)).drop_duplicates(
        "code")
    row_levels = codes.astype(object).map(dict(zip(known["code"], known["level"],
                                                   strict=True))).to_numpy(object)
    unknown = pd.isna(row_levels)
    if unknown.any():
        if mapping.unknown_codes != "drop":
            row = int(np.argmax(unknown))
            raise table.error(
                f"code de territoire inconnu ({int(unknown.sum())} lignes avec des codes inconnus "
                f"parmi les {level} de {vintage}, la géographie la plus proche)", row=row,
                column=column,
                expected=f"un code d'échelon {level} en {vintage} (ou unknown_codes: drop)",
                found=values[row])
        examples = ", ".join(pd.unique(values[unknown])[:5])
        notes.append(f"{int(unknown.sum())} lignes dont le code est inconnu parmi les {level} de "
                     f"{vintage} ont été écartées (unknown_codes: drop) : {examples}")
        keep = ~unknown
    return Territories(level, vintage, row_levels, keep, new_level)


def _guess_level(table: Table, column: str, codes: pd.Series, warehouse: Warehouse) -> str:
    """The référentiel level whose code format fits every code and that knows most."""
    fits = [level for level in AUTO_LEVELS
            if codes.str.fullmatch(BUILTIN_LEVELS[level].code_pattern).all()]
    vintages = warehouse.vintages()
    best: tuple[int, str] | None = None
    for level in fits:
        family = ["COM", "ARM"] if level == "COM" else [level]
        unknown = int(score_vintages(warehouse, codes.to_numpy(object), family,
                                     vintages)["unknown"].min()) if vintages else len(codes)
        if best is None or unknown < best[0]:
            best = (unknown, level)
    if best is not None and best[0] == 0:
        return best[1]
    if codes.str.fullmatch(KNOWN_LEVELS["ZE"][1]).all():
        return "ZE"
    if best is not None:
        return best[1]
    raise table.error("impossible de déterminer l'échelon des codes de territoire", row=0,
                      column=column,
                      expected="des codes de commune, d'EPCI, de département ou de région, ou la "
                      "clé level", found=codes.iloc[0])


def territory_names(table: Table, mapping: TableMapping, codes: pd.Series,
                    territories: Territories, warehouse: Warehouse,
                    notes: list[str]) -> pd.DataFrame:
    """Territories of a level outside the référentiel, named by ``name_column``.

    Only the codes the warehouse does not know yet at this level and vintage are added,
    so that several tables of the same zones may name them.
    """
    from cohesion.territory.names import search_key

    level = territories.level
    if level in BUILTIN_LEVELS:
        raise table.error(f"name_column nomme les territoires d'un échelon hors du "
                          f"référentiel ; les territoires {level} viennent du référentiel",
                          row=-1, column=mapping.name_column,
                          expected="un échelon de zonage comme ZE, ou pas de name_column",
                          found=level)
    column = find_column(table, mapping.name_column, (), "les noms des territoires",
                          key="name_column")
    names = table.frame[column].astype(str).str.strip()
    frame = pd.DataFrame({"code": codes.to_numpy(object), "name": names.to_numpy(object),
                          "row": np.arange(len(codes))})[territories.keep]
    empty = frame["name"] == ""
    if empty.any():
        raise table.error("nom de territoire absent", row=int(frame["row"][empty].iloc[0]),
                          column=column, expected="un nom pour chaque territoire", found="")
    several = frame.groupby("code")["name"].nunique()
    if (several > 1).any():
        code = several[several > 1].index[0]
        row = int(frame.loc[frame["code"] == code, "row"].iloc[1])
        raise table.error(f"deux noms pour le territoire {code}", row=row, column=column,
                          expected="un seul nom par code de territoire",
                          found=frame.loc[frame["code"] == code, "name"].iloc[1])
    frame = frame.drop_duplicates("code")
    known = set(warehouse.query(
        "SELECT code FROM territories WHERE level = ? AND vintage = ?",
        [level, territories.vintage])["code"])
    frame = frame[~frame["code"].isin(known)]
    if len(frame):
        notes.append(f"{len(frame)} territoires d'échelon {level} ({territories.vintage}) "
                     "nommés d'après le fichier")
    return pd.DataFrame({"level": level, "code": frame["code"].to_numpy(object),
                         "vintage": territories.vintage, "name": frame["name"].to_numpy(object),
                         "search_name": [search_key(n) for n in frame["name"]]})

