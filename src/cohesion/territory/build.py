"""Build the référentiel into the warehouse: every vintage, passages, geometries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from cohesion.store.warehouse import Warehouse
from cohesion.territory.levels import BUILTIN_LEVELS
from cohesion.territory.passage import adjacent_passage, invert
from cohesion.territory.referentiel import VintageTables, read_vintage
from cohesion.territory.vintages import DECOUPAGE_VERSIONS, VINTAGES

Progress = Callable[[str], None]

REFERENTIEL_TABLES = ("territories", "memberships", "postcodes", "former_codes")


def communes_with_parents(tables: VintageTables) -> pd.DataFrame:
    """Communes, communes déléguées and associées of a vintage, with their parent."""
    territories = tables.territories
    communes = territories[territories["level"].isin(["COM", "COMD", "COMA"])][
        ["level", "code", "vintage", "population"]].copy()
    links = tables.memberships
    parent = links[(links["parent_level"] == "COM") & links["level"].isin(["COMD", "COMA"])]
    key = communes["level"] + ":" + communes["code"]
    communes["parent"] = key.map(dict(zip(parent["level"] + ":" + parent["code"],
                                          parent["parent_code"], strict=True)))
    return communes


def build_referentiel(warehouse: Warehouse, node_modules: Path,
                      vintages: tuple[int, ...] = VINTAGES,
                      progress: Progress | None = None) -> dict[int, VintageTables]:
    """Read every vintage and (re)write the référentiel tables in one transaction.

    Passage tables are stored for each pair of adjacent vintages, in both directions;
    :func:`cohesion.territory.service.passage_table` composes them for distant vintages.
    """
    step = progress or (lambda _message: None)
    tables: dict[int, VintageTables] = {}
    for vintage in vintages:
        step(f"COG {vintage}")
        tables[vintage] = read_vintage(node_modules, vintage)
    passages = []
    ordered = sorted(tables)
    for old, new in zip(ordered, ordered[1:], strict=False):
        step(f"passage {old} → {new}")
        forward = adjacent_passage(communes_with_parents(tables[old]),
                                   communes_with_parents(tables[new]),
                                   tables[new].former_codes)
        old_population = tables[old].territories.query("level == 'COM'").set_index("code")[
            "population"]
        passages += [forward, invert(forward, old_population)]
    with warehouse.transaction() as connection:
        for vintage, vintage_tables in tables.items():
            for name in REFERENTIEL_TABLES:
                connection.execute(f"DELETE FROM {name} WHERE vintage = ?", [vintage])
                warehouse.insert_frame(name, getattr(vintage_tables, name))
            connection.execute(
                "INSERT OR REPLACE INTO vintages VALUES (?, ?, ?, ?)",
                [vintage, "@etalab/decoupage-administratif", DECOUPAGE_VERSIONS[vintage],
                 datetime.now(UTC).replace(tzinfo=None)])
        connection.execute("DELETE FROM passages WHERE from_vintage IN (SELECT unnest(?))",
                           [list(tables)])
        for passage in passages:
            warehouse.insert_frame("passages", passage)
        for level in BUILTIN_LEVELS.values():
            connection.execute("INSERT OR REPLACE INTO levels VALUES (?, ?, 'builtin', NULL, NULL)",
                               [level.id, level.label])
    return tables
