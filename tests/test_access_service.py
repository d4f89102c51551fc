"""Accessibility measures end to end, on the samples: times, stored indicators, portraits.

The warehouse is the ``access_warehouse_file`` fixture: three measures computed from
real files (Gironde BPE and 200 m cells crow-fly, the Paris extract on foot, the
Saint-Barthélemy road network).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
from pyproj import Geod

from cohesion.access.compute import AccessRequest, UnknownEquipmentError
from cohesion.access.network import read_network
from cohesion.access.profiles import DRIVE
from cohesion.access.routing import snap
from cohesion.core import Observatory
from cohesion.errors import CohesionError, InputFileError
from cohesion.store import Warehouse
from conftest import OSM_SAINT_BARTHELEMY, shared, table_fingerprint

GIRONDE = "d201_marche_vol_oiseau"
PARIS = "osm_amenity_pharmacy_marche"
SAINT_BARTHELEMY = "osm_place_town_voiture"


@pytest.fixture(scope="module")
def core(access_warehouse_file: Path):
    found = Observatory(access_warehouse_file)
    yield found
    found.close()


def test_the_three_measures_are_listed_with_their_method(core: Observatory) -> None:
    measures = {m["measure"]: m for m in core.access.measures()}
    assert set(measures) == {GIRONDE, PARIS, SAINT_BARTHELEMY}
    assert measures[GIRONDE]["method"] == "vol_oiseau"
    assert measures[GIRONDE]["detour"] == 1.3
    assert "Filosofi" in measures[GIRONDE]["population"]
    assert measures[SAINT_BARTHELEMY]["method"] == "reseau"
    assert measures[SAINT_BARTHELEMY]["network"] == "saint_barthelemy.osm.pbf"
    assert "répartie" in measures[PARIS]["population"]
    assert measures[GIRONDE]["equipment_count"] == 2019  # the D201 of the Gironde BPE


def test_crow_fly_times_equal_geodesic_distances_times_the_detour(core: Observatory) -> None:
    origins = core.access.origins(GIRONDE)
    doctors = core.reader().equipment_points(["D201"])
    sample = origins.sample(150, random_state=0)
    geod = Geod(ellps="WGS84")
    for row in sample.itertuples():
        _, _, metres = geod.inv(np.full(len(doctors), row.longitude),
                                np.full(len(doctors), row.latitude),
                                doctors["longitude"].to_numpy(), doctors["latitude"].to_numpy())
        expected = metres.min() * 1.3 / (5 / 3.6)
        if expected > 3600:
            assert np.isnan(row.seconds)
        else:
            # the fallback measures in Lambert-93: within 0.5 % of the ellipsoid
            assert row.seconds == pytest.approx(expected, rel=5e-3)


def test_network_times_equal_networkx_plus_the_walk_to_the_road(core: Observatory) -> None:
    network = read_network(shared(OSM_SAINT_BARTHELEMY), DRIVE)
    town = core.reader().equipment_points(["osm_place_town"])
    target, _ = snap(network, town["longitude"].to_numpy(), town["latitude"].to_numpy())
    graph = nx.DiGraph()
    tails = network.tails()
    for tail, head, seconds in zip(tails, network.indices, network.seconds, strict=True):
        graph.add_edge(int(head), int(tail), weight=float(seconds))  # reversed: to the town
    lengths = nx.multi_source_dijkstra_path_length(graph, {int(t) for t in target})
    origins = core.access.origins(SAINT_BARTHELEMY)
    nodes, gaps = snap(network, origins["longitude"].to_numpy(), origins["latitude"].to_numpy())
    expected = np.array([lengths.get(int(n), np.inf) for n in nodes]) + gaps / (5 / 3.6)
    expected = np.where(expected <= 3600, expected, np.nan)
    np.testing.assert_allclose(origins["seconds"].to_numpy(), expected, rtol=0, atol=1e-6)
    assert origins["population"].sum() == pytest.approx(10660)  # spread, all of it


def test_commune_and_departement_values_are_ratios_of_sums(core: Observatory) -> None:
    origins = core.access.origins(GIRONDE)
    share = core.values(f"acces_{GIRONDE}_15min", "COM").frame
    stored = share.dropna(subset=["value"])
    assert 500 < len(stored) <= 535  # the Gironde communes measured whole
    bordeaux = origins[origins["code_commune"] == "33063"]
    within = bordeaux.loc[bordeaux["minutes"] <= 15, "population"].sum()
    assert share.loc["33063", "value"] == pytest.approx(100 * within / bordeaux["population"].sum())
    measured = origins[origins["code_commune"].isin(stored["code"])]
    expected = 100 * measured.loc[measured["minutes"] <= 15, "population"].sum() \
        / measured["population"].sum()
    departement = core.values(f"acces_{GIRONDE}_15min", "DEP").frame
    assert departement.loc["33", "value"] == pytest.approx(expected)
    assert 0 < departement.loc["33", "coverage"] <= 1


def test_median_time_is_stored_by_commune_and_for_territories_measured_whole(
        core: Observatory) -> None:
    median = core.values(f"temps_acces_{GIRONDE}", "COM").frame
    origins = core.access.origins(GIRONDE)
    bordeaux = origins[origins["code_commune"] == "33063"].sort_values("minutes")
    cumulative = bordeaux["population"].cumsum()
    expected = bordeaux["minutes"].to_numpy()[np.searchsorted(cumulative,
                                                              cumulative.iloc[-1] / 2)]
    assert median.loc["33063", "value"] == pytest.approx(expected)
    departement = core.values(f"temps_acces_{GIRONDE}", "DEP").frame
    assert departement.loc["33", "value"] > 0  # Gironde is measured (almost) whole


def test_portraits_show_the_access_figures(core: Observatory) -> None:
    figures = {f["indicator"]: f for f in core.portrait("COM:97701@2026")["figures"]}
    share = figures[f"acces_{SAINT_BARTHELEMY}_15min"]
    assert share["section"] == "Accès aux services"
    assert share["value"] == pytest.approx(100.0)
    assert figures[f"temps_acces_{SAINT_BARTHELEMY}"]["value"] < 15
    bordeaux = {f["indicator"] for f in core.portrait("COM:33063@2026")["figures"]}
    assert f"acces_{GIRONDE}_15min" in bordeaux
    assert f"acces_{SAINT_BARTHELEMY}_15min" not in bordeaux  # no value: not shown


def test_a_network_extract_smaller_than_any_commune_stores_times_only(
        core: Observatory) -> None:
    entry = core.access.measure(PARIS)
    assert entry["origins"] > 10
    with pytest.raises(CohesionError, match="aucune donnée"):
        core.values(f"acces_{PARIS}_15min", "COM")  # no commune is measured whole
    zones = {z["zone"]: z for z in core.access.zones(PARIS, 5)}
    assert zones["ensemble"]["population"] == pytest.approx(
        core.access.origins(PARIS)["population"].sum(), abs=0.1)


def test_unknown_equipment_and_bad_requests_are_refused(core: Observatory) -> None:
    with pytest.raises(UnknownEquipmentError, match="D999"):
        core.access.compute(AccessRequest(("D999",), departements=("33",)))
    with pytest.raises(CohesionError, match="départements"):
        AccessRequest(("D201",))  # crow-fly needs an extent
    with pytest.raises(CohesionError, match="seuils"):
        AccessRequest(("D201",), departements=("33",), thresholds=(0,))
    with pytest.raises(CohesionError, match="inconnu"):
        core.access.measure("nothing_here")


def test_a_bad_network_file_changes_nothing(access_warehouse_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "access.duckdb"
    shutil.copy(access_warehouse_file, copy)
    truncated = tmp_path / "tronque.osm.pbf"
    truncated.write_bytes(shared(OSM_SAINT_BARTHELEMY).read_bytes()[:30_000])
    with Warehouse(copy, read_only=True) as warehouse:
        before = table_fingerprint(warehouse)
    found = Observatory(copy)
    try:
        with pytest.raises(InputFileError) as error:
            found.access.compute(AccessRequest(("osm_place_town",), "voiture",
                                               network=truncated, communes=("97701",)))
        assert "tronque.osm.pbf" in str(error.value)
    finally:
        found.close()
    with Warehouse(copy, read_only=True) as warehouse:
        assert table_fingerprint(warehouse) == before


def test_equipment_outside_the_network_is_refused(core: Observatory) -> None:
    with pytest.raises(InputFileError, match="emprise"):
        core.access.compute(AccessRequest(("D201",), "marche",
                                          network=shared(OSM_SAINT_BARTHELEMY),
                                          communes=("97701",)))


def test_computing_again_the_same_thing_is_a_no_op(core: Observatory) -> None:
    report = core.access.compute(AccessRequest(("osm_place_town",), "voiture",
                                               network=shared(OSM_SAINT_BARTHELEMY),
                                               communes=("97701",)))
    assert report["already_computed"]


def test_origin_table_exports_like_the_map(core: Observatory) -> None:
    table = core.access.table(SAINT_BARTHELEMY, "COM", 10)
    assert table["code"].tolist() == ["97701"]
    zones = pd.DataFrame(core.access.zones(SAINT_BARTHELEMY, 10)).set_index("zone")
    assert table["part_10min"].iloc[0] == pytest.approx(zones.loc["ensemble", "share"], abs=0.01)


def test_access_indicators_export_and_compare_like_any_other(core: Observatory) -> None:
    indicator = f"acces_{GIRONDE}_15min"
    assert indicator in {i["id"] for i in core.indicators()}
    table = core.selection_table([indicator, f"temps_acces_{GIRONDE}"], "EPCI")
    bordeaux_metropole = table[table["code"] == "243300316"]
    assert 0 < bordeaux_metropole[indicator].iloc[0] <= 100
    compared = core.compare(["COM:33063@2026", "COM:33281@2026"], [indicator])
    assert "Bordeaux" in str(compared) and "Mérignac" in str(compared)


def test_by_departement_and_on_dask_the_times_are_the_same(
        access_warehouse_file: Path, tmp_path: Path) -> None:
    copy = tmp_path / "access.duckdb"
    shutil.copy(access_warehouse_file, copy)
    found = Observatory(copy)
    try:
        before = found.access.origins(SAINT_BARTHELEMY)
        report = found.access.compute(AccessRequest(
            ("osm_place_town",), "voiture", network=shared(OSM_SAINT_BARTHELEMY),
            communes=("97701",), by_departement=True, dask="local"))
        assert not report["already_computed"]
        after = found.access.origins(SAINT_BARTHELEMY)
    finally:
        found.close()
    np.testing.assert_array_equal(after["seconds"].to_numpy(), before["seconds"].to_numpy())
