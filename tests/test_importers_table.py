"""Generic indicator-table importer: baromètre tables, mapping files, bad inputs."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest

from cohesion.errors import InputFileError
from cohesion.importers.base import ImportOptions, run_import
from cohesion.importers.table import IndicatorTable, slug
from cohesion.importers.zonings import ZoningImporter
from cohesion.store import Warehouse
from conftest import shared, table_fingerprint

CARTES = "barometre/ba-coh-terr/data/csv/"
ETALAB = ("barometre/barometre_resultats_etalab_2023/"
          "barometre-resultats-detail-departemental_combined.csv.gz")

CARTE_1_1_MAPPING = """\
# Baromètre de la cohésion des territoires 2018, indicateur 1.1
code_column: codgeo
level: ZE
vintage: 2010
variables:
  - column: value0
    period_column: year0
    id: revenu_median_uc
    label: Revenu disponible médian par unité de consommation
    unit: €
  - column: value1
    period_column: year1
    id: revenu_median_uc
"""


def importing(warehouse: Warehouse, path: Path | str, **extra):
    return run_import(warehouse, IndicatorTable(), path, options=ImportOptions(extra=extra))


def observations(warehouse: Warehouse, variable: str):
    return warehouse.query("SELECT * FROM observations WHERE variable = ? ORDER BY code, period",
                           [variable])


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_barometre_carte_1_1_with_a_mapping_file(warehouse: Warehouse, tmp_path: Path) -> None:
    mapping = write(tmp_path / "carte_1_1.yaml", CARTE_1_1_MAPPING)
    report = importing(warehouse, shared(CARTES + "carte_1_1.csv"), mapping=str(mapping))
    found = observations(warehouse, "revenu_median_uc")
    assert report.rows == 322 and len(found) == 644 == report.observations
    assert found["value"].notna().sum() == 618  # 26 empty cells kept as missing
    assert (found["missing"].dropna() == "empty").all() and found["missing"].notna().sum() == 26
    assert set(found["level"]) == {"ZE"} and set(found["vintage"]) == {2010}
    assert report.periods == ["2012", "2014"]
    value = found.set_index(["code", "period"]).loc[("0050", "2012"), "value"]
    assert value == 19162
    level = warehouse.query("SELECT * FROM levels WHERE level = 'ZE'").iloc[0]
    assert level["label"] == "Zone d'emploi"
    variable = warehouse.query("SELECT * FROM variables WHERE variable = 'revenu_median_uc'")
    assert variable["unit"].item() == "€" and not variable["additive"].item()


def test_zone_d_emploi_needs_a_vintage(warehouse: Warehouse) -> None:
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError, match="clé vintage"):
        importing(warehouse, shared(CARTES + "carte_1_1.csv"))
    assert table_fingerprint(warehouse) == before
    report = importing(warehouse, shared(CARTES + "carte_3_1.csv"), vintage=2010)
    assert report.periods == ["1999-2009", "2009-2014"]
    assert len(observations(warehouse, "carte_3_1")) == 644  # named after the file


def test_barometre_departements_recognised(warehouse: Warehouse) -> None:
    report = importing(warehouse, shared(CARTES + "carte_2_4.csv"), variable="part_deld")
    found = observations(warehouse, "part_deld")
    assert len(found) == 202 and set(found["level"]) == {"DEP"}
    assert report.vintage in (2021, 2022, 2023, 2024, 2025, 2026)
    assert found.set_index(["code", "period"]).loc[("01", "2013"), "value"] == 36.6
    assert set(found["code"]) >= {"2A", "2B", "971", "976"}


def test_barometre_epci_2017_codes(warehouse: Warehouse) -> None:
    path = shared(CARTES + "carte_1_5.csv")
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError, match="code de territoire inconnu") as error:
        importing(warehouse, path)
    # EPCI of 2017, merged since: the first one the 2021 référentiel does not know
    assert (error.value.line, error.value.column, error.value.found) == (22, "codgeo",
                                                                         "200012060")
    assert table_fingerprint(warehouse) == before
    dropped = importing(warehouse, path, unknown_codes="drop", variable="part_neet")
    assert dropped.observations == 2 * (1259 - 23)
    unchecked = importing(warehouse, shared(CARTES + "carte_2_1.csv"), vintage=2017,
                          check_codes=False, variable="part_65_plus")
    assert unchecked.observations == 2 * 1259 and unchecked.vintage == 2017
    assert any("sur leur format seulement" in note for note in unchecked.notes)


def test_etalab_barometre_gzip_long_format(warehouse: Warehouse, tmp_path: Path) -> None:
    mapping = write(tmp_path / "etalab.yaml", """\
code_column: code_departement
level: DEP
variable_column: id_indicateur
label_column: indicateur
unit_column: unite
value_column: valeur
period_column: date
variable_prefix: barometre_
""")
    report = importing(warehouse, shared(ETALAB), mapping=str(mapping))
    assert report.rows == 116_707
    # 1,159 rows repeat an indicator under a second label with the same values
    assert report.observations == 116_707 - 1_159
    counts = warehouse.query(
        "SELECT count(DISTINCT variable) AS v, count(DISTINCT code) AS d, min(period) AS first,"
        " max(period) AS last FROM observations WHERE variable LIKE 'barometre_%'").iloc[0]
    assert (counts["v"], counts["d"]) == (54, 101)
    assert (counts["first"], counts["last"]) == ("2017-01-31", "2022-12-31")
    found = observations(warehouse, "barometre_tx_detenus_formation").set_index(
        ["code", "period"])
    assert found.loc[("01", "2021-06-30"), "value"] == 7.0
    variable = warehouse.query(
        "SELECT * FROM variables WHERE variable = 'barometre_tx_detenus_formation'").iloc[0]
    assert variable["unit"] == "% de détenus" and variable["source_column"] == \
        "tx-detenus-formation"


def test_year_suffixed_columns_decimal_comma_and_markers(warehouse: Warehouse,
                                                         tmp_path: Path) -> None:
    path = write(tmp_path / "taux.csv", "commune;taux_2008;taux_2013;P18_POP\n"
                 "93014;12,5;s;34 120\n93008;nd;NA;16 009\n13055;7;8,25;870 018\n")
    report = importing(warehouse, path, code_column="commune", missing=["NA"])
    taux = observations(warehouse, "taux").set_index(["code", "period"])
    assert taux.loc[("93014", "2008"), "value"] == 12.5
    assert taux.loc[("13055", "2013"), "value"] == 8.25
    assert taux.loc[("93014", "2013"), "missing"] == "secret"
    assert taux.loc[("93008", "2008"), "missing"] == "not_available"
    assert taux.loc[("93008", "2013"), "missing"] == "not_available"
    population = observations(warehouse, "population").set_index("code")
    assert population.loc["13055", "value"] == 870_018
    assert population.loc["13055", "period"] == "2018"
    assert report.periods == ["2008", "2013", "2018"]


def test_one_period_and_named_value_columns(warehouse: Warehouse, tmp_path: Path) -> None:
    mapping = write(tmp_path / "logements.yaml", """\
code_column: code_epci
level: EPCI
period: "2022"
value_columns:
  nb_logements_sociaux: logements_sociaux
  part_logements_sociaux:
    id: part_logements_sociaux
    unit: "%"
""")
    table = write(tmp_path / "logements.csv", "code_epci;nom;nb_logements_sociaux;"
                  "part_logements_sociaux\n200054781;Métropole du Grand Paris;1 012 345;"
                  "23,1\n200046977;Métropole de Lyon;160 000;22,9\n")
    report = importing(warehouse, table, mapping=str(mapping))
    assert report.periods == ["2022"] and report.observations == 4
    counts = observations(warehouse, "logements_sociaux").set_index("code")["value"]
    assert counts["200054781"] == 1_012_345
    unit = warehouse.query("SELECT unit FROM variables WHERE variable = "
                           "'part_logements_sociaux'")["unit"].item()
    assert unit == "%"
    # options override the mapping file
    again = write(tmp_path / "logements_2023.csv",
                  table.read_text(encoding="utf-8").replace("160 000", "161 500"))
    later = importing(warehouse, again, mapping=str(mapping), period="2023")
    assert later.periods == ["2023"]


def test_codes_of_a_zoning_level(warehouse: Warehouse, tmp_path: Path) -> None:
    run_import(warehouse, ZoningImporter(),
               shared("programmes/anct_superposeur_v2_2026/grille_densite.csv"))
    path = write(tmp_path / "parts.csv", "classe,part_2020\n1,37.0\n6,2.4\n")
    report = importing(warehouse, path, code_column="classe", level="DENS")
    assert report.observations == 2
    assert set(observations(warehouse, "part")["level"]) == {"DENS"}
    bad = write(tmp_path / "parts_bad.csv", "classe,part_2020\n1,37.0\n9,2.4\n")
    with pytest.raises(InputFileError, match="code de territoire inconnu") as error:
        importing(warehouse, bad, code_column="classe", level="DENS")
    assert (error.value.line, error.value.found) == (3, "9")


def test_gzip_is_transparent_and_errors_name_the_compressed_file(warehouse: Warehouse,
                                                                  tmp_path: Path) -> None:
    path = tmp_path / "dep.csv.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        handle.write("dep;taux_2019\n01;1.5\n02;abc\n")
    with pytest.raises(InputFileError, match="valeur non numérique") as error:
        importing(warehouse, path)
    assert str(error.value.path) == str(path)
    assert (error.value.line, error.value.column, error.value.found) == (3, "taux_2019", "abc")


@pytest.mark.parametrize(("content", "extra", "message", "where"), [
    ("codgeo;taux_2019\n93014;1.5\n", {"code_column": "code"}, "aucune colonne 'code'",
     (1, "code")),
    ("codgeo;taux_2019\n93014;1.5\n99999;2\n", {}, "code de territoire inconnu", (3, "codgeo")),
    ("codgeo;taux_2019\n93014;1.5\n93008;1,2,3\n", {}, "ambigu|valeur non numérique",
     (3, "taux_2019")),
    ("codgeo;taux_2019\n93014;1.5\n93008;1,5\n", {"decimal": "."}, "séparateur décimal",
     (3, "taux_2019")),
    ("codgeo;taux_2019\n93014;1.5\n93014;1.6\n", {}, "deux valeurs différentes",
     (3, "taux_2019")),
    ("codgeo;taux_2019\n93014;1.5\n;1.6\n", {}, "code de territoire absent", (3, "codgeo")),
    ("codgeo;libelle\n93014;Bondy\n", {}, "les colonnes de valeurs", (1, None)),
    ("codgeo;taux\n93014;1.5\n", {"value_columns": ["taux"]}, "aucune période", (1, "taux")),
    ("codgeo;taux_2019\n", {}, "aucune ligne de données", (2, None)),
    ("", {}, "vide", (None, None)),
])
def test_bad_tables_are_refused(warehouse: Warehouse, tmp_path: Path, content: str,
                                extra: dict, message: str, where: tuple) -> None:
    path = write(tmp_path / "table.csv", content)
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError, match=message) as error:
        importing(warehouse, path, **extra)
    assert (error.value.line, error.value.column) == where
    assert table_fingerprint(warehouse) == before


@pytest.mark.parametrize(("mapping", "message", "line", "key"), [
    ("code_column: codgeo\nvalue_colums: [taux_2019]\n", "vouliez-vous dire 'value_columns'", 2,
     "value_colums"),
    ("vintage: deux mille\n", "nombre entier", 1, "vintage"),
    ("period: 2019\nperiod_column: annee\n", "pas les deux", 1, "period"),
    ("variables:\n  - id: taux\n", "n'a pas de colonne", 2, "variables[0]"),
    ("variables:\n  - column: t\n    unite: '%'\n", "clé inconnue 'unite'", 3,
     "variables[0].unite"),
    ("decimal: ';'\n", "decimal doit valoir", 1, "decimal"),
    ("check_codes: maybe\n", "true ou false", 1, "check_codes"),
    ("level: zone emploi\n", "identifiant d'échelon non valide", 1, "level"),
    ("code_column: [codgeo\n", "YAML non valide", 2, None),
    ("- codgeo\n", "clé: valeur", 1, None),
    ("", "fichier de description est vide", None, None),
])
def test_mapping_file_validation(warehouse: Warehouse, tmp_path: Path, mapping: str,
                                 message: str, line: int | None, key: str | None) -> None:
    path = write(tmp_path / "mapping.yaml", mapping)
    table = write(tmp_path / "table.csv", "codgeo;taux_2019\n93014;1.5\n")
    with pytest.raises(InputFileError, match=message) as error:
        importing(warehouse, table, mapping=str(path))
    assert str(error.value.path) == str(path)
    assert (error.value.line, error.value.column) == (line, key)


def test_slug() -> None:
    assert slug("Part des 65 ans et + (%)") == "part_des_65_ans_et"
    assert slug("MED19") == "med19"


BARO_FRANCE = "barometre/ba-coh-terr/data/csv/baro.csv"


def test_one_territory_long_table_with_value_period_pairs(warehouse: Warehouse,
                                                          tmp_path: Path) -> None:
    # baro.csv: France's value of each indicator at two dates, one row per indicator
    mapping = write(tmp_path / "france.yaml", """\
code: FR
level: FRA
variable_column: id
variables:
  - column: value0
    period_column: year0
  - column: value1
    period_column: year1
variable_ids:
  "11": revenu_median_france
variable_prefix: baro_
""")
    report = importing(warehouse, shared(BARO_FRANCE), mapping=str(mapping))
    # 11 indicators at two dates, but indicator 51 has no first date (empty pair)
    assert report.observations == 21
    found = warehouse.query("SELECT * FROM observations WHERE level = 'FRA'")
    assert set(found["code"]) == {"FR"}
    values = found.set_index(["variable", "period"])["value"]
    assert values[("revenu_median_france", "2012")] == 19786
    assert values[("baro_31", "1999-2009")] == 0.24  # the prefix needs no v_ of its own
    assert ("baro_51", "") not in values.index and values[("baro_51", "2015")] == 8.8


@pytest.mark.parametrize(("mapping", "content", "message"), [
    ("code: FR\ncode_column: codgeo\nlevel: FRA\n", "codgeo;taux_2019\nFR;1\n",
     "pas les deux"),
    ("code: FR\nlevel: FRA\nvariable_column: id\nvariables:\n  - column: v\n"
     "    period_column: y\n", "id;y;v\na;;3\n", "une valeur sans période"),
    ("code: FR\nlevel: FRA\nvariable_column: id\nvariables:\n  - column: v\n    id: x\n",
     "id;y;v\na;2019;3\n", "variable_ids sert à les renommer"),
    ("code: FR\nlevel: FRA\nvariable_column: id\nvariable_ids:\n  a: Pas Un Id\n",
     "id;periode;valeur\na;2019;3\n", "identifiant de variable non valide"),
])
def test_one_territory_and_pair_errors(warehouse: Warehouse, tmp_path: Path, mapping: str,
                                       content: str, message: str) -> None:
    path = write(tmp_path / "mapping.yaml", mapping)
    table = write(tmp_path / "table.csv", content)
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError, match=message):
        importing(warehouse, table, mapping=str(path))
    assert table_fingerprint(warehouse) == before


def test_empty_first_date_pair_is_no_observation(warehouse: Warehouse,
                                                 tmp_path: Path) -> None:
    # histo_5_1.csv: the bénévoles were published for 2015 only (year0/value0 empty)
    report = importing(warehouse, shared(CARTES + "histo_5_1.csv"), variable="benevoles",
                       code_column="codreg")
    assert report.periods == ["2015"] and report.observations == 18
    # a value whose period cell is empty is still refused, at its line
    table = write(tmp_path / "histo.csv", "codreg;year0;value0\n84;2014;3\n93;;4\n")
    with pytest.raises(InputFileError, match="période absente") as error:
        importing(warehouse, table, variable="cif", code_column="codreg")
    assert (error.value.line, error.value.column) == (3, "year0")


ZE_NAMES = "barometre/dataviz_2018/data_rev_med.csv"


def test_zone_names_then_codes_checked_against_them(warehouse: Warehouse,
                                                    tmp_path: Path) -> None:
    # the dataviz of the baromètre 2018 names the 322 zones d'emploi 2010
    report = importing(warehouse, shared(ZE_NAMES), code_column="codgeo",
                       name_column="libgeo", level="ZE", vintage=2010, variable="revenu_ze")
    assert report.observations == 644 and any("322 territoires" in n for n in report.notes)
    zones = warehouse.query("SELECT code, name, search_name FROM territories "
                            "WHERE level = 'ZE' AND vintage = 2010").set_index("code")
    assert len(zones) == 322 and zones.loc["0050", "name"] == "Mont-de-Marsan"
    values = observations(warehouse, "revenu_ze").set_index(["code", "period"])["value"]
    assert values[("0050", "2014")] == 19698.8  # decimal comma, unrounded
    # a second table of the same zones adds no territory, and its codes are now checked
    again = importing(warehouse, shared(CARTES + "carte_1_1.csv"), level="ZE", vintage=2010,
                      name_column="codgeo", variable="revenu_arrondi")
    assert not any("nommés d'après le fichier" in n for n in again.notes)
    bad = write(tmp_path / "ze.csv", "codgeo;taux_2014\n0050;1\n9999;2\n")
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError, match="code de territoire inconnu") as error:
        importing(warehouse, bad, level="ZE", vintage=2010)
    assert (error.value.line, error.value.found) == (3, "9999")
    assert table_fingerprint(warehouse) == before


@pytest.mark.parametrize(("content", "extra", "message"), [
    ("codgeo;nom;taux_2019\n93014;Clichy;1\n", {"name_column": "nom"},
     "hors du référentiel"),
    ("code;nom;taux_2019\n0050;A;1\n0050;B;1\n", {"name_column": "nom", "level": "ZE",
                                                    "vintage": 2010}, "deux noms"),
    ("code;nom;taux_2019\n0050;;1\n", {"name_column": "nom", "level": "ZE",
                                       "vintage": 2010}, "nom de territoire absent"),
])
def test_bad_territory_names(warehouse: Warehouse, tmp_path: Path, content: str,
                             extra: dict, message: str) -> None:
    path = write(tmp_path / "table.csv", content)
    before = table_fingerprint(warehouse)
    with pytest.raises(InputFileError, match=message):
        importing(warehouse, path, **extra)
    assert table_fingerprint(warehouse) == before
