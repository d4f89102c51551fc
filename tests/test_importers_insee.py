"""Importers of INSEE files: Filosofi IRIS, BPE counts and points, Filosofi 200 m grid.

Every test reads the real files in ../shared/data; bad inputs are altered copies of
them, written to tmp_path. A refused file must name the file, the line and the column
where it has them, and leave the warehouse exactly as it was.
"""

from __future__ import annotations

import codecs
from collections.abc import Callable
from pathlib import Path

import numpy as np
import openpyxl
import pandas as pd
import pyogrio
import pytest
import shapely
from pyproj import Transformer

from cohesion.errors import CohesionError, InputFileError
from cohesion.importers.base import Importer, ImportOptions, run_import
from cohesion.importers.bpe import BpeCommuneCounts, BpePoints, equipment_type_of
from cohesion.importers.bpe_nomenclature import TYPE_CODE, bpe_nomenclature
from cohesion.importers.grid import FilosofiGrid
from cohesion.importers.insee import Comparateur
from cohesion.importers.iris import FilosofiIris
from cohesion.importers.reading import MAX_COLUMNS, MAX_HEADER_BYTES, MAX_LINE_BYTES
from cohesion.store import Warehouse
from conftest import shared, table_fingerprint

IRIS_2017 = "commune_indicators/filosofi_iris_dec_2017_2020/BASE_TD_FILO_DEC_IRIS_2017.xlsx"
IRIS_2020 = "commune_indicators/filosofi_iris_dec_2017_2020/BASE_TD_FILO_DEC_IRIS_2020.xlsx"
BPE_2009 = "bpe/commune_counts_2009_2013_2018/bpe2009.xlsx"
BPE_2013 = "bpe/commune_counts_2009_2013_2018/bpe2013.xlsx"
BPE_SCHOOLS = "bpe/commune_counts_2009_2013_2018/bpe18_enseignement.csv"
BPE_POINTS = "bpe/gironde_ds_immo/categorie_bpe.csv"
COMPARATEUR = "commune_indicators/comparateur_rp2018_filo2019/base_cc_comparateur.CSV"
GRID_GIRONDE = "filosofi_carreaux/gironde_33_pop/carreaux_33.gpkg"
GRID_IDF = "filosofi_carreaux/idf_4communes_2019/carreaux_200m.gpkg"
GRID_BONDY = "filosofi_carreaux/bondy_2019/carreaux_bondy_epsg2154.gpkg"
GRID_NO_CRS = "filosofi_carreaux/bondy_2019/carreaux.gpkg"

FORMER = ImportOptions(extra={"allow_former_codes": True})


def refused(warehouse: Warehouse, importer: Importer, path: Path,
            options: ImportOptions | None = None) -> InputFileError:
    """Import ``path``, expect an InputFileError, check nothing changed; return it."""
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError) as caught:
        run_import(warehouse, importer, path, options=options)
    assert table_fingerprint(warehouse) == before
    assert str(path) in str(caught.value)
    return caught.value


def value(warehouse: Warehouse, sql: str, params: list | None = None) -> object:
    return warehouse.connection.execute(sql, params or []).fetchone()[0]


# -- small copies of the real workbooks (the national ones take seconds to read) --------


def trimmed_workbook(source: Path, target: Path, sheet: str, keep: Callable[[pd.DataFrame],
                     pd.Series], header_row: int) -> Path:
    """Write ``target``: the banner and header of ``source``, and the rows ``keep`` picks."""
    raw = pd.read_excel(source, sheet_name=sheet, header=None, dtype=object,
                        engine="calamine")
    body = raw.iloc[header_row:]
    body.columns = raw.iloc[header_row - 1]
    rows = pd.concat([raw.iloc[:header_row], raw.iloc[header_row:][keep(body).to_numpy()]])
    workbook = openpyxl.Workbook(write_only=True)
    worksheet = workbook.create_sheet(sheet)
    for row in rows.itertuples(index=False):
        worksheet.append([None if pd.isna(cell) else cell for cell in row])
    workbook.save(target)
    return target


@pytest.fixture(scope="module")
def small_iris_2017(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """IRIS 2017: 150 IRIS of the Ain and the 14 IRIS of communes merged since 2018."""
    def keep(body: pd.DataFrame) -> pd.Series:
        first = pd.Series(np.arange(len(body)) < 150, index=body.index)
        return first | body["COM"].isin(["85060", "85166", "91182"])
    folder = tmp_path_factory.mktemp("iris")
    return trimmed_workbook(shared(IRIS_2017), folder / "BASE_TD_FILO_DEC_IRIS_2017.xlsx",
                            "IRIS_DEC", keep, header_row=6)


@pytest.fixture(scope="module")
def small_bpe_2009(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """BPE 2009: its first 300 communes (the Ain, with communes merged since)."""
    folder = tmp_path_factory.mktemp("bpe")
    return trimmed_workbook(shared(BPE_2009), folder / "bpe2009.xlsx",
                            "bpe09_ensemble_Analyse_croisée",
                            lambda body: pd.Series(np.arange(len(body)) < 300), header_row=1)


def edit_cell(source: Path, target: Path, sheet_row: int, column: str, new: object,
              header_row: int) -> Path:
    """Copy a workbook, replacing the cell of ``column`` on ``sheet_row`` (1-based)."""
    workbook = openpyxl.load_workbook(source)
    worksheet = workbook.worksheets[0]
    header = [cell.value for cell in worksheet[header_row]]
    worksheet.cell(row=sheet_row, column=header.index(column) + 1, value=new)
    workbook.save(target)
    return target


# -- Filosofi IRIS -----------------------------------------------------------------------


@pytest.mark.slow
def test_filosofi_iris_2020_national_file(warehouse: Warehouse) -> None:
    report = run_import(warehouse, FilosofiIris(), shared(IRIS_2020))
    assert (report.vintage, report.periods, report.rows) == (2021, ["2020"], 16025)
    assert report.observations == 16025 * 24
    median = warehouse.query(
        "SELECT code, value, missing FROM observations WHERE variable = "
        "'revenu_declare_median' AND level = 'IRIS' AND period = '2020'")
    assert len(median) == 16025 and median["value"].notna().sum() == 14706
    assert median.set_index("code").loc["010040101", "value"] == 18240
    reasons = set(median["missing"].dropna())
    assert reasons == {"not_significant", "not_available"}  # INSEE's ns and nd
    # decimal commas of the 2020 edition
    assert value(warehouse, "SELECT value FROM observations WHERE code = '010040101' AND "
                 "variable = 'taux_bas_revenus_declares_60'") == pytest.approx(32.7)
    links = warehouse.query("SELECT parent_level, count(*) AS n FROM memberships WHERE "
                            "level = 'IRIS' AND vintage = 2021 GROUP BY 1").set_index(
                                "parent_level")["n"]
    assert links.sum() == 16025 and links["ARM"] > 0  # Paris, Lyon, Marseille
    assert value(warehouse, "SELECT parent_code FROM memberships WHERE level = 'IRIS' AND "
                 "code = '751010101'") == "75101"

    before = table_fingerprint(warehouse)
    again = run_import(warehouse, FilosofiIris(), shared(IRIS_2020))
    assert again.already_imported and table_fingerprint(warehouse) == before


def test_filosofi_iris_older_geography_needs_former_codes(warehouse: Warehouse,
                                                         small_iris_2017: Path) -> None:
    error = refused(warehouse, FilosofiIris(), small_iris_2017)
    assert error.column == "COM" and error.found in {"85060", "85166", "91182"}
    assert error.line is not None and error.line > 150 + 6
    assert "3 codes de commune inconnus dans le COG 2021" in error.message
    assert "allow_former_codes" in error.message

    report = run_import(warehouse, FilosofiIris(), small_iris_2017, options=FORMER)
    assert report.vintage == 2021 and report.periods == ["2017"]
    assert any("déclare la géographie 2018" in note for note in report.notes)
    assert any("3 anciens codes de commune" in note and "14 IRIS" in note
               for note in report.notes)
    # an IRIS of a commune merged since keeps its code and is linked to the new commune
    parent = value(warehouse, "SELECT parent_code FROM memberships WHERE level = 'IRIS' AND "
                   "code LIKE '85060%'")
    assert parent != "85060" and parent.startswith("85")


@pytest.mark.parametrize("case", ["wrong header", "not a number", "unknown commune",
                                  "IRIS of another commune"])
def test_filosofi_iris_bad_cells(warehouse: Warehouse, small_iris_2017: Path,
                                 tmp_path: Path, case: str) -> None:
    target = tmp_path / "iris.xlsx"
    if case == "wrong header":
        edit_cell(small_iris_2017, target, 6, "COM", "CODE_COMMUNE", header_row=6)
        error = refused(warehouse, FilosofiIris(), target, FORMER)
        assert (error.line, error.column) == (6, "COM")
        assert "IRIS et COM" in error.message and "CODE_COMMUNE" in error.found
    elif case == "not a number":
        edit_cell(small_iris_2017, target, 40, "DEC_MED17", "18 660 €", header_row=6)
        error = refused(warehouse, FilosofiIris(), target, FORMER)
        assert (error.line, error.column, error.found) == (40, "DEC_MED17", "18 660 €")
    elif case == "unknown commune":
        edit_cell(small_iris_2017, target, 20, "COM", "99999", header_row=6)
        edit_cell(target, target, 20, "IRIS", "999990101", header_row=6)
        error = refused(warehouse, FilosofiIris(), target, FORMER)
        assert (error.line, error.column, error.found) == (20, "COM", "99999")
    else:
        edit_cell(small_iris_2017, target, 20, "IRIS", "759990101", header_row=6)
        error = refused(warehouse, FilosofiIris(), target, FORMER)
        assert (error.line, error.column) == (20, "IRIS")
        assert "ne commence pas par son code de commune" in error.message


# -- BPE counts per commune ----------------------------------------------------------------


def test_bpe_nomenclature_file_is_consistent() -> None:
    nomenclature = bpe_nomenclature()
    assert sorted(nomenclature.domains) == list("ABCDEFG")
    assert all(TYPE_CODE.match(code) for code in nomenclature.types)
    labels = list(nomenclature.types.values())
    assert len(set(labels)) == len(labels)  # a label names one type
    assert set(nomenclature.label_aliases.values()) <= set(nomenclature.types)
    assert set(nomenclature.uncoded_labels.values()) <= set(nomenclature.domains)
    assert bpe_nomenclature() is nomenclature  # read once


def test_bpe_labels_map_to_types() -> None:
    assert equipment_type_of("Médecin omnipraticien") == ("D201", "D")
    assert equipment_type_of("Ecole maternelle") == equipment_type_of("École maternelle")
    assert equipment_type_of("NB_B101") == ("B101", "B")
    assert equipment_type_of("Trésorerie") == (None, "A")  # code changed after 2009
    assert equipment_type_of("LIBGEO") is None


@pytest.mark.parametrize("relative", [BPE_2009, BPE_2013])
def test_bpe_every_column_of_the_national_tables_is_known(relative: str) -> None:
    header = pd.read_excel(shared(relative), nrows=0, engine="calamine").columns[2:]
    assert [c for c in header if equipment_type_of(c) is None] == []


@pytest.mark.slow
def test_bpe_2009_national_counts(warehouse: Warehouse) -> None:
    report = run_import(warehouse, BpeCommuneCounts(), shared(BPE_2009), options=FORMER)
    assert (report.vintage, report.periods, report.rows) == (2021, ["2009"], 34689)
    assert any("1589 anciens codes de commune" in note for note in report.notes)
    totals = warehouse.query(
        "SELECT variable, sum(value) AS total, count(*) AS communes FROM observations "
        "WHERE period = '2009' GROUP BY 1").set_index("variable")
    # every équipement of the file is counted once, in the 2021 geography
    assert totals.loc["equipements_total", "total"] == 1_892_229
    domains = totals.loc[[f"equipements_{d}" for d in "ABCDEFG"], "total"]
    assert domains.sum() == 1_892_229
    assert value(warehouse, "SELECT value FROM observations WHERE period = '2009' AND "
                 "variable = 'equipements_total' AND code = '01021'") == 51
    # communes the pivot table leaves out have no équipement: 0, not missing
    assert value(warehouse, "SELECT count(*) FROM observations WHERE period = '2009' AND "
                 "variable = 'equipements_total' AND value = 0") > 1000
    assert value(warehouse, "SELECT additive FROM variables WHERE variable = "
                 "'equipements_D'") is True


def test_bpe_counts_refuse_former_codes_unless_asked(warehouse: Warehouse,
                                                     small_bpe_2009: Path) -> None:
    error = refused(warehouse, BpeCommuneCounts(), small_bpe_2009)
    assert (error.line, error.column, error.found) == (47, "INSEECOM", "01059")
    assert "allow_former_codes" in error.message

    report = run_import(warehouse, BpeCommuneCounts(), small_bpe_2009,
                        options=ImportOptions(extra={"allow_former_codes": True,
                                                     "per_type": True}))
    assert report.periods == ["2009"]
    file_total = pd.read_excel(small_bpe_2009, engine="calamine")["Total de NB_EQUIP"].sum()
    stored = warehouse.query("SELECT variable, sum(value) AS s FROM observations "
                             "GROUP BY 1").set_index("variable")["s"]
    assert stored["equipements_total"] == file_total
    # the three 2009 labels without a code since count in their domain, not per type
    per_type = stored[stored.index.str.startswith("bpe_")].sum()
    assert per_type < file_total
    assert stored["bpe_D201"] > 0

    before = table_fingerprint(warehouse)
    assert run_import(warehouse, BpeCommuneCounts(), small_bpe_2009,
                      options=FORMER).already_imported
    assert table_fingerprint(warehouse) == before


def test_bpe_long_table_of_one_domain(warehouse: Warehouse) -> None:
    report = run_import(warehouse, BpeCommuneCounts(), shared(BPE_SCHOOLS), options=FORMER)
    assert (report.vintage, report.periods, report.rows) == (2021, ["2018"], 68294)
    stored = warehouse.query("SELECT variable, sum(value) AS s FROM observations "
                             "GROUP BY 1").set_index("variable")["s"]
    # a file of schools says nothing about shops: no total, no other domain
    assert list(stored.index) == ["equipements_C"]
    assert stored["equipements_C"] == 74_601
    assert any("ne couvre que les domaines C" in note for note in report.notes)


@pytest.mark.parametrize("case", ["unknown label", "not a number", "wrong total"])
def test_bpe_counts_bad_cells(warehouse: Warehouse, small_bpe_2009: Path, tmp_path: Path,
                              case: str) -> None:
    target = tmp_path / "bpe2009.xlsx"
    if case == "unknown label":
        edit_cell(small_bpe_2009, target, 1, "Boulangerie", "Boulangerie-pâtisserie fine",
                  header_row=1)
        error = refused(warehouse, BpeCommuneCounts(), target, FORMER)
        assert error.column == "Boulangerie-pâtisserie fine" and error.line == 1
    elif case == "not a number":
        edit_cell(small_bpe_2009, target, 12, "Boulangerie", "deux", header_row=1)
        error = refused(warehouse, BpeCommuneCounts(), target, FORMER)
        assert (error.line, error.column, error.found) == (12, "Boulangerie", "deux")
    else:
        edit_cell(small_bpe_2009, target, 30, "Total de NB_EQUIP", 123456, header_row=1)
        error = refused(warehouse, BpeCommuneCounts(), target, FORMER)
        assert (error.line, error.column) == (30, "Total de NB_EQUIP")
        assert "diffère de la somme" in error.message


# -- BPE geolocated équipements ------------------------------------------------------------


def test_bpe_points_gironde(warehouse: Warehouse) -> None:
    report = run_import(warehouse, BpePoints(), shared(BPE_POINTS))
    assert report.rows == 44273 and report.observations == 0 and report.vintage is None
    excluded = next(note for note in report.notes if "exclues" in note)
    assert "2,115 lignes" in excluded and "historic 1,569" in excluded
    assert "leisure 546" in excluded
    counts = warehouse.query("SELECT count(*) AS n, count(code_commune) AS communes, "
                             "count(*) FILTER (typequ = 'D201') AS d201, "
                             "count(DISTINCT domain) AS domains FROM equipments").iloc[0]
    assert counts.to_dict() == {"n": 42158, "communes": 0, "d201": 2019, "domains": 7}
    assert value(warehouse, "SELECT label FROM equipments WHERE typequ = 'D502' LIMIT 1") \
        == "Action sociale pour enfants en bas-âge"

    before = table_fingerprint(warehouse)
    assert run_import(warehouse, BpePoints(), shared(BPE_POINTS)).already_imported
    assert table_fingerprint(warehouse) == before


@pytest.fixture(scope="module")
def national_layout_points(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The Gironde points in the national layout: ``;``, DEPCOM, Lambert-93, AN.

    DEPCOM is the commune of the Filosofi cell each point falls in (cells of a single
    commune only); two équipements lose their coordinates, as non-geolocated ones do.
    """
    points = pd.read_csv(shared(BPE_POINTS), dtype=str, keep_default_na=False)
    meta, _, wkb, fields = pyogrio.raw.read(shared(GRID_GIRONDE))
    communes = fields[list(meta["fields"]).index("lcog_geo")]
    to_lambert = Transformer.from_crs("EPSG:4326", "EPSG:2154", always_xy=True)
    x, y = to_lambert.transform(points["LONGITUDE"].astype(float).to_numpy(),
                                points["LATITUDE"].astype(float).to_numpy())
    inside, cell = shapely.STRtree(shapely.from_wkb(wkb)).query(shapely.points(x, y),
                                                                 predicate="within")
    depcom = np.full(len(points), "", dtype=object)
    depcom[inside] = communes[cell]
    national = pd.DataFrame({
        "AN": "2023", "DEP": "33", "DEPCOM": depcom, "TYPEQU": points["TYPEQU"],
        "LAMBERT_X": np.round(x, 2).astype(str), "LAMBERT_Y": np.round(y, 2).astype(str),
        "QUALITE_XY": "Bonne", "LONGITUDE_WGS84": points["LONGITUDE"],
        "LATITUDE_WGS84": points["LATITUDE"]})
    national = national[pd.Series(depcom).str.len().to_numpy() == 5].reset_index(drop=True)
    national.loc[[10, 11], ["LAMBERT_X", "LAMBERT_Y", "QUALITE_XY"]] = ""
    path = tmp_path_factory.mktemp("bpe") / "bpe23_ensemble_33.csv"
    national.to_csv(path, sep=";", index=False)
    return path


def test_bpe_points_national_layout(warehouse: Warehouse,
                                    national_layout_points: Path) -> None:
    source = pd.read_csv(national_layout_points, sep=";", dtype=str, keep_default_na=False)
    valid = source[source["TYPEQU"].str.fullmatch(r"[A-G]\d{3}")]
    report = run_import(warehouse, BpePoints(), national_layout_points, options=FORMER)
    assert report.periods == ["2023"] and report.vintage in (2021, 2022, 2023, 2024, 2025,
                                                             2026)
    assert any("2 équipements sans coordonnées" in note for note in report.notes)
    stored = warehouse.query("SELECT * FROM equipments")
    assert len(stored) == len(valid) - 2
    # Lambert-93 back to degrees: the sample's own longitudes and latitudes
    expected = valid.drop(index=[10, 11], errors="ignore")
    assert np.allclose(np.sort(stored["longitude"]),
                       np.sort(expected["LONGITUDE_WGS84"].astype(float)), atol=1e-6)
    assert stored["code_commune"].notna().all()
    # counts per commune include the équipements without coordinates
    total = value(warehouse, "SELECT sum(value) FROM observations WHERE "
                  "variable = 'equipements_total'")
    assert total == len(valid)
    bordeaux = value(warehouse, "SELECT value FROM observations WHERE variable = "
                     "'equipements_D' AND code = '33063'")
    assert bordeaux == ((valid["DEPCOM"] == "33063") & valid["TYPEQU"].str.startswith(
        "D")).sum()


@pytest.mark.parametrize("case", ["no TYPEQU", "coordinate not a number",
                                  "latitude out of range", "swapped axes", "unknown DEPCOM"])
def test_bpe_points_bad_cells(warehouse: Warehouse, national_layout_points: Path,
                              tmp_path: Path, case: str) -> None:
    points = pd.read_csv(national_layout_points, sep=";", dtype=str, keep_default_na=False)
    target = tmp_path / "points.csv"
    if case == "no TYPEQU":
        points = points.rename(columns={"TYPEQU": "TYPE_EQUIPEMENT"})
    elif case == "coordinate not a number":
        points.loc[99, "LAMBERT_Y"] = "6 430 000,5 m"
    elif case == "latitude out of range":
        points = pd.read_csv(shared(BPE_POINTS), dtype=str, keep_default_na=False)
        points.loc[99, "LATITUDE"] = "448.5"
    elif case == "swapped axes":
        points = pd.read_csv(shared(BPE_POINTS), dtype=str, keep_default_na=False)
        points = points.rename(columns={"LONGITUDE": "LATITUDE", "LATITUDE": "LONGITUDE"})
    else:
        points.loc[200, "DEPCOM"] = "33999"
    points.to_csv(target, sep=";", index=False)
    error = refused(warehouse, BpePoints(), target, FORMER)
    if case == "no TYPEQU":
        assert error.column == "TYPEQU" and error.line == 1
    elif case == "coordinate not a number":
        assert (error.line, error.column, error.found) == (101, "LAMBERT_Y", "6 430 000,5 m")
    elif case == "latitude out of range":
        assert (error.line, error.column, error.found) == (101, "LATITUDE", "448.5")
    elif case == "swapped axes":
        assert (error.line, error.column) == (2, "LONGITUDE")
        assert "hors de France" in error.message
    else:
        assert (error.line, error.column, error.found) == (202, "DEPCOM", "33999")


# -- Filosofi 200 m grid -----------------------------------------------------------------


def test_grid_gironde_population(warehouse: Warehouse) -> None:
    report = run_import(warehouse, FilosofiGrid(), shared(GRID_GIRONDE))
    assert report.rows == 54580
    cells = warehouse.query(
        "SELECT count(*) AS n, count(DISTINCT cell_id) AS ids, any_value(crs) AS crs, "
        "sum((properties->>'ind')::DOUBLE) AS population FROM grid_cells").iloc[0]
    assert (cells["n"], cells["ids"], cells["crs"]) == (54580, 54580, "EPSG:2154")
    assert round(cells["population"]) == 1_584_058
    geometry = value(warehouse, "SELECT geometry FROM grid_cells WHERE cell_id = "
                     "'CRS3035RES200mN2399800E3501000'")
    cell = shapely.from_wkb(bytes(geometry))
    assert cell.area == pytest.approx(40_000, rel=0.01)  # 200 m × 200 m in Lambert-93
    assert 300_000 < cell.centroid.x < 500_000  # Lambert-93 metres, not degrees

    before = table_fingerprint(warehouse)
    assert run_import(warehouse, FilosofiGrid(), shared(GRID_GIRONDE)).already_imported
    assert table_fingerprint(warehouse) == before


def test_grid_full_schema_and_layers(warehouse: Warehouse) -> None:
    run_import(warehouse, FilosofiGrid(), shared(GRID_IDF))
    properties = value(warehouse, "SELECT properties FROM grid_cells LIMIT 1")
    for key in ("ind", "men", "men_pauv", "ind_snv", "log_soc", "ind_80p"):
        assert f'"{key}"' in properties
    report = run_import(warehouse, FilosofiGrid(), shared(GRID_BONDY))
    assert report.rows == 164
    assert any("perimetre, resteBondy" in note for note in report.notes)
    assert value(warehouse, "SELECT count(*) FROM grid_cells") == 965 + 164


def test_grid_without_crs_is_refused(warehouse: Warehouse) -> None:
    error = refused(warehouse, FilosofiGrid(), shared(GRID_NO_CRS))
    assert "pas de système de coordonnées" in error.message
    assert error.column == "geometry" and "EPSG:2154" in error.expected
    declared = run_import(warehouse, FilosofiGrid(), shared(GRID_NO_CRS),
                          options=ImportOptions(extra={"crs": "EPSG:2154"}))
    assert declared.rows == 164


# -- the bad-input matrix of CSV and XLSX files --------------------------------------------


def comparateur_head(tmp_path: Path, lines: int = 200) -> list[str]:
    """The first ``lines`` lines of the real Comparateur de territoires file."""
    with shared(COMPARATEUR).open(encoding="utf-8") as handle:
        return [next(handle).rstrip("\r\n") for _ in range(lines)]


def write_lines(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))
    return path


def test_comparateur_sample_imports(warehouse: Warehouse, tmp_path: Path) -> None:
    path = write_lines(tmp_path / "base_cc_comparateur.CSV", comparateur_head(tmp_path))
    report = run_import(warehouse, Comparateur(), path)
    assert report.rows == 199 and report.vintage is not None
    assert value(warehouse, "SELECT value FROM observations WHERE variable = 'population' "
                 "AND code = '01001' AND period = '2018'") == 771


@pytest.mark.parametrize("case", [
    "wrong columns", "not a number", "unknown commune",
    "truncated",
    "empty", "binary", "decimal comma with ','"])
def test_comparateur_bad_inputs(warehouse: Warehouse, tmp_path: Path, case: str) -> None:
    lines = comparateur_head(tmp_path)
    path = tmp_path / "base_cc_comparateur.CSV"
    if case == "wrong columns":
        write_lines(path, [lines[0].replace("CODGEO", "CODE_INSEE"), *lines[1:]])
    elif case == "not a number":
        cells = lines[50].split(";")
        cells[1] = "771 hab."
        write_lines(path, [*lines[:50], ";".join(cells), *lines[51:]])
    elif case == "unknown commune":
        write_lines(path, [*lines[:120], "99999" + lines[120][5:], *lines[121:]])
    elif case == "truncated":
        text = "\r\n".join(lines)  # a download cut in the middle of its last line
        path.write_text(text[: len(text) - len(lines[-1]) // 2], encoding="utf-8")
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "binary":
        path.write_bytes(shared(GRID_BONDY).read_bytes()[:20000])
    else:
        # a spreadsheet export in French: ',' between fields and in numbers
        write_lines(path, [line.replace(".", ",").replace(";", ",") for line in lines])
    error = refused(warehouse, Comparateur(), path)
    expected = {
        "wrong columns": (1, "CODGEO"), "not a number": (51, "P18_POP"),
        "unknown commune": (121, "CODGEO"), "truncated": (200, None), "empty": (None, None),
        "binary": (1, None), "decimal comma with ','": (None, None),
    }[case]
    if expected[0] is not None:
        assert error.line == expected[0]
    if expected[1] is not None:
        assert error.column == expected[1]
    if case == "truncated":
        assert "moins de champs" in error.message
    if case == "binary":
        assert "binaire" in error.message
    if case == "decimal comma with ','":
        # pandas reads a first row longer than the header as an index and reports the
        # next one (line 3), which read_csv_table passes on
        assert "plus de champs que l'en-tête" in error.message and error.line in (2, 3)


def test_comparateur_other_encodings_and_separators_are_read(warehouse: Warehouse,
                                                              tmp_path: Path) -> None:
    """Latin-1 and ',' are INSEE's other conventions: read, not refused."""
    lines = comparateur_head(tmp_path, 50)
    names = ["LIBGEO", "L'Abergement-Clémenciat", "L'Abergement-de-Varey",
             "Ambérieu-en-Bugey"]
    accented = [f"{line};{names[i] if i < len(names) else 'Ain'}"
                for i, line in enumerate(lines)]
    latin1 = write_lines(tmp_path / "latin1.csv", accented, encoding="latin-1")
    comma = write_lines(tmp_path / "comma.csv", [line.replace(";", ",") for line in lines])
    for path in (latin1, comma):
        report = run_import(warehouse, Comparateur(), path, options=ImportOptions(
            replace=True))
        assert report.rows == 49
    assert value(warehouse, "SELECT value FROM observations WHERE variable = 'population' "
                 "AND code = '01004' AND period = '2018'") == 14204


@pytest.mark.parametrize("saved_as", ["Texte Unicode", "UTF-8 with a byte-order mark"])
def test_comparateur_saved_by_a_spreadsheet_is_read(warehouse: Warehouse, tmp_path: Path,
                                                    saved_as: str) -> None:
    """Excel's « Texte Unicode » (UTF-16LE with its byte-order mark, tabs, CRLF), and
    UTF-8 with a byte-order mark and tabs, give the observations of the original file."""
    lines = comparateur_head(tmp_path, 2_001)
    original = write_lines(tmp_path / "base_cc_comparateur.CSV", lines)
    text = "".join(line.replace(";", "\t") + "\r\n" for line in lines)
    saved = tmp_path / "comparateur_excel.csv"
    saved.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le")
                      if saved_as == "Texte Unicode" else codecs.BOM_UTF8 + text.encode())
    observations = ("SELECT variable, level, code, vintage, period, value, missing "
                    "FROM observations ORDER BY ALL")
    run_import(warehouse, Comparateur(), original)
    expected = warehouse.query(observations)
    report = run_import(warehouse, Comparateur(), saved, options=ImportOptions(replace=True))
    assert report.rows == 2_000
    found = warehouse.query(observations)
    assert len(found) > 20 * 2_000
    pd.testing.assert_frame_equal(found, expected)


def test_a_table_too_wide_is_refused_before_it_is_parsed(warehouse: Warehouse,
                                                        tmp_path: Path) -> None:
    """Columns, header size and line length are capped before pandas sees the file."""
    wide = tmp_path / "large.csv"
    write_lines(wide, [";".join(f"V{i}" for i in range(MAX_COLUMNS + 1)),
                       ";".join("1" for _ in range(MAX_COLUMNS + 1))])
    assert "trop de colonnes" in refused(warehouse, Comparateur(), wide).message
    endless = tmp_path / "entete.csv"
    endless.write_bytes(b"CODGEO;" + b"X" * MAX_HEADER_BYTES + b"\n01001;1\n")
    error = refused(warehouse, Comparateur(), endless)
    assert (error.line, error.message) == (1, "ligne d'en-tête trop longue")
    assert "64 Ko" in str(error)
    long_line = tmp_path / "ligne.csv"
    long_line.write_bytes(b"CODGEO;P18_POP\n01001;" + b"7" * MAX_LINE_BYTES + b"\n")
    error = refused(warehouse, Comparateur(), long_line)
    assert (error.line, error.message) == (2, "ligne trop longue") and "1 Mo" in str(error)


@pytest.mark.parametrize("importer", [BpePoints(), BpeCommuneCounts()],
                         ids=["points", "counts"])
@pytest.mark.parametrize("case", ["truncated", "empty", "binary", "latin-1"])
def test_bpe_csv_bad_inputs(warehouse: Warehouse, tmp_path: Path, importer: Importer,
                            case: str) -> None:
    relative = BPE_POINTS if isinstance(importer, BpePoints) else BPE_SCHOOLS
    with shared(relative).open(encoding="utf-8") as handle:
        lines = [next(handle).rstrip("\n") for _ in range(300)]
    path = tmp_path / "bpe.csv"
    options = ImportOptions(period="2018", extra={"allow_former_codes": True})
    if case == "latin-1":
        write_lines(path, lines, encoding="latin-1")
        report = run_import(warehouse, importer, path, options=options)
        assert report.rows == 299
        if isinstance(importer, BpePoints):
            assert value(warehouse, "SELECT label FROM equipments WHERE typequ = 'D502' "
                         "LIMIT 1") == "Action sociale pour enfants en bas-âge"
        return
    if case == "truncated":
        text = "\n".join(lines)
        path.write_text(text[: len(text) - len(lines[-1]) // 2], encoding="utf-8")
    elif case == "empty":
        path.write_bytes(b"")
    else:
        path.write_bytes(b"\x00\x01PK" + shared(BPE_2009).read_bytes()[:5000])
    error = refused(warehouse, importer, path, options)
    if case == "truncated":
        assert error.line == 300 and "moins de champs" in error.message
    elif case == "binary":
        assert "binaire" in error.message


@pytest.mark.parametrize("importer", [FilosofiIris(), BpeCommuneCounts()],
                         ids=["iris", "bpe-counts"])
@pytest.mark.parametrize("case", ["truncated", "empty", "binary", "csv renamed"])
def test_workbook_bad_inputs(warehouse: Warehouse, tmp_path: Path, small_iris_2017: Path,
                             small_bpe_2009: Path, importer: Importer, case: str) -> None:
    source = small_iris_2017 if isinstance(importer, FilosofiIris) else small_bpe_2009
    path = tmp_path / source.name
    if case == "truncated":
        data = source.read_bytes()
        path.write_bytes(data[: len(data) // 2])
    elif case == "empty":
        path.write_bytes(b"")
    elif case == "binary":
        path.write_bytes(shared(GRID_BONDY).read_bytes()[:20000])
    else:
        path.write_bytes(shared(COMPARATEUR).read_bytes()[:20000])
    error = refused(warehouse, importer, path, FORMER)
    expected = "vide" if case == "empty" else "impossible de lire le classeur"
    assert expected in error.message


def test_a_series_with_other_values_is_refused_unless_replaced(warehouse: Warehouse,
                                                              tmp_path: Path) -> None:
    lines = comparateur_head(tmp_path, 20)
    run_import(warehouse, Comparateur(), write_lines(tmp_path / "first.csv", lines))
    before = table_fingerprint(warehouse)
    header = lines[0].split(";")
    column = header.index("P18_POP")
    cells = lines[1].split(";")
    code, population = cells[0], float(cells[column])
    cells[column] = str(int(population) + 1000)
    changed = write_lines(tmp_path / "second.csv", [lines[0], ";".join(cells), *lines[2:]])
    with pytest.raises(CohesionError, match=r"série\(s\) ont déjà d'autres valeurs"):
        run_import(warehouse, Comparateur(), changed)
    assert table_fingerprint(warehouse) == before
    run_import(warehouse, Comparateur(), changed, options=ImportOptions(replace=True))
    assert value(warehouse, "SELECT value FROM observations WHERE variable = 'population' "
                 "AND code = ? AND period = '2018'", [code]) == int(population) + 1000


def test_bpe_points_saved_by_a_spreadsheet_are_read(warehouse: Warehouse,
                                                    tmp_path: Path) -> None:
    """The BPE points reader has its own Arrow path: UTF-16 and its caps hold there too."""
    lines = shared(BPE_POINTS).read_text(encoding="utf-8").splitlines()[:1_001]
    separator = ";" if ";" in lines[0] else ","
    saved = tmp_path / "bpe_excel.csv"
    text = "".join(line.replace(separator, "\t") + "\r\n" for line in lines)
    saved.write_bytes(codecs.BOM_UTF16_LE + text.encode("utf-16-le"))
    report = run_import(warehouse, BpePoints(), saved)
    assert report.rows == 1_000
    assert warehouse.query("SELECT count(*) AS n FROM equipments")["n"].item() > 900
    wide = tmp_path / "bpe_large.csv"
    write_lines(wide, [";".join(["TYPEQU", "LONGITUDE", "LATITUDE",
                                 *(f"V{i}" for i in range(MAX_COLUMNS))]), "A101;1;45"])
    assert "trop de colonnes" in refused(warehouse, BpePoints(), wide).message
