"""QPV contours importer: real ANCT layers of both generations, in several CRS."""

from __future__ import annotations

import json
import warnings
import zipfile
from pathlib import Path

import numpy as np
import pyogrio
import pytest
import shapely
from pyproj import Geod

from cohesion.errors import InputFileError
from cohesion.importers.base import ImportOptions, run_import
from cohesion.importers.qpv import QpvContours, split_commune_names
from cohesion.store import Warehouse
from cohesion.territory.names import search_key
from conftest import shared, table_fingerprint

OCCITANIE = "qpv/hackaviz2021_occitanie/qp.geojson"
MARSEILLE = "qpv/icu_mediapart/marseille.gpkg"
PACA_2024 = "qpv/qpv2024_paca/qpv-paca.geojson"


def qpv(warehouse: Warehouse, vintage: int):
    """QPV of a generation with their contour (shapely, EPSG:4326) and area."""
    found = warehouse.query(
        """SELECT t.code, t.name, t.zone, g.area_km2, g.area_crs, s.geometry
           FROM territories t JOIN geometries g USING (level, code, vintage)
           JOIN shapes s USING (shape_id)
           WHERE t.level = 'QPV' AND t.vintage = ? ORDER BY t.code""", [vintage])
    # DuckDB hands BLOBs back as bytearray, which shapely does not read
    found["geometry"] = shapely.from_wkb([bytes(blob) for blob in found["geometry"]])
    return found


def communes_of(warehouse: Warehouse, code: str, vintage: int) -> set[tuple[str, str]]:
    found = warehouse.query(
        "SELECT parent_level, parent_code FROM memberships WHERE level = 'QPV' AND code = ? "
        "AND vintage = ?", [code, vintage])
    return set(found.itertuples(index=False, name=None))


def write_layer(path: Path, geometries: list, codes: list[str], crs: str | None,
                driver: str | None = None, **fields: list[str]) -> Path:
    columns = {"code_qp": codes, **fields}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "crs was not provided", on purpose
        pyogrio.raw.write(path, shapely.to_wkb(np.array(geometries)),
                          [np.array(v, dtype=object) for v in columns.values()],
                          list(columns), geometry_type="Unknown", crs=crs, driver=driver)
    return path


def test_occitanie_2015_geojson(warehouse: Warehouse) -> None:
    report = run_import(warehouse, QpvContours(), shared(OCCITANIE))
    assert report.vintage == 2015 and report.rows == 105
    found = qpv(warehouse, 2015)
    assert len(found) == 105
    assert found.set_index("code").loc["QP066007", "name"] == "Bas-Vernet Nouveau QPV"
    assert (found["area_crs"] == "EPSG:2154").all() and (found["zone"] == "metro").all()
    # areas measured in Lambert-93 agree with geodesic areas on the ellipsoid
    geod = Geod(ellps="GRS80")
    geometries = found["geometry"].to_numpy()
    geodesic = np.array([abs(geod.geometry_area_perimeter(g)[0]) for g in geometries]) / 1e6
    assert np.allclose(found["area_km2"], geodesic, rtol=3e-3)
    assert 0.05 < found["area_km2"].median() < 1.0  # a QPV is a neighbourhood
    assert 20 < found["area_km2"].sum() < 120
    assert communes_of(warehouse, "QP066007", 2015) == {("COM", "66136")}
    # one commune code per QPV, but « Tarbes Est » spans two communes: its nom_commune
    # « Séméac, Tarbes » adds Séméac (its pop_com in qp.csv, 45,775, is the two communes')
    assert communes_of(warehouse, "QP065003", 2015) == {("COM", "65440"), ("COM", "65417")}
    memberships = warehouse.query(
        "SELECT count(*) AS n FROM memberships WHERE level = 'QPV' AND vintage = 2015")
    assert memberships["n"].item() == 106
    assert any("réparées" in note for note in report.notes)
    assert any("ajoutées aux communes de leur QPV (1) : QP065003 → Séméac (65417)" in note
               for note in report.notes)
    assert not any("non rapporté" in note for note in report.notes)


def test_marseille_gpkg_lambert93(warehouse: Warehouse) -> None:
    path = shared(MARSEILLE)
    report = run_import(warehouse, QpvContours(), path)  # layer qpvs found by its columns
    assert report.vintage == 2015
    found = qpv(warehouse, 2015).set_index("code")
    assert len(found) == 37
    # the area is the Lambert-93 area of the original contour, untouched by reprojection
    _, _, wkb, fields = pyogrio.raw.read(path, layer="qpvs")
    source = dict(zip(fields[0], shapely.make_valid(shapely.from_wkb(wkb),
                                                    method="structure"), strict=True))
    assert found.loc["QP013041", "area_km2"] == pytest.approx(
        source["QP013041"].area / 1e6, rel=1e-9)
    # stored in longitude/latitude
    xmin, ymin, xmax, ymax = shapely.total_bounds(found["geometry"].to_numpy())
    assert 5.2 < xmin < xmax < 5.7 and 43.1 < ymin < ymax < 43.5
    # communes come from the COMMUNE_QP names: arrondissements and their commune
    assert communes_of(warehouse, "QP013041", 2015) == {
        ("ARM", "13211"), ("COM", "13055"), ("COM", "13070")}
    assert communes_of(warehouse, "QP013032", 2015) == {
        ("ARM", f"132{n:02d}") for n in (1, 2, 3, 6, 14, 15)} | {("COM", "13055")}
    assert communes_of(warehouse, "QP013007", 2015) == {("COM", "13106")}
    assert not any("non rapporté" in note for note in report.notes)


def test_paca_2024_and_both_generations_side_by_side(warehouse: Warehouse) -> None:
    first = run_import(warehouse, QpvContours(), shared(MARSEILLE))
    report = run_import(warehouse, QpvContours(), shared(PACA_2024))
    assert report.vintage == 2024 and report.rows == 135
    assert len(qpv(warehouse, 2024)) == 135
    assert len(qpv(warehouse, 2015)) == 37  # the 2015 generation is untouched
    names = warehouse.query(
        "SELECT code, vintage FROM territories WHERE level = 'QPV' AND name = 'Saint Henri'")
    assert set(names.itertuples(index=False, name=None)) == {("QP013003", 2015),
                                                            ("QN01303I", 2024)}
    assert communes_of(warehouse, "QN01303I", 2024) == {("COM", "13055")}
    links = warehouse.query("SELECT count(*) AS n FROM memberships WHERE level = 'QPV' "
                            "AND vintage = 2024")
    assert links["n"].item() == 140  # 131 QPV in one commune, 3 in two, 1 in three
    assert first.dataset_id != report.dataset_id
    # each file covers the départements of its QPV codes, for its own generation
    assert warehouse.qpv_coverage(2015) == {"13"}
    assert warehouse.qpv_coverage(2024) == {"04", "05", "06", "13", "83", "84"}
    assert any(note.startswith("couverture : départements 04, 05, 06, 13, 83, 84")
               for note in report.notes)


def test_reimport_is_a_no_op(warehouse: Warehouse) -> None:
    run_import(warehouse, QpvContours(), shared(PACA_2024))
    before = table_fingerprint(warehouse)
    again = run_import(warehouse, QpvContours(), shared(PACA_2024))
    assert again.already_imported
    assert table_fingerprint(warehouse) == before


def test_file_without_crs_is_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError, match="système de coordonnées"):
        run_import(warehouse, QpvContours(), shared("filosofi_carreaux/bondy_2019/carreaux.gpkg"),
                   options=ImportOptions(extra={"layer": "bondy"}))
    square = shapely.box(652000, 6862000, 653000, 6863000)  # Lambert-93, near Paris
    shapefile = write_layer(tmp_path / "qpv.shp", [square], ["QP075001"], None)
    with pytest.raises(InputFileError, match="pas de système de coordonnées"):
        run_import(warehouse, QpvContours(), shapefile)
    geojson = write_layer(tmp_path / "qpv.geojson", [square], ["QP075001"], None,
                          driver="GeoJSON")
    with pytest.raises(InputFileError, match="ne sont pas des longitudes et latitudes"):
        run_import(warehouse, QpvContours(), geojson)
    assert table_fingerprint(warehouse) == before


def test_zipped_shapefile_in_a_drom_crs(warehouse: Warehouse, tmp_path: Path) -> None:
    # a 1 km² square in RGR92 / UTM 40S (La Réunion), and a self-intersecting "bow tie"
    square = shapely.box(338000, 7686000, 339000, 7687000)
    bowtie = shapely.Polygon([(340000, 7686000), (341000, 7687000), (341000, 7686000),
                              (340000, 7687000)])
    write_layer(tmp_path / "qpv974.shp", [square, bowtie], ["QN97401M", "QN97402M"],
                "EPSG:2975", insee_com=["97411", "97411"], lib_qp=["Un", "Deux"])
    archive = tmp_path / "qpv974.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        for part in tmp_path.glob("qpv974.*"):
            if part != archive:
                zipped.write(part, part.name)
    report = run_import(warehouse, QpvContours(), archive)
    found = qpv(warehouse, 2024).set_index("code")
    assert found.loc["QN97401M", "area_crs"] == "EPSG:2975"
    assert found.loc["QN97401M", "area_km2"] == pytest.approx(1.0, rel=1e-9)
    assert found.loc["QN97402M", "area_km2"] == pytest.approx(0.5, rel=1e-9)
    assert found.loc["QN97401M", "zone"] == "drom"
    assert any("1 géométries non valides réparées" in note for note in report.notes)
    lon, lat = found.loc["QN97401M", "geometry"].centroid.coords[0]
    assert 55.2 < lon < 55.9 and -21.4 < lat < -20.8
    assert warehouse.qpv_coverage(2024) == {"974"}


def test_mixed_generations_refused_with_the_line(warehouse: Warehouse, tmp_path: Path) -> None:
    squares = [shapely.box(2.3 + i / 100, 48.8, 2.305 + i / 100, 48.805) for i in range(3)]
    path = write_layer(tmp_path / "mixed.geojson", squares,
                       ["QP075001", "QP075002", "QN07501M"], "EPSG:4326", driver="GeoJSON")
    lines = path.read_text().splitlines()
    expected_line = next(i for i, line in enumerate(lines, 1) if "QN07501M" in line)
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError, match="mélange des QPV de la génération 2015") as error:
        run_import(warehouse, QpvContours(), path)
    assert error.value.line == expected_line and error.value.column == "code_qp"
    assert table_fingerprint(warehouse) == before


@pytest.mark.parametrize(("codes", "options", "message", "column"), [
    (["QP075001", "XX12345"], {}, "code de QPV mal formé", "code_qp"),
    (["QP075001", "QP075002"], {"code_column": "CODE"}, "aucune colonne 'CODE'", "CODE"),
    (["QN07501M", "QN07502M"], {"commune_column": "insee_com"}, "code de commune inconnu",
     "insee_com"),
    (["QN07501M", "QN07502M"], {"layer": "other"}, "pas de couche nommée 'other'", "layer"),
])
def test_bad_inputs_are_refused(warehouse: Warehouse, tmp_path: Path, codes: list[str],
                                options: dict, message: str, column: str) -> None:
    squares = [shapely.box(2.3 + i / 100, 48.8, 2.305 + i / 100, 48.805) for i in range(2)]
    path = write_layer(tmp_path / "bad.geojson", squares, codes, "EPSG:4326",
                       driver="GeoJSON", insee_com=["75056", "75999"])
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError, match=message) as error:
        run_import(warehouse, QpvContours(), path, options=ImportOptions(extra=options))
    assert error.value.column == column
    assert table_fingerprint(warehouse) == before


def test_empty_and_non_vector_files_are_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    empty = tmp_path / "empty.geojson"
    empty.write_text("")
    with pytest.raises(InputFileError, match="vide"):
        run_import(warehouse, QpvContours(), empty)
    no_feature = tmp_path / "none.geojson"
    no_feature.write_text(json.dumps({"type": "FeatureCollection", "features": []}))
    with pytest.raises(InputFileError, match="aucun objet"):
        run_import(warehouse, QpvContours(), no_feature)
    text = tmp_path / "notes.geojson"
    text.write_text("this is not GeoJSON")
    with pytest.raises(InputFileError,
                       match="impossible de lire le fichier comme une couche vectorielle"):
        run_import(warehouse, QpvContours(), text)


def test_split_features_are_merged(warehouse: Warehouse, tmp_path: Path) -> None:
    halves = [shapely.box(2.30, 48.80, 2.31, 48.81), shapely.box(2.31, 48.80, 2.32, 48.81)]
    path = write_layer(tmp_path / "split.geojson", halves, ["QP075001", "QP075001"],
                       "EPSG:4326", driver="GeoJSON", insee_com=["75111", "75111"])
    report = run_import(warehouse, QpvContours(), path)
    found = qpv(warehouse, 2015)
    assert list(found["code"]) == ["QP075001"]
    whole = found["geometry"].iloc[0]
    assert whole.equals(shapely.box(2.30, 48.80, 2.32, 48.81))
    assert any("fusionnés" in note for note in report.notes)
    assert communes_of(warehouse, "QP075001", 2015) == {("ARM", "75111"), ("COM", "75056")}


def test_declared_coverage_as_a_list(warehouse: Warehouse, tmp_path: Path) -> None:
    # as `--option couverture=[1, 2a, 974]` reads it: numbers lose their leading zero
    path = write_layer(tmp_path / "paris.geojson", [shapely.box(2.30, 48.80, 2.31, 48.81)],
                       ["QP075001"], "EPSG:4326", driver="GeoJSON", insee_com=["75111"])
    report = run_import(warehouse, QpvContours(), path,
                        options=ImportOptions(extra={"couverture": [1, "2a", "974"]}))
    assert warehouse.qpv_coverage(2015) == {"01", "2A", "974"}
    assert any("1 QPV hors de la couverture déclarée (départements 75)" in note
               for note in report.notes)


def test_split_commune_names() -> None:
    assert split_commune_names("Marseille 3ème, 1er, 2ème et 15ème arrondissements") == [
        "marseille 3e arrondissement", "marseille 1er arrondissement",
        "marseille 2e arrondissement", "marseille 15e arrondissement"]
    assert split_commune_names("Saint-Denis, Pierrefitte-sur-Seine") == [
        "saint denis", "pierrefitte sur seine"]
    # every list separator; apostrophes, hyphens, ligatures and typographic signs
    assert split_commune_names("Marcq-en-Barœul;Mons-en-Baroeul | Lille\nVilleneuve-d’Ascq"
                               " / L'Isle-Jourdain et Saint-Orens-de-Gameville") == [
        "marcq en baroeul", "mons en baroeul", "lille", "villeneuve d ascq",
        "l isle jourdain", "saint orens de gameville"]
    assert search_key("Villeneuve-d’Ascq") == search_key("VILLENEUVE D'ASCQ")
    assert search_key("Marcq-en-Barœul") == search_key("Marcq-en-Baroeul")
    # « et » and « - » also occur inside names of communes nouvelles
    known = {search_key(name) for name in ("Thue et Mue", "Caen", "Sarroux - Saint Julien")}
    assert split_commune_names("Thue et Mue et Caen", known) == ["thue et mue", "caen"]
    assert split_commune_names("Caen - Sarroux - Saint Julien", known) == [
        "caen", "sarroux saint julien"]
    assert split_commune_names("Caen et Thue", known) == ["caen", "thue"]


def test_qpv_spanning_several_communes(warehouse: Warehouse, tmp_path: Path) -> None:
    """A commune-name column listing several communes: each one named gets a membership."""
    # a real contour of Montpellier (Lemasson, south of the city, towards Lattes) and small
    # squares elsewhere; the names are those of the issue and of real homonyms
    _, _, wkb, fields = pyogrio.raw.read(shared(OCCITANIE))
    lemasson = shapely.from_wkb(wkb[list(fields[0]).index("QP034011")])
    cases = {
        "QP034011": ("Montpellier; Lattes", lemasson, {"34172", "34129"}),
        "QP059901": ("Marcq-en-Baroeul; Mons-en-Baroeul", (3.10, 50.66), {"59378", "59410"}),
        "QP059902": ("Lille, Villeneuve-d’Ascq", (3.13, 50.63), {"59350", "59009"}),
        "QP059903": ("Roubaix / Tourcoing et Wattrelos", (3.17, 50.69),
                     {"59512", "59599", "59650"}),
        # homonyms: the QPV's département tells which Saint-Denis, which L'Isle-Jourdain
        "QP093901": ("Saint-Denis, Pierrefitte-sur-Seine", (2.36, 48.94), {"93066", "93059"}),
        "QP974901": ("Saint-Denis", (55.45, -20.89), {"97411"}),
        "QP032901": ("L'Isle-Jourdain", (1.08, 43.61), {"32160"}),
        # « Bœuf » written « Boeuf »; its homonym of the Mayenne (53027) is not taken
        "QP072901": ("Le Mans, Beaumont-Pied-de-Boeuf", (0.20, 48.00), {"72181", "72028"}),
        # a commune nouvelle whose name holds « et », next to another commune
        "QP014901": ("Thue et Mue et Caen", (-0.45, 49.20), {"14098", "14118"}),
        # a part that is no commune of the département is reported, the others kept
        "QP031901": ("Toulouse; Atlantis-sur-Garonne", (1.44, 43.60), {"31555"}),
        # and a QPV whose commune is not given is reported too
        "QP031902": ("", (1.45, 43.61), set()),
    }
    geometries = [shape if not isinstance(shape, tuple) else shapely.box(
        shape[0], shape[1], shape[0] + 0.005, shape[1] + 0.005)
        for _, shape, _ in cases.values()]
    path = write_layer(tmp_path / "qp.geojson", geometries, list(cases), "EPSG:4326",
                       driver="GeoJSON", commune_qp=[text for text, _, _ in cases.values()])
    report = run_import(warehouse, QpvContours(), path)
    for code, (_, _, communes) in cases.items():
        assert communes_of(warehouse, code, 2015) == {("COM", c) for c in communes}, code
    unmatched = [note for note in report.notes if "non rapporté" in note]
    assert len(unmatched) == 1 and unmatched[0].startswith("1 nom de commune non rapporté")
    assert unmatched[0].endswith("QP031901 « Atlantis-sur-Garonne »")
    assert any("7 QPV sur plusieurs communes" in note for note in report.notes)
    assert "1 QPV sans commune dans le fichier (aucune appartenance QPV → commune " \
        "enregistrée) : QP031902" in report.notes



def test_2024_qpv_named_on_several_communes(warehouse: Warehouse, tmp_path: Path) -> None:
    # a 2024 layer naming the communes in words (`lib_com`), matched in the 2024 COG
    path = write_layer(tmp_path / "qn.geojson", [shapely.box(3.13, 50.63, 3.135, 50.635)],
                       ["QN05999Z"], "EPSG:4326", driver="GeoJSON",
                       lib_com=["Lille, Villeneuve-d'Ascq"])
    report = run_import(warehouse, QpvContours(), path)
    assert communes_of(warehouse, "QN05999Z", 2024) == {("COM", "59350"), ("COM", "59009")}
    assert any("colonne lib_com (COG 2024) ; 1 QPV sur plusieurs communes" in note
               for note in report.notes)


def test_a_qpv_held_without_contour_gets_it(warehouse: Warehouse) -> None:
    # a QPV added by a table of its IRIS (qpv-iris) has a territory and communes only
    with warehouse.transaction() as connection:
        connection.execute(
            "INSERT INTO territories (level, code, vintage, name, search_name) "
            "VALUES ('QPV', 'QP066007', 2015, 'Bas-Vernet', 'bas vernet')")
        connection.execute(
            "INSERT INTO memberships (vintage, level, code, parent_level, parent_code) "
            "VALUES (2015, 'QPV', 'QP066007', 'COM', '66136')")
    report = run_import(warehouse, QpvContours(), shared(OCCITANIE))
    assert "1 QPV de 2015 déjà dans l'entrepôt sans contour : contour ajouté" in report.notes
    found = qpv(warehouse, 2015)
    assert len(found) == 105  # every contour, the held QPV's too
    held = warehouse.query("SELECT name FROM territories WHERE code = 'QP066007'")
    assert list(held["name"]) == ["Bas-Vernet"]  # its territory kept as it was
    assert communes_of(warehouse, "QP066007", 2015) == {("COM", "66136")}
    links = warehouse.query("SELECT count(*) AS n FROM memberships WHERE code = 'QP066007'")
    assert links["n"].item() == 1
