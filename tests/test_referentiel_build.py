"""How the référentiel is built: shared unions, passages to the latest vintage, stopping."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import shapely

from cohesion.errors import CohesionError
from cohesion.settings import Settings
from cohesion.store import Warehouse
from cohesion.territory.build import build_referentiel, passages_to_latest
from cohesion.territory.geometries import Dissolver, resolved
from cohesion.territory.passage import chain


def squares(count: int) -> pd.Series:
    """``count`` unit squares side by side, indexed by code ``c0``, ``c1``…"""
    return pd.Series([shapely.box(i, 0, i + 1, 1) for i in range(count)],
                     index=[f"c{i}" for i in range(count)], dtype=object)


def test_a_member_set_is_dissolved_once_and_groups_of_groups_wait_for_theirs() -> None:
    communes = squares(4)
    members = pd.DataFrame({"group": ["A", "A", "B", "B"], "code": ["c0", "c1", "c2", "c3"]})
    with ThreadPoolExecutor(2) as pool:
        dissolver = Dissolver(pool)
        first = dissolver.dissolve(members, communes)
        # another vintage: same member objects, listed in another order, another group name
        again = dissolver.dissolve(members.iloc[::-1].replace({"A": "X"}), communes)
        # a group of groups is started before its members are done
        whole = dissolver.dissolve(pd.DataFrame({"group": ["R", "R"], "code": ["A", "B"]}),
                                   first)
        changed = communes.copy()
        changed["c3"] = shapely.box(3, 0, 4, 2)  # a new contour: a new union
        other = dissolver.dissolve(members, changed)
        assert again["X"] is first["A"] and again["B"] is first["B"]
        assert other["A"] is first["A"] and other["B"] is not first["B"]
        geometries = resolved(first)
        assert shapely.equals(geometries["A"], shapely.box(0, 0, 2, 1))
        assert shapely.equals(resolved(whole)["R"], shapely.box(0, 0, 4, 1))
        assert shapely.area(resolved(other)["B"]) == pytest.approx(3.0)
    assert len(dissolver.cache) == 4  # A, B, R and the changed B


def test_a_group_without_any_contour_has_none() -> None:
    with ThreadPoolExecutor(1) as pool:
        found = resolved(Dissolver(pool).dissolve(
            pd.DataFrame({"group": ["A"], "code": ["unknown"]}), squares(1)))
    assert found["A"] is None


def test_passages_to_the_latest_vintage_are_the_chained_steps(warehouse: Warehouse) -> None:
    stored = warehouse.query("SELECT * FROM passages")
    steps = {(a, b): table.reset_index(drop=True)
             for (a, b), table in stored.groupby(["from_vintage", "to_vintage"])
             if abs(a - b) == 1}
    composed = passages_to_latest(steps, [2021, 2022, 2023, 2024, 2025, 2026])
    assert composed[2026] is None and list(composed) == [2026, 2025, 2024, 2023, 2022, 2021]
    for vintage in (2025, 2023, 2021):
        expected = chain(steps, vintage, 2026)
        found = composed[vintage]
        assert found[["from_code", "to_code", "kind"]].equals(
            expected[["from_code", "to_code", "kind"]])
        assert np.allclose(found["weight"], expected["weight"], rtol=1e-12)
        assert (found["from_vintage"] == vintage).all() and (found["to_vintage"] == 2026).all()


def test_contours_need_the_latest_vintage(tmp_path: Path) -> None:
    with Warehouse(tmp_path / "w.duckdb") as warehouse:
        with pytest.raises(CohesionError, match="--no-geometries"):
            build_referentiel(warehouse, Settings.from_environ().npm_folder(), (2024,))
        assert warehouse.query("SELECT count(*) AS n FROM territories")["n"].item() == 0


def test_an_interrupted_build_stops_its_threads_and_writes_nothing(tmp_path: Path) -> None:
    seen: list[str] = []

    def interrupt_while_dissolving(message: str) -> None:
        seen.append(message)
        if message.startswith("contours des échelons"):  # inside the transaction
            raise KeyboardInterrupt

    with Warehouse(tmp_path / "w.duckdb") as warehouse:
        with pytest.raises(KeyboardInterrupt):
            build_referentiel(warehouse, Settings.from_environ().npm_folder(),
                              progress=interrupt_while_dissolving)
        assert "écriture dans l'entrepôt" in seen  # the tables had been inserted…
        for table in ("territories", "memberships", "passages", "geometries", "vintages"):
            # …and were rolled back
            assert warehouse.query(f"SELECT count(*) AS n FROM {table}")["n"].item() == 0
    assert not [t for t in threading.enumerate() if t.name.startswith("cohesion-union")]
