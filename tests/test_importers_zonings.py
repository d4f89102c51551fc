"""Zoning importer: real ANCT programme files and INSEE/ANCT typologies of communes."""

from __future__ import annotations

import shutil
from pathlib import Path

import openpyxl
import pytest

from cohesion.errors import InputFileError
from cohesion.importers.base import ImportOptions, run_import
from cohesion.importers.zonings import ZoningImporter, class_code
from cohesion.store import Warehouse
from conftest import shared, table_fingerprint

PROGRAMMES_2024 = "programmes/anct_superposeur_2024/"
GRIDS_2026 = "programmes/anct_superposeur_v2_2026/"


def zoning(warehouse: Warehouse, level: str):
    return warehouse.query("SELECT * FROM territories WHERE level = ? ORDER BY code", [level])


def members(warehouse: Warehouse, level: str, zone: str | None = None):
    sql = "SELECT level, code, parent_code FROM memberships WHERE parent_level = ?"
    params: list = [level]
    if zone is not None:
        sql += " AND parent_code = ?"
        params.append(zone)
    return warehouse.query(sql, params)


def importing(warehouse: Warehouse, path: Path | str, **extra):
    return run_import(warehouse, ZoningImporter(), path, options=ImportOptions(extra=extra))


def test_action_coeur_de_ville(warehouse: Warehouse) -> None:
    report = importing(warehouse, shared(PROGRAMMES_2024 + "acv_geom.geojson"))
    zones = zoning(warehouse, "ACV")
    assert len(zones) == 232 and report.rows == 232
    assert (zones["vintage"] == report.vintage).all()
    level = warehouse.query("SELECT * FROM levels WHERE level = 'ACV'").iloc[0]
    assert level["kind"] == "zoning" and level["label"] == "Action cœur de ville"
    links = members(warehouse, "ACV")
    assert links["code"].nunique() == 245  # 13 zones are two-commune pairs
    agen = members(warehouse, "ACV", "acv-003")
    assert list(agen["code"]) == ["47001"]
    pair = set(members(warehouse, "ACV", "acv-017")["code"])
    assert pair == {"15012", "15014"}  # Aurillac-Arpajon-sur-Cère
    population = zones.set_index("code").loc["acv-003", "population"]
    expected = warehouse.query("SELECT population FROM territories WHERE level = 'COM' AND "
                               "code = '47001' AND vintage = ?", [report.vintage])
    assert population == expected["population"].item()


def test_grille_de_densite_every_commune_one_class(warehouse: Warehouse) -> None:
    report = importing(warehouse, shared(GRIDS_2026 + "grille_densite.csv"))
    classes = zoning(warehouse, "DENS")
    assert list(classes["code"]) == [str(n) for n in range(1, 8)]
    assert classes.set_index("code").loc["6", "name"] == "Rural à habitat dispersé"
    assert (classes["kind"] == "class").all()
    links = members(warehouse, "DENS")
    assert len(links) == 34875 == report.rows
    assert links["code"].is_unique  # exactly one class per commune
    counts = links.groupby("parent_code").size()
    assert counts["1"] == 699 and counts["6"] == 18288 and counts["7"] == 7236
    # the classes cover every commune of France (not the collectivités d'outre-mer)
    france = warehouse.query("SELECT code FROM memberships WHERE level = 'COM' AND "
                             "parent_level = 'FRA' AND vintage = ?", [report.vintage])
    assert set(links["code"]) == set(france["code"])
    assert 68_000_000 < classes["population"].sum() < 69_000_000


def test_grille_de_ruralite_and_centralite(warehouse: Warehouse) -> None:
    importing(warehouse, shared(GRIDS_2026 + "grille_ruralite.csv"))
    rural = members(warehouse, "RURAL")
    assert len(rural) == 34875 and rural["code"].is_unique
    assert len(zoning(warehouse, "RURAL")) == 10
    assert rural.groupby("parent_code").size()["les-ruralites-productives-agricoles"] == 6171
    report = importing(warehouse, shared(GRIDS_2026 + "grille_centralite.csv"))
    assert len(members(warehouse, "CENTR")) == 34875 - 129  # '- undefined' is no class
    assert any("129 communes sans classe" in note for note in report.notes)


def test_territoires_d_industrie_expand_epci(warehouse: Warehouse) -> None:
    report = importing(warehouse, shared(PROGRAMMES_2024 + "ti_geom.geojson"))
    assert len(zoning(warehouse, "TI")) == 183
    basse_terre = set(members(warehouse, "TI", "ti-0101")["code"])
    epci = warehouse.query(
        "SELECT code FROM memberships WHERE vintage = ? AND level = 'COM' AND parent_level = "
        "'EPCI' AND parent_code IN ('249710062', '249710070')", [report.vintage])
    assert basse_terre == set(epci["code"]) and len(basse_terre) > 10
    assert any("EPCI ou EPT remplacés" in note for note in report.notes)


def test_france_services_several_zones_per_commune(warehouse: Warehouse) -> None:
    importing(warehouse, shared(PROGRAMMES_2024 + "fs_geom.geojson"))
    links = members(warehouse, "FS")
    assert links["code"].nunique() == 2519
    assert set(links[links["code"] == "02237"]["parent_code"]) == {"fs-703", "fs-2907"}
    names = zoning(warehouse, "FS").set_index("code")["name"]
    assert names["fs-703"] == "France services La Poste de Crécy-sur-Serre"


def test_petites_villes_de_demain_csv(warehouse: Warehouse) -> None:
    path = shared("programmes/pvd_2021/pvd_communes_2021-01_nopersonal.csv")
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError, match="code de territoire inconnu") as error:
        importing(warehouse, path, level="PVD")
    # the real file carries a placeholder row "Trifouilly-les-Oies" coded 999999
    assert error.value.line == 1516 and error.value.column == "insee_com"
    assert error.value.found == "999999"
    assert table_fingerprint(warehouse) == before
    report = importing(warehouse, path, unknown_codes="drop")
    assert any("écartés (unknown_codes: drop) : 999999" in note for note in report.notes)
    links = members(warehouse, "PVD")
    assert links["code"].nunique() == 1606
    assert set(members(warehouse, "PVD", "pvd-01-971-3")["code"]) == {"97116", "97117"}
    grouped = zoning(warehouse, "PVD").set_index("code").loc["pvd-01-971-3", "name"]
    assert grouped == "Le Moule - Morne-à-l'Eau"


def test_contrats_de_ville(warehouse: Warehouse) -> None:
    path = shared("social_innovation/anct_politique_ville_postes/geom_cv_ctr_2024.json")
    report = importing(warehouse, path)
    assert report.vintage >= 2023  # its EPT exist from the COG 2023 on
    assert len(zoning(warehouse, "CV")) == 446
    # the 2015 contracts name EPCI by SIREN, many of which were merged before 2021
    old = shared("programmes/anct_superposeur_2019/cv.topojson")
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError, match="code de territoire inconnu") as error:
        importing(warehouse, old, level="CV2015")
    assert error.value.column == "info2" and error.value.found == "240100628"
    assert "objet 4" in str(error.value)
    assert table_fingerprint(warehouse) == before


def test_former_codes_are_mapped_unknown_codes_located(warehouse: Warehouse,
                                                        tmp_path: Path) -> None:
    path = tmp_path / "zonage_test.csv"
    path.write_text("id_zone;lib_zone;insee_com\nz1;Un;01004\nz1;Un;01340\nz2;Deux;2A004\n",
                    encoding="utf-8")
    report = importing(warehouse, path, level="ZT")
    assert set(members(warehouse, "ZT", "z1")["code"]) == {"01004", "01015"}
    assert any("01340 → 01015" in note for note in report.notes)
    bad = tmp_path / "zonage_bad.csv"
    bad.write_text("id_zone;lib_zone;insee_com\nz1;Un;01004\nz2;Deux;99999\n", encoding="utf-8")
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError) as error:
        importing(warehouse, bad, level="ZB")
    assert (error.value.line, error.value.column, error.value.found) == (3, "insee_com", "99999")
    assert table_fingerprint(warehouse) == before


def test_a_zone_already_there_is_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    importing(warehouse, shared(PROGRAMMES_2024 + "acv_geom.geojson"))
    edited = tmp_path / "acv_geom.geojson"
    shutil.copy(shared(PROGRAMMES_2024 + "acv_geom.geojson"), edited)
    edited.write_text(edited.read_text(encoding="utf-8") + "\n", encoding="utf-8")
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError, match="déjà dans l'entrepôt"):
        importing(warehouse, edited)
    assert table_fingerprint(warehouse) == before
    importing(warehouse, edited, level="ACV_BIS")  # another edition, another level
    assert len(zoning(warehouse, "ACV_BIS")) == 232


@pytest.mark.parametrize(("extra", "message"), [
    ({"level": "COM"}, "échelon intégré"),
    ({"member_colum": "insee_com"}, "option inconnue"),
    ({"class_column": "nope"}, "aucune colonne 'nope'"),
    ({"level": "1X"}, "identifiant d'échelon non valide"),
])
def test_bad_options_are_refused(warehouse: Warehouse, extra: dict, message: str) -> None:
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError, match=message):
        importing(warehouse, shared(GRIDS_2026 + "grille_montagne.csv"), **extra)
    assert table_fingerprint(warehouse) == before


def test_empty_and_headless_files_are_refused(warehouse: Warehouse, tmp_path: Path) -> None:
    empty = tmp_path / "zonage.csv"
    empty.write_text("")
    with pytest.raises(InputFileError, match="vide"):
        importing(warehouse, empty)
    header = tmp_path / "zonage2.csv"
    header.write_text("id_zone;insee_com\n")
    with pytest.raises(InputFileError, match="aucune ligne"):
        importing(warehouse, header)


def test_insee_workbook_with_a_title_block(warehouse: Warehouse, tmp_path: Path) -> None:
    # the layout of INSEE's grille_densite_7_niveaux_2024.xlsx, read with the options
    # the catalogue gives (header on row 5)
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    sheet.append(["Grille communale de densité à 7 niveaux"])
    sheet.append(["Géographie au 01/01/2024"])
    sheet.append([])
    sheet.append(["Source : Insee"])
    sheet.append(["CODGEO", "LIBGEO", "DENS", "LIBDENS"])
    for row in (["75056", "Paris", "1", "Grands centres urbains"],
                ["01001", "L'Abergement-Clémenciat", "6", "Rural à habitat dispersé"],
                ["2A004", "Ajaccio", "2", "Centres urbains intermédiaires"]):
        sheet.append(row)
    path = tmp_path / "grille_densite_7_niveaux_2024.xlsx"
    workbook.save(path)
    report = run_import(warehouse, ZoningImporter(), path, options=ImportOptions(
        vintage=2024, extra={"level": "DENS", "member_column": "CODGEO",
                             "class_column": "LIBDENS", "header_row": 5,
                             "classes": {"Grands centres urbains": "1",
                                         "Centres urbains intermédiaires": "2",
                                         "Rural à habitat dispersé": "6"}}))
    assert report.vintage == 2024
    links = members(warehouse, "DENS").set_index("code")["parent_code"]
    assert links.to_dict() == {"75056": "1", "01001": "6", "2A004": "2"}


def test_class_codes() -> None:
    assert class_code("Grands centres urbains", {"grands centres urbains": "1"}) == "1"
    assert class_code("09 - Massif des Hauts de la Réunion", {}) == "09"
    assert class_code(" Hors champ : DOM ou commune urbaine", {}) == \
        "hors-champ-dom-ou-commune-urbaine"
